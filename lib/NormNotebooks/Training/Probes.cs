// SPDX-License-Identifier: MIT
using NormNotebooks.Data;
using NormNotebooks.Models;
using NormNotebooks.Norms;
using TorchSharp;
using static TorchSharp.torch;

namespace NormNotebooks.Training;

/// <summary>Residual-stream statistics of one forward pass, for layers 0 (embedding output) … L (last block's output).</summary>
/// <param name="MeanSquare">E[x_ℓ²] over batch, positions and channels.</param>
/// <param name="Variance">Var(x_ℓ) over batch, positions and channels (biased).</param>
/// <param name="MaxAbs">max |x_ℓ|.</param>
/// <param name="AngularDistance">For ℓ = 0 … L−1: arccos(cos(x_ℓ, x_{ℓ+1}))/π on the last token, averaged over the batch: how much block ℓ+1 turns its input.</param>
public sealed record ResidualStreamStats(double[] MeanSquare, double[] Variance, double[] MaxAbs, double[] AngularDistance);

/// <summary>Signal-propagation statistics per residual block (Brock, De &amp; Smith 2021, Fig. 1).</summary>
/// <param name="ChannelSquaredMean">Per block: the average over channels of the squared channel mean (over batch and positions).</param>
/// <param name="ChannelVariance">Per block: the average over channels of the channel variance (over batch and positions).</param>
public sealed record SignalPropagation(double[] ChannelSquaredMean, double[] ChannelVariance);

/// <summary>Per hidden layer of an MLP: the mean over units of each unit's batch mean, and of each unit's batch variance (biased) —
/// the (μ, ν) that the moment map of self-normalising networks acts on, whose theory takes every unit to share them — and the
/// variance over all units and examples together, which adds the spread of the units' means to ν.</summary>
public sealed record LayerMoments(double[] Mean, double[] Variance, double[] TotalVariance);

/// <summary>Batch-statistics fluctuation of one norm layer (PowerNorm's figure): distance of this batch's statistics to the running ones.</summary>
/// <param name="Layer">The module's name in the model.</param>
/// <param name="MeanDistance">(1/d)‖μ_B − μ‖₂ (BatchNorm); 0 for PowerNorm, which has no mean.</param>
/// <param name="SecondMomentDistance">(1/d)‖σ²_B − σ²‖₂ (BatchNorm) or (1/d)‖ψ²_B − ψ²‖₂ (PowerNorm).</param>
/// <param name="RelativeMeanDistance">Scale-free: mean over features of |μ_B − μ|/σ with the running σ (BatchNorm); 0 for PowerNorm.</param>
/// <param name="RelativeSecondMomentDistance">Scale-free: mean over features of |σ²_B − σ²|/σ² (BatchNorm) or |ψ²_B − ψ²|/ψ² (PowerNorm),
/// so models whose activations differ in scale compare.</param>
public sealed record BatchStatisticsFluctuation(string Layer, double MeanDistance, double SecondMomentDistance, double RelativeMeanDistance,
    double RelativeSecondMomentDistance);

/// <summary>The loss landscape along the negative gradient at one point (Santurkar et al. 2018, §3.1): the loss and gradient there, and
/// at each step η of a probe line w − η·∇L(w).</summary>
/// <param name="Loss">L(w) on the probe batch.</param>
/// <param name="GradientNorm">‖∇L(w)‖ over every trainable parameter.</param>
/// <param name="Steps">The step sizes η probed.</param>
/// <param name="Losses">L(w − η∇L(w)) per step.</param>
/// <param name="GradientChanges">‖∇L(w − η∇L(w)) − ∇L(w)‖ per step.</param>
public sealed record LossLandscape(double Loss, double GradientNorm, double[] Steps, double[] Losses, double[] GradientChanges)
{
    /// <summary>Variation of the loss along the line: max − min over L(w) and every L(w − η∇L).</summary>
    public double LossRange => Losses.Append(Loss).Max() - Losses.Append(Loss).Min();

    /// <summary>Largest change of the gradient along the line ("gradient predictiveness", smaller is more predictive).</summary>
    public double GradientChange => GradientChanges.Max();

    /// <summary>"Effective β-smoothness": max over η of ‖∇L(w − η∇L) − ∇L(w)‖ / (η‖∇L(w)‖), the gradient's Lipschitz constant along the line.</summary>
    public double EffectiveSmoothness => GradientNorm == 0 ? 0 : Steps.Select((step, k) => GradientChanges[k] / (step * GradientNorm)).Max();
}

/// <summary>
/// Measurements that read a model without changing its math: per-block gradient norms, residual-stream statistics and angular
/// distances, single-block removal, attention entropy, batch-statistics fluctuation, effective learning rates of scale-invariant weights.
/// </summary>
public static class Probes
{
    /// <summary>Per block: the Frobenius norm of the gradient over the block's matrices (weights with ≥ 2 dimensions), √Σ‖∂L/∂W‖².</summary>
    public static double[] BlockGradientNorms(CharTransformer model)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var scope = NewDisposeScope();
        return model.Blocks.Select(block =>
        {
            var squares = block.parameters().Where(p => p.dim() >= 2 && p.grad is not null).Select(p => p.grad!.square().sum().ToDouble());
            return Math.Sqrt(squares.Sum());
        }).ToArray();
    }

    /// <summary>Residual-stream statistics of <paramref name="model"/> on <paramref name="tokens"/>, in evaluation mode and without gradients
    /// (running statistics are neither used for training nor updated).</summary>
    public static ResidualStreamStats ResidualStream(CharTransformer model, Tensor tokens)
    {
        ArgumentNullException.ThrowIfNull(model);
        return EvaluationMode.Run(model, () =>
        {
            var states = model.HiddenStates(tokens).Select(s => s.to(float64)).ToList();
            var meanSquare = states.Select(s => s.square().mean().ToDouble()).ToArray();
            var variance = states.Select(s => (s - s.mean()).square().mean().ToDouble()).ToArray();
            var maxAbs = states.Select(s => s.abs().max().ToDouble()).ToArray();
            var last = states.Select(s => s[.., -1, ..]).ToList();
            var angular = Enumerable.Range(0, states.Count - 1).Select(l => AngularDistance(last[l], last[l + 1])).ToArray();
            return new ResidualStreamStats(meanSquare, variance, maxAbs, angular);
        });
    }

    /// <summary>arccos(cos(a_i, b_i))/π averaged over rows: 0 for equal directions, ½ for orthogonal, 1 for opposite.</summary>
    public static double AngularDistance(Tensor a, Tensor b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        using var scope = NewDisposeScope();
        var (x, y) = (a.to(float64).reshape(-1, a.shape[^1]), b.to(float64).reshape(-1, b.shape[^1]));
        var cosine = (x * y).sum(1) / (x.norm(1) * y.norm(1)).clamp_min(1e-300);
        return (cosine.clamp(-1, 1).acos() / Math.PI).mean().ToDouble();
    }

    /// <summary>
    /// Signal-propagation plot data of a residual network on <paramref name="images"/>, without gradients, in the model's current mode
    /// (training mode shows what the optimizer sees at initialisation but updates BatchNorm running statistics; evaluation mode does not).
    /// </summary>
    public static SignalPropagation SignalPropagation<TModel>(TModel model, Tensor images) where TModel : nn.Module<Tensor, Tensor>, IResidualNetwork
    {
        ArgumentNullException.ThrowIfNull(model);
        var squaredMean = new double[model.BlockCount];
        var variance = new double[model.BlockCount];
        var previous = model.BlockOutput;
        model.BlockOutput = (i, h) =>
        {
            using var s = NewDisposeScope();
            var x = h.to(float64);
            var channelMean = x.mean([0L, 2L, 3L]);
            squaredMean[i] = channelMean.square().mean().ToDouble();
            variance[i] = (x - channelMean.view(1, -1, 1, 1)).square().mean([0L, 2L, 3L]).mean().ToDouble();
        };
        try
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            model.forward(images);
        }
        finally
        {
            model.BlockOutput = previous;
        }
        return new SignalPropagation(squaredMean, variance);
    }

    /// <summary>
    /// (μ, ν) of every hidden layer of <paramref name="model"/> on <paramref name="inputs"/>, without gradients, in the model's current
    /// mode (BatchNorm in training mode normalises with the batch's statistics, and updates its running ones).
    /// </summary>
    public static LayerMoments ActivationMoments(Mlp model, Tensor inputs)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var outputs = model.HiddenOutputs(inputs).Select(h => h.to(float64)).ToList();
        return new LayerMoments(outputs.Select(h => h.mean([0L]).mean().ToDouble()).ToArray(),
            outputs.Select(h => h.var(0, unbiased: false).mean().ToDouble()).ToArray(),
            outputs.Select(h => (h - h.mean()).square().mean().ToDouble()).ToArray());
    }

    /// <summary>
    /// Mean cross-entropy of <paramref name="model"/> over a fixed labelled set, in training mode and in batches of
    /// <paramref name="batchSize"/> as the optimizer sees the model (BatchNorm normalises with each batch's statistics), without
    /// gradients; the model's buffers (running statistics) and mode are restored afterwards, so the probe leaves training as it was.
    /// Dropout, if the model has any, is active. The training-error curve of Klambauer et al.'s Figure 1 is this, over the training set.
    /// </summary>
    public static double TrainingModeLoss(nn.Module<Tensor, Tensor> model, LabelledTensors data, int batchSize)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        using var snapshot = new ModelStateSnapshot(model);
        model.train();
        double total = 0;
        for (long start = 0; start < data.Count; start += batchSize)
        {
            var length = Math.Min(batchSize, data.Count - start);
            total += nn.functional.cross_entropy(model.forward(data.Images.narrow(0, start, length)), data.Labels.narrow(0, start, length),
                reduction: nn.Reduction.Sum).ToDouble();
        }
        return total / data.Count;
    }

    /// <summary>
    /// The loss landscape along the negative gradient (Santurkar et al. 2018, "How does batch normalization help optimization?",
    /// §3.1): at the current weights w, the cross-entropy L and its gradient g on a fixed labelled batch, then L and ∇L at w − η·g for
    /// each η in <paramref name="steps"/> — the points an SGD step of size η would reach. Forward passes run in training mode, as the
    /// optimizer sees the model. Gradients come from <c>autograd.grad</c>, so the parameters' <c>.grad</c> (the trainer's) are left
    /// alone; parameters, buffers (running statistics) and mode are restored exactly afterwards.
    /// </summary>
    public static LossLandscape LossLandscape(nn.Module<Tensor, Tensor> model, LabelledTensors batch, IReadOnlyList<double> steps)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(batch);
        ArgumentNullException.ThrowIfNull(steps);
        if (steps.Count == 0 || steps.Any(step => !(step > 0) || !double.IsFinite(step)))
            throw new ArgumentException($"LossLandscape: the steps must be positive and finite, got [{string.Join(", ", steps)}].", nameof(steps));
        using var scope = NewDisposeScope();
        using var snapshot = new ModelStateSnapshot(model);
        var parameters = model.parameters().Where(p => p.requires_grad).Cast<Tensor>().ToList();
        var originals = parameters.Select(p => p.detach().clone()).ToList();
        (double Loss, Tensor[] Gradient) LossAndGradient()
        {
            var loss = nn.functional.cross_entropy(model.forward(batch.Images), batch.Labels);
            var gradient = autograd.grad([loss], parameters).Select(g => g.detach().to(float64)).ToArray();
            snapshot.RestoreBuffers();
            return (loss.ToDouble(), gradient);
        }
        static double Norm(IEnumerable<Tensor> parts) => Math.Sqrt(parts.Sum(t => t.square().sum().ToDouble()));
        try
        {
            model.train();
            var (loss, gradient) = LossAndGradient();
            var losses = new double[steps.Count];
            var changes = new double[steps.Count];
            for (var k = 0; k < steps.Count; k++)
            {
                using (no_grad())
                    for (var i = 0; i < parameters.Count; i++)
                        parameters[i].copy_(originals[i] - (steps[k] * gradient[i]).to(originals[i].dtype));
                var (moved, movedGradient) = LossAndGradient();
                losses[k] = moved;
                changes[k] = Norm(movedGradient.Zip(gradient, (a, b) => a - b));
            }
            return new LossLandscape(loss, Norm(gradient), [.. steps], losses, changes);
        }
        finally
        {
            using (no_grad())
                for (var i = 0; i < parameters.Count; i++)
                    parameters[i].copy_(originals[i]);
        }
    }

    /// <summary>A model's buffers (running statistics) and training flag, copied at construction and put back on
    /// <see cref="Dispose"/>: probes that run training-mode forwards must leave the model as they found it. The copies live in the
    /// caller's dispose scope; dispose the snapshot first.</summary>
    private sealed class ModelStateSnapshot(nn.Module model) : IDisposable
    {
        private readonly bool _wasTraining = model.training;
        private readonly List<(Tensor Buffer, Tensor Copy)> _buffers = model.named_buffers().Select(b => (b.buffer, b.buffer.detach().clone())).ToList();

        /// <summary>Copies the saved values back into the buffers.</summary>
        public void RestoreBuffers()
        {
            using var _ = no_grad();
            foreach (var (buffer, copy) in _buffers)
                buffer.copy_(copy);
        }

        public void Dispose()
        {
            RestoreBuffers();
            model.train(_wasTraining);
        }
    }

    /// <summary>
    /// Per block of <paramref name="model"/>, the fraction of channels that are (nearly) never active after the block's norm and
    /// activation: a channel counts as dead when its output is positive at no more than <paramref name="activeFraction"/> of the
    /// (image, position) pairs of <paramref name="images"/>. Deactivated channels are the "elimination singularities" that Qiao et
    /// al. (2019) name as what channel-only normalisers such as GroupNorm are prone to. Runs in evaluation mode, without gradients,
    /// and restores the mode.
    /// </summary>
    public static double[] DeadChannels(SmallCnn model, Tensor images, double activeFraction = 0)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentOutOfRangeException.ThrowIfNegative(activeFraction);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var wasTraining = model.training;
        try
        {
            model.eval();
            return model.BlockOutputs(images)
                .Select(h => (h > 0).to(float64).mean([0L, 2L, 3L]).le(activeFraction).to(float64).mean().ToDouble())
                .ToArray();
        }
        finally
        {
            model.train(wasTraining);
        }
    }

    /// <summary>
    /// How jagged a loss curve is: the standard deviation of log L_t around its centred moving average over <paramref name="window"/>
    /// steps (odd), on the steps where the window fits. Scale-free, so curves at different loss levels compare; a smooth descent gives
    /// ≈ 0 whatever its slope.
    /// </summary>
    public static double Roughness(IReadOnlyList<double> losses, int window = 21)
    {
        ArgumentNullException.ThrowIfNull(losses);
        if (window < 3 || window % 2 == 0)
            throw new ArgumentOutOfRangeException(nameof(window), window, "The window must be odd and at least 3.");
        if (losses.Count < window + 2)
            throw new ArgumentException($"Roughness needs at least {window + 2} losses for a window of {window}, got {losses.Count}.", nameof(losses));
        if (losses.Any(l => !(l > 0) || !double.IsFinite(l)))
            throw new ArgumentException("Roughness needs positive, finite losses.", nameof(losses));
        var log = losses.Select(l => Math.Log(l)).ToArray();
        var half = window / 2;
        var residuals = Enumerable.Range(half, log.Length - 2 * half)
            .Select(t => log[t] - log.Skip(t - half).Take(window).Average()).ToArray();
        var mean = residuals.Average();
        return Math.Sqrt(residuals.Sum(r => (r - mean) * (r - mean)) / (residuals.Length - 1));
    }

    /// <summary>ΔL(ℓ) = L(model without block ℓ) − L(model) in validation loss, for every block (evaluation mode).</summary>
    public static double[] LayerRemovalDeltas(CharTransformer model, CharDataset data, TrainingConfig config)
    {
        ArgumentNullException.ThrowIfNull(model);
        var device = model.parameters().First().device;
        var full = LanguageModelTrainer.Evaluate(model, data, config, device);
        var deltas = new double[model.Config.Depth];
        for (var l = 0; l < deltas.Length; l++)
        {
            model.RemovedBlocks.Add(l);
            try
            {
                deltas[l] = LanguageModelTrainer.Evaluate(model, data, config, device) - full;
            }
            finally
            {
                model.RemovedBlocks.Remove(l);
            }
        }
        return deltas;
    }

    /// <summary>
    /// Attention entropy per block and head [L, heads]: −Σ_j A_ij log A_ij averaged over queries and batch (σReparam's measure; causal
    /// rows have at most log(i+1) nats). Evaluation mode, no gradients.
    /// </summary>
    public static double[,] AttentionEntropy(CharTransformer model, Tensor tokens)
    {
        ArgumentNullException.ThrowIfNull(model);
        var blocks = model.Blocks;
        var entropy = new double[blocks.Count, model.Config.Heads];
        foreach (var block in blocks)
            block.Attention.RecordAttention = true;
        try
        {
            EvaluationMode.Run(model, () =>
            {
                model.forward(tokens);
                for (var l = 0; l < blocks.Count; l++)
                {
                    var a = blocks[l].Attention.LastAttention!.to(float64);                           // [B, h, T, T]
                    var perHead = (-(a * a.clamp_min(1e-300).log()).sum(-1)).mean([0L, 2L]).data<double>().ToArray();
                    for (var h = 0; h < perHead.Length; h++)
                        entropy[l, h] = perHead[h];
                }
                return 0;
            });
        }
        finally
        {
            foreach (var block in blocks)
                block.Attention.RecordAttention = false;
        }
        return entropy;
    }

    /// <summary>The outlier features of <paramref name="model"/>'s projection inputs on <paramref name="tokens"/> (evaluation mode, no
    /// gradients), with LLM.int8()'s criteria by default; see <see cref="Training.OutlierFeatures"/>.</summary>
    public static OutlierFeatures OutlierFeatures(CharTransformer model, Tensor tokens, double threshold = 6.0, double layerShare = 0.25, double positionShare = 0.06)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (!(threshold > 0) || layerShare is < 0 or > 1 || positionShare is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(threshold), $"OutlierFeatures: threshold must be > 0 and the shares in [0, 1]; got {threshold}, {layerShare}, {positionShare}.");
        var (layers, maxAbs, share) = (new List<string>(), new List<double[]>(), new List<double[]>());
        var previous = model.LinearOverride;
        var block = 0;
        model.LinearOverride = (x, linear, name) =>
        {
            if (name is "qkv" or "fc")
            {
                using var scope = NewDisposeScope();
                var magnitude = x.detach().reshape(-1, x.shape[^1]).abs().to(float64);
                layers.Add($"block {(name == "qkv" ? ++block : block)} {(name == "qkv" ? "attention" : "MLP")} input");
                maxAbs.Add(magnitude.amax(0).data<double>().ToArray());
                share.Add(magnitude.ge(threshold).to(float64).mean([0L]).data<double>().ToArray());
            }
            return previous is null ? linear.forward(x) : previous(x, linear, name);
        };
        try
        {
            EvaluationMode.Run(model, () => { model.forward(tokens).Dispose(); return 0; });
        }
        finally
        {
            model.LinearOverride = previous;
        }
        return new OutlierFeatures(threshold, layerShare, positionShare, layers, [.. maxAbs], [.. share]);
    }

    /// <summary>Fluctuation of every <see cref="BatchNorm"/> and <see cref="PowerNorm"/> in <paramref name="model"/> after its last training forward
    /// (layers that have not run in training mode yet are left out).</summary>
    public static IReadOnlyList<BatchStatisticsFluctuation> BatchStatistics(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var scope = NewDisposeScope();
        var found = new List<BatchStatisticsFluctuation>();
        foreach (var (name, module) in model.named_modules().Prepend(("", model)))
        {
            switch (module)
            {
                case BatchNorm { LastBatchStatistics: var (mean, variance) } bn:
                    found.Add(new BatchStatisticsFluctuation(name, Distance(mean, bn.RunningMean), Distance(variance, bn.RunningVar),
                        Relative(mean, bn.RunningMean, bn.RunningVar.sqrt()), Relative(variance, bn.RunningVar, bn.RunningVar)));
                    break;
                case PowerNorm { LastBatchQuadraticMean: { } phi } pn:
                    found.Add(new BatchStatisticsFluctuation(name, 0, Distance(phi, pn.RunningPhi), 0, Relative(phi, pn.RunningPhi, pn.RunningPhi)));
                    break;
            }
        }
        return found;

        static double Distance(Tensor batch, Tensor running) => (batch.to(float64) - running.to(float64)).norm().ToDouble() / batch.numel();
        static double Relative(Tensor batch, Tensor running, Tensor scale) =>
            ((batch.to(float64) - running.to(float64)).abs() / scale.to(float64).clamp_min(1e-12)).mean().ToDouble();
    }

    /// <summary>
    /// For every weight with ≥ 2 dimensions: ‖w‖ and the effective learning rate η/‖w‖² of a scale-invariant weight (the rate at which
    /// its direction moves; van Laarhoven 2017, Hoffer et al. 2018).
    /// </summary>
    public static IReadOnlyList<(string Name, double Norm, double EffectiveLearningRate)> EffectiveLearningRates(nn.Module model, double learningRate)
    {
        ArgumentNullException.ThrowIfNull(model);
        using var scope = NewDisposeScope();
        return model.named_parameters().Where(p => p.parameter.dim() >= 2)
            .Select(p =>
            {
                var norm = p.parameter.detach().norm().ToDouble();
                return (p.name, norm, learningRate / (norm * norm));
            }).ToList();
    }
}

/// <summary>
/// LLM.int8()'s emergent outlier features in the inputs of a model's projections: per layer input (each block's attention qkv
/// and MLP fc input, in order) and feature dimension, the largest |x| and the share of positions with |x| ≥ <see cref="Threshold"/>.
/// A dimension is an outlier feature when it reaches the threshold at ≥ <see cref="PositionShare"/> of the positions in ≥
/// <see cref="LayerShare"/> of the layer inputs (the paper's criteria: 6.0, 6 % of the sequence, 25 % of the layers).
/// </summary>
public sealed record OutlierFeatures(double Threshold, double LayerShare, double PositionShare, IReadOnlyList<string> Layers, double[][] MaxAbs, double[][] LargeShare)
{
    /// <summary>Dimensions that meet both criteria, ascending.</summary>
    public IReadOnlyList<int> Features { get; } = Enumerable.Range(0, MaxAbs.Length == 0 ? 0 : MaxAbs[0].Length)
        .Where(k => LargeShare.Count(layer => layer[k] >= PositionShare) >= LayerShare * LargeShare.Length).ToArray();

    /// <summary>The largest |x| over every layer input.</summary>
    public double Max => MaxAbs.Length == 0 ? 0 : MaxAbs.Max(layer => layer.Max());

    /// <summary>Dimensions that reach the threshold anywhere (in any layer input, at any position).</summary>
    public int DimensionsReachingThreshold => MaxAbs.Length == 0 ? 0 : Enumerable.Range(0, MaxAbs[0].Length).Count(k => MaxAbs.Any(layer => layer[k] >= Threshold));
}

/// <summary>What a probe sees when the trainer reads it: the model (after the step's backward, before clipping and the update), the
/// 0-based step and its learning rate.</summary>
public sealed record ProbeContext(nn.Module Model, int Step, double LearningRate);

/// <summary>A named probe the trainer reads every <see cref="TrainingConfig.ProbeEvery"/> steps; each reading is one or more series of
/// per-layer values stored in <see cref="TrainingResult.Probes"/>.</summary>
public sealed class TrainingProbe(string name, Func<ProbeContext, IEnumerable<(string Series, double[] Values)>> read)
{
    /// <summary>The probe's name.</summary>
    public string Name { get; } = name;

    /// <summary>Reads the probe.</summary>
    public IEnumerable<(string Series, double[] Values)> Read(ProbeContext context) => read(context);

    /// <summary>Series "grad-norm": per-block gradient Frobenius norms of a <see cref="CharTransformer"/>.</summary>
    public static TrainingProbe BlockGradientNorms() =>
        new("grad-norm", c => [("grad-norm", Probes.BlockGradientNorms(Transformer(c)))]);

    /// <summary>Series "residual-mean-square", "residual-variance", "residual-max-abs" (layers 0…L) and "angular-distance" (blocks 1…L) on a
    /// fixed batch of tokens (see <see cref="LanguageModelTrainer.ProbeBatch"/>).</summary>
    public static TrainingProbe ResidualStream(Tensor tokens) => new("residual", c =>
    {
        var stats = Probes.ResidualStream(Transformer(c), tokens);
        return [("residual-mean-square", stats.MeanSquare), ("residual-variance", stats.Variance), ("residual-max-abs", stats.MaxAbs),
            ("angular-distance", stats.AngularDistance)];
    });

    /// <summary>Series "bn-mean-distance", "bn-second-moment-distance" and their scale-free "bn-relative-…" forms: one value per
    /// BatchNorm/PowerNorm layer, in module order.</summary>
    public static TrainingProbe BatchStatistics() => new("batch-statistics", c =>
    {
        var layers = Probes.BatchStatistics(c.Model);
        return [("bn-mean-distance", layers.Select(l => l.MeanDistance).ToArray()),
            ("bn-second-moment-distance", layers.Select(l => l.SecondMomentDistance).ToArray()),
            ("bn-relative-mean-distance", layers.Select(l => l.RelativeMeanDistance).ToArray()),
            ("bn-relative-second-moment-distance", layers.Select(l => l.RelativeSecondMomentDistance).ToArray())];
    });

    /// <summary>Series "attention-entropy": per block, the entropy averaged over heads, on a fixed batch of tokens.</summary>
    public static TrainingProbe AttentionEntropy(Tensor tokens) => new("attention-entropy", c =>
    {
        var entropy = Probes.AttentionEntropy(Transformer(c), tokens);
        var heads = entropy.GetLength(1);
        return [("attention-entropy", Enumerable.Range(0, entropy.GetLength(0)).Select(l => Enumerable.Range(0, heads).Average(h => entropy[l, h])).ToArray())];
    });

    /// <summary>Series "weight-norm" and "effective-lr": per matrix or kernel, ‖w‖ and η/‖w‖².</summary>
    public static TrainingProbe EffectiveLearningRates() => new("effective-lr", c =>
    {
        var rates = Probes.EffectiveLearningRates(c.Model, c.LearningRate);
        return [("weight-norm", rates.Select(r => r.Norm).ToArray()), ("effective-lr", rates.Select(r => r.EffectiveLearningRate).ToArray())];
    });

    /// <summary>Series "train-loss": <see cref="Probes.TrainingModeLoss"/> on a fixed labelled set.</summary>
    public static TrainingProbe TrainingModeLoss(LabelledTensors data, int batchSize) => new("train-loss", c =>
        [("train-loss", [Probes.TrainingModeLoss((nn.Module<Tensor, Tensor>)c.Model, data, batchSize)])]);

    /// <summary>Series "weight-distance": ‖w_t − w_0‖ over every trainable parameter of <paramref name="model"/> (in float64), w_0 being the
    /// weights when the probe is made (Hoffer et al. 2017, §4: it grows logarithmically with the number of updates). Read after the
    /// backward pass of 0-based step t, it sees the weights after t updates.</summary>
    public static TrainingProbe WeightDistance(nn.Module model)
    {
        ArgumentNullException.ThrowIfNull(model);
        var initial = model.parameters().Where(p => p.requires_grad).Select(p => p.detach().to(float64).clone().DetachFromDisposeScope()).ToList();
        return new("weight-distance", c =>
        {
            if (!ReferenceEquals(c.Model, model))
                throw new InvalidOperationException("WeightDistance: the probe was made for another model.");
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var current = model.parameters().Where(p => p.requires_grad).ToList();
            var squared = current.Zip(initial, (p, w0) => (p.detach().to(float64) - w0).square().sum().ToDouble()).Sum();
            return [("weight-distance", [Math.Sqrt(squared)])];
        });
    }

    /// <summary>Series "landscape-loss-range", "landscape-gradient-change" and "landscape-effective-smoothness": <see cref="Probes.LossLandscape"/>
    /// on a fixed labelled batch at step sizes <paramref name="steps"/> (fixed, so readings at different points of a schedule compare).</summary>
    public static TrainingProbe LossLandscape(LabelledTensors batch, IReadOnlyList<double> steps) => new("landscape", c =>
    {
        var landscape = Probes.LossLandscape((nn.Module<Tensor, Tensor>)c.Model, batch, steps);
        return [("landscape-loss-range", [landscape.LossRange]), ("landscape-gradient-change", [landscape.GradientChange]),
            ("landscape-effective-smoothness", [landscape.EffectiveSmoothness])];
    });

    private static CharTransformer Transformer(ProbeContext context) => context.Model as CharTransformer
        ?? throw new InvalidOperationException($"This probe reads a CharTransformer, not a {context.Model.GetType().Name}.");
}
