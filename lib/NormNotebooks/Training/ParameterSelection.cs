// SPDX-License-Identifier: MIT
using NormNotebooks.Norms;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NormNotebooks.Training;

/// <summary>
/// Which parameters of a model train: everything else is frozen at its initial value. For Frankle, Schwab &amp; Morcos, "Training
/// BatchNorm and Only BatchNorm" (ICLR 2021): train only the BatchNorm affine parameters γ and β, only the output layer, or — the
/// equal-budget control — a few randomly chosen entries of every weight.
/// </summary>
public static class ParameterSelection
{
    /// <summary>Freezes (requires_grad = false) every parameter of <paramref name="model"/> for which <paramref name="train"/> is false;
    /// returns the number of trainable scalars left.</summary>
    public static long TrainOnly(nn.Module model, Func<string, Parameter, bool> train)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(train);
        long count = 0;
        foreach (var (name, parameter) in model.named_parameters())
        {
            var keep = train(name, parameter);
            parameter.requires_grad_(keep);
            if (keep)
                count += parameter.numel();
        }
        return count;
    }

    /// <summary>The affine parameters (γ, β) of every <see cref="BatchNorm"/> in <paramref name="model"/>.</summary>
    public static IReadOnlySet<Parameter> BatchNormAffine(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new HashSet<Parameter>(model.modules().OfType<NormNotebooks.Norms.BatchNorm>().SelectMany(b => b.parameters()), ReferenceEqualityComparer.Instance);
    }

    /// <summary>Trainable scalars of <paramref name="model"/> (those with requires_grad).</summary>
    public static long TrainableCount(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.parameters().Where(p => p.requires_grad).Sum(p => p.numel());
    }

    /// <summary>
    /// Leaves trainable exactly <paramref name="perRow"/> randomly chosen entries of every weight tensor with two or more axes (one row
    /// per output channel or unit), and freezes everything else, biases and norm parameters included. Returns the action that zeroes
    /// the gradients of the unchosen entries; pass it as the trainer's <c>afterBackward</c>. With plain or momentum SGD, or Adam,
    /// and no weight decay, the unchosen entries then never move (a decaying optimizer would shrink them).
    /// </summary>
    public static RandomEntries RandomEntries(nn.Module model, int perRow, Generator generator)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(perRow);
        var masks = new List<(Parameter Parameter, Tensor Mask)>();
        foreach (var (name, p) in model.named_parameters())
        {
            if (p.dim() < 2)
            {
                p.requires_grad_(false);
                continue;
            }
            var rows = p.shape[0];
            var perRowCount = p.numel() / rows;
            if (perRow > perRowCount)
                throw new ArgumentOutOfRangeException(nameof(perRow), perRow, $"'{name}' has only {perRowCount} entries per row.");
            var order = rand([rows, perRowCount], generator: generator).argsort(1);
            var mask = zeros(rows, perRowCount, dtype: p.dtype, device: p.device);
            mask.scatter_(1, order.narrow(1, 0, perRow).to(p.device), ones(rows, perRow, dtype: p.dtype, device: p.device));
            masks.Add((p, mask.view(p.shape).DetachFromDisposeScope()));
            p.requires_grad_(true);
        }
        return new RandomEntries(masks);
    }
}

/// <summary>The masks of <see cref="ParameterSelection.RandomEntries"/>: 1 where an entry trains.</summary>
public sealed class RandomEntries(IReadOnlyList<(Parameter Parameter, Tensor Mask)> masks)
{
    /// <summary>Each masked weight with its 0/1 mask of the same shape.</summary>
    public IReadOnlyList<(Parameter Parameter, Tensor Mask)> Masks { get; } = masks;

    /// <summary>Number of trainable entries (ones in the masks).</summary>
    public long Count => Masks.Sum(m => (long)m.Mask.sum().ToDouble());

    /// <summary>Zeroes the gradient of every frozen entry (call after backward, before the optimizer step).</summary>
    public void ZeroFrozenGradients()
    {
        using var _ = no_grad();
        foreach (var (p, mask) in Masks)
            p.grad?.mul_(mask);
    }
}
