// SPDX-License-Identifier: MIT
using NormNotebooks.Kernels;
using NormNotebooks.Models;
using NormNotebooks.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Kernels;

/// <summary>Int8 inference of a character Transformer: LLM.int8()'s limits (α = 0 is float32, α = ∞ is vector-wise), vector-wise
/// against a float64 fake-quantization reference, the function-preserving outlier channel, and the outlier-feature probe.</summary>
public sealed class Int8InferenceTests
{
    private static (CharTransformer Model, Tensor Tokens) Model(int seed = 5)
    {
        manual_seed(seed);
        var model = new CharTransformer(new TransformerConfig(17, Width: 32, Depth: 2, Heads: 4, Context: 16));
        using (no_grad())
            foreach (var (name, parameter) in model.named_parameters().Where(p => p.name.Contains("norm") || p.name.EndsWith(".bias", StringComparison.Ordinal)))
                parameter.add_(randn(parameter.shape) * 0.3);   // γ, β and biases as after training
        model.eval();
        return (model, randint(0, 17, [3, 16], dtype: ScalarType.Int64, generator: new Generator(9)));
    }

    private static Tensor Logits(CharTransformer model, Tensor tokens)
    {
        using var _ = no_grad();
        return model.forward(tokens);
    }

    [Fact]
    public void ThresholdZero_IsTheFloat32Model_AndDisposeRestoresIt()
    {
        using var scope = NewDisposeScope();
        var (model, tokens) = Model();
        var reference = Logits(model, tokens);
        using (var int8 = Int8Inference.Apply(model, Int8Mode.LlmInt8, threshold: 0))
        {
            Assert.True(Logits(model, tokens).allclose(reference, rtol: 1e-5, atol: 1e-5));
            Assert.Equal(int8.Counts.Columns, int8.Counts.OutlierColumns);     // every column went the float32 way
            Assert.Equal(0, int8.Counts.Int8Share);
            Assert.Equal(["fc", "mlp.proj", "proj", "qkv"], int8.Counts.ByProjection.Keys.Order());
            Assert.Equal((2L * 32, 2L * 32), int8.Counts.ByProjection["qkv"]);   // 2 blocks, width 32, one call each
            Assert.Equal(2.0 * 48 * (32 * 96 + 32 * 32 + 32 * 128 + 128 * 32), int8.Counts.MultiplyAdds);   // 3 × 16 tokens per call
        }
        Assert.Null(model.LinearOverride);
        Assert.True(Logits(model, tokens).allclose(reference, rtol: 0, atol: 0));
        Assert.Contains("blocks.0.mlp.fc.weight", model.state_dict().Keys);      // the override changes no state keys
    }

    [Fact]
    public void VectorWise_EqualsFloat64FakeQuantization_AndInfiniteThresholdEqualsVectorWise()
    {
        using var scope = NewDisposeScope();
        var (model, tokens) = Model();
        // The reference: the same model in float64 with every projection computed as Q(x)·Q(W)ᵀ from round(127·v/absmax(v)) per row.
        Tensor FakeQuantize(Tensor v) { var scale = v.abs().amax([-1L], keepdim: true).clamp_min(1e-30) / 127; return (v / scale).round() * scale; }
        var reference64 = new CharTransformer(model.Config);
        reference64.load_state_dict(model.state_dict());
        reference64.to(float64).eval();
        reference64.LinearOverride = (x, linear, name) =>
        {
            var l = (TorchSharp.Modules.Linear)linear;
            return FakeQuantize(x).matmul(FakeQuantize(l.weight!).t()) + l.bias!;
        };
        var expected = Logits(reference64, tokens.clone());
        reference64.LinearOverride = (x, linear, name) => { var l = (TorchSharp.Modules.Linear)linear; return FakeQuantize(x).matmul(l.weight!.t()) + l.bias!; };
        var inputsOnlyExpected = Logits(reference64, tokens.clone());
        Tensor inputsOnly;
        using (Int8Inference.Apply(model, Int8Mode.InputsOnly))
            inputsOnly = Logits(model, tokens);
        Assert.True(inputsOnly.to(float64).allclose(inputsOnlyExpected, rtol: 1e-4, atol: 1e-4), $"inputs only: max |Δ| {(inputsOnly.to(float64) - inputsOnlyExpected).abs().max().ToDouble():0.0e+0}");
        Tensor vectorWise, infinite;
        using (Int8Inference.Apply(model, Int8Mode.VectorWise))
            vectorWise = Logits(model, tokens);
        using (var int8 = Int8Inference.Apply(model, Int8Mode.LlmInt8, threshold: double.PositiveInfinity))
        {
            infinite = Logits(model, tokens);
            Assert.Equal(0, int8.Counts.OutlierColumns);
        }
        // Float32 against float64 of the same quantized operands: the int32 sums are exact, the scales' products round (1e-4 on logits ≈ 3).
        Assert.True(vectorWise.to(float64).allclose(expected, rtol: 1e-4, atol: 1e-4), $"max |Δ| {(vectorWise.to(float64) - expected).abs().max().ToDouble():0.0e+0}");
        Assert.True(infinite.allclose(vectorWise, rtol: 0, atol: 0));
        Assert.False(vectorWise.allclose(Logits(model, tokens), rtol: 1e-4, atol: 1e-4));   // and the quantization does change the logits
    }

    [Fact]
    public void InflatedChannel_KeepsTheFloatFunction_BreaksVectorWise_AndLlmInt8KeepsIt()
    {
        using var scope = NewDisposeScope();
        var (model, tokens) = Model();
        var reference = Logits(model, tokens);
        double Error(Int8Mode mode)
        {
            using var int8 = Int8Inference.Apply(model, mode);
            return (Logits(model, tokens) - reference).abs().max().ToDouble();
        }
        var (vectorBefore, llmBefore) = (Error(Int8Mode.VectorWise), Error(Int8Mode.LlmInt8));
        Assert.Empty(Probes.OutlierFeatures(model, tokens).Features);
        Int8Inference.InflateChannel(model, channel: 7, factor: 40);
        Assert.True(Logits(model, tokens).allclose(reference, rtol: 1e-4, atol: 1e-4));
        var outliers = Probes.OutlierFeatures(model, tokens);
        Assert.Equal([7], outliers.Features);
        Assert.Equal(4, outliers.Layers.Count);                                  // qkv and fc inputs of 2 blocks
        Assert.Equal("block 2 MLP input", outliers.Layers[3]);
        Assert.True(outliers.Max >= 6);
        var (vectorAfter, llmAfter) = (Error(Int8Mode.VectorWise), Error(Int8Mode.LlmInt8));
        // Measured: vector-wise 6.3e-4 → 2.3e-3 (the inflated feature sets every row's scale), LLM.int8 6.3e-4 → 6.0e-4 (the feature goes
        // the float32 way and the other columns keep their scale).
        var report = $"vector-wise {vectorBefore:0.000e+0} → {vectorAfter:0.000e+0}, LLM.int8 {llmBefore:0.000e+0} → {llmAfter:0.000e+0}";
        Assert.True(vectorAfter > 2.5 * vectorBefore, report);
        Assert.True(llmAfter < 1.25 * llmBefore, report);
    }

    [Fact]
    public void BadArguments_AreNamed()
    {
        using var scope = NewDisposeScope();
        var (model, _) = Model();
        Assert.Equal("threshold", Assert.Throws<ArgumentOutOfRangeException>(() => Int8Inference.Apply(model, Int8Mode.LlmInt8, double.NaN)).ParamName);
        Assert.Equal("channel", Assert.Throws<ArgumentOutOfRangeException>(() => Int8Inference.InflateChannel(model, 32, 20)).ParamName);
        Assert.Equal("factor", Assert.Throws<ArgumentOutOfRangeException>(() => Int8Inference.InflateChannel(model, 3, 0)).ParamName);
        var post = new CharTransformer(new TransformerConfig(17, Width: 32, Depth: 1, Heads: 4, Context: 16, Placement: NormPlacement.PostLN));
        Assert.Contains("Pre-LN", Assert.Throws<NotSupportedException>(() => Int8Inference.InflateChannel(post, 3, 20)).Message);
        var sigma = new CharTransformer(new TransformerConfig(17, Width: 32, Depth: 1, Heads: 4, Context: 16, SigmaReparam: true));
        using (Int8Inference.Apply(sigma, Int8Mode.VectorWise))
            Assert.Contains("'qkv' is a SigmaReparamLinear", Assert.Throws<NotSupportedException>(() => Logits(sigma, zeros([1, 4], dtype: ScalarType.Int64))).Message);
    }
}
