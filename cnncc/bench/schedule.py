"""When each contender runs: alternating blocks with a pause between turns.

Peers run the way their users run them, onnxruntime's intra-op pool spinning included. Two
runtimes that run one call each in turn (A B A B ...) would then time each other's threads:
a pool left spinning after its own call takes the cores of the call that follows. So each
contender gets a turn of several calls in a row, the turns are separated by a pause long
enough for any pool to go idle, and the order of the turns flips every block
(A B | B A | A B ...) so that neither always follows the other:

    per block, for each contender in turn:
        pause (not before the very first turn), 1 untimed warm call, 5 timed calls

Every contender gets the same number of timed calls; ``--repeat`` is that number, in blocks
of ``runs_per_block`` (the last block takes what is left).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Schedule:
    runs_per_block: int = 5  # timed calls per contender and block
    warm_per_block: int = 1  # untimed calls at the start of each turn (caches, a parked pool)
    pause_s: float = 0.1  # between turns: a spinning pool gives its cores back well within this

    def block_sizes(self, repeat: int) -> list[int]:
        """Timed calls per block for ``repeat`` timed calls in all."""
        full, rest = divmod(repeat, self.runs_per_block)
        return [self.runs_per_block] * full + ([rest] if rest else [])


def turn_order(count: int, block: int) -> list[int]:
    """Contender indices in the order they run in ``block``: forwards, then backwards."""
    order = list(range(count))
    return order if block % 2 == 0 else order[::-1]


def run_blocks(
    runs: Sequence[Callable[[], object]],
    repeat: int,
    schedule: Schedule = Schedule(),
    warmup: int = 0,
    min_time_s: float | None = None,
    clock: Callable[[], float] = time.perf_counter,
    sleep: Callable[[float], None] = time.sleep,
    on_block: Callable[[int, int], None] | None = None,
) -> list[list[float]]:
    """Time each of ``runs`` (callables computing the model once) and return, per run, the
    seconds of each timed call. ``warmup`` untimed calls of each come first. Without
    ``min_time_s`` there are exactly ``repeat`` timed calls each; with it, full blocks until
    every contender has had at least 5 calls and ``min_time_s`` seconds went by per contender.
    ``on_block(block, timed_calls_in_block)`` after each block."""
    times: list[list[float]] = [[] for _ in runs]
    for run in runs:
        for _ in range(warmup):
            run()
    if not runs:
        return times
    sizes = schedule.block_sizes(repeat) if min_time_s is None else None
    started = clock()
    block = 0
    turns = 0
    while True:
        size = sizes[block] if sizes is not None else schedule.runs_per_block
        for i in turn_order(len(runs), block):
            if turns and len(runs) > 1:
                sleep(schedule.pause_s)
            turns += 1
            run = runs[i]
            for _ in range(schedule.warm_per_block):
                run()
            for _ in range(size):
                t0 = clock()
                run()
                times[i].append(clock() - t0)
        block += 1
        if on_block:
            on_block(block, size)
        if sizes is not None:
            if block >= len(sizes):
                break
        elif len(times[0]) >= 5 and clock() - started >= min_time_s * len(runs):
            break
    return times
