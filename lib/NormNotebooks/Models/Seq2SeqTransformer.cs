// SPDX-License-Identifier: MIT
using NormNotebooks.Norms;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Models;

/// <summary>Everything that defines a <see cref="Seq2SeqTransformer"/>.</summary>
/// <param name="Vocabulary">Shared source/target vocabulary.</param>
/// <param name="Width">Model width d.</param>
/// <param name="EncoderDepth">Encoder blocks.</param>
/// <param name="DecoderDepth">Decoder blocks.</param>
/// <param name="Heads">Attention heads.</param>
/// <param name="Context">Longest source or target sequence.</param>
/// <param name="Norm">A <see cref="NormFactory"/> name for every norm.</param>
/// <param name="PostLN">Post-LN blocks (Vaswani et al.) instead of Pre-LN.</param>
/// <param name="MlpRatio">MLP hidden width over d.</param>
/// <param name="InitStd">σ of the N(0, σ²) init of linear and embedding weights.</param>
/// <param name="ScaledResidualInit">GPT-2's init (Radford et al. 2019): the projections that write into the residual stream (attention
/// outputs and the MLP's second layer) start at σ/√(2·depth) of their stack, so a deep stack starts close to the identity and
/// passes its input through (the encoder-decoder scaling notebook grows depth to 6).</param>
public sealed record Seq2SeqConfig(int Vocabulary, int Width = 64, int EncoderDepth = 2, int DecoderDepth = 2, int Heads = 4, int Context = 32,
    string Norm = "layernorm", bool PostLN = false, int MlpRatio = 4, double InitStd = 0.02,
    bool ScaledResidualInit = false);

/// <summary>
/// A small encoder-decoder Transformer (Vaswani et al. 2017) for synthetic translation: encoder blocks with bidirectional
/// self-attention, decoder blocks with causal self-attention and cross-attention to the encoder output, learned positions, Pre-LN
/// (default, with final norms) or Post-LN, any norm by name.
/// </summary>
public sealed class Seq2SeqTransformer : nn.Module<Tensor, Tensor, Tensor>
{
    [ComponentName(Name = "src_emb")] private Embedding _sourceTokens;
    [ComponentName(Name = "tgt_emb")] private Embedding _targetTokens;
    [ComponentName(Name = "pos_emb")] private Embedding _positions;
    [ComponentName(Name = "encoder")] private ModuleList<Seq2SeqBlock> _encoder;
    [ComponentName(Name = "decoder")] private ModuleList<Seq2SeqBlock> _decoder;
    [ComponentName(Name = "encoder_norm")] private nn.Module<Tensor, Tensor> _encoderNorm;
    [ComponentName(Name = "decoder_norm")] private nn.Module<Tensor, Tensor> _decoderNorm;
    [ComponentName(Name = "head")] private Linear _head;

    /// <summary>Builds the model <paramref name="config"/> describes: separate source and target embeddings with shared learned positions, all N(0, InitStd²); final norms for Pre-LN (identity for Post-LN); a head with zero bias.</summary>
    public Seq2SeqTransformer(Seq2SeqConfig config) : base(nameof(Seq2SeqTransformer))
    {
        ArgumentNullException.ThrowIfNull(config);
        if (config.Width % config.Heads != 0)
            throw new ArgumentException($"Heads ({config.Heads}) must divide the width ({config.Width}).", nameof(config));
        Config = config;
        var options = new NormOptions { Layout = NormLayout.ChannelsLast, Groups = config.Heads };
        _sourceTokens = nn.Embedding(config.Vocabulary, config.Width);
        _targetTokens = nn.Embedding(config.Vocabulary, config.Width);
        _positions = nn.Embedding(config.Context, config.Width);
        _encoder = nn.ModuleList(Enumerable.Range(0, config.EncoderDepth).Select(_ => new Seq2SeqBlock(config, options, decoder: false)).ToArray());
        _decoder = nn.ModuleList(Enumerable.Range(0, config.DecoderDepth).Select(_ => new Seq2SeqBlock(config, options, decoder: true)).ToArray());
        _encoderNorm = config.PostLN ? nn.Identity() : NormFactory.Create(config.Norm, config.Width, options);
        _decoderNorm = config.PostLN ? nn.Identity() : NormFactory.Create(config.Norm, config.Width, options);
        _head = nn.Linear(config.Width, config.Vocabulary);
        using (no_grad())
        {
            foreach (var e in new[] { _sourceTokens, _targetTokens, _positions })
                e.weight!.normal_(0, config.InitStd);
            _head.weight!.normal_(0, config.InitStd);
            _head.bias!.zero_();
        }
        RegisterComponents();
    }

    /// <summary>The configuration the model was built from.</summary>
    public Seq2SeqConfig Config { get; }

    /// <summary>Logits [B, T, vocabulary] for source ids [B, S] and decoder input ids [B, T] (teacher forcing).</summary>
    public override Tensor forward(Tensor source, Tensor target)
    {
        if (source.dim() != 2 || target.dim() != 2 || source.shape[1] > Config.Context || target.shape[1] > Config.Context)
            throw new ArgumentException($"Seq2SeqTransformer: expected ids [B, S] and [B, T] with S, T ≤ {Config.Context}, got [{string.Join(", ", source.shape)}] and [{string.Join(", ", target.shape)}].");
        using var scope = NewDisposeScope();
        var memory = Embed(_sourceTokens, source);
        foreach (var block in _encoder)
            memory = block.Run(memory, null);
        memory = _encoderNorm.forward(memory);
        var x = Embed(_targetTokens, target);
        foreach (var block in _decoder)
            x = block.Run(x, memory);
        return _head.forward(_decoderNorm.forward(x)).MoveToOuterDisposeScope();
    }

    private Tensor Embed(Embedding tokens, Tensor ids) =>
        tokens.forward(ids) + _positions.forward(arange(ids.shape[1], dtype: ScalarType.Int64, device: ids.device));

    /// <summary>An encoder block (self-attention, MLP) or a decoder block (causal self-attention, cross-attention, MLP).</summary>
    public sealed class Seq2SeqBlock : nn.Module
    {
        private readonly int _heads;
        private readonly bool _postLn;
        [ComponentName(Name = "self_qkv")] private Linear _selfQkv;
        [ComponentName(Name = "self_proj")] private Linear _selfProj;
        [ComponentName(Name = "cross_q")] private Linear? _crossQ;
        [ComponentName(Name = "cross_kv")] private Linear? _crossKv;
        [ComponentName(Name = "cross_proj")] private Linear? _crossProj;
        [ComponentName(Name = "mlp")] private Sequential _mlp;
        [ComponentName(Name = "norms")] private ModuleList<nn.Module<Tensor, Tensor>> _norms;

        internal Seq2SeqBlock(Seq2SeqConfig config, NormOptions options, bool decoder) : base(nameof(Seq2SeqBlock))
        {
            (_heads, _postLn, IsDecoder) = (config.Heads, config.PostLN, decoder);
            var residualStd = config.ScaledResidualInit ? config.InitStd / Math.Sqrt(2.0 * (decoder ? config.DecoderDepth : config.EncoderDepth)) : config.InitStd;
            Linear L(long i, long o, bool residual = false)
            {
                var l = nn.Linear(i, o);
                using (no_grad())
                {
                    l.weight!.normal_(0, residual ? residualStd : config.InitStd);
                    l.bias!.zero_();
                }
                return l;
            }
            var d = config.Width;
            _selfQkv = L(d, 3 * d);
            _selfProj = L(d, d, residual: true);
            if (decoder)
            {
                _crossQ = L(d, d);
                _crossKv = L(d, 2 * d);
                _crossProj = L(d, d, residual: true);
            }
            _mlp = nn.Sequential(("fc", L(d, config.MlpRatio * d)), ("act", nn.GELU()), ("proj", L(config.MlpRatio * d, d, residual: true)));
            _norms = nn.ModuleList(Enumerable.Range(0, decoder ? 3 : 2).Select(_ => NormFactory.Create(config.Norm, d, options)).ToArray());
            RegisterComponents();
        }

        /// <summary>Whether this is a decoder block: causal self-attention and cross-attention to the encoder output, with three norms instead of two.</summary>
        public bool IsDecoder { get; }

        internal Tensor Run(Tensor x, Tensor? memory)
        {
            using var scope = NewDisposeScope();
            var sublayers = new List<Func<Tensor, Tensor>>
            {
                h =>
                {
                    return _selfProj.forward(Attention.SelfAttend(_selfQkv.forward(h), _heads, causal: IsDecoder, out _));
                },
            };
            if (IsDecoder)
                sublayers.Add(h =>
                {
                    var kv = _crossKv!.forward(memory!).chunk(2, -1);
                    return _crossProj!.forward(Attention.Attend(_crossQ!.forward(h), kv[0], kv[1], _heads, causal: false));
                });
            sublayers.Add(h => _mlp.forward(h));
            for (var i = 0; i < sublayers.Count; i++)
                x = _postLn ? _norms[i].forward(x + sublayers[i](x)) : x + sublayers[i](_norms[i].forward(x));
            return x.MoveToOuterDisposeScope();
        }
    }
}
