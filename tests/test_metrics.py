"""Metric definitions, checked against values computed by hand."""

from __future__ import annotations

import pytest

from workbench.metrics import FieldScore, cohen_kappa, exact, number_counts, token_f1
from workbench.metrics import normalise_for_comparison as normalise


def test_normalise_case_space_and_punctuation_but_not_decimals():
    assert normalise("  4.5x Faster, (wall-clock)! ") == "4.5x faster wall clock"
    assert normalise("Up to 65.5% less.") == "up to 65.5% less"
    assert normalise("  ...  ") is None and normalise(None) is None
    assert exact("GaLore,  a training strategy", "galore a training strategy")


def test_token_f1_by_hand():
    # prediction 3 tokens, reference 5, 3 in common: P = 1, R = 3/5, F1 = 2*0.6/1.6 = 0.75
    assert token_f1("4.5x faster training", "training 4.5x faster on GPUs") == pytest.approx(0.75)
    assert token_f1(None, None) == 1.0
    assert token_f1("something", None) == 0.0 and token_f1(None, "something") == 0.0
    assert token_f1("a b", "c d") == 0.0


def test_number_recall_counts_the_human_numbers_found():
    assert number_counts("2.5x and 30%", "2.5x, 30% and 7B") == (2, 3)
    assert number_counts("no numbers", "none either") == (0, 0)


def test_cohen_kappa_by_hand():
    # observed 3/4; marginals a: 2/4 vs 1/4, b: 2/4 vs 3/4 -> expected (2*1 + 2*3)/16 = 0.5; kappa = 0.25/0.5
    assert cohen_kappa([("a", "a"), ("a", "b"), ("b", "b"), ("b", "b")]) == pytest.approx(0.5)
    identical = [("accepted", "accepted"), ("edited", "edited"), ("rejected", "rejected")]
    assert cohen_kappa(identical) == 1.0
    assert cohen_kappa([("accepted", "accepted")] * 4) == 1.0  # one label only, always agreeing
    assert cohen_kappa([]) is None
    # systematic disagreement is worse than chance
    assert cohen_kappa([("a", "b"), ("b", "a")]) == pytest.approx(-1.0)


def test_field_score_edge_cases():
    empty = FieldScore().as_dict(True)
    assert empty == {"exact": None, "token_f1": None, "number_recall": None, "null_agreement": None}
    nulls = FieldScore()
    for _ in range(3):
        nulls.add(None, None)
    assert nulls.as_dict(True) == {"exact": 1.0, "token_f1": 1.0, "number_recall": None, "null_agreement": 1.0}
    mixed = FieldScore()
    mixed.add("4.5x faster", "4.5x faster")  # exact, f1 1, numbers 1/1
    mixed.add(None, "30% less memory")  # not exact, f1 0, numbers 0/1, one null
    mixed.add("2x", None)  # not exact, f1 0, one null
    mixed.add(None, None)  # exact, f1 1, both null
    assert mixed.as_dict(True) == {"exact": 0.5, "token_f1": 0.5, "number_recall": 0.5,
                                   "null_agreement": round(1 / 3, 4)}
