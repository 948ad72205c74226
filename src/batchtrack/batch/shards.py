"""Shards: the k-th of N slices of a stack, for job arrays with no live scheduler."""

from __future__ import annotations

from collections.abc import Sequence

from ..errors import ParameterError
from .recordings import group_units
from .stack import Entry

__all__ = ["parse_shard", "select_shard"]


def parse_shard(text: str) -> tuple[int, int]:
    """Parse ``k/N`` (1 ≤ k ≤ N)."""
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        k = n = 0
    if not 1 <= k <= n:
        raise ParameterError(f"shard must be k/N with 1 ≤ k ≤ N (e.g. 2/10), got {text!r}")
    return k, n


def select_shard(entries: Sequence[Entry], shard: tuple[int, int] | None) -> list[Entry]:
    """The k-th of N interleaved slices of the stack (entries k, k+N, k+2N…, 1-based).

    The files of a recording count as one entry (at the place of its first file): a shard
    takes a recording whole.
    """
    if shard is None:
        return list(entries)
    k, n = shard
    units = group_units(entries)
    return [entry for i, unit in enumerate(units) if i % n == k - 1 for entry in unit]
