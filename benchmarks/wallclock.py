"""Wall-clock timing shared by the benchmark scripts.

Timings on a shared machine drift with its load, so a ratio is only trustworthy between
calls made in the same run; :func:`alternating` goes further and interleaves the calls repeat
by repeat, so that a change of load hits every method alike, and :func:`paired_ratios` gives
the ratio repeat by repeat.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass
class Timing:
    """The wall times (s) of repeated calls of one function and its last result."""

    seconds: list[float]
    result: object

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def best(self) -> float:
        return min(self.seconds)


def timed(function: Callable, repeats: int) -> tuple[float, list[float], object]:
    """Median wall time over ``repeats`` calls, all times, and the last result."""
    timing = alternating({"only": function}, repeats)["only"]
    return timing.median, timing.seconds, timing.result


def alternating(functions: Mapping[str, Callable], repeats: int) -> dict[str, Timing]:
    """Call every function once per repeat, in the given order, ``repeats`` times.

    Returns
    -------
    dict
        Name -> :class:`Timing` (``repeats`` wall times, in repeat order).
    """
    timings = {name: Timing([], None) for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            result = function()
            timings[name].seconds.append(time.perf_counter() - start)
            timings[name].result = result
    return timings


def paired_ratios(slower: Timing, faster: Timing) -> dict:
    """``slower / faster`` repeat by repeat (both from one :func:`alternating` call).

    Returns the ratios and their median, minimum and maximum, and the ratio of the medians.
    """
    ratios = [a / b for a, b in zip(slower.seconds, faster.seconds, strict=True)]
    return {
        "ratios": ratios,
        "median": statistics.median(ratios),
        "min": min(ratios),
        "max": max(ratios),
        "of_medians": slower.median / faster.median,
    }
