// SPDX-License-Identifier: MIT
using NormNotebooks.Norms;
using NormNotebooks.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Norms;

public sealed class GroupNormTests
{
    [Theory]
    [MemberData(nameof(Inputs.DevicesAndTypes), MemberType = typeof(Inputs))]
    public void GroupNorm_MatchesLibtorch(string deviceName, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        var device = new Device(deviceName);
        var norm = new GroupNorm(12, groups: 3, device: device, dtype: dtype);
        using (no_grad())
        {
            norm.Weight!.copy_(Inputs.Random([12], dtype, seed: 2, device: device));
            norm.Bias!.copy_(Inputs.Random([12], dtype, seed: 3, device: device));
        }
        var x = Inputs.Random([4, 12, 5, 3], dtype, device: device);
        var expected = nn.functional.group_norm(x, 3, norm.Weight!.detach(), norm.Bias!.detach(), 1e-5);
        Tolerances.AssertClose(expected, norm.forward(x), dtype == ScalarType.Float64 ? Tolerances.Float64 : Tolerances.Float32);
    }

    [Fact]
    public void InstanceNorm_MatchesLibtorch_InTrainingAndEval()
    {
        using var scope = NewDisposeScope();
        var norm = GroupNorm.Instance(6);
        using (no_grad())
            norm.Weight!.copy_(Inputs.Random([6], seed: 2));
        var x = Inputs.Random([3, 6, 7, 5]);
        var expected = nn.functional.instance_norm(x, weight: norm.Weight!.detach(), bias: norm.Bias!.detach(), eps: 1e-5);
        Tolerances.AssertClose(expected, norm.forward(x), Tolerances.Float32, what: "training");
        norm.eval();
        Tolerances.AssertClose(expected, norm.forward(x), Tolerances.Float32, what: "eval: no running statistics");
        Assert.Equal("InstanceNorm(6, eps=1e-05, affine=True)", norm.ToString());
    }

    [Fact]
    public void Gradient_PassesFiniteDifferenceCheck() =>
        GradCheck.Input(new GroupNorm(4, groups: 2, dtype: ScalarType.Float64).forward, Inputs.Random([2, 4, 3], ScalarType.Float64));

    [Fact]
    public void GroupsMustDivideChannels()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new GroupNorm(10, groups: 4));
        Assert.Contains("4 groups do not divide 10 channels", error.Message);
    }
}
