// SPDX-License-Identifier: MIT
using MathNet.Numerics;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Norms;

/// <summary>Self-normalising networks: SELU, its LeCun-normal initialisation, and alpha-dropout.</summary>
/// <remarks>Klambauer, Unterthiner, Mayr &amp; Hochreiter, "Self-Normalizing Neural Networks", NeurIPS 2017, arXiv:1706.02515:
/// selu(x) = λx for x &gt; 0 and λα(eˣ − 1) otherwise, Eq. (2), with the λ, α that make (mean 0, variance 1) a stable fixed point of
/// the layer-to-layer moment map when weights satisfy Σw = 0, Σw² = 1 per unit — approximately, w ~ N(0, 1/fan_in) ("LeCun
/// normal") and biases 0. Alpha-dropout (§ "New Dropout Technique"): dropped units become α′ = −λα, then a·x + b with
/// a = (q + α′²q(1 − q))^(−1/2), b = −a(1 − q)α′ for keep probability q, preserving mean 0 and variance 1; identity in evaluation.
/// Used by the SELU notebook.</remarks>
public static class SelfNormalizing
{
    /// <summary>λ of Eq. (2), to the precision of the authors' code.</summary>
    public const double Lambda = 1.0507009873554804934193349852946;

    /// <summary>α of Eq. (2), to the precision of the authors' code.</summary>
    public const double Alpha = 1.6732632423543772848170429916717;

    /// <summary>SELU's negative saturation value −λα, which alpha-dropout assigns to dropped units.</summary>
    public const double AlphaPrime = -Lambda * Alpha;

    /// <summary>selu(x) per Eq. (2).</summary>
    public static Tensor Selu(Tensor x) => nn.functional.selu(x);

    /// <summary>Re-initialises a weight [out, in, …] in place with N(0, 1/fan_in).</summary>
    public static Tensor LecunNormal(Tensor weight)
    {
        var fanIn = weight.numel() / weight.shape[0];
        using (no_grad())
            return weight.normal_(0, Math.Sqrt(1.0 / fanIn));
    }

    /// <summary>
    /// The layer-to-layer moment map g of §3: the mean and variance of selu(z) for z ~ N(μω, ντ), where a unit's inputs have mean μ and
    /// variance ν and its weights sum to ω with squares summing to τ. Closed form (Gaussian integrals of λz and λα(eᶻ − 1) over the two
    /// half-lines); (0, 1) is its fixed point at ω = 0, τ = 1.
    /// </summary>
    public static (double Mean, double Variance) MomentMap(double mu, double omega, double nu, double tau)
    {
        if (!(nu * tau > 0))
            throw new ArgumentOutOfRangeException(nameof(nu), nu, $"The pre-activation variance ν·τ must be positive, got ν = {nu}, τ = {tau}.");
        var m = mu * omega;
        var s = Math.Sqrt(nu * tau);
        var r = m / s;
        static double Phi(double x) => 0.5 * SpecialFunctions.Erfc(-x / Math.Sqrt(2));
        var phi = Math.Exp(-r * r / 2) / Math.Sqrt(2 * Math.PI);
        double ExpBelowZero(double k) => Math.Exp(k * m + k * k * s * s / 2) * Phi(-r - k * s);   // E[e^{kz}; z ≤ 0]
        var below = Phi(-r);
        var positiveMean = m * Phi(r) + s * phi;
        var positiveSquare = (m * m + s * s) * Phi(r) + m * s * phi;
        var e1 = ExpBelowZero(1);
        var mean = Lambda * (positiveMean + Alpha * (e1 - below));
        var square = Lambda * Lambda * (positiveSquare + Alpha * Alpha * (ExpBelowZero(2) - 2 * e1 + below));
        return (mean, square - mean * mean);
    }

    /// <summary>The affine (a, b) alpha-dropout applies after dropping with keep probability <paramref name="keep"/>.</summary>
    public static (double A, double B) AlphaDropoutAffine(double keep)
    {
        var a = 1 / Math.Sqrt(keep + AlphaPrime * AlphaPrime * keep * (1 - keep));
        return (a, -a * (1 - keep) * AlphaPrime);
    }
}

/// <summary>Alpha-dropout (Klambauer et al. 2017): keeps SELU activations at mean 0 and variance 1 while dropping units.</summary>
public sealed class AlphaDropout : nn.Module<Tensor, Tensor>
{
    /// <summary>Alpha-dropout with drop probability <paramref name="rate"/> in [0, 1) (0.05, the low end of the paper's recommended 0.05–0.1).</summary>
    public AlphaDropout(double rate = 0.05) : base(nameof(AlphaDropout))
    {
        if (rate is < 0 or >= 1)
            throw new ArgumentOutOfRangeException(nameof(rate), rate, "The dropout rate must be in [0, 1).");
        Rate = rate;
    }

    /// <summary>Probability of dropping a unit (the paper recommends 0.05–0.1).</summary>
    public double Rate { get; }

    /// <summary>In training, sets each element of x to α′ = −λα with probability <see cref="Rate"/> and applies a·x + b (<see cref="SelfNormalizing.AlphaDropoutAffine"/>); in evaluation, or at rate 0, returns an alias of x. Same shape out.</summary>
    public override Tensor forward(Tensor x)
    {
        if (!training || Rate == 0)
            return x.alias();
        using var scope = NewDisposeScope();
        var keep = 1 - Rate;
        var (a, b) = SelfNormalizing.AlphaDropoutAffine(keep);
        var mask = empty_like(x).bernoulli_(keep);
        var dropped = x * mask + SelfNormalizing.AlphaPrime * (1 - mask);
        return (dropped * a + b).MoveToOuterDisposeScope();
    }

    /// <inheritdoc/>
    public override string ToString() => $"AlphaDropout(rate={Rate:g})";
}
