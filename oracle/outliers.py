"""Robust outlier screening: the modified z-score of Iglewicz and Hoaglin.

For the values x of one device and metric within one window of time (a week by default, see
oracle.readings: over a whole year the seasons would widen the spread until a spike hides in
it):

    M = 0.6745 · (x − median) / MAD,   MAD = median(|x − median|)

and x is an outlier when |M| > 3.5 — the threshold Iglewicz & Hoaglin recommend (B. Iglewicz,
D. C. Hoaglin, "How to Detect and Handle Outliers", ASQC Quality Press, 1993). Median and MAD
are not dragged by the spikes they are looking for, unlike a mean and standard deviation, and
0.6745 makes MAD consistent with σ for normal data.

When more than half the values are identical, MAD is 0; then the mean absolute deviation scaled
by 1.253314 (consistent with σ for normal data) stands in for MAD/0.6745's denominator. When
that is 0 too, every value is the same and none is an outlier. Groups smaller than
`DEFAULT_MIN_SAMPLES` are not screened: a median of a handful of values is no baseline.

Everything is exact Decimal arithmetic on the normalised values, so every node flags the same
readings. The comparison is rearranged to avoid division per value:
|x − median| > threshold × MAD / 0.6745.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

DEFAULT_THRESHOLD = Decimal("3.5")
DEFAULT_MIN_SAMPLES = 10
DEFAULT_WINDOW_S = 7 * 86400
MAD_CONSISTENCY = Decimal("0.6745")
MEANAD_CONSISTENCY = Decimal("1.253314")


def _median(ordered: Sequence[Decimal]) -> Decimal:
    n = len(ordered)
    mid = n // 2
    if n % 2:
        return ordered[mid]
    return (ordered[mid - 1] + ordered[mid]) / 2


def robust_outliers(
    values: Sequence[Decimal],
    threshold: Decimal = DEFAULT_THRESHOLD,
    min_samples: int = DEFAULT_MIN_SAMPLES,
) -> list[tuple[int, str]]:
    """Indices of outliers in `values`, each with a short note of the score's inputs."""
    n = len(values)
    if n < min_samples:
        return []
    median = _median(sorted(values))
    deviations = [abs(v - median) for v in values]
    mad = _median(sorted(deviations))
    if mad:
        limit = threshold * mad / MAD_CONSISTENCY
        basis = f"MAD {mad}"
    else:
        mean_ad = sum(deviations, Decimal(0)) / n
        if not mean_ad:
            return []
        limit = threshold * MEANAD_CONSISTENCY * mean_ad
        basis = f"MAD 0, mean absolute deviation {mean_ad:.6g}"
    return [
        (i, f"{values[i]} is {d} from median {median} ({basis}; limit {limit:.6g})")
        for i, d in enumerate(deviations)
        if d > limit
    ]
