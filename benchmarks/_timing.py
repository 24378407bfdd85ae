"""Interleaved wall-clock timing for the benchmarks (no third-party dependencies).

Every contender is a callable plus its arguments.  Measuring works in rounds:
in each round every contender runs one batch of `number` calls, in an order
that rotates from round to round, so slow drift of the machine (frequency
scaling, other processes, cache state) is spread over all contenders instead
of landing on whichever ran last.  A batch's time divided by its `number`
is one sample; we report the median and the minimum of the samples.

The batch size is calibrated per contender so that one batch lasts about
`batch_seconds`; the garbage collector is off while a batch runs (as in
`timeit`), and re-enabled between batches.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Contender:
    """A callable to time, with the positional arguments it is called with."""

    name: str
    fn: Callable[..., Any]
    args: Sequence[Any] = ()


@dataclass
class Stats:
    """Per-call times, in seconds, of one contender (one sample per round)."""

    name: str
    number: int
    samples: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def best(self) -> float:
        return min(self.samples)

    def as_dict(self) -> dict[str, Any]:
        return {
            "median_us": self.median * 1e6,
            "min_us": self.best * 1e6,
            "calls_per_round": self.number,
            "rounds": len(self.samples),
            "samples_us": [s * 1e6 for s in self.samples],
        }


def _batch(fn: Callable[..., Any], args: Sequence[Any], number: int) -> float:
    """Seconds taken by `number` calls of fn(*args), with the collector paused."""
    loop = range(number)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for _ in loop:
            fn(*args)
        return time.perf_counter() - start
    finally:
        if was_enabled:
            gc.enable()


def calibrate(
    fn: Callable[..., Any], args: Sequence[Any], batch_seconds: float, max_number: int = 1_000_000
) -> int:
    """How many calls make one batch last about `batch_seconds` (at least one)."""
    fn(*args)  # warm caches (and any lazy compilation) outside the measurement
    number = 1
    while True:
        elapsed = _batch(fn, args, number)
        if elapsed >= batch_seconds / 4 or number >= max_number:
            break
        number *= 4 if elapsed < batch_seconds / 40 else 2
    per_call = elapsed / number
    return max(1, min(max_number, round(batch_seconds / per_call)))


def measure(contenders: Sequence[Contender], rounds: int, batch_seconds: float) -> dict[str, Stats]:
    """Time every contender in `rounds` interleaved rounds; returns Stats by name."""
    numbers = {c.name: calibrate(c.fn, c.args, batch_seconds) for c in contenders}
    stats = {c.name: Stats(c.name, numbers[c.name]) for c in contenders}
    k = len(contenders)
    for r in range(rounds):
        shift = r % k
        order = list(contenders[shift:]) + list(contenders[:shift])
        if (r // k) % 2:  # alternate direction too, so no pair always runs in the same order
            order.reverse()
        for c in order:
            n = numbers[c.name]
            stats[c.name].samples.append(_batch(c.fn, c.args, n) / n)
    return stats


def round_options(description: str) -> argparse.ArgumentParser:
    """A command line with the options of every interleaved benchmark: --quick and
    --rounds (see `rounds_of`); a script adds its own."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="few short rounds")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 201)")
    return parser


def rounds_of(opts: argparse.Namespace) -> int:
    return opts.rounds or (3 if opts.quick else 201)
