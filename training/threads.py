"""Torch's thread count, set without importing torch before it is needed.

The modules that call these (the scan's scoring steps, a service worker) load in the
Dagster code location and BentoML workers at start-up; torch (about 3 s) loads only when a
model scores."""

from collections.abc import Iterator
from contextlib import contextmanager


def set_threads(n: int) -> int:
    """Torch's intra-op threads for this process; returns the number before."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    return before


@contextmanager
def one_thread() -> Iterator[None]:
    """Torch on one thread while scoring bars one at a time (a service worker sets it for
    good; the scan's scoring steps for their duration). A bar is little work, and torch's
    thread pool, spinning against the other processes busy on the same cores, stalled
    scoring by 1-2 s (p99) instead of about 60 ms (docs/BENCHMARKS.md)."""
    before = set_threads(1)
    try:
        yield
    finally:
        set_threads(before)
