# SPDX-License-Identifier: MIT
# Writes batchnorm2d_state.pt and batchnorm2d_io.pt, read by BatchNormTests. Made with PyTorch 1.13 (Debian's python3-torch):
#   /usr/bin/python3 batchnorm2d.py
# batchnorm2d_state.pt: torch.save(m.state_dict()) of a BatchNorm2d(4) with non-trivial γ, β after three training steps
#   (num_batches_tracked = 3).
# batchnorm2d_io.pt: a test input [2, 4, 3, 5], the module's eval output on it, then its training output and the state after
#   that fourth training step (num_batches_tracked = 4).
import torch

torch.manual_seed(20240607)
m = torch.nn.BatchNorm2d(4)
with torch.no_grad():
    m.weight.copy_(torch.randn(4) * 0.5 + 1)
    m.bias.copy_(torch.randn(4) * 0.3)
m.train()
for step in range(3):
    m(torch.randn(5, 4, 3, 2) * (1 + step) + step)
torch.save(m.state_dict(), "batchnorm2d_state.pt")

x = torch.randn(2, 4, 3, 5) * 2 + 1
with torch.no_grad():
    m.eval()
    eval_output = m(x)
    m.train()
    train_output = m(x)
torch.save({
    "input": x,
    "eval_output": eval_output,
    "train_output": train_output,
    "running_mean": m.running_mean.clone(),
    "running_var": m.running_var.clone(),
    "num_batches_tracked": m.num_batches_tracked.clone(),
}, "batchnorm2d_io.pt")
