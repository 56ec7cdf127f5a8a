// SPDX-License-Identifier: MIT
// libtorch keeps global state (RNG, thread count, autograd mode); tests that touch it must not interleave.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
