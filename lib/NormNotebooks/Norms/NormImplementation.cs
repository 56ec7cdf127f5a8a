// SPDX-License-Identifier: MIT
namespace NormNotebooks.Norms;

/// <summary>Which code a LayerNorm or RMSNorm module runs its forward and backward with; fixed when the module is built.</summary>
/// <remarks>Both give the same values (tested to float32 rounding); they differ in speed only. The default of each norm is the faster one
/// where it counts, in a training step (<c>normnb bench --suite step</c>, this project's CPU): libtorch's own <c>layer_norm</c> for
/// LayerNorm, the C# kernel for RMSNorm. Alone, forward+backward at the shapes the notebooks train (<c>--suite norms</c>), the LayerNorm
/// kernel is 1.4–1.6× faster than <c>layer_norm</c>; inside a model every call also goes through TorchSharp's C# autograd function,
/// and a step with it was no faster (0.97× the character Transformer's, 0.99× the GRU's, intervals including 1), so LayerNorm keeps
/// libtorch's. RMSNorm has no libtorch kernel: its kernel is 5–7× faster alone than RMSNorm composed of torch ops, whose autograd
/// saves every intermediate, and a step with it is as fast or faster.</remarks>
public enum NormImplementation
{
    /// <summary>libtorch: <c>layer_norm</c> for LayerNorm, composed torch ops for RMSNorm. Every device and dtype.</summary>
    Torch,

    /// <summary>The C# SIMD kernels of <see cref="Kernels.FusedNorms"/> on contiguous float32 CPU inputs; other inputs (CUDA, float64,
    /// non-contiguous) run the <see cref="Torch"/> path.</summary>
    Fused,
}

/// <summary>Resolves a module's <see cref="NormImplementation"/> at construction: the caller's choice, else the environment variable
/// <c>NORMNB_FUSED</c> (<c>1</c>: <see cref="NormImplementation.Fused"/>, <c>0</c>: <see cref="NormImplementation.Torch"/>), else the
/// norm's measured fastest.</summary>
public static class NormImplementations
{
    /// <summary>The environment variable that overrides every norm's default implementation.</summary>
    public const string EnvironmentVariable = "NORMNB_FUSED";

    /// <summary>The implementation a module built now with <paramref name="requested"/> runs.</summary>
    /// <exception cref="ArgumentException"><c>NORMNB_FUSED</c> is set to something other than 0 or 1.</exception>
    public static NormImplementation Resolve(NormImplementation? requested, NormImplementation fastest) =>
        Resolve(requested, fastest, Environment.GetEnvironmentVariable(EnvironmentVariable));

    internal static NormImplementation Resolve(NormImplementation? requested, NormImplementation fastest, string? environment) =>
        requested ?? environment switch
        {
            null or "" => fastest,
            "1" => NormImplementation.Fused,
            "0" => NormImplementation.Torch,
            var other => throw new ArgumentException($"{EnvironmentVariable}='{other}': use 1 (C# kernels) or 0 (libtorch), or leave it unset for each norm's fastest."),
        };
}
