// SPDX-License-Identifier: MIT
using NormNotebooks.Kernels;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Norms;

/// <summary>
/// The largest singular value of a weight matrix W_mat [O, I·k·k] by power iteration with persistent vectors, Spectral
/// Normalization's estimate (σReparam has the official code's own, in <see cref="SigmaReparamLinear"/>). u ∈ ℝ^O and
/// v ∈ ℝ^(I·k·k) are buffers; in training each call runs
/// <c>iterations</c> steps v ← normalize(W_matᵀ u), u ← normalize(W_mat v) on the weight's data (no gradient through u, v),
/// and σ = uᵀ W_mat v is differentiated with respect to W only (∂σ/∂W = u vᵀ). In evaluation the stored u, v are used
/// unchanged. normalize(a) = a/(‖a‖ + 1e-12), as in the SN-GAN code and PyTorch.
/// </summary>
internal static class PowerIteration
{
    private const double NormalizeEps = 1e-12;

    public static Tensor Normalize(Tensor a) => a / (a.norm() + NormalizeEps);

    /// <summary>σ(W) with gradient to <paramref name="weight"/>; updates <paramref name="u"/> and <paramref name="v"/> in place when <paramref name="update"/>.</summary>
    public static Tensor Sigma(Tensor weight, Tensor u, Tensor v, int iterations, bool update)
    {
        using var scope = NewDisposeScope();
        var matrix = weight.reshape(weight.shape[0], -1);
        if (update)
        {
            using (no_grad())
            {
                var data = matrix.detach();
                for (var i = 0; i < iterations; i++)
                {
                    v.copy_(Normalize(data.t().mv(u)));
                    u.copy_(Normalize(data.mv(v)));
                }
            }
        }
        // σ = uᵀ W v with u, v constants. The graph keeps copies: a second forward before backward (a GAN discriminator sees real and
        // generated batches) updates the buffers in place, which would invalidate the saved ones, as PyTorch's spectral_norm also avoids.
        var (uc, vc) = update ? (u.clone(), v.clone()) : (u, v);
        return uc.dot(matrix.mv(vc)).MoveToOuterDisposeScope();
    }
}

/// <summary>Spectral Normalization of a linear or 2-D convolution layer: W_SN = W/σ(W).</summary>
/// <remarks>Miyato, Kataoka, Koyama &amp; Yoshida, "Spectral Normalization for Generative Adversarial Networks", ICLR 2018,
/// arXiv:1802.05957, Eq. (8): W̄_SN = W/σ(W), σ by power iteration (Alg. 1) with a persistent u initialised N(0, 1) and one
/// iteration per training forward (Iterations, 1 in the paper); for a convolution σ is that of W reshaped to [O, I·k·k], not
/// of the convolution operator, as in the official code. Evaluation uses the stored estimate. Used by the GAN notebook.</remarks>
public sealed class SpectralNorm : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "weight")] private Parameter _weight;
    [ComponentName(Name = "bias")] private Parameter? _bias;
    [ComponentName(Name = "u")] private Tensor _u;
    [ComponentName(Name = "v")] private Tensor _v;

    private SpectralNorm(long[] weightShape, long fanIn, bool bias, int iterations, long stride, long padding, Device? device, ScalarType? dtype) : base(nameof(SpectralNorm))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(iterations);
        (WeightShape, Iterations, Stride, Padding) = (weightShape, iterations, stride, padding);
        _weight = new Parameter(WeightStandardization.DefaultInit(weightShape, fanIn, device, dtype));
        if (bias)
            _bias = new Parameter(WeightStandardization.DefaultInit([weightShape[0]], fanIn, device, dtype));
        _u = PowerIteration.Normalize(randn(weightShape[0], dtype: dtype, device: device));
        _v = PowerIteration.Normalize(randn(fanIn, dtype: dtype, device: device));
        RegisterComponents();
    }

    /// <summary>A spectrally normalised linear layer [out, in].</summary>
    public static SpectralNorm Linear(long inFeatures, long outFeatures, bool bias = true, int iterations = 1, Device? device = null, ScalarType? dtype = null) =>
        new([outFeatures, inFeatures], inFeatures, bias, iterations, 0, 0, device, dtype);

    /// <summary>A spectrally normalised 2-D convolution [out, in, k, k].</summary>
    public static SpectralNorm Conv2d(long inChannels, long outChannels, long kernelSize, long stride = 1, long padding = 0, bool bias = true, int iterations = 1,
        Device? device = null, ScalarType? dtype = null) =>
        new([outChannels, inChannels, kernelSize, kernelSize], inChannels * kernelSize * kernelSize, bias, iterations, stride, padding, device, dtype);

    /// <summary>Shape of W: [out, in] for a linear layer, [O, I, k, k] for a convolution (rank 2 selects the linear map).</summary>
    public long[] WeightShape { get; }
    /// <summary>Power-iteration steps per training forward (1 in the paper).</summary>
    public int Iterations { get; }
    /// <summary>Convolution stride on both spatial axes; 0 and unused for a linear layer.</summary>
    public long Stride { get; }
    /// <summary>Zero padding on each side of both spatial axes; 0 and unused for a linear layer.</summary>
    public long Padding { get; }
    /// <summary>The raw W (state key "weight"), in PyTorch's default U(−1/√fan_in, 1/√fan_in) init; the layer uses W/σ(W).</summary>
    public Parameter Weight => _weight;
    /// <summary>The bias [out] (state key "bias"), in the same default init and not normalised; null without a bias.</summary>
    public Parameter? Bias => _bias;

    /// <summary>The current estimate of σ(W) from the stored vectors (no update).</summary>
    public double SigmaEstimate()
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        return PowerIteration.Sigma(_weight, _u, _v, Iterations, update: false).ToDouble();
    }

    /// <summary>W/σ(W): updates the estimate in training, uses the stored one in evaluation.</summary>
    public Tensor NormalizedWeight()
    {
        using var scope = NewDisposeScope();
        var sigma = PowerIteration.Sigma(_weight, _u, _v, Iterations, update: training);
        return (_weight / sigma).MoveToOuterDisposeScope();   // Eq. (8)
    }

    /// <summary>Applies W/σ(W) (see <see cref="NormalizedWeight"/>): x [..., in] → [..., out] for a linear layer, x [N, I, H, W] → [N, O, H′, W′] for a convolution.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var weight = NormalizedWeight();
        var y = WeightShape.Length == 2
            ? nn.functional.linear(x, weight, _bias)
            : PaddedConvolution.Conv2d(x, weight, _bias, Stride, Padding);
        return y.MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override string ToString() => $"SpectralNorm(weight=[{string.Join(", ", WeightShape)}], iterations={Iterations})";
}

/// <summary>σReparam: a linear layer whose weight is re-parameterised as Ŵ = (γ/σ(W))·W with a learnable scalar γ.</summary>
/// <remarks>Zhai et al., "Stabilizing Transformer Training by Preventing Attention Entropy Collapse", ICML 2023, arXiv:2303.06296,
/// Eq. (3): Ŵ = γ/σ(W)·W, following the official PyTorch code (apple/ml-sigma-reparam, vision/layers.py, SpectralNormedWeight
/// lines 19–51 and SNLinear lines 90–149). One vector is stored, u ∈ ℝ^in, W₀'s leading right singular vector (Vᵀ[0] of an SVD), with
/// the buffer spectral_norm = σ(W₀); γ starts at σ(W₀), so Ŵ = W₀ at initialisation. Every forward, in training and evaluation,
/// takes one power step from the stored u without gradient, v = normalize(W u) ∈ ℝ^out then u′ = normalize(Wᵀ v) (normalize(a) =
/// a/max(‖a‖, 1e-12), F.normalize), and uses σ = vᵀ W u′, differentiated with respect to W only (∂σ/∂W = v u′ᵀ). Only training
/// stores u ← u′ and spectral_norm ← σ; evaluation repeats the same unstored step from the last stored u, so repeated eval calls
/// agree. W₀ ~ N(0, 0.02²) (the reference truncates at ±2, far outside 100σ); the SVD is taken in float64. Departures from
/// SNLinear: γ's state key is "gamma" (the reference calls it sigma), the bias starts at 0 (the reference keeps nn.Linear's
/// uniform init), and the reference's effective_spectral_norm buffer, a copy of γ, is not kept. Used by the σReparam option of
/// CharTransformer.</remarks>
public sealed class SigmaReparamLinear : nn.Module<Tensor, Tensor>
{
    private const double NormalizeEps = 1e-12;   // F.normalize's default

    [ComponentName(Name = "weight")] private Parameter _weight;
    [ComponentName(Name = "bias")] private Parameter? _bias;
    [ComponentName(Name = "gamma")] private Parameter _gamma;
    [ComponentName(Name = "u")] private Tensor _u;
    [ComponentName(Name = "spectral_norm")] private Tensor _spectralNorm;

    /// <summary>A σReparam linear layer [out, in] with W₀ ~ N(0, <paramref name="initStd"/>²), u the leading right singular vector of W₀ and γ = σ(W₀) (SVD in float64), so Ŵ = W₀ at start.</summary>
    /// <param name="inFeatures">Width of the input's last axis.</param>
    /// <param name="outFeatures">Width of the output's last axis.</param>
    /// <param name="bias">Add a bias [out], init 0.</param>
    /// <param name="initStd">Standard deviation of W₀ (0.02, the reference's).</param>
    /// <param name="device">Device of the parameters and buffers (null: TorchSharp's default).</param>
    /// <param name="dtype">Element type of the parameters and buffers (null: TorchSharp's default).</param>
    public SigmaReparamLinear(long inFeatures, long outFeatures, bool bias = true, double initStd = 0.02, Device? device = null, ScalarType? dtype = null)
        : base(nameof(SigmaReparamLinear))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(inFeatures);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(outFeatures);
        (InFeatures, OutFeatures) = (inFeatures, outFeatures);
        var weight = randn([outFeatures, inFeatures], dtype: dtype, device: device) * initStd;
        var (_, singular, rightT) = linalg.svd(weight.to(float64), fullMatrices: false);
        _u = rightT[0].to(weight.dtype).clone();
        _spectralNorm = singular[0].to(weight.dtype).reshape(1).clone();
        _gamma = new Parameter(_spectralNorm.clone());
        _weight = new Parameter(weight);
        if (bias)
            _bias = new Parameter(zeros(outFeatures, dtype: dtype, device: device));
        RegisterComponents();
    }

    /// <summary>Width of the input's last axis (columns of W).</summary>
    public long InFeatures { get; }
    /// <summary>Width of the output's last axis (rows of W).</summary>
    public long OutFeatures { get; }
    /// <summary>The raw W [out, in] (state key "weight"), init N(0, initStd²); the layer uses γ/σ(W)·W.</summary>
    public Parameter Weight => _weight;
    /// <summary>The bias [out], init 0; null without a bias.</summary>
    public Parameter? Bias => _bias;
    /// <summary>γ of Eq. (3), shape [1], init σ(W₀); the learned spectral norm of Ŵ.</summary>
    public Parameter Gamma => _gamma;
    /// <summary>u [in] (buffer "u"): the stored estimate of W's leading right singular vector, init from W₀'s SVD, replaced by u′ after each training forward.</summary>
    public Tensor RightSingularVector => _u;
    /// <summary>σ [1] (buffer "spectral_norm"): the estimate of σ(W) used by the last training forward, init σ(W₀); evaluation does not change it.</summary>
    public Tensor TrainingSigma => _spectralNorm;

    /// <summary>Ŵ = γ/σ(W)·W with σ = vᵀ W u′ from one power step off the stored u; training stores u′ and σ, evaluation does not.</summary>
    public Tensor ReparameterizedWeight()
    {
        using var scope = NewDisposeScope();
        Tensor left, right;
        using (no_grad())
        {
            var data = _weight.detach();
            left = Normalize(data.mv(_u));                   // v = normalize(W u)
            right = Normalize(data.t().mv(left));            // u′ = normalize(Wᵀ v)
            if (training)
                _u.copy_(right);
        }
        var sigma = left.dot(_weight.mv(right));             // σ = vᵀ W u′, gradient to W only
        if (training)
        {
            using (no_grad())
                _spectralNorm.copy_(sigma.detach().reshape(1));
        }
        return (_weight / sigma * _gamma).MoveToOuterDisposeScope();   // Eq. (3)
    }

    /// <summary>x [..., in] → [..., out] through Ŵ = γ/σ(W)·W (see <see cref="ReparameterizedWeight"/>).</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return nn.functional.linear(x, ReparameterizedWeight(), _bias).MoveToOuterDisposeScope();
    }

    private static Tensor Normalize(Tensor a) => a / a.norm().clamp_min(NormalizeEps);

    /// <inheritdoc/>
    public override string ToString() => $"SigmaReparamLinear({InFeatures}, {OutFeatures}, bias={_bias is not null})";
}
