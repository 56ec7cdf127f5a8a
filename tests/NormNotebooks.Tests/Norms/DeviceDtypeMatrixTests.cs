// SPDX-License-Identifier: MIT
using NormNotebooks.Norms;
using NormNotebooks.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Norms;

/// <summary>
/// Every layer <see cref="NormFactory"/> builds and every other public layer in Norms/, on each test device (<see cref="Inputs.DeviceNames"/>)
/// in float32 and float64: built with <c>device:</c>/<c>dtype:</c> (the wrappers whose constructors take neither are moved with
/// <c>.to(device, dtype)</c>), then <see cref="TrainingSteps"/> training steps and one evaluation pass, each with a backward. Each pass must give
/// an output in the input's dtype and on its device, finite, and gradients in their parameter's (and the input's) dtype and device; the
/// parameters and buffers must keep theirs; and the float32 layer must give the float64 layer's output (same weights, cast) within float32
/// rounding.
/// </summary>
public sealed class DeviceDtypeMatrixTests
{
    /// <summary>Training steps per layer: PowerNorm, Unified Normalization and PRepBN pass their warm-up (1 step) and the window of 4.</summary>
    private const int TrainingSteps = 5;

    private const long Features = 13;                              // channels-last width, odd
    private static readonly long[] TokenShape = [4, 3, Features];  // [B, T, d]
    private const long Channels = 8;                               // channels-first: 4 groups of 2
    private static readonly long[] ImageShape = [4, Channels, 5, 3];

    /// <summary>Output channels of the convolution layers: 8, fewer than one 16-channel block of libtorch's oneDNN kernel, whose float32
    /// input gradient is wrong or NaN for such counts unless the library pads the filters (PaddedConvolution); so the matrix goes through
    /// the padded path, and RN-L's one-channel convolutions are checked like every other layer.</summary>
    private const long ConvolutionOutputs = 8;

    /// <summary>
    /// float32 against float64 output, as atol and rtol: <see cref="Tolerances.Float32Sum"/> of the longest reduction in the matrix, the
    /// convolutions' fan-in of 8·3·3 = 72 (8.6e-6). Measured: at most 4.5e-6·(1 + |y|) (WeightStandardizedConv2d), 3e-7 for the
    /// activation norms, whose statistics run over at most 60 values.
    /// </summary>
    private static readonly double SingleAgainstDouble = Tolerances.Float32Sum(Channels * 3 * 3);

    /// <summary>A layer to build on a device in a dtype, the forward that feeds it, and the shape of its input.</summary>
    private sealed record Case(Func<Device, ScalarType, (nn.Module Module, Func<Tensor, Tensor> Forward)> Build, long[] Shape);

    private static Case Norm(Func<Device, ScalarType, nn.Module<Tensor, Tensor>> build, long[] shape) =>
        new((device, dtype) => { var module = build(device, dtype); return (module, module.forward); }, shape);

    // Every name NormFactory knows must be in exactly one of these sets; a new name fails FactoryLayer until it is added.
    private static readonly HashSet<string> ChannelsLastNames =
    [
        "none", "layernorm", "rmsnorm", "rmsnorm-affine", "prmsnorm", "crmsnorm", "batchnorm", "powernorm", "powernorm-v", "layernorm-scaling",
        "ghost-batchnorm", "unified-norm", "unified-norm-m1", "unified-norm-filtered", "repbn", "prepbn", "rmsnorm-scaling",
    ];

    private static readonly HashSet<string> ChannelsFirstNames = ["groupnorm", "instancenorm", "bcn", "bcn-estimated", "evonorm-b0", "evonorm-s0", "regionnorm-l"];

    private static NormOptions Options(NormLayout layout, Device device, ScalarType dtype) => new()
    {
        Layout = layout,
        Groups = layout == NormLayout.ChannelsFirst ? 4 : null,
        Depth = 3,               // the layernorm-scaling variants
        WarmupIterations = 1,    // PowerNorm, Unified Normalization, PRepBN: step 1 warms up, the later steps do not
        DecaySteps = 3,          // PRepBN: λ falls from 1 to 0 within the training steps
        VirtualBatchSize = 2,    // Ghost BatchNorm: the batch of 4 is two ghost batches
        Device = device,
        Dtype = dtype,
    };

    // The public layers NormFactory does not build, and the other implementations and modes of ones it does.
    private static readonly Dictionary<string, Case> OtherLayers = new()
    {
        ["LayerNorm-fused"] = Norm((d, t) => new LayerNorm(Features, implementation: NormImplementation.Fused, device: d, dtype: t), TokenShape),
        ["RmsNorm-torch"] = Norm((d, t) => new RmsNorm(Features, implementation: NormImplementation.Torch, device: d, dtype: t), TokenShape),
        ["BatchNorm-channels-first"] = Norm((d, t) => new BatchNorm(Channels, device: d, dtype: t), ImageShape),
        ["ProgressiveRepBatchNorm-rmsnorm"] = Norm((d, t) => new ProgressiveRepBatchNorm(Features, 1, 3, rmsNorm: true, device: d, dtype: t), TokenShape),
        ["UnifiedNorm-outlier-filtration"] = Norm((d, t) => new UnifiedNorm(Features, warmupIterations: 1, outlierFiltration: true, device: d, dtype: t), TokenShape),
        ["RegionNormB"] = new((d, t) =>
        {
            var module = new RegionNormB(Channels, device: d, dtype: t);
            return (module, x => module.forward(x, Inputs.Random([ImageShape[0], 1, ImageShape[2], ImageShape[3]], seed: 17, mean: 0, device: x.device).gt(0).to(x.dtype)));
        }, ImageShape),
        ["SpectralNorm.Linear"] = Norm((d, t) => SpectralNorm.Linear(Features, 7, device: d, dtype: t), TokenShape),
        ["SpectralNorm.Conv2d"] = Norm((d, t) => SpectralNorm.Conv2d(Channels, ConvolutionOutputs, 3, padding: 1, device: d, dtype: t), ImageShape),
        ["SigmaReparamLinear"] = Norm((d, t) => new SigmaReparamLinear(Features, 7, device: d, dtype: t), TokenShape),
        ["WeightNormLinear"] = Norm((d, t) => new WeightNormLinear(Features, 7, device: d, dtype: t), TokenShape),
        ["WeightStandardizedConv2d"] = Norm((d, t) => new WeightStandardizedConv2d(Channels, ConvolutionOutputs, 3, padding: 1, device: d, dtype: t), ImageShape),
        ["WeightStandardizedLinear"] = Norm((d, t) => new WeightStandardizedLinear(Features, 7, device: d, dtype: t), TokenShape),
        ["ScaledWSConv2d"] = Norm((d, t) => new ScaledWSConv2d(Channels, ConvolutionOutputs, 3, padding: 1, device: d, dtype: t), ImageShape),
        ["TestTimeBatchNorm"] = Norm((d, t) => new TestTimeBatchNorm(new BatchNorm(Channels)).to(d, t), ImageShape),
        ["UnMixTns"] = Norm((d, t) => new UnMixTns(new BatchNorm(Channels), components: 4).to(d, t), ImageShape),
        ["AlphaDropout"] = Norm((d, t) => new AlphaDropout(0.1).to(d, t), TokenShape),
    };

    public static TheoryData<string, string> FactoryNamesOnEachDevice() => OnEachDevice(NormFactory.Names);

    public static TheoryData<string, string> OtherLayersOnEachDevice() => OnEachDevice(OtherLayers.Keys);

    private static TheoryData<string, string> OnEachDevice(IEnumerable<string> names)
    {
        var data = new TheoryData<string, string>();
        foreach (var name in names)
            foreach (var device in Inputs.DeviceNames())
                data.Add(name, device);
        return data;
    }

    private static Case FactoryCase(string name)
    {
        if (ChannelsLastNames.Contains(name))
            return Norm((d, t) => NormFactory.Create(name, Features, Options(NormLayout.ChannelsLast, d, t)), TokenShape);
        if (ChannelsFirstNames.Contains(name))
            return Norm((d, t) => NormFactory.Create(name, Channels, Options(NormLayout.ChannelsFirst, d, t)), ImageShape);
        throw new Xunit.Sdk.XunitException($"NormFactory's '{name}' is not in the device × dtype matrix: add it to ChannelsLastNames or ChannelsFirstNames.");
    }

    [Theory]
    [MemberData(nameof(FactoryNamesOnEachDevice))]
    public void FactoryLayer_RunsInEachDtypeOnTheDevice_AndFloat32MatchesFloat64(string name, string device) => Run(name, FactoryCase(name), new Device(device));

    [Theory]
    [MemberData(nameof(OtherLayersOnEachDevice))]
    public void OtherLayer_RunsInEachDtypeOnTheDevice_AndFloat32MatchesFloat64(string name, string device) => Run(name, OtherLayers[name], new Device(device));

    [Fact]
    public void EveryPublicLayerType_AndOnlyFactoryNames_AreInTheMatrix()
    {
        using var scope = NewDisposeScope();
        var matrixNames = ChannelsLastNames.Concat(ChannelsFirstNames).ToList();
        Assert.Empty(matrixNames.Except(NormFactory.Names));
        var built = matrixNames.Select(FactoryCase).Concat(OtherLayers.Values)
            .Select(c => c.Build(CPU, ScalarType.Float32).Module.GetType())
            .Where(t => t.Namespace == typeof(NormFactory).Namespace)
            .Select(t => t.Name).Distinct().Order();
        var layers = typeof(NormFactory).Assembly.GetExportedTypes()
            .Where(t => t.Namespace == typeof(NormFactory).Namespace && !t.IsAbstract && typeof(nn.Module).IsAssignableFrom(t))
            .Select(t => t.Name).Order();
        Assert.Equal(layers, built);
    }

    private static void Run(string name, Case layer, Device device)
    {
        // cuDNN convolutions default to TF32 (a 10-bit mantissa); the comparison is of float32 itself, so TF32 is off for the run.
        var tf32 = device.type == DeviceType.CUDA && backends.cudnn.allow_tf32;
        if (tf32)
            backends.cudnn.allow_tf32 = false;
        try
        {
            RunOn(name, layer, device);
        }
        finally
        {
            if (tf32)
                backends.cudnn.allow_tf32 = true;
        }
    }

    private static void RunOn(string name, Case layer, Device device)
    {
        using var scope = NewDisposeScope();
        var (reference, referenceForward) = layer.Build(device, ScalarType.Float64);
        var (single, singleForward) = layer.Build(device, ScalarType.Float32);
        var referenceBuffers = Placement(reference, device, ScalarType.Float64, $"{name} as built");
        var singleBuffers = Placement(single, device, ScalarType.Float32, $"{name} as built");
        ShareWeights(reference, single);

        for (var step = 1; step <= TrainingSteps + 1; step++)
        {
            var when = step <= TrainingSteps ? $"training step {step}" : "evaluation";
            if (step > TrainingSteps)
            {
                Assert.Empty(MissingGradients(reference).Concat(MissingGradients(single)));
                foreach (var module in new[] { reference, single })
                {
                    module.eval();
                    module.zero_grad();
                }
            }
            var x = Inputs.Random(layer.Shape, ScalarType.Float64, seed: step, device: device);
            manual_seed(step);   // AlphaDropout draws the same mask in both dtypes
            var expected = Pass(reference, referenceForward, x, device, ScalarType.Float64, referenceBuffers, $"{name}, float64, {when}");
            manual_seed(step);
            var actual = Pass(single, singleForward, x.to(ScalarType.Float32), device, ScalarType.Float32, singleBuffers, $"{name}, float32, {when}");
            Tolerances.AssertClose(expected, actual, SingleAgainstDouble, SingleAgainstDouble, $"{name}, float32 against float64, {when}");
        }
    }

    // One pass: forward, then backward of Σ output ⊙ upstream. Returns the output, detached.
    private static Tensor Pass(nn.Module module, Func<Tensor, Tensor> forward, Tensor x, Device device, ScalarType dtype, Dictionary<string, ScalarType> buffers,
        string when)
    {
        var input = x.detach().clone().requires_grad_();
        var output = forward(input);
        AssertPlaced(output, device, dtype, $"{when}: output");
        var upstream = Inputs.Random(output.shape, ScalarType.Float64, seed: 99, mean: 0, scale: 1, device: device).to(dtype);
        (output * upstream).sum().backward();
        AssertPlaced(input.grad!, device, dtype, $"{when}: input gradient");
        foreach (var (parameter, value) in module.named_parameters())
            if (value.grad is { } grad)
                AssertPlaced(grad, device, dtype, $"{when}: gradient of {parameter}");
        Assert.Equal(buffers, Placement(module, device, dtype, when));
        return output.detach();
    }

    private static void AssertPlaced(Tensor tensor, Device device, ScalarType dtype, string what)
    {
        Assert.True(tensor.dtype == dtype && tensor.device_type == device.type && (device.index < 0 || tensor.device_index == device.index),
            $"{what}: {tensor.dtype} on {tensor.device}, expected {dtype} on {device}");
        Assert.True(tensor.isfinite().all().item<bool>(), $"{what}: not finite");
    }

    // Asserts every parameter and floating-point buffer is in the dtype and on the device, and returns every buffer's dtype.
    private static Dictionary<string, ScalarType> Placement(nn.Module module, Device device, ScalarType dtype, string when)
    {
        foreach (var (name, parameter) in module.named_parameters())
            AssertPlaced(parameter, device, dtype, $"{when}: parameter {name}");
        var buffers = new Dictionary<string, ScalarType>();
        foreach (var (name, buffer) in module.named_buffers())
        {
            AssertPlaced(buffer, device, is_floating_point(buffer) ? dtype : buffer.dtype, $"{when}: buffer {name}");
            buffers[name] = buffer.dtype;
        }
        return buffers;
    }

    // The float64 layer's parameters are moved off their initial values (ones and zeros hide a missing cast), then the float32 layer
    // takes every parameter and buffer from it, cast.
    private static void ShareWeights(nn.Module reference, nn.Module single)
    {
        using var noGrad = no_grad();
        var seed = 40;
        foreach (var (_, parameter) in reference.named_parameters())
            parameter.add_(Inputs.Random(parameter.shape, ScalarType.Float64, seed: seed++, mean: 0, scale: 0.1, device: parameter.device));
        foreach (var ((_, from), (_, to)) in reference.named_parameters().Zip(single.named_parameters()))
            to.copy_(from);
        foreach (var ((_, from), (_, to)) in reference.named_buffers().Zip(single.named_buffers()))
            to.copy_(from);
    }

    private static IEnumerable<string> MissingGradients(nn.Module module) =>
        module.named_parameters().Where(p => p.parameter.grad is null).Select(p => $"{p.name} ({p.parameter.dtype}) got no gradient in training");
}
