"""Acting cost of the GPT: mean time of one cached `step` (batch 1) early and late in a long
episode. With the key/value cache a step at t costs O(t) attention over cached keys; re-running
the prefix would cost a whole forward, shown for scale.

    python bench/gpt_act_cost.py
"""

from __future__ import annotations

import time

import torch

from memrl.nets.seq.gpt import GPT, KVCache

N_EMBD, MAX_SEQ_LEN, REPEATS = 128, 1501, 200


def advance(model: GPT, t: int) -> KVCache:
    """The cache after t steps of random inputs."""
    state = model.initial_state(1, "cpu")
    for _ in range(t):
        _, state = model.step(torch.randn(1, N_EMBD), state)
    return state


def mean_seconds(fn, repeats: int = REPEATS) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


@torch.no_grad()
def main() -> None:
    torch.manual_seed(0)
    model = GPT(N_EMBD, MAX_SEQ_LEN, n_layer=1, n_head=1).eval()
    x = torch.randn(1, N_EMBD)
    print(
        f"GPT n_embd={N_EMBD} n_layer=1 max_seq_len={MAX_SEQ_LEN} batch=1, "
        f"torch threads={torch.get_num_threads()}"
    )
    for t in (10, 1500):
        state = advance(model, t)  # stepping from the same state rewrites the same slot
        print(f"step at t={t:5d}: {1e6 * mean_seconds(lambda s=state: model.step(x, s)):8.1f} us")
    prefix = torch.randn(1501, 1, N_EMBD)
    print(
        f"forward over 1501 steps (no cache, for scale): "
        f"{1e6 * mean_seconds(lambda: model(prefix), repeats=20):8.1f} us"
    )


if __name__ == "__main__":
    main()
