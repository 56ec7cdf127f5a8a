// SPDX-License-Identifier: MIT
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace NormNotebooks.Training;

/// <summary>An optimizer the trainer drives: clear the gradients, then step at a learning rate the schedule chooses.</summary>
public interface IStepOptimizer : IDisposable
{
    /// <summary>Clears every parameter's gradient.</summary>
    void ZeroGrad();

    /// <summary>One update of every parameter at <paramref name="learningRate"/>.</summary>
    void Step(double learningRate);
}

/// <summary>Hyper-parameters of the optimizers beyond <see cref="TrainingConfig"/>'s, at their papers' defaults.</summary>
/// <param name="Eps">ε of the Adam denominators and of the projection's norms.</param>
/// <param name="ProjectionDelta">SGDP/AdamP: project when |cos(w, g)| &lt; δ/√(dim) (Heo et al.: δ = 0.1).</param>
/// <param name="ProjectionWeightDecayRatio">SGDP/AdamP: weight decay is multiplied by this on projected weights (Heo et al.: 0.1).</param>
/// <param name="TrustCoefficient">LARS: η of the trust ratio (You et al. 2017: 0.001).</param>
/// <param name="Nesterov">SGD family and AdamP: Nesterov momentum.</param>
public sealed record OptimizerOptions(double Eps = 1e-8, double ProjectionDelta = 0.1, double ProjectionWeightDecayRatio = 0.1, double TrustCoefficient = 1e-3, bool Nesterov = false);

/// <summary>
/// The optimizers the normalization papers train with. Weight decay goes to weights with ≥ 2 dimensions only (matrices and kernels);
/// gains, biases and norm parameters are not decayed.
/// </summary>
/// <remarks>
/// AdamW is libtorch's. The others are written out here from their papers and reference code, one tensor expression per line:
/// <list type="bullet">
/// <item>SGD: PyTorch's heavy-ball form, v ← βv + g (v₀ = g), coupled L2 decay g ← g + λw, w ← w − η·v.</item>
/// <item>SGDP and AdamP (Heo et al., "AdamP: Slowing Down the Slowdown for Momentum Optimizers on Scale-invariant Weights", ICLR 2021,
/// arXiv:2006.08217; clovaai/AdamP): for a weight with ≥ 2 dimensions whose gradient is nearly orthogonal to it — |cos(g, w)| &lt;
/// δ/√n, first per output channel, then over the whole tensor — the update's radial component along w is removed and the weight decay
/// multiplied by 0.1. SGDP's decay is w ← w(1 − ηλ·ratio/(1 − β)).</item>
/// <item>LARS (You, Gitman &amp; Ginsburg, arXiv:1708.03888): local rate η_l = η·ϑ‖w‖/(‖g‖ + λ‖w‖) per tensor, v ← βv + η_l(g + λw), w ← w − v.</item>
/// <item>LAMB (You et al., ICLR 2020, arXiv:1904.00962, Alg. 2): Adam's bias-corrected direction r plus decoupled decay λw, scaled by the
/// trust ratio ‖w‖/‖r + λw‖ per tensor (1 when either norm is 0).</item>
/// </list>
/// </remarks>
public static class Optimizers
{
    /// <summary>The optimizer <paramref name="config"/> names, over <paramref name="model"/>'s parameters.</summary>
    public static IStepOptimizer Create(nn.Module model, TrainingConfig config, OptimizerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(config);
        return Create(model.parameters(), config, options);
    }

    /// <summary>The optimizer <paramref name="config"/> names, over <paramref name="parameters"/>.</summary>
    public static IStepOptimizer Create(IEnumerable<Parameter> parameters, TrainingConfig config, OptimizerOptions? options = null)
    {
        var list = parameters.ToList();
        options ??= new OptimizerOptions();
        return config.Optimizer switch
        {
            OptimizerKind.AdamW => new LibtorchAdamW(list, config, options.Eps),
            _ => new WrittenOut(list, config, options),
        };
    }

    private sealed class LibtorchAdamW(List<Parameter> parameters, TrainingConfig config, double eps) : IStepOptimizer
    {
        private readonly optim.Optimizer _inner = optim.AdamW(
            [
                new AdamW.ParamGroup(parameters.Where(p => p.dim() >= 2), config.LearningRate, config.Beta1, config.Beta2, eps, config.WeightDecay, false, false),
                new AdamW.ParamGroup(parameters.Where(p => p.dim() < 2), config.LearningRate, config.Beta1, config.Beta2, eps, 0, false, false),
            ], config.LearningRate, config.Beta1, config.Beta2, eps, config.WeightDecay, false, false);

        public void ZeroGrad() => _inner.zero_grad();

        public void Step(double learningRate)
        {
            foreach (var group in _inner.ParamGroups)
                group.LearningRate = learningRate;
            _inner.step();
        }

        public void Dispose() => _inner.Dispose();
    }

    private sealed class WrittenOut(List<Parameter> parameters, TrainingConfig config, OptimizerOptions options) : IStepOptimizer
    {
        private readonly Dictionary<Parameter, Tensor[]> _state = [];
        private long _step;

        public void ZeroGrad()
        {
            foreach (var p in parameters)
                p.grad?.zero_();
        }

        public void Step(double learningRate)
        {
            _step++;
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            foreach (var p in parameters)
            {
                if (p.grad is not { } grad)
                    continue;
                var decay = p.dim() >= 2 ? config.WeightDecay : 0.0;
                switch (config.Optimizer)
                {
                    case OptimizerKind.Sgd: Sgd(p, grad, learningRate, decay, project: false); break;
                    case OptimizerKind.SgdP: Sgd(p, grad, learningRate, decay, project: true); break;
                    case OptimizerKind.AdamP: AdamP(p, grad, learningRate, decay); break;
                    case OptimizerKind.Lars: Lars(p, grad, learningRate, decay); break;
                    case OptimizerKind.Lamb: Lamb(p, grad, learningRate, decay); break;
                    default: throw new InvalidOperationException($"No written-out optimizer for {config.Optimizer}.");
                }
            }
        }

        private Tensor[] State(Parameter p, int count)
        {
            if (!_state.TryGetValue(p, out var state))
                _state[p] = state = Enumerable.Range(0, count).Select(_ => zeros_like(p).DetachFromDisposeScope()).ToArray();
            return state;
        }

        private void Sgd(Parameter p, Tensor grad, double rate, double decay, bool project)
        {
            var momentum = config.Beta1;
            var buffer = State(p, 1)[0];
            if (project)
            {
                // clovaai SGDP: buffer ← βb + g (zero start); without Nesterov the projection edits the buffer itself, as the
                // reference does; decoupled decay scaled by the projection's ratio and 1/(1 − β).
                buffer.mul_(momentum).add_(grad);
                var direction = options.Nesterov ? grad + momentum * buffer : buffer;
                var ratio = p.dim() > 1 ? Project(p, grad, direction) : 1.0;
                if (decay > 0)
                    p.mul_(1 - rate * decay * ratio / (1 - momentum));
                p.add_(direction, alpha: -rate);
                return;
            }
            var g = decay > 0 ? grad + decay * p : grad;
            if (_step == 1)
                buffer.copy_(g);
            else
                buffer.mul_(momentum).add_(g);
            p.add_(options.Nesterov ? g + momentum * buffer : buffer, alpha: -rate);
        }

        private void AdamP(Parameter p, Tensor grad, double rate, double decay)
        {
            var (m, v) = Moments(p, grad);
            var (b1, b2) = (config.Beta1, config.Beta2);
            var denominator = v.sqrt() / Math.Sqrt(1 - Math.Pow(b2, _step)) + options.Eps;
            var stepSize = rate / (1 - Math.Pow(b1, _step));
            var direction = options.Nesterov ? (b1 * m + (1 - b1) * grad) / denominator : m / denominator;
            var ratio = p.dim() > 1 ? Project(p, grad, direction) : 1.0;
            if (decay > 0)
                p.mul_(1 - rate * decay * ratio);
            p.add_(direction, alpha: -stepSize);
        }

        // Adam's moving averages of g and g², updated in place.
        private (Tensor M, Tensor V) Moments(Parameter p, Tensor grad)
        {
            var state = State(p, 2);
            var (m, v) = (state[0], state[1]);
            m.mul_(config.Beta1).add_(grad, alpha: 1 - config.Beta1);
            v.mul_(config.Beta2).addcmul_(grad, grad, 1 - config.Beta2);
            return (m, v);
        }

        private void Lars(Parameter p, Tensor grad, double rate, double decay)
        {
            var buffer = State(p, 1)[0];
            var (weightNorm, gradNorm) = (p.norm().ToDouble(), grad.norm().ToDouble());
            var trust = weightNorm > 0 && gradNorm > 0 ? options.TrustCoefficient * weightNorm / (gradNorm + decay * weightNorm) : 1.0;
            buffer.mul_(config.Beta1).add_(decay > 0 ? grad + decay * p : grad, alpha: rate * trust);
            p.sub_(buffer);
        }

        private void Lamb(Parameter p, Tensor grad, double rate, double decay)
        {
            var (m, v) = Moments(p, grad);
            var (b1, b2) = (config.Beta1, config.Beta2);
            var update = m / (1 - Math.Pow(b1, _step)) / ((v / (1 - Math.Pow(b2, _step))).sqrt() + options.Eps);
            if (decay > 0)
                update = update + decay * p;
            var (weightNorm, updateNorm) = (p.norm().ToDouble(), update.norm().ToDouble());
            var trust = weightNorm > 0 && updateNorm > 0 ? weightNorm / updateNorm : 1.0;
            p.add_(update, alpha: -rate * trust);
        }

        // Removes the radial component of `direction` (in place) when w is scale-invariant-looking; returns the weight-decay ratio.
        private double Project(Tensor w, Tensor grad, Tensor direction)
        {
            foreach (var rows in new[] { w.shape[0], 1L })
            {
                var (wv, gv) = (w.reshape(rows, -1), grad.reshape(rows, -1));
                var cosine = nn.functional.cosine_similarity(gv, wv, 1, options.Eps).abs().max().ToDouble();
                if (cosine < options.ProjectionDelta / Math.Sqrt(wv.shape[1]))
                {
                    var unit = wv / (wv.norm(1, keepdim: true) + options.Eps);
                    var dv = direction.view(rows, -1);
                    dv.sub_(unit * (unit * dv).sum(1, keepdim: true));
                    return options.ProjectionWeightDecayRatio;
                }
            }
            return 1.0;
        }

        public void Dispose()
        {
            foreach (var tensor in _state.Values.SelectMany(s => s))
                tensor.Dispose();
            _state.Clear();
        }
    }
}
