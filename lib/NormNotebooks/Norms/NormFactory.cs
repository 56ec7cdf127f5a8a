// SPDX-License-Identifier: MIT
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Norms;

/// <summary>Where the normalised features sit in the input.</summary>
public enum NormLayout
{
    /// <summary>Features on the last axis: [N, d], [B, T, d] (MLPs, Transformers).</summary>
    ChannelsLast,

    /// <summary>Channels on axis 1: [N, C, H, W] (convolutional networks).</summary>
    ChannelsFirst,
}

/// <summary>Options the factory passes to the layer it builds; each layer uses what applies to it.</summary>
public sealed record NormOptions
{
    /// <summary>Where the features are; decides BatchNorm's axis.</summary>
    public NormLayout Layout { get; init; } = NormLayout.ChannelsLast;

    /// <summary>Groups for GroupNorm (default 32, or fewer to divide the channels) and PowerNorm's group scaling (default 1).</summary>
    public long? Groups { get; init; }

    /// <summary>ε, when not the layer's paper default.</summary>
    public double? Eps { get; init; }

    /// <summary>1-based block depth ℓ, required by the layernorm-scaling variants.</summary>
    public int? Depth { get; init; }

    /// <summary>Warm-up iterations (PowerNorm, Unified Normalization) or warm steps (progressive RepBN).</summary>
    public long? WarmupIterations { get; init; }

    /// <summary>Progressive RepBN's decay steps (λ from 1 to 0).</summary>
    public long? DecaySteps { get; init; }

    /// <summary>Unified Normalization: steps with the gradient-compensation ratio ρ fixed at 1 (null: the reference's max(1000, warm-up)).</summary>
    public long? RhoGateIterations { get; init; }

    /// <summary>Ghost BatchNorm's virtual batch size.</summary>
    public long? VirtualBatchSize { get; init; }

    /// <summary>LayerNorm's and RMSNorm's implementation; null: <c>NORMNB_FUSED</c>, else each norm's measured fastest
    /// (<see cref="NormImplementations"/>).</summary>
    public NormImplementation? Implementation { get; init; }

    /// <summary>Device of the built layer's parameters and buffers (null: TorchSharp's default).</summary>
    public Device? Device { get; init; }
    /// <summary>Element type of the built layer's parameters and buffers (null: TorchSharp's default, float32 unless changed).</summary>
    public ScalarType? Dtype { get; init; }
}

/// <summary>Builds any activation-normalising layer from its kebab-case name and a feature (or channel) count, so experiments can sweep norms.</summary>
/// <remarks>Layers that are not a drop-in for a norm over activations are built directly: the weight reparameterisations
/// (<see cref="WeightStandardizedConv2d"/>, <see cref="ScaledWSConv2d"/>, <see cref="WeightNormLinear"/>, <see cref="SpectralNorm"/>,
/// <see cref="SigmaReparamLinear"/>) replace a linear or convolution layer; the test-time adapters (<see cref="TestTimeBatchNorm"/>,
/// <see cref="UnMixTns"/>) wrap a trained BatchNorm; <see cref="RegionNormB"/> takes a mask; SELU and alpha-dropout are in
/// <see cref="SelfNormalizing"/>.</remarks>
public static class NormFactory
{
    private static readonly Dictionary<string, (string Description, Func<long, NormOptions, nn.Module<Tensor, Tensor>> Build)> Layers = new(StringComparer.Ordinal)
    {
        ["none"] = ("identity: no normalisation", (_, _) => nn.Identity()),
        ["layernorm"] = ("LayerNorm (Ba et al. 2016)", (n, o) => new LayerNorm(n, o.Eps ?? 1e-5, implementation: o.Implementation, device: o.Device, dtype: o.Dtype)),
        ["rmsnorm"] = ("RMSNorm (Zhang & Sennrich 2019)", (n, o) => new RmsNorm(n, o.Eps ?? 1e-8, implementation: o.Implementation, device: o.Device, dtype: o.Dtype)),
        ["rmsnorm-affine"] = ("RMSNorm with gain and bias, LayerNorm's affine map (Jiang et al. 2023, training-equivalent Pre-RMSNorm)", (n, o) => new RmsNorm(n, o.Eps ?? 1e-5, bias: true, implementation: o.Implementation, device: o.Device, dtype: o.Dtype)),
        ["prmsnorm"] = ("partial RMSNorm, p = 6.25% (Zhang & Sennrich 2019)", (n, o) => new PartialRmsNorm(n, eps: o.Eps ?? 1e-8, device: o.Device, dtype: o.Dtype)),
        ["crmsnorm"] = ("compressed RMSNorm of a zero-mean vector (Jiang et al. 2023)", (n, o) => new CrmsNorm(n, o.Eps ?? 1e-8, device: o.Device, dtype: o.Dtype)),
        ["batchnorm"] = ("BatchNorm (Ioffe & Szegedy 2015)", (n, o) => new BatchNorm(n, o.Eps ?? 1e-5, channelsLast: o.Layout == NormLayout.ChannelsLast, device: o.Device, dtype: o.Dtype)),
        ["powernorm"] = ("PowerNorm with approximate backward (Shen et al. 2020)", (n, o) => new PowerNorm(n, o.Groups ?? 1, o.Eps ?? 1e-5, warmupIterations: o.WarmupIterations ?? 1000, device: o.Device, dtype: o.Dtype)),
        ["powernorm-v"] = ("PN-V: PowerNorm with batch quadratic mean and plain backprop (Shen et al. 2020, ablation)", (n, o) => new PowerNorm(n, o.Groups ?? 1, o.Eps ?? 1e-5, warmupIterations: o.WarmupIterations ?? 1000, batchStatisticsOnly: true, device: o.Device, dtype: o.Dtype)),
        ["groupnorm"] = ("GroupNorm (Wu & He 2018)", (n, o) => new GroupNorm(n, o.Groups ?? DividingGroups(n), o.Eps ?? 1e-5, device: o.Device, dtype: o.Dtype)),
        ["instancenorm"] = ("InstanceNorm (Ulyanov et al. 2016)", (n, o) => GroupNorm.Instance(n, o.Eps ?? 1e-5, device: o.Device, dtype: o.Dtype)),
        ["layernorm-scaling"] = ("LayerNorm scaled by 1/√ℓ (Sun et al. 2025)", (n, o) => new LayerNormScaling(new LayerNorm(n, o.Eps ?? 1e-5, implementation: o.Implementation, device: o.Device, dtype: o.Dtype), RequireDepth(o))),
        ["ghost-batchnorm"] = ("Ghost BatchNorm, virtual batches of 128 (Hoffer et al. 2017)", (n, o) => new GhostBatchNorm(n, o.VirtualBatchSize ?? 128, o.Eps ?? 1e-5, channelsLast: o.Layout == NormLayout.ChannelsLast, device: o.Device, dtype: o.Dtype)),
        ["bcn"] = ("Batch-Channel Normalization (Qiao et al. 2019)", (n, o) => new BatchChannelNorm(n, o.Groups ?? DividingGroups(n), o.Eps ?? 1e-5, device: o.Device, dtype: o.Dtype)),
        ["bcn-estimated"] = ("Batch-Channel Normalization with estimated statistics, micro-batch (Qiao et al. 2019)", (n, o) => new BatchChannelNorm(n, o.Groups ?? DividingGroups(n), o.Eps ?? 1e-5, estimatedStatistics: true, device: o.Device, dtype: o.Dtype)),
        ["evonorm-b0"] = ("EvoNorm-B0, replaces BN + ReLU (Liu et al. 2020)", (n, o) => new EvoNormB0(n, o.Eps ?? 1e-5, device: o.Device, dtype: o.Dtype)),
        ["evonorm-s0"] = ("EvoNorm-S0, replaces GN + ReLU (Liu et al. 2020)", (n, o) => new EvoNormS0(n, o.Groups, o.Eps ?? 1e-5, device: o.Device, dtype: o.Dtype)),
        ["unified-norm"] = ("Unified Normalization, window 4, filtration off as for NLP (Yang et al. 2022)", (n, o) => Unified(n, o, windowSize: 4, outlierFiltration: false)),
        ["unified-norm-m1"] = ("Unified Normalization with a window of 1: no smoothing (Yang et al. 2022, ablation)", (n, o) => Unified(n, o, windowSize: 1, outlierFiltration: false)),
        ["unified-norm-filtered"] = ("Unified Normalization, window 4, adaptive outlier filtration on as for CV (Yang et al. 2022)", (n, o) => Unified(n, o, windowSize: 4, outlierFiltration: true)),
        ["repbn"] = ("RepBN: BN(x) + ηx (Guo et al. 2024)", (n, o) => new RepBatchNorm(n, eps: o.Eps ?? 1e-5, device: o.Device, dtype: o.Dtype)),
        ["prepbn"] = ("progressive LN → RepBN (Guo et al. 2024)", (n, o) => new ProgressiveRepBatchNorm(n, o.WarmupIterations ?? 0, o.DecaySteps ?? 1000, eps: o.Eps ?? 1e-6, device: o.Device, dtype: o.Dtype)),
        ["regionnorm-l"] = ("Region Normalization with learned regions, RN-L (Yu et al. 2020)", (n, o) => new RegionNormL(n, o.Eps ?? 1e-5, device: o.Device, dtype: o.Dtype)),
        ["rmsnorm-scaling"] = ("RMSNorm (ε 1e-6) scaled by 1/√ℓ, the paper's setting (Sun et al. 2025)", (n, o) => new LayerNormScaling(new RmsNorm(n, o.Eps ?? 1e-6, implementation: o.Implementation, device: o.Device, dtype: o.Dtype), RequireDepth(o))),
    };

    /// <summary>Every name the factory knows, in order.</summary>
    public static IReadOnlyList<string> Names => Layers.Keys.ToList();

    /// <summary>One line per layer: name and what it is.</summary>
    public static IReadOnlyList<(string Name, string Description)> Catalogue => Layers.Select(p => (p.Key, p.Value.Description)).ToList();

    /// <summary>Builds the layer called <paramref name="name"/> for <paramref name="features"/> features or channels.</summary>
    /// <exception cref="ArgumentException">Unknown name (the message lists the valid ones).</exception>
    public static nn.Module<Tensor, Tensor> Create(string name, long features, NormOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (!Layers.TryGetValue(name, out var layer))
            throw new ArgumentException($"Unknown norm '{name}'. Valid names: {string.Join(", ", Names)}.", nameof(name));
        return layer.Build(features, options ?? new NormOptions());
    }

    private static UnifiedNorm Unified(long features, NormOptions o, int windowSize, bool outlierFiltration) =>
        new(features, windowSize, o.WarmupIterations ?? 4000, outlierFiltration, o.Eps ?? 1e-5, rhoGateIterations: o.RhoGateIterations, device: o.Device, dtype: o.Dtype);

    private static int RequireDepth(NormOptions options) =>
        options.Depth ?? throw new ArgumentException("The layernorm-scaling variants need NormOptions.Depth, the 1-based index of the block.", nameof(options));

    // The paper's 32 groups, or the largest power of two that divides the channels.
    private static long DividingGroups(long channels)
    {
        var groups = 32L;
        while (channels % groups != 0)
            groups /= 2;
        return groups;
    }
}
