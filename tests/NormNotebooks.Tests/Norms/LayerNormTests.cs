// SPDX-License-Identifier: MIT
using NormNotebooks.Norms;
using NormNotebooks.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Norms;

public sealed class LayerNormTests
{
    [Theory]
    [MemberData(nameof(Inputs.DevicesAndTypes), MemberType = typeof(Inputs))]
    public void ForwardAndBackward_MatchLibtorch(string deviceName, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var device = new Device(deviceName);
        var norm = new LayerNorm(37, device: device, dtype: dtype);
        using (no_grad())
        {
            norm.Weight!.copy_(Inputs.Random([37], dtype, seed: 2, device: device));
            norm.Bias!.copy_(Inputs.Random([37], dtype, seed: 3, device: device));
        }
        var x = Inputs.Random([5, 3, 37], dtype, device: device).requires_grad_();
        var xRef = x.detach().clone().requires_grad_();
        var w = norm.Weight!.detach().clone().requires_grad_();
        var b = norm.Bias!.detach().clone().requires_grad_();
        var upstream = Inputs.Random([5, 3, 37], dtype, seed: 4, device: device);

        var output = norm.forward(x);
        var reference = nn.functional.layer_norm(xRef, [37], w, b, 1e-5);
        (output * upstream).sum().backward();
        (reference * upstream).sum().backward();

        var tolerance = dtype == ScalarType.Float64 ? Tolerances.Float64 : Tolerances.Float32;
        Tolerances.AssertClose(reference, output, tolerance, what: "forward");
        // The gradients reduce over the 37 features (∂x) or the 5·3 = 15 rows (∂γ, ∂β).
        Func<long, double> sum = dtype == ScalarType.Float64 ? Tolerances.Float64Sum : Tolerances.Float32Sum;
        Tolerances.AssertClose(xRef.grad!, x.grad!, sum(37), sum(37), what: "input gradient");
        Tolerances.AssertClose(w.grad!, norm.Weight!.grad!, sum(15), sum(15), what: "weight gradient");
        Tolerances.AssertClose(b.grad!, norm.Bias!.grad!, sum(15), sum(15), what: "bias gradient");
    }

    [Fact]
    public void Forward_MatchesEquation4_InFloat64()
    {
        using var scope = NewDisposeScope();
        var x = Inputs.Random([4, 9], ScalarType.Float64);
        var output = new LayerNorm(9, dtype: ScalarType.Float64).forward(x);
        var data = x.data<double>().ToArray();
        var expected = new double[data.Length];
        for (var row = 0; row < 4; row++)
        {
            var slice = data.AsSpan(row * 9, 9);
            double mean = 0, variance = 0;
            foreach (var v in slice) mean += v / 9;
            foreach (var v in slice) variance += (v - mean) * (v - mean) / 9;
            for (var i = 0; i < 9; i++)
                expected[row * 9 + i] = (slice[i] - mean) / Math.Sqrt(variance + 1e-5);
        }
        Tolerances.AssertClose(tensor(expected, [4, 9], float64), output, Tolerances.Float64);
    }

    [Fact]
    public void Output_IsInvariantToInputRescalingAndRecentring()
    {
        using var scope = NewDisposeScope();
        var norm = new LayerNorm(33, eps: 0, dtype: ScalarType.Float64);
        var x = Inputs.Random([6, 33], ScalarType.Float64);
        var shift = Inputs.Random([6, 1], ScalarType.Float64, seed: 5);
        Tolerances.AssertClose(norm.forward(x), norm.forward(x * 7.5), Tolerances.Float64, what: "re-scaling");
        Tolerances.AssertClose(norm.forward(x), norm.forward(x + shift), Tolerances.Float64, what: "re-centring");
    }

    [Fact]
    public void Gradient_PassesFiniteDifferenceCheck() =>
        GradCheck.Input(new LayerNorm(7, dtype: ScalarType.Float64).forward, Inputs.Random([3, 7], ScalarType.Float64));

    [Theory]
    [InlineData(NormImplementation.Torch)]
    [InlineData(NormImplementation.Fused)]
    public void InputGradient_IsTheClosedForm(NormImplementation implementation)
    {
        // y = (x − μ)/√(σ² + ε) over the last axis; for L = Σ yᵢ·wᵢ the input gradient is
        // ∂L/∂x = (1/σ̂)·(w − mean(w) − ŷ·mean(w·ŷ)) with σ̂ = √(σ² + ε) and ŷ the normalised input.
        // The fused kernel runs on float32 only: there the module is compared in float32 against the float64 closed form.
        using var scope = NewDisposeScope();
        const double eps = 1e-5;
        var dtype = implementation == NormImplementation.Fused ? ScalarType.Float32 : ScalarType.Float64;
        var generator = new Generator(7);
        var x64 = randn([4, 37], dtype: float64, generator: generator) * 3.0 + 1.5;
        var w64 = randn([4, 37], dtype: float64, generator: generator);
        var x = x64.to(dtype).requires_grad_();
        var norm = new LayerNorm(37, eps, affine: false, implementation: implementation, dtype: dtype);
        (norm.forward(x) * w64.to(dtype)).sum().backward();

        var mean = x64.mean([-1], keepdim: true);
        var sigma = (x64 - mean).square().mean([-1], keepdim: true).add(eps).sqrt();
        var normalised = (x64 - mean) / sigma;
        var expected = (w64 - w64.mean([-1], keepdim: true) - normalised * (w64 * normalised).mean([-1], keepdim: true)) / sigma;
        Tolerances.AssertClose(expected, x.grad!, dtype == ScalarType.Float64 ? Tolerances.Float64 : Tolerances.Float32, what: $"{implementation} input gradient");
    }

    [Fact]
    public void WrongFeatureCount_IsAClearError()
    {
        var error = Assert.Throws<ArgumentException>(() => new LayerNorm(8).forward(zeros(2, 5)));
        Assert.Contains("LayerNorm: expected input [..., 8] (features last), got [2, 5]", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new LayerNorm(0));
        Assert.Equal("LayerNorm(8, eps=1e-05, affine=True, implementation=Torch)", new LayerNorm(8).ToString());
    }

    [Fact]
    public void ForwardAndBackward_LeaveNoLiveTensors()
    {
        var norm = new LayerNorm(16);
        var before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        using (var scope = NewDisposeScope())
        {
            var x = Inputs.Random([4, 16]).requires_grad_();
            norm.forward(x).sum().backward();
        }
        norm.zero_grad();
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [Fact]
    public void FixedScale_IsLayerNormWhenItEqualsTheTokensStd_AndLinearOtherwise()
    {
        using var scope = NewDisposeScope();
        var norm = new LayerNorm(37, dtype: ScalarType.Float64);
        using (no_grad())
        {
            norm.Weight!.copy_(Inputs.Random([37], ScalarType.Float64, seed: 2, mean: 1, scale: 0.3));
            norm.Bias!.copy_(Inputs.Random([37], ScalarType.Float64, seed: 3, scale: 0.3));
        }
        var token = Inputs.Random([1, 37], ScalarType.Float64, seed: 4, mean: 2, scale: 3);
        var ordinary = norm.forward(token);
        norm.FixedScale = (token.var(-1, unbiased: false) + norm.Eps).sqrt().ToDouble();
        Assert.True(norm.forward(token).allclose(ordinary, rtol: 0, atol: 1e-12));       // s = this token's √(σ² + ε): the same output
        var x = Inputs.Random([5, 37], ScalarType.Float64, seed: 5, scale: 2);
        var shifted = norm.forward(x) - norm.Bias!;
        Assert.True((norm.forward(x * 3) - norm.Bias!).allclose(shifted * 3, rtol: 1e-12, atol: 1e-12));   // linear: no per-token scale left
        Assert.Contains("removed: fixed scale", norm.ToString());
        norm.FixedScale = null;
        Assert.True(norm.forward(x * 3).allclose(norm.forward(x), rtol: 1e-5, atol: 1e-5));             // the ordinary LayerNorm again (ε: not exactly)
    }

    [Fact]
    public void TrackedScale_IsAMovingAverageOfTheMeanTokenStd_AndRemovalUsesIt()
    {
        using var scope = NewDisposeScope();
        var norm = new LayerNorm(16, dtype: ScalarType.Float64) { TrackScale = true, ScaleMomentum = 0.75 };
        Assert.Equal("no scale tracked yet", Assert.Throws<InvalidOperationException>(norm.RemoveNormalization).Message.Split(": ")[1].Split(';')[0]);
        double MeanStd(Tensor t) => (t.var(-1, unbiased: false) + norm.Eps).sqrt().mean().ToDouble();
        var (a, b) = (Inputs.Random([4, 3, 16], ScalarType.Float64, seed: 6, scale: 2), Inputs.Random([4, 3, 16], ScalarType.Float64, seed: 7, scale: 5));
        norm.forward(a);
        Assert.Equal(MeanStd(a), norm.TrackedScale!.Value, 12);
        norm.eval();
        norm.forward(b);                                                                 // evaluation forwards do not track
        Assert.Equal(MeanStd(a), norm.TrackedScale!.Value, 12);
        norm.train();
        norm.forward(b);
        Assert.Equal(0.75 * MeanStd(a) + 0.25 * MeanStd(b), norm.TrackedScale!.Value, 12);
        norm.RemoveNormalization();
        Assert.Equal(norm.TrackedScale, norm.FixedScale);
        Assert.Throws<ArgumentOutOfRangeException>(() => norm.FixedScale = 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => norm.FixedScale = double.NaN);
    }
}
