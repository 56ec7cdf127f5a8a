// SPDX-License-Identifier: MIT
using NormNotebooks.Norms;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Models;

/// <summary>Converts a Pre-LN <see cref="CharTransformer"/> into the equivalent Pre-RMSNorm model.</summary>
/// <remarks>Jiang, Gu, Zhu &amp; Pan, "Pre-RMSNorm and Pre-CRMSNorm Transformers: Equivalent and Efficient Pre-LN Transformers", NeurIPS 2023,
/// arXiv:2305.14858, §3: every read of the residual stream goes through a LayerNorm, which discards the component along 1, so
/// (1) each LN's γ, β fold into the linear layer that reads it (W ← W·diag(γ), b ← b + Wβ: attention QKV, MLP input, head);
/// (2) everything that writes to the stream is re-centred: token and position embedding rows, and each sub-layer's output
/// projection W_out ← P·W_out, b_out ← P·b_out with P = I − 11ᵀ/d; (3) on that zero-mean stream LayerNorm equals RMSNorm with the
/// same ε, so every LN becomes a gain-free RMSNorm. The result computes the same function. Keeping the equivalence during training
/// (re-centring the output projections at every step) is the paper's LinearZeroMeanOutput and is not done here. Used by notebook 12.</remarks>
public static class PreRmsNormConversion
{
    /// <summary>A new Pre-RMSNorm model computing the same logits as <paramref name="preLn"/> (a Pre-LN LayerNorm model without σReparam).</summary>
    public static CharTransformer Convert(CharTransformer preLn)
    {
        ArgumentNullException.ThrowIfNull(preLn);
        var config = preLn.Config;
        if (config.Placement != NormPlacement.PreLN || config.Norm != "layernorm" || config.SigmaReparam)
            throw new ArgumentException($"Pre-RMSNorm conversion needs a Pre-LN LayerNorm model without σReparam; got {config.Placement}, {config.Norm}, σReparam {config.SigmaReparam}.", nameof(preLn));
        var eps = config.NormEps ?? 1e-5;
        var first = preLn.parameters().First();
        var converted = new CharTransformer(config with { Norm = "rmsnorm", NormEps = eps });
        converted.to(first.dtype).to(first.device);   // copy at the source's precision, on its device
        var source = preLn.state_dict();
        var target = converted.state_dict();
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        foreach (var (name, tensor) in target)
            if (source.TryGetValue(name, out var value) && !name.Contains("norm", StringComparison.Ordinal))
                tensor.copy_(value);

        static Tensor Centre(Tensor rows) => rows - rows.mean([-1L], keepdim: true);   // each row minus its mean
        target["tok_emb.weight"].copy_(Centre(source["tok_emb.weight"]));
        target["pos_emb.weight"].copy_(Centre(source["pos_emb.weight"]));
        for (var i = 0; i < config.Depth; i++)
        {
            var block = $"blocks.{i}.";
            Fold(source, target, block + "norm1", block + "attn.qkv");
            Fold(source, target, block + "norm2", block + "mlp.fc");
            foreach (var writer in new[] { block + "attn.proj", block + "mlp.proj" })
            {
                // P·W_out: subtract the mean over the output dimension (rows of an [out = d, in] matrix).
                target[writer + ".weight"].copy_(source[writer + ".weight"] - source[writer + ".weight"].mean([0L], keepdim: true));
                target[writer + ".bias"].copy_(source[writer + ".bias"] - source[writer + ".bias"].mean());
            }
            target[block + "norm1.weight"].fill_(1);
            target[block + "norm2.weight"].fill_(1);
        }
        Fold(source, target, "final_norm", "head");
        target["final_norm.weight"].fill_(1);
        return converted;
    }

    // W ← W·diag(γ), b ← b + W·β for the linear layer that reads the norm.
    private static void Fold(IDictionary<string, Tensor> source, IDictionary<string, Tensor> target, string norm, string linear)
    {
        var (weight, bias) = Reparameterize.FoldIntoLinear(source[norm + ".weight"], source[norm + ".bias"], source[linear + ".weight"], source[linear + ".bias"]);
        target[linear + ".weight"].copy_(weight);
        target[linear + ".bias"].copy_(bias);
    }
}

/// <summary>
/// A Pre-CRMSNorm Transformer: the Pre-RMSNorm model of <see cref="PreRmsNormConversion.Convert"/> with its zero-mean residual stream
/// stored in d − 1 coordinates (Jiang et al. 2023, §3.3). Embeddings and sub-layer outputs write d − 1 coordinates; the linear layers
/// that read the stream (QKV, MLP input, head) take d − 1 inputs with W′[:, i] = W[:, i] − W[:, d]; every norm is a gain-free
/// CRMSNorm. Attention and MLP keep their width d and 4d. Computes the same logits as the model it was converted from.
/// </summary>
public sealed class PreCrmsTransformer : nn.Module<Tensor, Tensor>
{
    private readonly int _heads;
    [ComponentName(Name = "tok_emb")] private Parameter _tokens;
    [ComponentName(Name = "pos_emb")] private Parameter _positions;
    [ComponentName(Name = "weights")] private ParameterDict _weights;
    [ComponentName(Name = "norm")] private CrmsNorm _norm;

    internal PreCrmsTransformer(TransformerConfig config, IReadOnlyDictionary<string, Tensor> parameters, double eps) : base(nameof(PreCrmsTransformer))
    {
        Config = config;
        _heads = config.Heads;
        var (dtype, device) = (parameters["tok_emb"].dtype, parameters["tok_emb"].device);
        _tokens = new Parameter(parameters["tok_emb"]);
        _positions = new Parameter(parameters["pos_emb"]);
        _weights = new ParameterDict();
        foreach (var (name, tensor) in parameters.Where(p => !p.Key.EndsWith("_emb", StringComparison.Ordinal)))
            _weights.Add((name.Replace('.', '_'), new Parameter(tensor)));
        _norm = new CrmsNorm(config.Width - 1, eps, dtype: dtype, device: device);
        RegisterComponents();
    }

    /// <summary>The configuration of the model it was converted from (residual width d; stored width d − 1).</summary>
    public TransformerConfig Config { get; }

    private Tensor W(string name) => _weights[name.Replace('.', '_')];

    private Tensor Linear(Tensor x, string name) => nn.functional.linear(x, W(name + ".weight"), W(name + ".bias"));

    /// <summary>Logits [B, T, vocabulary] for token ids [B, T].</summary>
    public override Tensor forward(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        var time = tokens.shape[1];
        var x = _tokens.index_select(0, tokens.flatten()).view(tokens.shape[0], time, -1) + _positions.narrow(0, 0, time);
        for (var i = 0; i < Config.Depth; i++)
        {
            var block = $"blocks.{i}.";
            var h = x + Linear(Attention.SelfAttend(Linear(_norm.forward(x), block + "attn.qkv"), _heads, causal: true, out _), block + "attn.proj");
            x = h + Linear(nn.functional.gelu(Linear(_norm.forward(h), block + "mlp.fc")), block + "mlp.proj");
        }
        return Linear(_norm.forward(x), "head").MoveToOuterDisposeScope();
    }
}

/// <summary>Pre-RMSNorm → Pre-CRMSNorm (Jiang et al. 2023, §3.3).</summary>
public static class PreCrmsNormConversion
{
    private static readonly string[] EmbeddingWeights = ["tok_emb.weight", "pos_emb.weight"];

    /// <summary>The Pre-CRMSNorm model equivalent to <paramref name="preRms"/>, a model returned by <see cref="PreRmsNormConversion.Convert"/>
    /// (gain-free RMSNorm on a zero-mean residual stream).</summary>
    public static PreCrmsTransformer Convert(CharTransformer preRms)
    {
        ArgumentNullException.ThrowIfNull(preRms);
        var config = preRms.Config;
        if (config.Placement != NormPlacement.PreLN || config.Norm != "rmsnorm" || config.SigmaReparam || config.CentredWriters)
            throw new ArgumentException($"Pre-CRMSNorm conversion needs the Pre-RMSNorm model of PreRmsNormConversion.Convert; got {config.Placement}, {config.Norm}.", nameof(preRms));
        var source = preRms.state_dict();
        var d = config.Width;
        using var _ = no_grad();
        var unitGains = source.Where(p => p.Key.Contains("norm", StringComparison.Ordinal)).All(p => p.Value.eq(1).all().ToBoolean());
        var writers = EmbeddingWeights.Select(n => source[n].mean([-1L]))
            .Concat(Enumerable.Range(0, config.Depth).SelectMany(i => new[] { $"blocks.{i}.attn.proj", $"blocks.{i}.mlp.proj" })
                .SelectMany(n => new[] { source[n + ".weight"].mean([0L]), source[n + ".bias"].mean().reshape(1) }));
        var worstMean = writers.Max(m => m.abs().max().ToDouble());
        var scale = source["tok_emb.weight"].abs().max().ToDouble();
        if (!unitGains || worstMean > 1e-5 * Math.Max(scale, 1e-12))
            throw new ArgumentException($"Pre-CRMSNorm conversion needs gain-free norms and mean-free writers (PreRmsNormConversion.Convert's output); largest writer mean {worstMean:E1}, unit gains {unitGains}.", nameof(preRms));

        var keep = (long)d - 1;
        Tensor Rows(Tensor t) => t.narrow(0, 0, keep).clone();                       // writers: drop the last output coordinate
        Tensor Columns(Tensor t) => (t.narrow(1, 0, keep) - t.narrow(1, keep, 1)).clone();   // readers: W′[:, i] = W[:, i] − W[:, d]
        var parameters = new Dictionary<string, Tensor>
        {
            ["tok_emb"] = source["tok_emb.weight"].narrow(1, 0, keep).clone(),
            ["pos_emb"] = source["pos_emb.weight"].narrow(1, 0, keep).clone(),
            ["head.weight"] = Columns(source["head.weight"]),
            ["head.bias"] = source["head.bias"].clone(),
        };
        for (var i = 0; i < config.Depth; i++)
        {
            var block = $"blocks.{i}.";
            foreach (var reader in new[] { "attn.qkv", "mlp.fc" })
            {
                parameters[block + reader + ".weight"] = Columns(source[block + reader + ".weight"]);
                parameters[block + reader + ".bias"] = source[block + reader + ".bias"].clone();
            }
            foreach (var writer in new[] { "attn.proj", "mlp.proj" })
            {
                parameters[block + writer + ".weight"] = Rows(source[block + writer + ".weight"]);
                parameters[block + writer + ".bias"] = Rows(source[block + writer + ".bias"]);
            }
        }
        var eps = preRms.modules().OfType<RmsNorm>().First().Eps;
        return new PreCrmsTransformer(config, parameters, eps);
    }
}
