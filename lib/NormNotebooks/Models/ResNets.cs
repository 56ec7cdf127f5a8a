// SPDX-License-Identifier: MIT
using NormNotebooks.Norms;
using NormNotebooks.Kernels;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Models;

/// <summary>A residual network whose blocks' outputs can be observed (signal-propagation probes).</summary>
public interface IResidualNetwork
{
    /// <summary>Number of residual blocks.</summary>
    int BlockCount { get; }

    /// <summary>Receives each residual block's output [N, C, H, W] during forward; the tensor lives in the forward's dispose scope.</summary>
    Action<int, Tensor>? BlockOutput { get; set; }
}

/// <summary>
/// A small ResNet for 28×28 single-channel images: a 3×3 stem, stages of basic blocks (conv–norm–act–conv–norm plus shortcut, then
/// the activation; He et al. 2016), stride 2 at the first block of every stage after the first, global average pooling and a linear
/// head. The norm comes from <see cref="NormFactory"/> by name ("none" removes them); <c>weightStandardization</c> swaps every
/// convolution for <see cref="WeightStandardizedConv2d"/>.
/// </summary>
public sealed class SmallResNet : nn.Module<Tensor, Tensor>, IResidualNetwork
{
    [ComponentName(Name = "stem")] private Sequential _stem;
    [ComponentName(Name = "blocks")] private ModuleList<BasicBlock> _blocks;
    [ComponentName(Name = "head")] private Linear _head;

    /// <summary>A ResNet over [N, 1, H, W] images: one stage of <paramref name="blocksPerStage"/> basic blocks per width, each stage after the first halving H and W.</summary>
    /// <param name="classes">Number of output logits (10).</param>
    /// <param name="norm">A <see cref="NormFactory"/> name, built channels-first; "none" removes the norms and gives the convolutions biases.</param>
    /// <param name="activation">An <see cref="Activations"/> name.</param>
    /// <param name="weightStandardization">Use <see cref="WeightStandardizedConv2d"/> for every convolution.</param>
    /// <param name="widths">Channels per stage ([16, 32, 64]).</param>
    /// <param name="blocksPerStage">Basic blocks per stage (2).</param>
    public SmallResNet(int classes = 10, string norm = "batchnorm", string activation = "relu", bool weightStandardization = false,
        int[]? widths = null, int blocksPerStage = 2) : base(nameof(SmallResNet))
    {
        widths ??= [16, 32, 64];
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blocksPerStage);
        var options = new NormOptions { Layout = NormLayout.ChannelsFirst };
        nn.Module<Tensor, Tensor> Conv(long i, long o, long k, long s) => weightStandardization
            ? new WeightStandardizedConv2d(i, o, k, stride: s, padding: k / 2, bias: norm == "none")
            : new PaddedConv2d(i, o, k, stride: s, padding: k / 2, bias: norm == "none");
        nn.Module<Tensor, Tensor> Norm(long c) => NormFactory.Create(norm, c, options);
        _stem = nn.Sequential(("conv", Conv(1, widths[0], 3, 1)), ("norm", Norm(widths[0])), ("act", Activations.Create(activation)));
        var blocks = new List<BasicBlock>();
        long previous = widths[0];
        for (var stage = 0; stage < widths.Length; stage++)
            for (var b = 0; b < blocksPerStage; b++)
            {
                var stride = stage > 0 && b == 0 ? 2 : 1;
                blocks.Add(new BasicBlock(previous, widths[stage], stride, Conv, Norm, activation));
                previous = widths[stage];
            }
        _blocks = nn.ModuleList(blocks.ToArray());
        _head = nn.Linear(previous, classes);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public int BlockCount => _blocks.Count;
    /// <inheritdoc/>
    public Action<int, Tensor>? BlockOutput { get; set; }

    /// <summary>Logits [N, classes] for images [N, 1, H, W].</summary>
    public override Tensor forward(Tensor x)
    {
        VisionInput.Require(x, nameof(SmallResNet));
        using var scope = NewDisposeScope();
        var h = VisionInput.RunBlocks(_blocks, _stem.forward(x), BlockOutput);
        return _head.forward(h.mean([2L, 3L])).MoveToOuterDisposeScope();
    }

    /// <summary>conv–norm–act–conv–norm, plus the identity or a 1×1 projection (with norm) when the shape changes, then the activation.</summary>
    public sealed class BasicBlock : nn.Module<Tensor, Tensor>
    {
        [ComponentName(Name = "body")] private Sequential _body;
        [ComponentName(Name = "shortcut")] private Sequential? _shortcut;
        [ComponentName(Name = "act")] private nn.Module<Tensor, Tensor> _activation;

        internal BasicBlock(long input, long output, long stride, Func<long, long, long, long, nn.Module<Tensor, Tensor>> conv,
            Func<long, nn.Module<Tensor, Tensor>> norm, string activation) : base(nameof(BasicBlock))
        {
            _body = nn.Sequential(("conv1", conv(input, output, 3, stride)), ("norm1", norm(output)), ("act1", Activations.Create(activation)),
                ("conv2", conv(output, output, 3, 1)), ("norm2", norm(output)));
            if (stride != 1 || input != output)
                _shortcut = nn.Sequential(("conv", conv(input, output, 1, stride)), ("norm", norm(output)));
            _activation = Activations.Create(activation);
            RegisterComponents();
        }

        /// <summary>x [N, C_in, H, W] → [N, C_out, H/s, W/s] for stride s: activation(body(x) + shortcut(x)).</summary>
        public override Tensor forward(Tensor x)
        {
            using var scope = NewDisposeScope();
            var shortcut = _shortcut is null ? x : _shortcut.forward(x);
            return _activation.forward(_body.forward(x) + shortcut).MoveToOuterDisposeScope();
        }
    }
}

/// <summary>
/// A normalizer-free ResNet (Brock, De &amp; Smith, "Characterizing signal propagation to close the performance gap in unnormalized
/// ResNets", ICLR 2021, arXiv:2101.08692): no norm layers; <see cref="ScaledWSConv2d"/> convolutions; pre-activation residual blocks
/// h_{i+1} = h_i + α·f_i(h_i/β_i) where β_i = √Var(h_i) is the analytically expected standard deviation of the block's input
/// (Var grows by α² per block and resets to 1 + α² after a transition block, whose shortcut is a 1×1 convolution of γ·relu(h_i/β_i)), and
/// activations scaled by their γ (<see cref="ActivationGains"/>) so each keeps unit variance on unit-variance input.
/// </summary>
public sealed class NfResNet : nn.Module<Tensor, Tensor>, IResidualNetwork
{
    [ComponentName(Name = "stem")] private ScaledWSConv2d _stem;
    [ComponentName(Name = "blocks")] private ModuleList<NfBlock> _blocks;
    [ComponentName(Name = "head")] private Linear _head;

    /// <summary>An NF-ResNet over [N, 1, H, W] images: a 3×3 Scaled WS stem, then stages of NF blocks whose β_i follow the expected variance (+α² per block, 1 + α² after a transition).</summary>
    /// <param name="classes">Number of output logits (10).</param>
    /// <param name="alpha">α, the residual branch's scale (0.2, the paper's).</param>
    /// <param name="widths">Channels per stage ([16, 32, 64]).</param>
    /// <param name="blocksPerStage">Blocks per stage (2).</param>
    /// <param name="activationGain">Scale every ReLU by γ = <see cref="ActivationGains.Relu"/> (the paper's); false keeps Scaled WS but
    /// drops γ, the ablation whose signal shrinks through depth.</param>
    public NfResNet(int classes = 10, double alpha = 0.2, int[]? widths = null, int blocksPerStage = 2, bool activationGain = true) : base(nameof(NfResNet))
    {
        widths ??= [16, 32, 64];
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blocksPerStage);
        Alpha = alpha;
        Gain = activationGain ? ActivationGains.Relu : 1.0;
        _stem = new ScaledWSConv2d(1, widths[0], 3, padding: 1);
        var blocks = new List<NfBlock>();
        long previous = widths[0];
        var expectedVariance = 1.0;
        var expected = new List<double>();
        for (var stage = 0; stage < widths.Length; stage++)
            for (var b = 0; b < blocksPerStage; b++)
            {
                var stride = stage > 0 && b == 0 ? 2 : 1;
                var transition = stride != 1 || previous != widths[stage];
                blocks.Add(new NfBlock(previous, widths[stage], stride, alpha, Math.Sqrt(expectedVariance), transition, Gain));
                expectedVariance = transition ? 1 + alpha * alpha : expectedVariance + alpha * alpha;
                expected.Add(expectedVariance);
                previous = widths[stage];
            }
        _blocks = nn.ModuleList(blocks.ToArray());
        ExpectedVariances = expected;
        _head = nn.Linear(previous, classes);
        RegisterComponents();
    }

    /// <summary>α, the residual branch's scale.</summary>
    public double Alpha { get; }

    /// <summary>γ, the gain every ReLU output is multiplied by (1 in the no-gain ablation).</summary>
    public double Gain { get; }

    /// <summary>The expected variance of every block's output at initialisation: the β² bookkeeping one block on (1 + α² after a
    /// transition block, + α² after any other).</summary>
    public IReadOnlyList<double> ExpectedVariances { get; }

    /// <summary>β_i of every block: the expected standard deviation of its input.</summary>
    public IReadOnlyList<double> Betas => _blocks.Select(b => b.Beta).ToList();

    /// <inheritdoc/>
    public int BlockCount => _blocks.Count;
    /// <inheritdoc/>
    public Action<int, Tensor>? BlockOutput { get; set; }

    /// <summary>Logits [N, classes] for images [N, 1, H, W].</summary>
    public override Tensor forward(Tensor x)
    {
        VisionInput.Require(x, nameof(NfResNet));
        using var scope = NewDisposeScope();
        var h = VisionInput.RunBlocks(_blocks, _stem.forward(x), BlockOutput);
        return _head.forward(nn.functional.relu(h).mean([2L, 3L]) * Gain).MoveToOuterDisposeScope();
    }

    /// <summary>h + α·conv(γ·relu(conv(γ·relu(h/β)))), the shortcut a 1×1 convolution of γ·relu(h/β) at transitions.</summary>
    public sealed class NfBlock : nn.Module<Tensor, Tensor>
    {
        [ComponentName(Name = "conv1")] private ScaledWSConv2d _conv1;
        [ComponentName(Name = "conv2")] private ScaledWSConv2d _conv2;
        [ComponentName(Name = "shortcut")] private ScaledWSConv2d? _shortcut;

        internal NfBlock(long input, long output, long stride, double alpha, double beta, bool transition, double gain) : base(nameof(NfBlock))
        {
            (Alpha, Beta, Gain) = (alpha, beta, gain);
            _conv1 = new ScaledWSConv2d(input, output, 3, stride, 1);
            _conv2 = new ScaledWSConv2d(output, output, 3, 1, 1);
            if (transition)
                _shortcut = new ScaledWSConv2d(input, output, 1, stride);
            RegisterComponents();
        }

        /// <summary>α, the scale of the residual branch.</summary>
        public double Alpha { get; }
        /// <summary>β_i, the expected standard deviation of this block's input, which is divided by it before the activation.</summary>
        public double Beta { get; }
        /// <summary>γ, the ReLU gain.</summary>
        public double Gain { get; }

        /// <summary>h [N, C_in, H, W] → [N, C_out, H/s, W/s] for stride s: shortcut + α·branch, the branch (and a transition's shortcut) reading γ·relu(h/β).</summary>
        public override Tensor forward(Tensor h)
        {
            using var scope = NewDisposeScope();
            var pre = nn.functional.relu(h / Beta) * Gain;
            var shortcut = _shortcut is null ? h : _shortcut.forward(pre);
            var branch = _conv2.forward(nn.functional.relu(_conv1.forward(pre)) * Gain);
            return (shortcut + Alpha * branch).MoveToOuterDisposeScope();
        }
    }
}

/// <summary>
/// A pre-activation ResNet (He, Zhang, Ren &amp; Sun, "Identity Mappings in Deep Residual Networks", 2016): a 3×3 stem, then blocks
/// h_{i+1} = h_i + conv(act(norm(conv(act(norm(h_i)))))), whose first block of every stage after the first has stride 2 and a 1×1
/// convolution of act(norm(h_i)) as its shortcut; then act(norm(h)), global average pooling and a linear head. Convolutions are
/// He-normal, N(0, 2/fan_in), without biases when normed; norm "none" gives the unnormalised ResNet of Brock et al.'s signal-propagation
/// plots. The residual stream h is never normalised, so its variance is what a signal-propagation plot reads.
/// </summary>
public sealed class PreActResNet : nn.Module<Tensor, Tensor>, IResidualNetwork
{
    [ComponentName(Name = "stem")] private PaddedConv2d _stem;
    [ComponentName(Name = "blocks")] private ModuleList<PreActBlock> _blocks;
    [ComponentName(Name = "final_norm")] private nn.Module<Tensor, Tensor> _finalNorm;
    [ComponentName(Name = "final_act")] private nn.Module<Tensor, Tensor> _finalActivation;
    [ComponentName(Name = "head")] private Linear _head;

    /// <summary>A pre-activation ResNet over [N, 1, H, W] images.</summary>
    /// <param name="classes">Number of output logits (10).</param>
    /// <param name="norm">A <see cref="NormFactory"/> name, built channels-first; "none" removes the norms and gives the convolutions biases.</param>
    /// <param name="activation">An <see cref="Activations"/> name.</param>
    /// <param name="widths">Channels per stage ([16, 32, 64]).</param>
    /// <param name="blocksPerStage">Blocks per stage (2).</param>
    public PreActResNet(int classes = 10, string norm = "batchnorm", string activation = "relu", int[]? widths = null, int blocksPerStage = 2)
        : base(nameof(PreActResNet))
    {
        widths ??= [16, 32, 64];
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blocksPerStage);
        var options = new NormOptions { Layout = NormLayout.ChannelsFirst };
        var bias = norm == "none";
        PaddedConv2d Conv(long i, long o, long k, long stride)
        {
            var conv = new PaddedConv2d(i, o, k, stride, k / 2, bias);
            using (no_grad())
            {
                conv.Weight.normal_(0, Math.Sqrt(2.0 / (i * k * k)));
                conv.Bias?.zero_();
            }
            return conv;
        }
        nn.Module<Tensor, Tensor> Norm(long c) => norm == "none" ? nn.Identity() : NormFactory.Create(norm, c, options);
        _stem = Conv(1, widths[0], 3, 1);
        var blocks = new List<PreActBlock>();
        long previous = widths[0];
        for (var stage = 0; stage < widths.Length; stage++)
            for (var b = 0; b < blocksPerStage; b++)
            {
                var stride = stage > 0 && b == 0 ? 2 : 1;
                blocks.Add(new PreActBlock(previous, widths[stage], stride, Conv, Norm, activation));
                previous = widths[stage];
            }
        _blocks = nn.ModuleList(blocks.ToArray());
        _finalNorm = Norm(previous);
        _finalActivation = Activations.Create(activation);
        _head = nn.Linear(previous, classes);
        RegisterComponents();
    }

    /// <inheritdoc/>
    public int BlockCount => _blocks.Count;
    /// <inheritdoc/>
    public Action<int, Tensor>? BlockOutput { get; set; }

    /// <summary>Logits [N, classes] for images [N, 1, H, W].</summary>
    public override Tensor forward(Tensor x)
    {
        VisionInput.Require(x, nameof(PreActResNet));
        using var scope = NewDisposeScope();
        var h = VisionInput.RunBlocks(_blocks, _stem.forward(x), BlockOutput);
        return _head.forward(_finalActivation.forward(_finalNorm.forward(h)).mean([2L, 3L])).MoveToOuterDisposeScope();
    }

    /// <summary>norm–act–conv–norm–act–conv on the residual branch; the shortcut is the identity, or at a change of shape a 1×1
    /// convolution of the block's pre-activated input.</summary>
    public sealed class PreActBlock : nn.Module<Tensor, Tensor>
    {
        [ComponentName(Name = "norm1")] private nn.Module<Tensor, Tensor> _norm1;
        [ComponentName(Name = "act1")] private nn.Module<Tensor, Tensor> _act1;
        [ComponentName(Name = "conv1")] private PaddedConv2d _conv1;
        [ComponentName(Name = "norm2")] private nn.Module<Tensor, Tensor> _norm2;
        [ComponentName(Name = "act2")] private nn.Module<Tensor, Tensor> _act2;
        [ComponentName(Name = "conv2")] private PaddedConv2d _conv2;
        [ComponentName(Name = "shortcut")] private PaddedConv2d? _shortcut;

        internal PreActBlock(long input, long output, long stride, Func<long, long, long, long, PaddedConv2d> conv, Func<long, nn.Module<Tensor, Tensor>> norm,
            string activation) : base(nameof(PreActBlock))
        {
            (_norm1, _act1, _conv1) = (norm(input), Activations.Create(activation), conv(input, output, 3, stride));
            (_norm2, _act2, _conv2) = (norm(output), Activations.Create(activation), conv(output, output, 3, 1));
            if (stride != 1 || input != output)
                _shortcut = conv(input, output, 1, stride);
            RegisterComponents();
        }

        /// <summary>h [N, C_in, H, W] → [N, C_out, H/s, W/s]: shortcut + branch.</summary>
        public override Tensor forward(Tensor h)
        {
            using var scope = NewDisposeScope();
            var pre = _act1.forward(_norm1.forward(h));
            var shortcut = _shortcut is null ? h : _shortcut.forward(pre);
            return (shortcut + _conv2.forward(_act2.forward(_norm2.forward(_conv1.forward(pre))))).MoveToOuterDisposeScope();
        }
    }
}

internal static class VisionInput
{
    /// <summary>Runs the residual blocks in order, telling <paramref name="output"/> each block's output.</summary>
    public static Tensor RunBlocks<TBlock>(IList<TBlock> blocks, Tensor h, Action<int, Tensor>? output) where TBlock : nn.Module<Tensor, Tensor>
    {
        for (var i = 0; i < blocks.Count; i++)
        {
            h = blocks[i].forward(h);
            output?.Invoke(i, h);
        }
        return h;
    }

    public static void Require(Tensor x, string model)
    {
        if (x.dim() != 4 || x.shape[1] != 1)
            throw new ArgumentException($"{model}: expected images [N, 1, H, W], got [{string.Join(", ", x.shape)}].", nameof(x));
    }
}
