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
/// <remarks>The norm comes from <see cref="NormFactory"/> by name ("none" for a plain MLP). With activation "selu" the weights get
/// LeCun-normal init (Klambauer et al. 2017) and no norm is expected; otherwise PyTorch's default Linear init.</remarks>
public sealed class Mlp : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "layers")] private Sequential _layers;

    /// <summary>An MLP [inputs → width × depth → outputs] in PyTorch's default linear init, or LeCun-normal weights and zero biases for SELU.</summary>
    /// <param name="inputs">Features per flattened sample (784 for 28×28 images).</param>
    /// <param name="outputs">Number of output logits.</param>
    /// <param name="width">Hidden width (256).</param>
    /// <param name="depth">Hidden layers (3).</param>
    /// <param name="norm">A <see cref="NormFactory"/> name applied after each hidden linear layer ("none").</param>
    /// <param name="activation">An <see cref="Activations"/> name; "selu" also switches to LeCun-normal init and alpha-dropout.</param>
    /// <param name="dropout">Dropout rate after each activation (0: none).</param>
    public Mlp(long inputs, long outputs, int width = 256, int depth = 3, string norm = "none", string activation = "relu", double dropout = 0)
        : base(nameof(Mlp))
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(depth);
        var modules = new List<(string, nn.Module<Tensor, Tensor>)>();
        var previous = inputs;
        for (var i = 0; i < depth; i++)
        {
            var linear = nn.Linear(previous, width);
            if (activation == "selu")
            {
                SelfNormalizing.LecunNormal(linear.weight!);
                using (no_grad())
                    linear.bias!.zero_();
            }
            modules.Add(($"fc{i}", linear));
            if (norm != "none")
                modules.Add(($"norm{i}", NormFactory.Create(norm, width)));
            modules.Add(($"act{i}", Activations.Create(activation)));
            if (dropout > 0)
                modules.Add(($"drop{i}", activation == "selu" ? new Norms.AlphaDropout(dropout) : nn.Dropout(dropout)));
            previous = width;
        }
        modules.Add(("head", nn.Linear(previous, outputs)));
        _layers = nn.Sequential(modules);
        RegisterComponents();
    }

    /// <summary>Logits [N, outputs] for x [N, …], flattened from axis 1 (images [N, 1, 28, 28] become [N, 784]).</summary>
    public override Tensor forward(Tensor x) => _layers.forward(x.flatten(1));
}

/// <summary>A small CNN for 28×28 single-channel images (Fashion-MNIST): [conv3×3 → norm → activation] blocks with pooling, then a linear head.</summary>
/// <remarks>Widths (32, 64, 128) with 2×2 max-pooling after the first two blocks and global average pooling at the end. The norm comes from
/// <see cref="NormFactory"/> with channels-first layout; "evonorm-b0"/"evonorm-s0" replace norm and activation together (the activation is
/// then skipped), as the EvoNorm paper uses them; weightStandardization swaps the convolutions for <see cref="WeightStandardizedConv2d"/>.</remarks>
public sealed class SmallCnn : nn.Module<Tensor, Tensor>
{
    [ComponentName(Name = "features")] private Sequential _features;
    [ComponentName(Name = "head")] private Linear _head;

    /// <summary>A CNN over [N, 1, H, W] images: one conv3×3 block per width, 2×2 max-pooling between blocks.</summary>
    /// <param name="classes">Number of output logits (10).</param>
    /// <param name="norm">A <see cref="NormFactory"/> name, built channels-first; "none" removes the norms and gives the convolutions biases.</param>
    /// <param name="activation">An <see cref="Activations"/> name; unused with the EvoNorm layers.</param>
    /// <param name="weightStandardization">Use <see cref="WeightStandardizedConv2d"/> for every convolution.</param>
    /// <param name="widths">Channels per block ([32, 64, 128]).</param>
    public SmallCnn(int classes = 10, string norm = "batchnorm", string activation = "relu", bool weightStandardization = false, int[]? widths = null)
        : base(nameof(SmallCnn))
    {
        widths ??= [32, 64, 128];
        var options = new NormOptions { Layout = NormLayout.ChannelsFirst };
        var normActivation = norm.StartsWith("evonorm", StringComparison.Ordinal);
        var modules = new List<(string, nn.Module<Tensor, Tensor>)>();
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
            if (i < widths.Length - 1)
                modules.Add(($"pool{i}", nn.MaxPool2d(2)));
            previous = widths[i];
        }
        modules.Add(("gap", nn.AdaptiveAvgPool2d(1)));
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
}
