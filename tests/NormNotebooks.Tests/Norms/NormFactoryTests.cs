// SPDX-License-Identifier: MIT
using NormNotebooks.Norms;
using NormNotebooks.Tests.Support;
using static TorchSharp.torch;

namespace NormNotebooks.Tests.Norms;

public sealed class NormFactoryTests
{
    public static TheoryData<string> AllNames => new(NormFactory.Names);

    [Theory]
    [MemberData(nameof(AllNames))]
    public void EveryName_BuildsALayerThatRunsForwardAndBackward(string name)
    {
        using var scope = NewDisposeScope();
        var convolutional = name is "groupnorm" or "instancenorm" or "bcn" or "bcn-estimated" or "evonorm-b0" or "evonorm-s0" or "regionnorm-l";
        var options = new NormOptions { Layout = convolutional ? NormLayout.ChannelsFirst : NormLayout.ChannelsLast, Depth = 4, Groups = 4 };
        var norm = NormFactory.Create(name, 16, options);
        var x = (convolutional ? Inputs.Random([2, 16, 3, 3]) : Inputs.Random([2, 5, 16])).requires_grad_();
        var y = norm.forward(x);
        Assert.Equal(x.shape, y.shape);
        y.square().sum().backward();
        Assert.NotNull(x.grad);
    }

    [Fact]
    public void UnknownName_ListsTheValidOnes()
    {
        var error = Assert.Throws<ArgumentException>(() => NormFactory.Create("weirdnorm", 8));
        Assert.Contains("Unknown norm 'weirdnorm'", error.Message);
        Assert.Contains("layernorm, rmsnorm", error.Message);
    }

    [Fact]
    public void ScalingVariants_NeedTheDepth_AndScaleByItsInverseRoot()
    {
        Assert.Contains("NormOptions.Depth", Assert.Throws<ArgumentException>(() => NormFactory.Create("layernorm-scaling", 8)).Message);
        using var scope = NewDisposeScope();
        var scaled = (LayerNormScaling)NormFactory.Create("layernorm-scaling", 8, new NormOptions { Depth = 3 });
        var x = Inputs.Random([4, 8]);
        Tolerances.AssertClose(new LayerNorm(8).forward(x) / Math.Sqrt(3), scaled.forward(x), Tolerances.Float32);
        // At init, identical to a LayerNorm whose gain is 1/√ℓ (the paper's "forward identity").
        var gained = new LayerNorm(8);
        using (no_grad())
            gained.Weight!.fill_(1 / Math.Sqrt(3));
        Tolerances.AssertClose(gained.forward(x), scaled.forward(x), Tolerances.Float32);
        Assert.Equal([1, 1 / Math.Sqrt(2), 1 / Math.Sqrt(3)], Enumerable.Range(1, 3).Select(d => new LayerNormScaling(new RmsNorm(4), d).Scale));
    }
}
