"""Chance-corrected agreement of any number of raters on nominal labels, with missing ratings. Stdlib only.

Written from the published formulas (the `krippendorff` package is GPL-3.0; this project is MIT):
- Krippendorff's alpha (Krippendorff 2011, "Computing Krippendorff's Alpha-Reliability"): from the
  coincidence matrix of the pairable values, alpha = 1 - (N - 1) * D_o / D_e, with
  D_o = sum over units u of (r_u^2 - sum_c n_uc^2) / (r_u - 1) and D_e = N^2 - sum_c n_c^2.
  Only units with two or more ratings count.
- Gwet's AC1 (Gwet 2008; Handbook of Inter-Rater Reliability, 4th ed., 2014): p_a over the units
  rated twice or more, p_e = sum_k pi_k (1 - pi_k) / (q - 1) over the q categories.
- AC1's standard error is Gwet's (2014) linearised variance over units (what his irrCAC package
  prints), and its confidence interval is AC1 +- t(0.975, n - 1) * stderr, capped at 1. Alpha gets
  none: Krippendorff's own interval is a bootstrap, and the published linearised variances of alpha
  differ between irrCAC versions, so there is no single figure to check one against.

A unit is one item (a paper); its ratings are the labels of the raters who rated it (a rater who
did not is simply absent). `categories` names labels nobody used (AC1's q counts them).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from typing import Hashable, Iterable, Sequence

Units = Sequence[Sequence[Hashable]]


@dataclass(frozen=True)
class Coefficient:
    """One agreement coefficient; `value` None when it is not defined (no unit rated twice, or, for
    alpha, one label only: no variation to agree on)."""

    value: float | None
    stderr: float | None
    low: float | None
    high: float | None
    units: int  # units rated by two or more raters: what the coefficient is computed on
    observed: float | None = None  # p_a
    chance: float | None = None  # p_e

    def as_dict(self) -> dict:
        r = lambda v: None if v is None else round(v, 4)  # noqa: E731
        return {"value": r(self.value), "stderr": r(self.stderr), "ci95": None if self.low is None else
                [r(self.low), r(self.high)], "units": self.units, "observed": r(self.observed),
                "chance": r(self.chance)}


def _undefined(units: int, observed: float | None = None, chance: float | None = None) -> Coefficient:
    return Coefficient(None, None, None, None, units, observed, chance)


def _interval(value: float, variance: float | None, n: int) -> tuple[float | None, float | None, float | None]:
    if variance is None or n < 2:
        return None, None, None
    stderr = math.sqrt(max(variance, 0.0))
    half = stderr * t_quantile(0.975, n - 1)
    return stderr, value - half, min(1.0, value + half)


def krippendorff_alpha(units: Units) -> Coefficient:
    """Krippendorff's alpha for nominal labels (no interval: see the module's note)."""
    rows = [Counter(u) for u in units if len(u) >= 2]
    n = len(rows)
    if n == 0:
        return _undefined(0)
    sizes = [sum(row.values()) for row in rows]
    totals: Counter = Counter()
    for row in rows:
        totals.update(row)
    big_n = sum(sizes)
    totals_sq = sum(c * c for c in totals.values())
    expected = big_n * big_n - totals_sq
    observed_disagreement = sum((r * r - sum(c * c for c in row.values())) / (r - 1) for row, r in zip(rows, sizes))
    observed = 1 - observed_disagreement / big_n  # share of agreeing pairable pairs (Krippendorff's p_a)
    chance = totals_sq / (big_n * big_n)
    if expected == 0:  # every rating the same label: nothing to be reliable about
        return _undefined(n, observed, chance)
    alpha = 1 - (big_n - 1) * observed_disagreement / expected
    return Coefficient(alpha, None, None, None, n, observed, chance)


def gwet_ac1(units: Units, categories: Iterable[Hashable] = ()) -> Coefficient:
    """Gwet's AC1 for nominal labels, with its standard error (Gwet 2014, raw ratings)."""
    rows = [Counter(u) for u in units if len(u) >= 1]
    labels = set(categories) | {k for row in rows for k in row}
    q, n = len(labels), len(rows)
    sizes = [sum(row.values()) for row in rows]
    multi = sum(r >= 2 for r in sizes)
    if multi == 0:
        return _undefined(0)
    agree = [sum(c * (c - 1) for c in row.values()) / (r * (r - 1)) if r >= 2 else 0.0 for row, r in zip(rows, sizes)]
    observed = sum(agree) / multi
    pi = {k: sum(row[k] / r for row, r in zip(rows, sizes)) / n for k in labels}
    chance = sum(p * (1 - p) for p in pi.values()) / (q - 1) if q >= 2 else 0.0
    ac1 = (observed - chance) / (1 - chance)
    spread = []
    for row, r, a in zip(rows, sizes, agree):
        ac1_i = (n / multi) * (a - (chance if r >= 2 else 0.0)) / (1 - chance)
        chance_i = (sum(c * (1 - pi[k]) for k, c in row.items()) / (q - 1) / r) if q >= 2 else 0.0
        x_i = ac1_i - 2 * (1 - ac1) * (chance_i - chance) / (1 - chance)
        spread.append((x_i - ac1) ** 2)
    variance = sum(spread) / (n * (n - 1)) if n >= 2 else None
    stderr, low, high = _interval(ac1, variance, n)
    return Coefficient(ac1, stderr, low, high, multi, observed, chance)


# --------------------------------------------------------------------------- Student's t


def _beta_fraction(a: float, b: float, x: float) -> float:
    """The continued fraction of the regularised incomplete beta function (modified Lentz)."""
    tiny, c, d = 1e-300, 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 300):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1 + numerator * d
            d = 1 / (d if abs(d) > tiny else tiny)
            c = 1 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1) < 1e-14:
            break
    return result


def _incomplete_beta(a: float, b: float, x: float) -> float:
    if x <= 0 or x >= 1:
        return 0.0 if x <= 0 else 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log(1 - x))
    if x < (a + 1) / (a + b + 2):
        return front * _beta_fraction(a, b, x) / a
    return 1 - front * _beta_fraction(b, a, 1 - x) / b


def t_cdf(t: float, df: float) -> float:
    tail = 0.5 * _incomplete_beta(df / 2, 0.5, df / (df + t * t))
    return 1 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The p-quantile of Student's t with df degrees of freedom (bisection on the CDF)."""
    low, high = -1e3, 1e3
    for _ in range(200):
        middle = (low + high) / 2
        if t_cdf(middle, df) < p:
            low = middle
        else:
            high = middle
    return (low + high) / 2
