// SPDX-License-Identifier: MIT
using NormNotebooks.Norms;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Models;

/// <summary>Where a Transformer block puts its norms.</summary>
public enum NormPlacement
{
    /// <summary>x + F(N(x)) (Xiong et al. 2020), with a final norm before the head.</summary>
    PreLN,

    /// <summary>N(x + F(x)) (Vaswani et al. 2017).</summary>
    PostLN,

    /// <summary>The first ⌊αL⌋ blocks Post-LN, the rest Pre-LN (Li, Yin &amp; Liu 2025, α = MixFraction).</summary>
    MixLN,

    /// <summary>x + N_out(F(N_in(x))): input and output of each sub-layer normalised (Kim et al. 2025).</summary>
    PeriLN,

    /// <summary>Pre-LN with each norm's output scaled by 1/√ℓ for block ℓ (Sun et al. 2025).</summary>
    LayerNormScaling,
}

/// <summary>Everything that defines a <see cref="CharTransformer"/>.</summary>
/// <param name="Vocabulary">Number of tokens (characters).</param>
/// <param name="Width">d, the residual width.</param>
/// <param name="Depth">L, the number of blocks.</param>
/// <param name="Heads">Attention heads (must divide the width).</param>
/// <param name="Context">Longest sequence (learned positions).</param>
/// <param name="Norm">A <see cref="NormFactory"/> name for every norm of the model.</param>
/// <param name="Placement">Where the norms go.</param>
/// <param name="MixFraction">α for Mix-LN: the fraction of blocks, from the first, that are Post-LN.</param>
/// <param name="EmbeddingNorm">Peri-LN only: also normalise the embedding output (the paper's figure does).</param>
/// <param name="MlpRatio">Hidden width of the MLP over the residual width.</param>
/// <param name="InitStd">Standard deviation of the N(0, σ²) init of linear and embedding weights (GPT-2: 0.02).</param>
/// <param name="SigmaReparam">Use σReparam linear layers (Zhai et al. 2023) in attention and MLP.</param>
/// <param name="NormEps">ε for every norm, when not the norm's paper default.</param>
/// <param name="CentredWriters">Pre-LN only: the embeddings and every sub-layer's output projection write mean-free vectors (W ← W − mean over
/// outputs, inside the forward: the paper's LinearZeroMeanOutput). With RMSNorm that keeps gain and bias ("rmsnorm-affine") this model
/// trains exactly like the Pre-LN LayerNorm model with the same weights (Jiang et al. 2023).</param>
/// <param name="NormWarmup">Warm-up iterations of the norms that have one (PowerNorm, UN, PRepBN), when not their default; PowerNorm's
/// reference ties it to the learning-rate warm-up.</param>
/// <param name="DepthScaledInit">Initialise every writer to the residual stream (attention and MLP output projections) with
/// std InitStd/√(2·Depth), GPT-2's depth-scaled init (the "scaled init" the LayerNorm Scaling authors warn cancels much of its benefit).</param>
/// <param name="NormDecay">Progressive RepBN: the steps over which λ falls from 1 to 0 after the warm steps (<see cref="NormWarmup"/>), when not its default.</param>
/// <param name="NormGate">Unified Normalization: the steps with its gradient-compensation ratio ρ fixed at 1, when not the reference's max(1000, warm-up).</param>
/// <param name="NormImplementation">The code every LayerNorm and RMSNorm of the model runs (<see cref="Norms.NormImplementation"/>), when not
/// each norm's default.</param>
public sealed record TransformerConfig(
    int Vocabulary, int Width = 128, int Depth = 4, int Heads = 4, int Context = 128, string Norm = "layernorm",
    NormPlacement Placement = NormPlacement.PreLN, double MixFraction = 0.25, bool EmbeddingNorm = true, int MlpRatio = 4,
    double InitStd = 0.02, bool SigmaReparam = false, double? NormEps = null, int? NormWarmup = null, bool CentredWriters = false,
    bool DepthScaledInit = false, NormImplementation? NormImplementation = null, int? NormDecay = null, int? NormGate = null)
{
    /// <summary>The options every norm of the model is built with.</summary>
    internal NormOptions NormOptions(int depth) => new()
    {
        Layout = NormLayout.ChannelsLast,
        Depth = depth,
        Groups = Heads,
        Eps = NormEps,
        WarmupIterations = NormWarmup,
        Implementation = NormImplementation,
        DecaySteps = NormDecay,
        RhoGateIterations = NormGate,
    };

    /// <summary>Placement of block <paramref name="index"/> (0-based) once Mix-LN is resolved.</summary>
    public NormPlacement PlacementOf(int index) => Placement switch
    {
        NormPlacement.MixLN => index < (int)Math.Floor(MixFraction * Depth) ? NormPlacement.PostLN : NormPlacement.PreLN,
        var other => other,
    };
}

/// <summary>Causal multi-head self-attention (<see cref="Attention"/>) with its projections; keeps the weights for probes on request.</summary>
public sealed class CausalSelfAttention : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "qkv")] private nn.Module<Tensor, Tensor> _qkv;
    [ComponentName(Name = "proj")] private nn.Module<Tensor, Tensor> _proj;

    /// <summary>Attention for <paramref name="config"/>'s width w and heads: a fused q, k, v projection [w → 3w] and an output projection [w → w] that writes to the residual stream, both initialised as the config says.</summary>
    public CausalSelfAttention(TransformerConfig config) : base(nameof(CausalSelfAttention))
    {
        if (config.Width % config.Heads != 0)
            throw new ArgumentException($"Heads ({config.Heads}) must divide the width ({config.Width}).", nameof(config));
        (Heads, HeadWidth) = (config.Heads, config.Width / config.Heads);
        _qkv = Layers.Linear(config.Width, 3 * config.Width, config);
        _proj = Layers.Linear(config.Width, config.Width, config, writer: true);
        RegisterComponents();
    }

    /// <summary>Number of heads h; divides the width.</summary>
    public int Heads { get; }
    /// <summary>d_h = w/h, the width of each head's q, k and v; scores are divided by √d_h.</summary>
    public int HeadWidth { get; }

    /// <summary>The last forward's attention weights [B, heads, T, T] when <see cref="RecordAttention"/> is on.</summary>
    public Tensor? LastAttention { get; private set; }

    /// <summary>Keep a copy of the attention weights (for entropy probes).</summary>
    public bool RecordAttention { get; set; }

    /// <summary>When set, the projections are applied through it as (input, linear, "qkv" or "proj") → output, in place of
    /// the linear's own forward (quantized inference, input probes); set it for the whole model with
    /// <see cref="CharTransformer.LinearOverride"/>.</summary>
    public LinearOverride? LinearOverride { get; set; }

    /// <summary>x [B, T, w] → [B, T, w]: causal attention over the projected q, k, v, then the output projection; keeps the weights when <see cref="RecordAttention"/> is on.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = Attention.SelfAttend(Layers.Apply(LinearOverride, _qkv, x, "qkv"), Heads, causal: true, out var attention);
        if (RecordAttention)
        {
            LastAttention?.Dispose();
            LastAttention = attention.detach().clone().DetachFromDisposeScope();
        }
        return Layers.Apply(LinearOverride, _proj, y, "proj").MoveToOuterDisposeScope();
    }
}

/// <summary>Applies <paramref name="linear"/> (a model's projection named <paramref name="name"/>: "qkv", "proj", "fc" or
/// "mlp.proj") to <paramref name="input"/> [..., in] in its place, returning [..., out].</summary>
public delegate Tensor LinearOverride(Tensor input, nn.Module<Tensor, Tensor> linear, string name);

/// <summary>One Transformer block (attention and MLP sub-layers) with its norms placed as configured.</summary>
public sealed class TransformerBlock : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "attn")] private CausalSelfAttention _attention;
    [ComponentName(Name = "mlp")] private Sequential _mlp;
    [ComponentName(Name = "norm1")] private nn.Module<Tensor, Tensor> _norm1;
    [ComponentName(Name = "norm2")] private nn.Module<Tensor, Tensor> _norm2;
    [ComponentName(Name = "norm1_out")] private nn.Module<Tensor, Tensor>? _norm1Out;
    [ComponentName(Name = "norm2_out")] private nn.Module<Tensor, Tensor>? _norm2Out;

    /// <summary>Block <paramref name="index"/> (0-based, ℓ = index + 1) of the model <paramref name="config"/> describes: attention, a GELU MLP [w → MlpRatio·w → w], and two norms (four for Peri-LN) from <see cref="NormFactory"/>, wrapped in <see cref="Norms.LayerNormScaling"/> (×1/√ℓ) under the LayerNormScaling placement.</summary>
    public TransformerBlock(TransformerConfig config, int index) : base(nameof(TransformerBlock))
    {
        (Index, Placement) = (index, config.PlacementOf(index));
        var options = config.NormOptions(index + 1);
        nn.Module<Tensor, Tensor> Norm() => Placement == NormPlacement.LayerNormScaling
            ? new LayerNormScaling(NormFactory.Create(config.Norm, config.Width, options), index + 1)
            : NormFactory.Create(config.Norm, config.Width, options);
        _attention = new CausalSelfAttention(config);
        _mlp = nn.Sequential(
            ("fc", Layers.Linear(config.Width, config.MlpRatio * config.Width, config)),
            ("act", nn.GELU()),
            ("proj", Layers.Linear(config.MlpRatio * config.Width, config.Width, config, writer: true)));
        _norm1 = Norm();
        _norm2 = Norm();
        if (Placement == NormPlacement.PeriLN)
        {
            _norm1Out = Norm();
            _norm2Out = Norm();
        }
        RegisterComponents();
    }

    /// <summary>0-based position in the stack; ℓ = Index + 1.</summary>
    public int Index { get; }

    /// <summary>This block's placement (Mix-LN resolved).</summary>
    public NormPlacement Placement { get; }

    /// <summary>The attention sub-layer (state key "attn").</summary>
    public CausalSelfAttention Attention => _attention;
    /// <summary>The MLP sub-layer (state key "mlp"): fc [w → MlpRatio·w], GELU, proj [MlpRatio·w → w].</summary>
    public Sequential Mlp => _mlp;

    /// <summary>The norms that feed the attention and MLP sub-layers' first projections (Pre-LN: norm1 → qkv, norm2 → fc).</summary>
    public (nn.Module<Tensor, Tensor> Attention, nn.Module<Tensor, Tensor> Mlp) InputNorms => (_norm1, _norm2);

    /// <summary>See <see cref="CausalSelfAttention.LinearOverride"/>; here for the MLP's "fc" and "mlp.proj".</summary>
    public LinearOverride? LinearOverride { get; set; }

    /// <summary>x [B, T, w] → [B, T, w] through attention and MLP with the norms placed as <see cref="Placement"/> says: Pre-LN x + F(N(x)), Post-LN N(x + F(x)), Peri-LN x + N_out(F(N_in(x))).</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var y = Placement switch
        {
            NormPlacement.PostLN => PostLn(x),
            NormPlacement.PeriLN => PeriLn(x),
            _ => PreLn(x),   // Pre-LN, and LayerNorm Scaling whose norms carry the 1/√ℓ
        };
        return y.MoveToOuterDisposeScope();
    }

    private Tensor PreLn(Tensor x)
    {
        var h = x + _attention.forward(_norm1.forward(x));
        return h + Mlp_(_norm2.forward(h));
    }

    private Tensor PostLn(Tensor x)
    {
        var h = _norm1.forward(x + _attention.forward(x));
        return _norm2.forward(h + Mlp_(h));
    }

    private Tensor PeriLn(Tensor x)
    {
        var h = x + _norm1Out!.forward(_attention.forward(_norm1.forward(x)));
        return h + _norm2Out!.forward(Mlp_(_norm2.forward(h)));
    }

    private Tensor Mlp_(Tensor x)
    {
        if (LinearOverride is null)
            return _mlp.forward(x);
        var layers = _mlp.children().Cast<nn.Module<Tensor, Tensor>>().ToArray();   // fc, act, proj
        return LinearOverride(layers[1].forward(LinearOverride(x, layers[0], "fc")), layers[2], "mlp.proj");
    }
}

/// <summary>
/// A decoder-only character Transformer (GPT-style): token and learned position embeddings, L blocks with configurable norm and
/// placement, a final norm (always present, as in the Pre-LN, Mix-LN and Peri-LN papers' models) and a linear head.
/// </summary>
public sealed class CharTransformer : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "tok_emb")] private Embedding _tokens;
    [ComponentName(Name = "pos_emb")] private Embedding _positions;
    [ComponentName(Name = "emb_norm")] private nn.Module<Tensor, Tensor>? _embeddingNorm;
    [ComponentName(Name = "blocks")] private ModuleList<TransformerBlock> _blocks;
    [ComponentName(Name = "final_norm")] private nn.Module<Tensor, Tensor> _finalNorm;
    [ComponentName(Name = "head")] private Linear _head;

    /// <summary>Builds the model <paramref name="config"/> describes; token and position embeddings and the head are N(0, InitStd²), the head bias 0.</summary>
    /// <exception cref="ArgumentException">CentredWriters without Pre-LN, or with σReparam.</exception>
    public CharTransformer(TransformerConfig config) : base(nameof(CharTransformer))
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(config.Depth);
        if (config.CentredWriters && (config.Placement != NormPlacement.PreLN || config.SigmaReparam))
            throw new ArgumentException($"CentredWriters is the Pre-LN equivalence of Jiang et al.; it needs Pre-LN without σReparam, got {config.Placement}, σReparam {config.SigmaReparam}.", nameof(config));
        Config = config;
        _tokens = nn.Embedding(config.Vocabulary, config.Width);
        _positions = nn.Embedding(config.Context, config.Width);
        if (config.Placement == NormPlacement.PeriLN && config.EmbeddingNorm)
            _embeddingNorm = NormFactory.Create(config.Norm, config.Width, config.NormOptions(1));
        _blocks = nn.ModuleList(Enumerable.Range(0, config.Depth).Select(i => new TransformerBlock(config, i)).ToArray());
        _finalNorm = NormFactory.Create(config.Norm, config.Width, config.NormOptions(1));
        _head = nn.Linear(config.Width, config.Vocabulary);
        using (no_grad())
        {
            _tokens.weight!.normal_(0, config.InitStd);
            _positions.weight!.normal_(0, config.InitStd);
            _head.weight!.normal_(0, config.InitStd);
            _head.bias!.zero_();
        }
        RegisterComponents();
    }

    /// <summary>The configuration the model was built from.</summary>
    public TransformerConfig Config { get; }
    /// <summary>The L blocks in order (a fresh list over the "blocks" module list on every call).</summary>
    public IReadOnlyList<TransformerBlock> Blocks => _blocks.ToList();

    /// <summary>Blocks to skip (identity) in forward: single-layer removal probes set this.</summary>
    public ISet<int> RemovedBlocks { get; } = new HashSet<int>();

    /// <summary>Receives each block's output [B, T, d] during forward (residual-stream probes); null when nobody listens. The tensor lives
    /// in the forward's dispose scope: a listener that keeps it must copy it out (clone().DetachFromDisposeScope()).</summary>
    public Action<int, Tensor>? BlockOutput { get; set; }

    /// <summary>The norm before the head (state key "final_norm").</summary>
    public nn.Module<Tensor, Tensor> FinalNorm => _finalNorm;

    /// <summary>Parameters outside the embeddings (Kaplan's N).</summary>
    public long NonEmbeddingParameters =>
        named_parameters().Where(p => !p.name.StartsWith("tok_emb", StringComparison.Ordinal) && !p.name.StartsWith("pos_emb", StringComparison.Ordinal))
            .Sum(p => p.parameter.numel());

    /// <summary>Every block's projections (attention qkv and proj, MLP fc and proj) are applied through this when it is set (the
    /// embeddings and the head are not); null restores the linears' own forward. See <see cref="Kernels.Int8Inference"/>.</summary>
    public LinearOverride? LinearOverride
    {
        get => _linearOverride;
        set
        {
            _linearOverride = value;
            foreach (var block in _blocks)
                (block.LinearOverride, block.Attention.LinearOverride) = (value, value);
        }
    }
    private LinearOverride? _linearOverride;

    /// <summary>Logits [B, T, vocabulary] for token ids [B, T].</summary>
    public override Tensor forward(Tensor tokens) => Run(tokens, null);

    /// <summary>
    /// The residual stream of a forward pass: the embedding output h₀ followed by each block's output h₁ … h_L (a removed block
    /// repeats its input), each [B, T, d]. Call it under no_grad and in eval mode for probes; the tensors belong to the caller.
    /// </summary>
    public IReadOnlyList<Tensor> HiddenStates(Tensor tokens)
    {
        var states = new List<Tensor>(Config.Depth + 1);
        using (var scope = NewDisposeScope())
        {
            Run(tokens, states);
            foreach (var state in states.Distinct())
                state.MoveToOuterDisposeScope();
        }
        return states;
    }

    private Tensor Run(Tensor tokens, List<Tensor>? states)
    {
        if (tokens.dim() != 2 || tokens.shape[1] > Config.Context)
            throw new ArgumentException($"CharTransformer: expected token ids [B, T] with T ≤ {Config.Context}, got [{string.Join(", ", tokens.shape)}].", nameof(tokens));
        using var scope = NewDisposeScope();
        var positions = arange(tokens.shape[1], dtype: ScalarType.Int64, device: tokens.device);
        var x = _tokens.forward(tokens) + _positions.forward(positions);
        if (Config.CentredWriters)
            x = x - x.mean([-1L], keepdim: true);   // = centred token row + centred position row
        if (_embeddingNorm is not null)
            x = _embeddingNorm.forward(x);
        states?.Add(x);
        for (var i = 0; i < _blocks.Count; i++)
        {
            if (!RemovedBlocks.Contains(i))
            {
                x = _blocks[i].forward(x);
                BlockOutput?.Invoke(i, x);
            }
            states?.Add(x);
        }
        foreach (var state in states?.Distinct() ?? [])
            state.MoveToOuterDisposeScope();
        return _head.forward(_finalNorm.forward(x)).MoveToOuterDisposeScope();
    }
}

/// <summary>Linear layers for the models: plain (N(0, σ²) weights, zero bias) or σReparam.</summary>
internal static class Layers
{
    public static Tensor Apply(LinearOverride? linearOverride, nn.Module<Tensor, Tensor> linear, Tensor x, string name) =>
        linearOverride is null ? linear.forward(x) : linearOverride(x, linear, name);

    public static nn.Module<Tensor, Tensor> Linear(long input, long output, TransformerConfig config, bool writer = false)
    {
        var std = writer && config.DepthScaledInit ? config.InitStd / Math.Sqrt(2.0 * config.Depth) : config.InitStd;
        if (config.SigmaReparam)
            return new SigmaReparamLinear(input, output, initStd: std);
        if (writer && config.CentredWriters)
            return new ZeroMeanOutputLinear(input, output, std);
        var linear = nn.Linear(input, output);
        using (no_grad())
        {
            linear.weight!.normal_(0, std);
            linear.bias!.zero_();
        }
        return linear;
    }
}

/// <summary>A linear layer whose output is mean-free: y = (W − 1·mean₀(W))x + (b − mean(b)), i.e. P·(Wx + b) with P = I − 11ᵀ/d.</summary>
/// <remarks>Jiang et al. 2023's LinearZeroMeanOutput: the parameters stay W and b (so gradients and optimizer state match a plain linear
/// layer whose output is only read through LayerNorms); the forward centres them.</remarks>
public sealed class ZeroMeanOutputLinear : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "weight")] private Parameter _weight;
    [ComponentName(Name = "bias")] private Parameter _bias;

    /// <summary>A mean-free linear layer [input → output] with W ~ N(0, <paramref name="initStd"/>²) and b = 0, on TorchSharp's default device and dtype.</summary>
    public ZeroMeanOutputLinear(long input, long output, double initStd) : base(nameof(ZeroMeanOutputLinear))
    {
        _weight = new Parameter(empty(output, input).normal_(0, initStd));
        _bias = new Parameter(zeros(output));
        RegisterComponents();
    }

    /// <summary>The raw W [output, input] (state key "weight"); the forward uses W − mean over the output axis.</summary>
    public Parameter Weight => _weight;
    /// <summary>The raw b [output] (state key "bias"); the forward uses b − mean(b).</summary>
    public Parameter Bias => _bias;

    /// <summary>x [..., input] → [..., output], each output vector mean-free over its output features.</summary>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var weight = _weight - _weight.mean([0L], keepdim: true);
        var bias = _bias - _bias.mean();
        return nn.functional.linear(x, weight, bias).MoveToOuterDisposeScope();
    }
}
