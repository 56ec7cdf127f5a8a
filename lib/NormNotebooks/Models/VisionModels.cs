// SPDX-License-Identifier: MIT
using NormNotebooks.Norms;
using NormNotebooks.Kernels;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace NormNotebooks.Models;

/// <summary>Activations the models accept by name.</summary>
public static class Activations
{
    /// <summary>Names accepted by <see cref="Create"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = ["relu", "gelu", "silu", "tanh", "selu", "identity"];

    /// <summary>Builds the activation <paramref name="name"/>; an unknown name lists the valid ones.</summary>
    public static nn.Module<Tensor, Tensor> Create(string name) => name switch
    {
        "relu" => nn.ReLU(),
        "gelu" => nn.GELU(),
        "silu" => nn.SiLU(),
        "tanh" => nn.Tanh(),
        "selu" => nn.SELU(),
        "identity" => nn.Identity(),
        _ => throw new ArgumentException($"Unknown activation '{name}'. Valid names: {string.Join(", ", Names)}.", nameof(name)),
    };
}

/// <summary>A multi-layer perceptron for flattened inputs: [Linear → norm → activation] × depth, then a linear head.</summary>
/// <remarks>The norm comes from <see cref="NormFactory"/> by name ("none" for a plain MLP). Hidden weights are initialised by
/// <c>init</c>: "lecun" N(0, 1/fan_in) (the default with SELU; Klambauer et al. 2017), "he" N(0, 2/fan_in) (He et al. 2015, for
/// ReLU), "torch" PyTorch's default Linear init (the default otherwise); "lecun" and "he" zero the biases.</remarks>
public sealed class Mlp : nn.Module<Tensor, Tensor>
{
    /// <summary>Names accepted for the <c>init</c> argument.</summary>
    public static IReadOnlyList<string> Inits { get; } = ["torch", "lecun", "he"];

    [ComponentName(Name = "layers")] private Sequential _layers;
    private readonly int[] _hiddenEnds;

    /// <summary>An MLP [inputs → width × depth → outputs] in PyTorch's default linear init, or LeCun-normal weights and zero biases for SELU.</summary>
    /// <param name="inputs">Features per flattened sample (784 for 28×28 images).</param>
    /// <param name="outputs">Number of output logits.</param>
    /// <param name="width">Hidden width (256).</param>
    /// <param name="depth">Hidden layers (3).</param>
    /// <param name="norm">A <see cref="NormFactory"/> name applied after each hidden linear layer ("none").</param>
    /// <param name="activation">An <see cref="Activations"/> name; "selu" also switches to LeCun-normal init and alpha-dropout.</param>
    /// <param name="dropout">Dropout rate after each activation (0: none).</param>
    /// <param name="init">Hidden-weight init, one of <see cref="Inits"/>; null: "lecun" with SELU, "torch" otherwise.</param>
    public Mlp(long inputs, long outputs, int width = 256, int depth = 3, string norm = "none", string activation = "relu", double dropout = 0,
        string? init = null)
        : base(nameof(Mlp))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(depth);
        init ??= activation == "selu" ? "lecun" : "torch";
        if (!Inits.Contains(init))
            throw new ArgumentException($"Unknown init '{init}'. Valid names: {string.Join(", ", Inits)}.", nameof(init));
        var modules = new List<(string, nn.Module<Tensor, Tensor>)>();
        var ends = new List<int>();
        var previous = inputs;
        for (var i = 0; i < depth; i++)
        {
            var linear = nn.Linear(previous, width);
            if (init != "torch")
            {
                using (no_grad())
                {
                    linear.weight!.normal_(0, Math.Sqrt((init == "he" ? 2.0 : 1.0) / previous));
                    linear.bias!.zero_();
                }
            }
            modules.Add(($"fc{i}", linear));
            if (norm != "none")
                modules.Add(($"norm{i}", NormFactory.Create(norm, width)));
            modules.Add(($"act{i}", Activations.Create(activation)));
            if (dropout > 0)
                modules.Add(($"drop{i}", activation == "selu" ? new Norms.AlphaDropout(dropout) : nn.Dropout(dropout)));
            ends.Add(modules.Count);
            previous = width;
        }
        modules.Add(("head", nn.Linear(previous, outputs)));
        _hiddenEnds = [.. ends];
        _layers = nn.Sequential(modules);
        RegisterComponents();
    }

    /// <summary>Number of hidden layers.</summary>
    public int Depth => _hiddenEnds.Length;

    /// <summary>Logits [N, outputs] for x [N, …], flattened from axis 1 (images [N, 1, 28, 28] become [N, 784]).</summary>
    public override Tensor forward(Tensor x) => _layers.forward(x.flatten(1));

    /// <summary>Each hidden layer's output [N, width] (after its norm, activation and dropout) for x [N, …], in the model's current mode;
    /// the logits are not computed.</summary>
    public IReadOnlyList<Tensor> HiddenOutputs(Tensor x)
    {
        var outputs = new List<Tensor>(Depth);
        var h = x.flatten(1);
        var index = 0;
        foreach (var end in _hiddenEnds)
        {
            for (; index < end; index++)
                h = ((nn.Module<Tensor, Tensor>)_layers[index]).forward(h);
            outputs.Add(h);
        }
        return outputs;
    }
}

/// <summary>A small CNN for 28×28 single-channel images (Fashion-MNIST): [conv3×3 → norm → activation] blocks with pooling, then a linear head.</summary>
/// <remarks>Widths (32, 64, 128) with 2×2 max-pooling after the first two blocks and global average pooling at the end. The norm comes from
/// <see cref="NormFactory"/> with channels-first layout; "evonorm-b0"/"evonorm-s0" replace norm and activation together (the activation is
/// then skipped), as the EvoNorm paper uses them; weightStandardization swaps the convolutions for <see cref="WeightStandardizedConv2d"/>.</remarks>
public sealed class SmallCnn : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "features")] private Sequential _features;
    [ComponentName(Name = "head")] private Linear _head;
    private readonly int[] _blockEnds;

    /// <summary>A CNN over [N, 1, H, W] images: one conv3×3 block per width, 2×2 max-pooling between blocks.</summary>
    /// <param name="classes">Number of output logits (10).</param>
    /// <param name="norm">A <see cref="NormFactory"/> name, built channels-first; "none" removes the norms and gives the convolutions biases.</param>
    /// <param name="activation">An <see cref="Activations"/> name; unused with the EvoNorm layers.</param>
    /// <param name="weightStandardization">Use <see cref="WeightStandardizedConv2d"/> for every convolution.</param>
    /// <param name="widths">Channels per block ([32, 64, 128]).</param>
    /// <param name="groups">Groups of the group-wise norms (GroupNorm, EvoNorm-S0); null: each norm's default.</param>
    /// <param name="virtualBatchSize">Ghost BatchNorm's ghost-batch size; null: the layer's default (128).</param>
    public SmallCnn(int classes = 10, string norm = "batchnorm", string activation = "relu", bool weightStandardization = false, int[]? widths = null,
        long? groups = null, long? virtualBatchSize = null)
        : base(nameof(SmallCnn))
    {
        widths ??= [32, 64, 128];
        var options = new NormOptions { Layout = NormLayout.ChannelsFirst, Groups = groups, VirtualBatchSize = virtualBatchSize };
        var normActivation = norm.StartsWith("evonorm", StringComparison.Ordinal);
        var modules = new List<(string, nn.Module<Tensor, Tensor>)>();
        var blockEnds = new List<int>();
        long previous = 1;
        for (var i = 0; i < widths.Length; i++)
        {
            modules.Add(($"conv{i}", weightStandardization
                ? new WeightStandardizedConv2d(previous, widths[i], 3, padding: 1, bias: norm == "none")
                : new PaddedConv2d(previous, widths[i], 3, padding: 1, bias: norm == "none")));
            if (norm != "none")
                modules.Add(($"norm{i}", NormFactory.Create(norm, widths[i], options)));
            if (!normActivation)
                modules.Add(($"act{i}", Activations.Create(activation)));
            blockEnds.Add(modules.Count);
            if (i < widths.Length - 1)
                modules.Add(($"pool{i}", nn.MaxPool2d(2)));
            previous = widths[i];
        }
        modules.Add(("gap", nn.AdaptiveAvgPool2d(1)));
        _blockEnds = [.. blockEnds];
        _features = nn.Sequential(modules);
        _head = nn.Linear(previous, classes);
        RegisterComponents();
    }

    /// <summary>Logits [N, classes] for images [N, 1, H, W].</summary>
    public override Tensor forward(Tensor x)
    {
        if (x.dim() != 4 || x.shape[1] != 1)
            throw new ArgumentException($"SmallCnn: expected images [N, 1, H, W], got [{string.Join(", ", x.shape)}].", nameof(x));
        using var scope = NewDisposeScope();
        return _head.forward(_features.forward(x).flatten(1)).MoveToOuterDisposeScope();
    }

    /// <summary>Each block's output [N, C_i, H_i, W_i] after its norm and activation, before pooling, for images [N, 1, H, W] in the
    /// model's current mode (BatchNorm in training mode uses, and updates, batch statistics); the head is not run.</summary>
    public IReadOnlyList<Tensor> BlockOutputs(Tensor x)
    {
        if (x.dim() != 4 || x.shape[1] != 1)
            throw new ArgumentException($"SmallCnn: expected images [N, 1, H, W], got [{string.Join(", ", x.shape)}].", nameof(x));
        var outputs = new List<Tensor>(_blockEnds.Length);
        var h = x;
        var index = 0;
        foreach (var end in _blockEnds)
        {
            for (; index < end; index++)
                h = ((nn.Module<Tensor, Tensor>)_features[index]).forward(h);
            outputs.Add(h);
        }
        return outputs;
    }
}

/// <summary>
/// A GRU that reads a 28×28 image one row at a time (28 steps of 28 pixels) and classifies it from its last state, normalised at every
/// time step by <see cref="NormalizedGru"/> — the recurrent setting of Ba et al.'s layer normalisation on images. With a
/// <c>permutationSeed</c> the 784 pixels are first shuffled by one fixed permutation (the same for every image), so that a row holds
/// pixels from all over the image and the network has to carry information across the whole sequence.
/// </summary>
public sealed class RowGru : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "gru")] private readonly NormalizedGru _gru;
    [ComponentName(Name = "head")] private readonly Linear _head;
    private readonly Tensor? _permutation;

    /// <summary>A row-reading GRU classifier.</summary>
    /// <param name="hidden">GRU state width.</param>
    /// <param name="norm">"none", or a <see cref="NormFactory"/> name applied at every time step.</param>
    /// <param name="classes">Number of output logits (10).</param>
    /// <param name="permutationSeed">Seed of the fixed pixel permutation; null reads the image's own rows.</param>
    /// <param name="side">Image side (28): rows are time steps, a row's pixels are the features.</param>
    public RowGru(int hidden = 128, string norm = "none", int classes = 10, long? permutationSeed = null, int side = 28) : base(nameof(RowGru))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(side);
        Side = side;
        _gru = new NormalizedGru(side, hidden, norm);
        _head = nn.Linear(hidden, classes);
        if (permutationSeed is { } seed)
            _permutation = randperm(side * side, generator: new Generator((ulong)seed)).DetachFromDisposeScope();
        RegisterComponents();
    }

    /// <summary>Image side: the number of time steps and of features per step.</summary>
    public int Side { get; }

    /// <summary>Logits [N, classes] for images [N, 1, side, side].</summary>
    public override Tensor forward(Tensor x)
    {
        if (x.dim() != 4 || x.shape[1] != 1 || x.shape[2] != Side || x.shape[3] != Side)
            throw new ArgumentException($"RowGru: expected images [N, 1, {Side}, {Side}], got [{string.Join(", ", x.shape)}].", nameof(x));
        using var scope = NewDisposeScope();
        var pixels = x.reshape(x.shape[0], Side * Side);
        if (_permutation is not null)
            pixels = pixels.index_select(1, _permutation.to(x.device));
        return _head.forward(_gru.forward(pixels.view(x.shape[0], Side, Side)).select(1, -1)).MoveToOuterDisposeScope();
    }
}

