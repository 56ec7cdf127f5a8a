// SPDX-License-Identifier: MIT
using static TorchSharp.torch;

namespace NormNotebooks.Norms;

/// <summary>Input checks and the float32 upcast shared by the norm layers.</summary>
internal static class NormInput
{
    /// <summary>Throws unless the last axis has <paramref name="features"/> entries.</summary>
    public static void RequireLastAxis(Tensor x, long features, string layer)
    {
        if (x.dim() < 1 || x.shape[^1] != features)
            throw new ArgumentException($"{layer}: expected input [..., {features}] (features last), got [{string.Join(", ", x.shape)}].", nameof(x));
    }

    /// <summary>Throws unless axis 1 has <paramref name="channels"/> entries and the rank is at least <paramref name="minRank"/>.</summary>
    public static void RequireChannelAxis(Tensor x, long channels, int minRank, string layer, string layout)
    {
        if (x.dim() < minRank || x.shape[1] != channels)
            throw new ArgumentException($"{layer}: expected input {layout} with C = {channels}, got [{string.Join(", ", x.shape)}].", nameof(x));
    }

    /// <summary>
    /// x − mean and the biased variance over <paramref name="dims"/>, computed in two passes (mean, then the mean square of the
    /// centred values; never E[x²] − E[x]²). libtorch's var_mean is several times slower than these two reductions on CPU
    /// (measured with normnb bench), and the centred tensor is what the norms need next anyway.
    /// </summary>
    public static (Tensor Centred, Tensor Variance) CentreAndVariance(Tensor x, long[] dims)
    {
        var centred = x - x.mean(dims, keepdim: true);
        return (centred, centred.square().mean(dims, keepdim: true));
    }

    /// <summary>Half-precision inputs are normalised in float32 (statistics of 16-bit numbers lose too much) and cast back.</summary>
    public static Tensor Upcast(Tensor x) => x.dtype is ScalarType.Float16 or ScalarType.BFloat16 ? x.to(ScalarType.Float32) : x;
}
