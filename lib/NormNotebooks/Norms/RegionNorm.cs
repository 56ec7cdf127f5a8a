// SPDX-License-Identifier: MIT
using NormNotebooks.Kernels;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Norms;

/// <summary>Region normalisation: features inside and outside a mask are normalised with statistics of their own region.</summary>
/// <remarks>Yu et al., "Region Normalization for Image Inpainting", AAAI 2020, arXiv:1911.10375, Eq. (3)–(4), following the official rn.py.
/// For region r with indicator M_r (pooled over the batch and positions, per channel, like BN): μ_r = Σ x·M_r/S_r, σ²_r = Σ (x − μ_r)²M_r/S_r
/// with S_r = Σ M_r (1 when empty), x̂ = (x − μ_r)/√(σ²_r + ε·NHW/S_r) inside r and 0 outside; the two regions are summed. The ε·NHW/S_r
/// is what the reference's "fill with μ_r, batch-normalise the whole map, rescale by √(S_r/NHW)" computes. No running statistics:
/// evaluation uses the current batch too. Used by the inpainting notebook.</remarks>
public static class RegionStatistics
{
    /// <summary>Normalises <paramref name="x"/> [N, C, H, W] separately inside mask = 1 and mask = 0 (mask [N, 1, H, W] or [N, C, H, W], values 0/1).</summary>
    public static (Tensor Inside, Tensor Outside) Normalize(Tensor x, Tensor mask, double eps = 1e-5)
    {
        using var scope = NewDisposeScope();
        var inside = RegionOf(x, mask.expand_as(x).to(x.dtype), eps);
        var outside = RegionOf(x, (1 - mask).expand_as(x).to(x.dtype), eps);
        return (inside.MoveToOuterDisposeScope(), outside.MoveToOuterDisposeScope());
    }

    private static Tensor RegionOf(Tensor x, Tensor region, double eps)
    {
        long[] reduce = [0, 2, 3];
        var total = (double)(x.shape[0] * x.shape[2] * x.shape[3]);
        var size = region.sum(reduce, keepdim: true).clamp_min(1);                         // S_r, 1 for an empty region
        var mean = (x * region).sum(reduce, keepdim: true) / size;                         // μ_r
        var variance = ((x - mean).square() * region).sum(reduce, keepdim: true) / size;   // σ²_r
        return (x - mean) * rsqrt(variance + eps * total / size) * region;                 // zero outside r
    }
}

/// <summary>RN-B: region normalisation by a given binary mask (e.g. the hole of an inpainting input) with a per-region, per-channel affine.</summary>
/// <remarks>Yu et al. 2020, RN-B, as the official rn.py (github.com/geekyutao/RN, class RN_B, lines 40–69): the mask is resized to the
/// feature map with nearest interpolation and detached; x̂ is <see cref="RegionStatistics"/>' region normalisation, and
/// y = x̂·M·(1 + γ_f) + β_f + x̂·(1 − M)·(1 + γ_b) + β_b, with γ_f, β_f, γ_b, β_b ∈ ℝ^C initialised to 0 (identity at start); f is
/// mask = 1 (foreground, e.g. the hole), b is mask = 0. The official code masks x̂ but not β, so both shifts reach every position:
/// in effect one shift β_f + β_b everywhere. That is the default, because the official code is what the paper's numbers come from.
/// <c>maskedBeta</c> shifts each region by its own β only, y = (x̂(1 + γ_f) + β_f)·M + (x̂(1 + γ_b) + β_b)·(1 − M): the reading of
/// "a separate affine per region" this class had before. The two agree at initialisation and differ once β is learned. State keys
/// are the official ones. Input (x [N, C, H, W], mask [N, 1, H′, W′]).</remarks>
public sealed class RegionNormB : nn.Module<Tensor, Tensor, Tensor>
{
    [ComponentName(Name = "foreground_gamma")] private Parameter _foregroundGamma;
    [ComponentName(Name = "foreground_beta")] private Parameter _foregroundBeta;
    [ComponentName(Name = "background_gamma")] private Parameter _backgroundGamma;
    [ComponentName(Name = "background_beta")] private Parameter _backgroundBeta;

    /// <summary>An RN-B over <paramref name="channels"/> channels; the four per-region affines γ_r, β_r start at 0, so the layer starts as plain region normalisation.</summary>
    /// <param name="channels">Number C of channels (axis 1 of [N, C, H, W]).</param>
    /// <param name="eps">ε, entering region r as ε·NHW/S_r (1e-5, the reference's BatchNorm ε).</param>
    /// <param name="maskedBeta">Apply each β_r only inside its region instead of everywhere (false, the official code).</param>
    /// <param name="device">Device of γ_r and β_r (null: TorchSharp's default).</param>
    /// <param name="dtype">Element type of γ_r and β_r (null: TorchSharp's default).</param>
    public RegionNormB(long channels, double eps = 1e-5, bool maskedBeta = false, Device? device = null, ScalarType? dtype = null) : base(nameof(RegionNormB))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        (Channels, Eps, MaskedBeta) = (channels, eps, maskedBeta);
        _foregroundGamma = new Parameter(zeros(channels, dtype: dtype, device: device));
        _foregroundBeta = new Parameter(zeros(channels, dtype: dtype, device: device));
        _backgroundGamma = new Parameter(zeros(channels, dtype: dtype, device: device));
        _backgroundBeta = new Parameter(zeros(channels, dtype: dtype, device: device));
        RegisterComponents();
    }

    /// <summary>Number C of channels, axis 1 of the [N, C, H, W] input.</summary>
    public long Channels { get; }
    /// <summary>ε, entering region r's root as ε·NHW/S_r (see <see cref="RegionStatistics"/>).</summary>
    public double Eps { get; }
    /// <summary>Whether each β_r shifts only its own region; false adds β_f + β_b everywhere, as the official code.</summary>
    public bool MaskedBeta { get; }
    /// <summary>γ_f [C], init 0 (state key "foreground_gamma"): the foreground (mask = 1) is scaled by 1 + γ_f.</summary>
    public Parameter ForegroundGamma => _foregroundGamma;
    /// <summary>β_f [C], init 0 (state key "foreground_beta"): added everywhere by default, inside the foreground only with <see cref="MaskedBeta"/>.</summary>
    public Parameter ForegroundBeta => _foregroundBeta;
    /// <summary>γ_b [C], init 0 (state key "background_gamma"): the background (mask = 0) is scaled by 1 + γ_b.</summary>
    public Parameter BackgroundGamma => _backgroundGamma;
    /// <summary>β_b [C], init 0 (state key "background_beta"): added everywhere by default, inside the background only with <see cref="MaskedBeta"/>.</summary>
    public Parameter BackgroundBeta => _backgroundBeta;

    /// <summary>Normalises x [N, C, H, W] separately inside and outside <paramref name="mask"/> and applies the per-region affine (see the class remarks for where β goes); same shape out.</summary>
    /// <param name="x">Features [N, C, H, W].</param>
    /// <param name="mask">Binary mask [N, 1, H′, W′] with 1 = foreground (e.g. the hole), resized to H × W by nearest interpolation; no gradient flows into it.</param>
    public override Tensor forward(Tensor x, Tensor mask)
    {
        NormInput.RequireChannelAxis(x, Channels, 4, nameof(RegionNormB), "[N, C, H, W]");
        using var scope = NewDisposeScope();
        var resized = nn.functional.interpolate(mask.detach().to(x.dtype), size: [x.shape[2], x.shape[3]], mode: InterpolationMode.Nearest);
        var (inside, outside) = RegionStatistics.Normalize(x, resized, Eps);
        var normalized = inside + outside;                                                  // x̂, each region with its own statistics
        long[] channel = [1, Channels, 1, 1];
        var (gammaF, betaF) = (_foregroundGamma.view(channel), _foregroundBeta.view(channel));
        var (gammaB, betaB) = (_backgroundGamma.view(channel), _backgroundBeta.view(channel));
        var y = MaskedBeta
            ? (normalized * (1 + gammaF) + betaF) * resized + (normalized * (1 + gammaB) + betaB) * (1 - resized)
            : normalized * resized * (1 + gammaF) + betaF + normalized * (1 - resized) * (1 + gammaB) + betaB;   // rn.py lines 66–69
        return y.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override string ToString() => $"RegionNormB({Channels}, eps={Eps:g}, masked_beta={MaskedBeta})";
}

/// <summary>RN-L: region normalisation with regions found by the layer itself from a learned spatial importance map.</summary>
/// <remarks>Yu et al. 2020, RN-L: m = sigmoid(conv7×7([mean_c x; max_c x])) (2 → 1 channels, no bias); regions 1[m ≥ 0.8] (threshold not
/// differentiable: the importance conv learns only through the affine); spatial affine γ = conv7×7(m), β = conv7×7(m) (1 → 1, with bias);
/// y = x̂·(1 + γ) + β.</remarks>
public sealed class RegionNormL : nn.Module<Tensor, Tensor>
{
    private const double Threshold = 0.8;

    [ComponentName(Name = "importance")] private PaddedConv2d _importance;
    [ComponentName(Name = "gamma")] private PaddedConv2d _gamma;
    [ComponentName(Name = "beta")] private PaddedConv2d _beta;

    /// <summary>An RN-L over <paramref name="channels"/> channels, with a 7×7 importance conv (2 → 1, no bias) and 7×7 γ and β convs (1 → 1) in TorchSharp's default initialisation.</summary>
    /// <param name="channels">Number C of channels (axis 1 of [N, C, H, W]).</param>
    /// <param name="eps">ε, entering region r as ε·NHW/S_r (1e-5).</param>
    /// <param name="device">Device of the convolutions (null: TorchSharp's default).</param>
    /// <param name="dtype">Element type of the convolutions (null: TorchSharp's default).</param>
    public RegionNormL(long channels, double eps = 1e-5, Device? device = null, ScalarType? dtype = null) : base(nameof(RegionNormL))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        (Channels, Eps) = (channels, eps);
        _importance = new PaddedConv2d(2, 1, 7, padding: 3, bias: false, device: device, dtype: dtype);
        _gamma = new PaddedConv2d(1, 1, 7, padding: 3, device: device, dtype: dtype);
        _beta = new PaddedConv2d(1, 1, 7, padding: 3, device: device, dtype: dtype);
        RegisterComponents();
    }

    /// <summary>Number C of channels, axis 1 of the [N, C, H, W] input.</summary>
    public long Channels { get; }
    /// <summary>ε, entering region r's root as ε·NHW/S_r (see <see cref="RegionStatistics"/>).</summary>
    public double Eps { get; }

    /// <summary>The importance map m [N, 1, H, W].</summary>
    public Tensor Importance(Tensor x)
    {
        using var scope = NewDisposeScope();
        var pooled = cat([x.mean([1L], keepdim: true), x.amax([1L], keepdim: true)], 1);
        return sigmoid(_importance.forward(pooled)).MoveToOuterDisposeScope();
    }

    /// <summary>Splits x [N, C, H, W] into regions 1[m ≥ 0.8] of its own importance map m, normalises each region with its own statistics and applies the spatial affine x̂·(1 + γ) + β; same shape out.</summary>
    public override Tensor forward(Tensor x)
    {
        NormInput.RequireChannelAxis(x, Channels, 4, nameof(RegionNormL), "[N, C, H, W]");
        using var scope = NewDisposeScope();
        var importance = Importance(x);
        var mask = importance.detach().ge(Threshold).to(x.dtype);
        var (inside, outside) = RegionStatistics.Normalize(x, mask, Eps);
        var y = (inside + outside) * (1 + _gamma.forward(importance)) + _beta.forward(importance);
        return y.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override string ToString() => $"RegionNormL({Channels}, eps={Eps:g})";
}
