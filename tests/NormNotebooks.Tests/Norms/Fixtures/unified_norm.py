# SPDX-License-Identifier: MIT
# Writes unified_norm_trace.pt, read by UnifiedNormTests: a trace of the official Unified Normalization (UN1d of
# hikvision-research/Unified-Normalization, commit 0ce9bf2, image_classification/models/unified_normalization/) in float64.
# Needs PyTorch (Debian's python3-torch, 1.13) and that file on the path:
#   PYTHONPATH=<checkout>/image_classification/models/unified_normalization /usr/bin/python3 unified_norm.py
# Inputs and upstream gradients are closed-form (sines), so the C# test rebuilds them without a random generator.
# Two runs on [B=3, N=5, C=8] tokens with γ = 1 + 0.1c, β = 0.05c, window 4, warm-up 3, ε 1e-5, momentum 0.9:
#   "plain": filtration off, 1,006 steps, so that the gradient-compensation ratio ρ (fixed at 1 up to step 1,000) is exercised;
#   "filtered": filtration on, 12 steps, the input of step 9 multiplied by 30.
# Keys: "{run}_y_{t}", "{run}_dx_{t}", "{run}_dweight_{t}" for the recorded steps t (1-based), and "{run}_running_var",
# "{run}_ema_gz", "{run}_buffer_x2", "{run}_buffer_gz", "{run}_skip_counter" after the last step.
import math
import torch
from unified_normalization import UN1d

B, N, C = 3, 5, 8


def inputs(t):
    b = torch.arange(B, dtype=torch.float64).view(B, 1, 1)
    n = torch.arange(N, dtype=torch.float64).view(1, N, 1)
    c = torch.arange(C, dtype=torch.float64).view(1, 1, C)
    x = (1 + 0.5 * torch.sin(0.7 * t + c)) * torch.sin(1.3 * b + 2.1 * n + 0.9 * c + 0.37 * t) + 0.1 * c
    g = torch.cos(0.8 * b - 1.1 * n + 0.5 * c + 0.23 * t)
    return x, g


def run(name, steps, record, filtration, spike_step=None):
    m = UN1d(C, window_size=4, warmup_iters=3, outlier_filtration=filtration, eps=1e-5, momentum=0.9).double()
    with torch.no_grad():
        m.weight.copy_(1 + 0.1 * torch.arange(C, dtype=torch.float64))
        m.bias.copy_(0.05 * torch.arange(C, dtype=torch.float64))
    m.train()
    out = {}
    for t in range(1, steps + 1):
        x, g = inputs(t)
        if t == spike_step:
            x = x * 30
        x.requires_grad_(True)
        m.weight.grad = None
        y = m(x)
        (y * g).sum().backward()
        if t in record:
            out[f"{name}_y_{t}"] = y.detach().clone()
            out[f"{name}_dx_{t}"] = x.grad.detach().clone()
            out[f"{name}_dweight_{t}"] = m.weight.grad.detach().clone()
    for key in ["running_var", "ema_gz", "buffer_x2", "buffer_gz"]:
        out[f"{name}_{key}"] = getattr(m, key).detach().clone()
    out[f"{name}_skip_counter"] = m.skip_counter.clone()
    return out


trace = {}
trace.update(run("plain", 1006, set(range(1, 9)) | set(range(999, 1007)), filtration=False))
trace.update(run("filtered", 12, set(range(1, 13)), filtration=True, spike_step=9))
torch.save(trace, "unified_norm_trace.pt")
print({k: tuple(v.shape) for k, v in trace.items() if not k.startswith(("plain_y", "plain_dx", "plain_dw", "filtered_y", "filtered_dx", "filtered_dw"))})
print("skips:", int(trace["filtered_skip_counter"]))
