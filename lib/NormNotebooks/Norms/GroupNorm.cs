// SPDX-License-Identifier: MIT
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Norms;

/// <summary>Group normalisation: each sample's channels are split into groups normalised over (channels in group × positions).</summary>
/// <remarks>Wu &amp; He, "Group Normalization", ECCV 2018, arXiv:1803.08494, Eq. (1)–(3): x̂ = (x − μ_g)/√(σ²_g + ε) with μ_g, σ²_g
/// (biased) over the group's channels and all spatial positions of one sample, then a per-channel γ, β. G ↦ Groups (32 in
/// the paper; must divide the channel count), ε = 1e-5. Groups = 1 is LayerNorm over (C, H, W); Groups = C is InstanceNorm.
/// Input [N, C, …]. Used by the vision notebooks and notebook 20 (micro-batch).</remarks>
public sealed class GroupNorm : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "weight")] private Parameter? _weight;
    [ComponentName(Name = "bias")] private Parameter? _bias;

    /// <summary>A GroupNorm of <paramref name="channels"/> channels in <paramref name="groups"/> groups; γ starts at 1 and β at 0.</summary>
    /// <param name="channels">Number C of channels (axis 1).</param>
    /// <param name="groups">G (32, the paper's); must divide C. 1 gives LayerNorm over (C, positions), C gives InstanceNorm.</param>
    /// <param name="eps">ε, added to the group variance inside the root (1e-5).</param>
    /// <param name="affine">Learn the per-channel γ and β.</param>
    /// <param name="device">Device of γ and β (null: TorchSharp's default).</param>
    /// <param name="dtype">Element type of γ and β (null: TorchSharp's default).</param>
    public GroupNorm(long channels, long groups = 32, double eps = 1e-5, bool affine = true, Device? device = null, ScalarType? dtype = null) : base(nameof(GroupNorm))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(groups);
        if (channels % groups != 0)
            throw new ArgumentOutOfRangeException(nameof(groups), groups, $"GroupNorm: {groups} groups do not divide {channels} channels.");
        (Channels, Groups, Eps, Affine) = (channels, groups, eps, affine);
        if (affine)
        {
            _weight = new Parameter(ones(channels, dtype: dtype, device: device));
            _bias = new Parameter(zeros(channels, dtype: dtype, device: device));
        }
        RegisterComponents();
    }

    /// <summary>Number C of channels (axis 1), each with its own γ and β.</summary>
    public long Channels { get; }
    /// <summary>Number G of groups; each holds C/G channels and has its own μ_g and σ²_g per sample.</summary>
    public long Groups { get; }
    /// <summary>ε, added to the biased group variance σ²_g inside the root.</summary>
    public double Eps { get; }
    /// <summary>Whether the per-channel γ and β are learned; without them <see cref="Weight"/> and <see cref="Bias"/> are null.</summary>
    public bool Affine { get; }
    /// <summary>γ, shape [C], init 1 (state key "weight"); null unless <see cref="Affine"/>.</summary>
    public Parameter? Weight => _weight;
    /// <summary>β, shape [C], init 0 (state key "bias"); null unless <see cref="Affine"/>.</summary>
    public Parameter? Bias => _bias;

    /// <summary>Normalises each sample of x [N, C, …] per group over (C/G channels × positions), then applies the per-channel γ and β; the output has x's shape and dtype (half precision computed in float32).</summary>
    public override Tensor forward(Tensor x)
    {
        NormInput.RequireChannelAxis(x, Channels, 2, Name, "[N, C, ...]");
        using var scope = NewDisposeScope();
        var input = NormInput.Upcast(x);
        var grouped = input.reshape(x.shape[0], Groups, -1);                 // [N, G, C/G·positions]
        var (centred, variance) = NormInput.CentreAndVariance(grouped, [-1L]);
        var y = (centred * rsqrt(variance + Eps)).reshape(x.shape);          // Eq. (1) per group
        if (Affine)
        {
            var shape = Enumerable.Repeat(1L, (int)x.dim()).ToArray();
            shape[1] = Channels;
            y = y * _weight!.view(shape) + _bias!.view(shape);
        }
        return y.to(x.dtype).MoveToOuterDisposeScope();
    }

    /// <summary>The layer's display name (InstanceNorm shares this implementation).</summary>
    public string Name { get; init; } = nameof(GroupNorm);

    /// <inheritdoc/>
    public override string ToString() => Name == nameof(GroupNorm)
        ? $"GroupNorm({Groups}, {Channels}, eps={Eps:g}, affine={Affine})"
        : $"InstanceNorm({Channels}, eps={Eps:g}, affine={Affine})";

    /// <summary>Instance normalisation (Ulyanov, Vedaldi &amp; Lempitsky, arXiv:1607.08022): every channel of every sample over its positions.</summary>
    /// <remarks>Training and evaluation compute the same per-instance statistics (no running statistics, PyTorch's default);
    /// the affine defaults to on here, as in the paper's style-transfer networks.</remarks>
    public static GroupNorm Instance(long channels, double eps = 1e-5, bool affine = true, Device? device = null, ScalarType? dtype = null) =>
        new(channels, channels, eps, affine, device, dtype) { Name = "InstanceNorm" };
}
