// SPDX-License-Identifier: MIT
using TorchSharp;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Norms;

/// <summary>Test-time batch statistics calibration (α-BN): a trained BatchNorm normalising with a mix of its source statistics and the test batch's.</summary>
/// <remarks>You, Li &amp; Zhao, "Test-time Batch Statistics Calibration for Covariate Shift", arXiv:2110.04065: μ = (1 − α)μ_s + αμ_t,
/// σ² = (1 − α)σ²_s + ασ²_t, y = γ(x − μ)/√(σ² + ε) + β with the source γ, β, ε. The same mix is Schneider et al.'s prior, "Improving
/// robustness against common corruptions by covariate shift adaptation", NeurIPS 2020, arXiv:2006.16971, whose official
/// BayesianBatchNorm (bethgelab/robustness, robusta/batchnorm/bn.py, lines 172–230) we follow: a fresh BatchNorm2d(affine=False,
/// momentum=1.0) in training mode leaves the test batch's mean and unbiased variance in its running buffers, written in place outside
/// autograd, and F.batch_norm(training=False) then normalises with the mixed statistics (prior = 1 − α on the source). So μ_t and σ²_t
/// are constants: the gradient reaches x only through x − μ, ∂y/∂x = γ/√(σ² + ε), not through the batch statistics as in train-mode
/// BN. α weighs the test statistics (0.1 in the widely used AlphaBatchNorm reference: source weight 0.9); σ²_t is unbiased as there
/// (UnbiasedTestVariance), the biased one makes α = 1 give train-mode BN's output (not its gradient). No state changes: the source
/// buffers are never updated. α = 0 is the source model (eval-mode BN); α = 1 is test-time BN (TBN). Used by notebook 24.</remarks>
public sealed class TestTimeBatchNorm : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "source")] private BatchNorm _source;

    /// <summary>Wraps a trained BatchNorm so it normalises with its source statistics mixed with the test batch's by <paramref name="alpha"/>.</summary>
    /// <param name="source">The trained BatchNorm; its running statistics, γ, β and ε are used and never updated.</param>
    /// <param name="alpha">α in [0, 1], the weight of the test statistics (0.1, the AlphaBatchNorm reference's).</param>
    /// <param name="unbiasedTestVariance">Take σ²_t unbiased, as the reference; false makes α = 1 exactly train-mode BN.</param>
    public TestTimeBatchNorm(BatchNorm source, double alpha = 0.1, bool unbiasedTestVariance = true) : base(nameof(TestTimeBatchNorm))
    {
        ArgumentNullException.ThrowIfNull(source);
        if (alpha is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "α must be in [0, 1].");
        (_source, Alpha, UnbiasedTestVariance) = (source, alpha, unbiasedTestVariance);
        RegisterComponents();
    }

    /// <summary>The trained BatchNorm (state key "source") supplying μ_s, σ²_s, γ, β and ε; never updated.</summary>
    public BatchNorm Source => _source;
    /// <summary>α, the weight of the test batch's statistics: 0 is eval-mode BN, 1 is test-time BN.</summary>
    public double Alpha { get; }
    /// <summary>Whether σ²_t is the unbiased batch variance (the reference's); a batch with one value per channel falls back to the biased one.</summary>
    public bool UnbiasedTestVariance { get; }

    /// <summary>Normalises x in the source's layout ([N, C, …], or [..., C] channels-last) with μ = (1 − α)μ_s + αμ_t and σ² = (1 − α)σ²_s + ασ²_t, then the source affine; same shape out, in training and evaluation alike.</summary>
    /// <remarks>μ_t and σ²_t are taken without gradient, as the official code: the gradient flows to x, γ and β, not through the test statistics.</remarks>
    public override Tensor forward(Tensor x)
    {
        var axis = _source.ChannelsLast ? x.dim() - 1 : 1;
        if (x.dim() < 2 || x.shape[axis] != _source.Channels)
            throw new ArgumentException($"TestTimeBatchNorm: expected {_source.Channels} channels on axis {axis}, got [{string.Join(", ", x.shape)}].", nameof(x));
        using var scope = NewDisposeScope();
        var reduce = Enumerable.Range(0, (int)x.dim()).Where(d => d != axis).Select(d => (long)d).ToArray();
        var shape = Enumerable.Repeat(1L, (int)x.dim()).ToArray();
        shape[axis] = _source.Channels;
        Tensor testVar, testMean;
        using (no_grad())
            (testVar, testMean) = var_mean(x, reduce, unbiased: UnbiasedTestVariance && x.numel() / _source.Channels > 1);
        var mean = (1 - Alpha) * _source.RunningMean + Alpha * testMean;
        var variance = (1 - Alpha) * _source.RunningVar + Alpha * testVar;
        var y = (x - mean.view(shape)) * rsqrt(variance.view(shape) + _source.Eps);
        if (_source.Affine)
            y = y * _source.Weight!.view(shape) + _source.Bias!.view(shape);
        return y.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override string ToString() => $"TestTimeBatchNorm(alpha={Alpha:g}, source={_source})";
}

/// <summary>UnMix-TNS: test-time normalisation statistics from a mixture of K components, each updated only by the samples near it.</summary>
/// <remarks>Tomar, Vray, Thiran &amp; Bozorgtabar, "Un-Mixing Test-Time Normalization Statistics: Combatting Label Temporal Correlation",
/// ICLR 2024, following the official UnMixTNS2d. Components M, V ∈ ℝ^(K×C) start as M_k = μ_s + √(αK/(K − 1))·σ_s ⊙ ξ_k,
/// V_k = (1 − α)σ²_s (α = 0.5, ξ_k ~ N(0, I); K = 1: M = μ_s, V = σ²_s). For a batch [B, C, H, W]: instance statistics m_b, s²_b over (H, W)
/// (biased); p_bk = softmax_k(cos(m_b, M_k)/τ) (τ = 0.07, no gradient); μ_bk = (1 − p_bk)M_k + p_bk m_b, v_bk likewise; μ_b = mean_k μ_bk,
/// σ²_b = mean_k v_bk + mean_k μ_bk² − μ_b² (law of total variance); y = γ(x − μ_b)/√(σ²_b + ε) + β with the source affine. After the output,
/// M_k ← M_k + m·mean_b p_bk(m_b − M_k), V_k likewise, with m = 1 − (1 − m_bn)^(B/B_max), m_bn the source momentum, B_max = 64.
/// Inputs with no spatial axes ([B, C]) use the source statistics unchanged, as UnMixTNS1d. Used by notebook 25.</remarks>
public sealed class UnMixTns : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "source")] private BatchNorm _source;
    [ComponentName(Name = "component_means")] private Tensor _means;
    [ComponentName(Name = "component_vars")] private Tensor _vars;

    /// <summary>Wraps a trained channels-first BatchNorm with K components seeded from its running statistics: M_k = μ_s + √(αK/(K − 1))·σ_s ⊙ ξ_k, V_k = (1 − α)σ²_s.</summary>
    /// <param name="source">The trained BatchNorm (channels on axis 1); its γ, β, ε and momentum m_bn are used, its buffers never updated.</param>
    /// <param name="components">K (16); 1 starts from the source statistics with no noise.</param>
    /// <param name="temperature">τ of the assignment softmax (0.07).</param>
    /// <param name="maxBatchSize">B_max of the momentum m = 1 − (1 − m_bn)^(B/B_max) (64).</param>
    /// <param name="spread">α of the initialisation (0.5): the share of σ²_s moved from V into the spread of M.</param>
    /// <param name="seed">Seed of the noise ξ_k ~ N(0, I).</param>
    public UnMixTns(BatchNorm source, int components = 16, double temperature = 0.07, int maxBatchSize = 64, double spread = 0.5, long seed = 0)
        : base(nameof(UnMixTns))
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(components);
        if (source.ChannelsLast)
            throw new ArgumentException("UnMixTns replaces convolutional BatchNorm layers (channels on axis 1).", nameof(source));
        (_source, Components, Temperature, MaxBatchSize) = (source, components, temperature, maxBatchSize);
        var mean = source.RunningMean.detach();
        var variance = source.RunningVar.detach();
        if (components == 1)
        {
            _means = mean.unsqueeze(0).clone();
            _vars = variance.unsqueeze(0).clone();
        }
        else
        {
            var noise = randn([components, source.Channels], dtype: mean.dtype, device: mean.device, generator: new Generator((ulong)seed, mean.device));
            _means = mean.unsqueeze(0) + Math.Sqrt(spread * components / (components - 1)) * variance.sqrt().unsqueeze(0) * noise;
            _vars = ((1 - spread) * variance).unsqueeze(0).repeat(components, 1);
        }
        RegisterComponents();
    }

    /// <summary>The trained BatchNorm (state key "source") supplying γ, β, ε and m_bn; its buffers are not updated.</summary>
    public BatchNorm Source => _source;
    /// <summary>K, the number of mixture components.</summary>
    public int Components { get; }
    /// <summary>τ of p_bk = softmax_k(cos(m_b, M_k)/τ).</summary>
    public double Temperature { get; }
    /// <summary>B_max in the momentum m = 1 − (1 − m_bn)^(B/B_max).</summary>
    public int MaxBatchSize { get; }
    /// <summary>M, the component means [K, C] (buffer "component_means"), updated in place after every forward.</summary>
    public Tensor ComponentMeans => _means;
    /// <summary>V, the component variances [K, C] (buffer "component_vars"), updated in place after every forward.</summary>
    public Tensor ComponentVars => _vars;

    /// <summary>m = 1 − (1 − m_bn)^(B/B_max).</summary>
    public double MomentumFor(long batchSize) => 1 - Math.Pow(1 - _source.Momentum, (double)batchSize / MaxBatchSize);

    /// <summary>Per-sample mean and variance [B, C] from the components mixed with the instance statistics by weights p [B, K].</summary>
    internal static (Tensor Mean, Tensor Var) Mix(Tensor instanceMean, Tensor instanceVar, Tensor means, Tensor vars, Tensor p)
    {
        var weight = p.unsqueeze(-1);                                                            // [B, K, 1]
        var mixedMeans = (1 - weight) * means.unsqueeze(0) + weight * instanceMean.unsqueeze(1);  // μ_bk
        var mixedVars = (1 - weight) * vars.unsqueeze(0) + weight * instanceVar.unsqueeze(1);     // v_bk
        var mean = mixedMeans.mean([1L]);
        var variance = mixedVars.mean([1L]) + mixedMeans.square().mean([1L]) - mean.square();    // law of total variance
        return (mean, variance);
    }

    /// <summary>Normalises x [B, C, H, W] (any number of spatial axes) per sample with statistics mixed from the components and its instance statistics, applies the source affine, then updates M and V; [B, C] inputs use the source running statistics. Same shape out.</summary>
    /// <remarks>The components are updated in training and evaluation alike: the layer adapts on every test batch.</remarks>
    public override Tensor forward(Tensor x)
    {
        if (x.dim() == 2)
        {
            using var eval = NewDisposeScope();
            var y2 = (x - _source.RunningMean) * rsqrt(_source.RunningVar + _source.Eps);
            if (_source.Affine)
                y2 = y2 * _source.Weight! + _source.Bias!;
            return y2.MoveToOuterDisposeScope();
        }
        NormInput.RequireChannelAxis(x, _source.Channels, 3, nameof(UnMixTns), "[B, C, H, W]");
        using var scope = NewDisposeScope();
        var spatial = Enumerable.Range(2, (int)x.dim() - 2).Select(d => (long)d).ToArray();
        var (instanceVar, instanceMean) = var_mean(x, spatial, unbiased: false);                 // [B, C]
        Tensor p;
        using (no_grad())
        {
            var cosine = nn.functional.cosine_similarity(instanceMean.detach().unsqueeze(1), _means.unsqueeze(0), dim: -1);
            p = softmax(cosine / Temperature, 1);                                                 // [B, K]
        }
        var (mean, variance) = Mix(instanceMean, instanceVar, _means, _vars, p);
        var shape = new long[] { x.shape[0], _source.Channels }.Concat(Enumerable.Repeat(1L, spatial.Length)).ToArray();
        var y = (x - mean.view(shape)) * rsqrt(variance.view(shape) + _source.Eps);
        if (_source.Affine)
        {
            var channelShape = new long[] { 1, _source.Channels }.Concat(Enumerable.Repeat(1L, spatial.Length)).ToArray();
            y = y * _source.Weight!.view(channelShape) + _source.Bias!.view(channelShape);
        }
        using (no_grad())
        {
            var momentum = MomentumFor(x.shape[0]);
            var weight = p.unsqueeze(-1);
            _means.add_((weight * (instanceMean.detach().unsqueeze(1) - _means.unsqueeze(0))).mean([0L]), alpha: momentum);
            _vars.add_((weight * (instanceVar.detach().unsqueeze(1) - _vars.unsqueeze(0))).mean([0L]), alpha: momentum);
        }
        return y.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override string ToString() => $"UnMixTns(components={Components}, temperature={Temperature:g}, max_batch={MaxBatchSize}, source={_source})";
}
