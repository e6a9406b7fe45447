"""Krippendorff's alpha and Gwet's AC1 against published worked examples (workbench/reliability.py)."""

from __future__ import annotations

import pytest

from workbench.reliability import gwet_ac1, krippendorff_alpha, t_quantile

N = None
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the nominal example with missing
# data: 4 observers, 12 units (a row per unit, None: not rated). The same data are Gwet's Handbook
# (2014, p. 120) example, `cac.raw4raters` in his irrCAC package.
KRIPPENDORFF_2011 = [
    [1, 1, N, 1], [2, 2, 3, 2], [3, 3, 3, 3], [3, 3, 3, 3], [2, 2, 2, 2], [1, 2, 3, 4],
    [4, 4, 4, 4], [1, 1, 2, 1], [2, 2, 2, 2], [N, 5, 5, 5], [N, N, 1, 1], [N, N, 3, N],
]
# Fleiss (1971) as Gwet's irrCAC ships it (`distrib.6raters`): 6 raters, 15 subjects, 5 categories;
# each row counts the raters per category.
FLEISS_1971 = [
    [0, 0, 0, 6, 0], [0, 3, 0, 0, 3], [0, 1, 4, 0, 1], [0, 0, 0, 0, 6], [0, 3, 0, 3, 0],
    [2, 0, 4, 0, 0], [0, 0, 4, 0, 2], [2, 0, 3, 1, 0], [2, 0, 0, 4, 0], [0, 0, 0, 0, 6],
    [1, 0, 0, 5, 0], [1, 1, 0, 4, 0], [0, 3, 3, 0, 0], [1, 0, 0, 5, 0], [0, 2, 0, 3, 1],
]
# Two abstractors, 3x3 contingency table (`cont3x3abstractors` in irrCAC).
ABSTRACTORS = [[13, 0, 0], [0, 20, 7], [0, 4, 56]]


def _rated(rows):
    return [[label for label in row if label is not None] for row in rows]


def _from_counts(rows):
    return [[k for k, count in enumerate(row) for _ in range(count)] for row in rows]


def _from_table(table):
    return [[i, j] for i, row in enumerate(table) for j, count in enumerate(row) for _ in range(count)]


def test_krippendorffs_nominal_example_with_missing_data_is_0_743():
    alpha = krippendorff_alpha(_rated(KRIPPENDORFF_2011))
    assert round(alpha.value, 3) == 0.743 and round(alpha.value, 5) == 0.74342  # irrCAC prints 0.74342
    assert alpha.units == 11  # unit 12 has one value: not pairable
    assert (alpha.stderr, alpha.low, alpha.high) == (None, None, None)


def test_alpha_matches_irrcac_on_fleiss_and_on_two_raters():
    assert round(krippendorff_alpha(_from_counts(FLEISS_1971)).value, 7) == 0.4204384
    assert round(krippendorff_alpha(_from_table(ABSTRACTORS)).value, 7) == 0.7972585


def test_gwet_ac1_on_the_handbook_example_with_its_interval():
    ac1 = gwet_ac1(_rated(KRIPPENDORFF_2011))
    # irrCAC: pa 0.8181818, pe 0.1903212, AC1 0.77544, se 0.14295, 95% CI (0.461, 1)
    assert (round(ac1.observed, 7), round(ac1.chance, 7)) == (0.8181818, 0.1903212)
    assert (round(ac1.value, 5), round(ac1.stderr, 5)) == (0.77544, 0.14295)
    assert (round(ac1.low, 3), ac1.high) == (0.461, 1.0)


def test_gwet_ac1_on_fleiss_six_raters():
    ac1 = gwet_ac1(_from_counts(FLEISS_1971))
    # irrCAC gwet.ac1.dist: AC1 0.4448007, se 0.08418757, CI (0.264, 0.625), pa 0.5511111, pe 0.1914815
    assert (round(ac1.value, 7), round(ac1.stderr, 8)) == (0.4448007, 0.08418757)
    assert (round(ac1.low, 3), round(ac1.high, 3)) == (0.264, 0.625)
    assert (round(ac1.observed, 7), round(ac1.chance, 7)) == (0.5511111, 0.1914815)


def test_gwet_ac1_for_two_raters_matches_the_table_version():
    assert round(gwet_ac1(_from_table(ABSTRACTORS)).value, 7) == 0.8493305


def test_ac1_does_not_collapse_on_skewed_labels_where_alpha_does():
    """The reason the issue asks for AC1: 9 of 10 papers both say "stated", one splits."""
    units = [["stated", "stated"]] * 9 + [["stated", "none"]]
    alpha, ac1 = krippendorff_alpha(units), gwet_ac1(units, categories=("stated", "none"))
    assert round(alpha.value, 6) == 0.0 and round(ac1.value, 4) == 0.8895  # 90% raw agreement either way


def test_unused_categories_count_in_ac1_chance_agreement():
    units = [["a", "a"], ["a", "b"]]
    assert gwet_ac1(units, categories=("c",)).chance < gwet_ac1(units).chance


def test_undefined_cases_say_none_instead_of_dividing_by_zero():
    assert krippendorff_alpha([]).value is None and gwet_ac1([]).value is None
    assert krippendorff_alpha([["x"], ["y"]]).value is None  # nothing pairable
    same = krippendorff_alpha([["x", "x"], ["x", "x"]])
    assert same.value is None and same.units == 2  # one label only: no variation to agree on
    assert gwet_ac1([["x", "x"], ["x", "x"]]).value == 1.0
    one_unit = gwet_ac1([["x", "y"]])
    assert one_unit.stderr is None and one_unit.low is None


@pytest.mark.parametrize(("df", "quantile"), [(1, 12.7062), (10, 2.2281), (14, 2.1448), (1000, 1.9623)])
def test_t_quantiles_match_the_tables(df, quantile):
    assert round(t_quantile(0.975, df), 4) == quantile
