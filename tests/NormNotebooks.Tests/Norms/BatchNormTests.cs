// SPDX-License-Identifier: MIT
using System.Collections;
using NormNotebooks.Norms;
using NormNotebooks.Tests.Support;
using TorchSharp;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Norms;

public sealed class BatchNormTests
{
    public static TheoryData<long[]> Shapes => [[16, 5], [8, 5, 7], [4, 5, 6, 3]];

    [Theory]
    [MemberData(nameof(Shapes))]
    public void TrainingAndEval_MatchLibtorch_OverSeveralSteps(long[] shape)
    {
        using var scope = NewDisposeScope();
        var norm = new BatchNorm(5, momentum: 0.3);
        using (no_grad())
        {
            norm.Weight!.copy_(Inputs.Random([5], seed: 2));
            norm.Bias!.copy_(Inputs.Random([5], seed: 3));
        }
        var runningMean = zeros(5);
        var runningVar = ones(5);
        for (var step = 0; step < 4; step++)
        {
            var x = Inputs.Random(shape, seed: 10 + step, mean: step, scale: 1 + step);
            var expected = nn.functional.batch_norm(x, runningMean, runningVar, norm.Weight!.detach(), norm.Bias!.detach(), training: true, momentum: 0.3, eps: 1e-5);
            Tolerances.AssertClose(expected, norm.forward(x), Tolerances.Float32, what: $"training step {step}");
        }
        Tolerances.AssertClose(runningMean, norm.RunningMean, Tolerances.Float32, what: "running mean");
        Tolerances.AssertClose(runningVar, norm.RunningVar, Tolerances.Float32, what: "running variance");
        Assert.False(norm.RunningMean.requires_grad);

        norm.eval();
        var test = Inputs.Random(shape, seed: 50);
        var evalExpected = nn.functional.batch_norm(test, runningMean, runningVar, norm.Weight!.detach(), norm.Bias!.detach(), training: false, eps: 1e-5);
        Tolerances.AssertClose(evalExpected, norm.forward(test), Tolerances.Float32, what: "eval");
    }

    [Fact]
    public void RunningStatistics_FollowTheMomentumFormula()
    {
        using var scope = NewDisposeScope();
        var norm = new BatchNorm(3, momentum: 0.1, dtype: ScalarType.Float64);
        double mean = 0, variance = 1;
        for (var step = 0; step < 3; step++)
        {
            var x = Inputs.Random([10, 3], ScalarType.Float64, seed: step);
            norm.forward(x);
            var column = x[.., 0].data<double>().ToArray();
            var batchMean = column.Average();
            var unbiased = column.Sum(v => (v - batchMean) * (v - batchMean)) / 9;
            mean = 0.9 * mean + 0.1 * batchMean;
            variance = 0.9 * variance + 0.1 * unbiased;
        }
        Assert.Equal(mean, norm.RunningMean[0].item<double>(), Tolerances.ClosedFormDecimals);
        Assert.Equal(variance, norm.RunningVar[0].item<double>(), Tolerances.ClosedFormDecimals);
    }

    [Fact]
    public void ChannelsLast_NormalisesEachFeatureOverBatchAndPositions()
    {
        using var scope = NewDisposeScope();
        var x = Inputs.Random([4, 6, 5]);   // [B, T, d]
        var last = new BatchNorm(5, channelsLast: true).forward(x);
        var first = new BatchNorm(5).forward(x.permute(0, 2, 1)).permute(0, 2, 1);
        Tolerances.AssertClose(first, last, Tolerances.Float32);
    }

    [Fact]
    public void Output_IsInvariantToScalingThePrecedingWeight()
    {
        using var scope = NewDisposeScope();
        var input = Inputs.Random([32, 10], ScalarType.Float64);
        var weight = Inputs.Random([10, 6], ScalarType.Float64, seed: 3);
        var norm = new BatchNorm(6, eps: 0, dtype: ScalarType.Float64);
        Tolerances.AssertClose(norm.forward(input.matmul(weight)), norm.forward(input.matmul(weight * 4.0)), Tolerances.Float64);
    }

    [Fact]
    public void Gradient_PassesFiniteDifferenceCheck() =>
        GradCheck.Input(new BatchNorm(3, dtype: ScalarType.Float64).forward, Inputs.Random([5, 3, 2], ScalarType.Float64));

    [Fact]
    public void WrongChannels_AndASingleValuePerChannel_AreClearErrors()
    {
        Assert.Contains("expected input with 4 channels on axis 1, got [2, 3]",
            Assert.Throws<ArgumentException>(() => new BatchNorm(4).forward(zeros(2, 3))).Message);
        Assert.Contains("more than one value per channel",
            Assert.Throws<ArgumentException>(() => new BatchNorm(3).forward(zeros(1, 3))).Message);
    }

    /// <summary>PyTorch 1.13's BatchNorm2d(4).state_dict(): key → (shape, dtype), as printed by the fixture script.</summary>
    private static readonly Dictionary<string, (long[] Shape, ScalarType Dtype)> PyTorchBatchNorm2dState = new()
    {
        ["weight"] = ([4], ScalarType.Float32),
        ["bias"] = ([4], ScalarType.Float32),
        ["running_mean"] = ([4], ScalarType.Float32),
        ["running_var"] = ([4], ScalarType.Float32),
        ["num_batches_tracked"] = ([], ScalarType.Int64),
    };

    /// <summary>A state-dict load or a save/load round trip copies bits: no difference is allowed.</summary>
    private const double Exact = 0;

    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Norms", "Fixtures", name);

    [Fact]
    public void StateDict_HasPyTorchsKeysShapesAndDtypes()
    {
        var state = new BatchNorm(4).state_dict();
        Assert.Equal(PyTorchBatchNorm2dState.Keys.Order(), state.Keys.Order());
        foreach (var (key, (shape, dtype)) in PyTorchBatchNorm2dState)
        {
            Assert.Equal(shape, state[key].shape);
            Assert.Equal(dtype, state[key].dtype);
        }
    }

    [Fact]
    public void NumBatchesTracked_CountsTrainingForwardsOnly_AndStaysInt64UnderTo()
    {
        using var scope = NewDisposeScope();
        var norm = new BatchNorm(3);
        for (var step = 0; step < 3; step++)
            norm.forward(Inputs.Random([6, 3], seed: step));
        norm.eval();
        norm.forward(Inputs.Random([6, 3], seed: 9));
        Assert.Equal(3L, norm.NumBatchesTracked.item<long>());
        Assert.False(norm.NumBatchesTracked.requires_grad);

        norm.to(ScalarType.Float64);
        Assert.Equal(ScalarType.Float64, norm.RunningMean.dtype);
        Assert.Equal(ScalarType.Int64, norm.NumBatchesTracked.dtype);
        Assert.Equal(3L, norm.NumBatchesTracked.item<long>());
    }

    [Fact]
    public void StateDict_WithPyTorchsKeys_LoadsStrictly_AndOursLoadsStrictlyIntoAFreshOne()
    {
        using var scope = NewDisposeScope();
        var source = new Dictionary<string, Tensor>
        {
            ["weight"] = Inputs.Random([4], seed: 1),
            ["bias"] = Inputs.Random([4], seed: 2),
            ["running_mean"] = Inputs.Random([4], seed: 3),
            ["running_var"] = Inputs.Random([4], seed: 4).abs(),
            ["num_batches_tracked"] = tensor(7L),
        };
        var norm = new BatchNorm(4);
        norm.load_state_dict(source, strict: true);
        foreach (var (key, value) in source)
            Tolerances.AssertClose(value, norm.state_dict()[key], Exact, what: key);

        var fresh = new BatchNorm(4);
        fresh.load_state_dict(norm.state_dict(), strict: true);
        foreach (var (key, value) in norm.state_dict())
            Tolerances.AssertClose(value, fresh.state_dict()[key], Exact, what: key);
        Assert.Equal(7L, fresh.NumBatchesTracked.item<long>());
    }

    [Fact]
    public void PyTorchStateDict_LoadsStrictly_AndReproducesPyTorchsForwards()
    {
        using var scope = NewDisposeScope();
        var expectedState = PyTorchUnpickler.UnpickleStateDict(Fixture("batchnorm2d_state.pt"));
        var norm = new BatchNorm(4);
        norm.load_py(Fixture("batchnorm2d_state.pt"), strict: true);
        foreach (DictionaryEntry entry in expectedState)
            Tolerances.AssertClose((Tensor)entry.Value!, norm.state_dict()[(string)entry.Key], Exact, what: (string)entry.Key);
        Assert.Equal(3L, norm.NumBatchesTracked.item<long>());

        var io = PyTorchUnpickler.UnpickleStateDict(Fixture("batchnorm2d_io.pt"));
        var input = (Tensor)io["input"]!;
        norm.eval();
        Tolerances.AssertClose((Tensor)io["eval_output"]!, norm.forward(input), Tolerances.Float32, what: "eval output");
        norm.train();
        Tolerances.AssertClose((Tensor)io["train_output"]!, norm.forward(input), Tolerances.Float32, what: "training output");
        Tolerances.AssertClose((Tensor)io["running_mean"]!, norm.RunningMean, Tolerances.Float32, what: "running mean after a fourth step");
        Tolerances.AssertClose((Tensor)io["running_var"]!, norm.RunningVar, Tolerances.Float32, what: "running variance after a fourth step");
        Assert.Equal(4L, norm.NumBatchesTracked.item<long>());
    }

    [Fact]
    public void SavedInPyTorchsFormat_LoadsStrictlyIntoAFreshOne()
    {
        using var scope = NewDisposeScope();
        var norm = new BatchNorm(4);
        norm.load_py(Fixture("batchnorm2d_state.pt"), strict: true);
        var path = Path.Combine(Path.GetTempPath(), $"normnb-batchnorm-{Guid.NewGuid():N}.pt");
        try
        {
            norm.save_py(path);
            var fresh = new BatchNorm(4);
            fresh.load_py(path, strict: true);
            foreach (var (key, value) in norm.state_dict())
                Tolerances.AssertClose(value, fresh.state_dict()[key], Exact, what: key);
            Assert.Equal(3L, fresh.NumBatchesTracked.item<long>());
        }
        finally
        {
            File.Delete(path);
        }
    }
}
