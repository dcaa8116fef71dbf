"""Two-proportion z-test, pure (no SciPy): is variant B's reply rate different from A's?"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class ZTest:
    rate_a: float
    rate_b: float
    difference: float      # rate_b - rate_a
    z: float
    p_value: float         # two-sided

    @property
    def confidence(self) -> float:
        return 1.0 - self.p_value


Z95 = 1.959963984540054  # the standard normal's 97.5th percentile


def wilson(successes: int, trials: int, z: float = Z95) -> tuple[float, float] | None:
    """The Wilson score interval of a proportion (95 % by default); None without trials. Unlike the
    normal approximation it stays within [0, 1] and is honest for small counts and rates near 0 or 1."""
    if trials <= 0:
        return None
    p = successes / trials
    z2 = z * z
    centre = (p + z2 / (2 * trials)) / (1 + z2 / trials)
    half = z * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials)) / (1 + z2 / trials)
    # at 0 or all successes one end is exactly 0 or 1 (the floats miss it by an ulp)
    return (0.0 if successes <= 0 else max(0.0, centre - half)), (1.0 if successes >= trials else min(1.0, centre + half))


def two_proportion_z(success_a: int, total_a: int, success_b: int, total_b: int) -> ZTest | None:
    """None when a side has no trials; p = 1 when both rates are 0 or 1 (no variance, no evidence)."""
    if total_a <= 0 or total_b <= 0:
        return None
    pa, pb = success_a / total_a, success_b / total_b
    pooled = (success_a + success_b) / (total_a + total_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / total_a + 1 / total_b))
    if se == 0:
        return ZTest(pa, pb, pb - pa, 0.0, 1.0)
    z = (pb - pa) / se
    return ZTest(pa, pb, pb - pa, z, math.erfc(abs(z) / math.sqrt(2)))
