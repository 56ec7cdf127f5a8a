// SPDX-License-Identifier: MIT
using NormNotebooks.Models;
using NormNotebooks.Norms;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NormNotebooks.Kernels;

/// <summary>How <see cref="Int8Inference"/> multiplies: vector-wise int8 alone, or LLM.int8() (vector-wise int8 plus the
/// float32 outlier columns).</summary>
public enum Int8Mode
{
    /// <summary>Every column of the input in int8.</summary>
    VectorWise,
    /// <summary>Columns with some |x| ≥ the threshold in float32, the rest in int8.</summary>
    LlmInt8,
    /// <summary>An ablation: the inputs quantized per row and dequantized, the weights left in float32 (what the input side alone costs).</summary>
    InputsOnly,
}

/// <summary>What an int8 pass multiplied: input feature columns seen and how many went the float32 way as outliers, per projection
/// ("qkv", "proj", "fc", "mlp.proj") and in total, and the multiply-adds on each side.</summary>
public sealed class Int8Counts
{
    private readonly Dictionary<string, (long Columns, long OutlierColumns)> _byProjection = [];

    /// <summary>Feature columns of the projections' inputs, one per call and column.</summary>
    public long Columns { get; private set; }
    /// <summary>Of those, the columns with some |x| ≥ the threshold, multiplied in float32.</summary>
    public long OutlierColumns { get; private set; }
    /// <summary>Multiply-adds of the projections (rows × input columns × outputs, summed over calls).</summary>
    public double MultiplyAdds { get; private set; }
    /// <summary>Of those, the ones done in float32 (the outlier columns').</summary>
    public double FloatMultiplyAdds { get; private set; }
    /// <summary>Share of the multiply-adds done in int8.</summary>
    public double Int8Share => MultiplyAdds == 0 ? double.NaN : 1 - FloatMultiplyAdds / MultiplyAdds;
    /// <summary>Columns and outlier columns per projection name.</summary>
    public IReadOnlyDictionary<string, (long Columns, long OutlierColumns)> ByProjection => _byProjection;

    internal void Add(string projection, long rows, long columns, long outliers, long outputs)
    {
        (Columns, OutlierColumns) = (Columns + columns, OutlierColumns + outliers);
        MultiplyAdds += (double)rows * columns * outputs;
        FloatMultiplyAdds += (double)rows * outliers * outputs;
        var (c, o) = _byProjection.GetValueOrDefault(projection);
        _byProjection[projection] = (c + columns, o + outliers);
    }
}

/// <summary>
/// Int8 inference for a <see cref="CharTransformer"/>, as LLM.int8() does it for the attention and feed-forward projections: every
/// weight quantized once per output row to int8, every input quantized per row (token) at each call, int32 products, and in
/// <see cref="Int8Mode.LlmInt8"/> the input columns with some |x| ≥ threshold multiplied in float32 (<see cref="Int8Matmul.Decomposed(Tensor, Int8Matmul.QuantizedWeight, double)"/>).
/// The embeddings, norms, attention scores and the head stay float32. Weights are quantized at their first call, so change
/// the model before that. Dispose to restore the float32 model.
/// </summary>
public sealed class Int8Inference : IDisposable
{
    private readonly CharTransformer _model;
    private readonly LinearOverride? _previous;
    private readonly Dictionary<nn.Module<Tensor, Tensor>, (Int8Matmul.QuantizedWeight Weight, Tensor? Bias)> _prepared = new(ReferenceEqualityComparer.Instance);

    private Int8Inference(CharTransformer model, Int8Mode mode, double threshold)
    {
        (_model, Mode, Threshold) = (model, mode, threshold);
        _previous = model.LinearOverride;
        model.LinearOverride = Multiply;
    }

    /// <summary>Switches <paramref name="model"/>'s projections to int8 until the result is disposed.</summary>
    /// <param name="model">A character Transformer on the CPU whose projections are plain linear layers.</param>
    /// <param name="mode">Vector-wise int8, or LLM.int8() with the outlier decomposition.</param>
    /// <param name="threshold">LLM.int8()'s outlier threshold α (6.0 in the paper); ignored by <see cref="Int8Mode.VectorWise"/>.</param>
    public static Int8Inference Apply(CharTransformer model, Int8Mode mode, double threshold = 6.0)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!(threshold >= 0))
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "The outlier threshold must be ≥ 0 (0: every column in float32; +∞: none).");
        if (model.parameters().Any(p => p.device.type != TorchSharp.DeviceType.CPU))
            throw new ArgumentException("Int8Inference runs the C# int8 kernels and needs the model on the CPU.", nameof(model));
        return new Int8Inference(model, mode, threshold);
    }

    /// <summary>Vector-wise or LLM.int8().</summary>
    public Int8Mode Mode { get; }
    /// <summary>The outlier threshold α (LLM.int8() only).</summary>
    public double Threshold { get; }
    /// <summary>What the projections multiplied since <see cref="Apply"/>.</summary>
    public Int8Counts Counts { get; } = new();

    private Tensor Multiply(Tensor input, nn.Module<Tensor, Tensor> linear, string name)
    {
        if (!_prepared.TryGetValue(linear, out var prepared))
        {
            if (linear is not Linear plain)
                throw new NotSupportedException($"Int8Inference quantizes plain linear layers; the model's '{name}' is a {linear.GetType().Name}.");
            using (no_grad())
            {
                var weight = plain.weight!.detach().contiguous().DetachFromDisposeScope();   // the caller's scope must not own it
                var quantized = Int8Matmul.PrepareWeight(weight);
                quantized.Values.DetachFromDisposeScope();
                quantized.Scales.DetachFromDisposeScope();
                prepared = (quantized, plain.bias?.detach().DetachFromDisposeScope());
            }
            _prepared[linear] = prepared;
        }
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var shape = input.shape;
        var rows = input.reshape(-1, shape[^1]).contiguous();
        Tensor product;
        var outliers = 0;
        if (Mode == Int8Mode.InputsOnly)
        {
            var (q, scales) = Int8Matmul.QuantizeRows(rows);
            product = (q.to(ScalarType.Float32) * scales.unsqueeze(1)).matmul(prepared.Weight.Float.t());
        }
        else
            (product, outliers) = Int8Matmul.Decomposed(rows, prepared.Weight, Mode == Int8Mode.VectorWise ? double.PositiveInfinity : Threshold);
        Counts.Add(name, rows.shape[0], shape[^1], outliers, product.shape[1]);
        if (prepared.Bias is not null)
            product.add_(prepared.Bias);
        return product.reshape([.. shape[..^1], product.shape[1]]).MoveToOuterDisposeScope();
    }

    /// <summary>Restores the model's float32 projections.</summary>
    public void Dispose()
    {
        _model.LinearOverride = _previous;
        foreach (var (weight, bias) in _prepared.Values)
        {
            weight.Values.Dispose();
            weight.Scales.Dispose();
            weight.Float.Dispose();
            bias?.Dispose();
        }
        _prepared.Clear();
    }

    /// <summary>
    /// Makes feature <paramref name="channel"/> of the residual stream an outlier without changing the float32 function (LLM.int8()'s
    /// small-scale stand-in for emergent features): in every Pre-LN block the affine norms feeding attention and MLP scale their
    /// γ and β at <paramref name="channel"/> by <paramref name="factor"/>, and the qkv and fc weights' column <paramref name="channel"/>
    /// is divided by it, so every product is unchanged in exact arithmetic while the projections' inputs carry a feature
    /// <paramref name="factor"/> times larger.
    /// </summary>
    public static void InflateChannel(CharTransformer model, int channel, double factor)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegative(channel);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(channel, model.Config.Width);
        if (!(factor > 0) || double.IsInfinity(factor))
            throw new ArgumentOutOfRangeException(nameof(factor), factor, "The factor must be a positive finite number.");
        using var _ = no_grad();
        foreach (var block in model.Blocks)
        {
            if (block.Placement != NormPlacement.PreLN)
                throw new NotSupportedException($"InflateChannel needs Pre-LN blocks (a norm directly before each sub-layer's first projection); block {block.Index} is {block.Placement}.");
            var mlpFc = (Linear)block.Mlp.children().First();
            foreach (var (norm, linear) in new[] { (block.InputNorms.Attention, block.Attention.named_children().Single(c => c.name == "qkv").module), (block.InputNorms.Mlp, (nn.Module)mlpFc) })
            {
                if (norm is not Norms.LayerNorm { Weight: { } gamma } layerNorm || linear is not Linear { weight: { } weight })
                    throw new NotSupportedException($"InflateChannel needs affine LayerNorms and plain linear layers; block {block.Index} has {norm.GetType().Name} → {linear.GetType().Name}.");
                gamma[channel].mul_(factor);
                layerNorm.Bias?[channel].mul_(factor);
                weight[.., channel].div_(factor);
            }
        }
    }
}
