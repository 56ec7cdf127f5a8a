// SPDX-License-Identifier: MIT
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Support;

/// <summary>
/// TorchSharp has no gradcheck: this compares autograd's input gradient of L = Σ f(x) ⊙ w with central differences in
/// float64 (step 1e-6, atol 1e-5, rtol 1e-3: PyTorch's gradcheck defaults).
/// </summary>
internal static class GradCheck
{
    public const double Step = 1e-6;
    public const double Atol = 1e-5;
    public const double Rtol = 1e-3;

    public static void Input(Func<Tensor, Tensor> f, Tensor x, long seed = 99)
    {
        using var scope = NewDisposeScope();
        Assert.Equal(ScalarType.Float64, x.dtype);
        var input = x.detach().clone().requires_grad_();
        using var probe = f(input.detach());
        var weights = randn(probe.shape, dtype: float64, generator: new TorchSharp.torch.Generator((ulong)seed));
        (f(input) * weights).sum().backward();
        var analytic = input.grad!.detach().clone();

        var flat = x.detach().clone().flatten();
        var numeric = zeros_like(flat);
        using (no_grad())
        {
            for (var i = 0; i < flat.numel(); i++)
            {
                var original = flat[i].item<double>();
                flat[i] = original + Step;
                var plus = (f(flat.view(x.shape)) * weights).sum().item<double>();
                flat[i] = original - Step;
                var minus = (f(flat.view(x.shape)) * weights).sum().item<double>();
                flat[i] = original;
                numeric[i] = (plus - minus) / (2 * Step);
            }
        }
        Tolerances.AssertClose(numeric.view(x.shape), analytic, Atol, Rtol, "autograd vs central differences");
    }
}
