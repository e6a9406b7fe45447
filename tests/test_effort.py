"""Edit effort (workbench/effort.py): the distance's properties, and decisions' effort on hand-computed cases."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.effort import EffortTally, decision_effort, edit_distance, lcs_length, saved

# A small alphabet makes shared characters (and so long common subsequences) likely.
TEXT = st.text(alphabet="abcx% 1.é𝛢", max_size=40)


def _lcs_table(a: str, b: str) -> int:
    """The textbook O(n·m) table, to hold the bit-parallel one to."""
    row = [0] * (len(b) + 1)
    for ch in a:
        previous = 0
        for j, other in enumerate(b, 1):
            previous, row[j] = row[j], previous + 1 if ch == other else max(row[j], row[j - 1])
    return row[-1]


@given(TEXT, TEXT)
def test_lcs_is_the_table_s(a, b):
    assert lcs_length(a, b) == _lcs_table(a, b)


@given(TEXT)
def test_identical_costs_nothing_and_from_empty_costs_its_length(a):
    assert edit_distance(a, a) == 0
    assert edit_distance("", a) == len(a) == edit_distance(a, "")
    assert edit_distance(None, a) == len(a)


@given(TEXT, TEXT)
def test_symmetric_and_bounded(a, b):
    d = edit_distance(a, b)
    assert d == edit_distance(b, a)
    assert abs(len(a) - len(b)) <= d <= len(a) + len(b)
    assert (d == 0) == (a == b)
    assert (len(a) + len(b) - d) % 2 == 0  # what is kept counts on both sides


@given(TEXT, TEXT, TEXT)
def test_triangle_inequality(a, b, c):
    assert edit_distance(a, c) <= edit_distance(a, b) + edit_distance(b, c)


@settings(max_examples=50)
@given(TEXT, TEXT)
def test_saved_is_between_0_and_1(a, b):
    one = decision_effort({"technique": a, "claimed_gain": None, "compute": None},
                          {"technique": b, "claimed_gain": None, "compute": None}, "edited")
    assert 0.0 <= one.saved <= 1.0
    assert one.fields["technique"].typed == edit_distance(a, b)


def test_hand_computed_distances():
    assert edit_distance("kitten", "sitting") == 5  # k->s: 2, e->i: 2, +g: 1 (no substitutions)
    assert edit_distance("2x faster", "2.1x faster") == 2
    assert edit_distance("abc", "xyz") == 6
    assert edit_distance("LoRA", "low-rank adaptation (LoRA)") == 22


def test_an_oversized_text_is_bounded_in_time_and_in_value():
    started = time.perf_counter()
    around = "p" * 25_000, "s" * 25_000  # shared ends come off first: only "abc" and "axc" are compared
    assert edit_distance(around[0] + "abc" + around[1], around[0] + "axc" + around[1]) == 2
    # Above the cap nothing shared is assumed: an upper bound (the true distance is 2 here).
    assert edit_distance("a" * 30_000 + "b", "b" + "a" * 30_000) == 60_002
    assert time.perf_counter() - started < 2


def test_the_rules_for_nothing_to_type_and_for_a_rejection():
    assert saved(0, 0) == 1.0  # null kept from a null suggestion: nothing to type, nothing typed
    assert saved(5, 0) == 0.0  # a suggested value cleared to null
    assert saved(3, 12) == 0.75
    assert saved(30, 12) == 0.0  # worse than typing it fresh: saved nothing, not a negative figure
    assert saved(0, 12, from_scratch=True) == 0.0


def test_a_decision_hand_computed():
    suggested = {"technique": "LoRA adapters", "claimed_gain": "2x faster", "compute": None}
    final = {"technique": "LoRA adapters", "claimed_gain": "2.5x faster", "compute": "8 GPUs"}
    effort = decision_effort(suggested, final, "edited")
    assert [effort.fields[f].typed for f in ("technique", "claimed_gain", "compute")] == [0, 2, 6]
    assert [effort.fields[f].scratch for f in ("technique", "claimed_gain", "compute")] == [13, 11, 6]
    assert effort.fields["claimed_gain"].saved == pytest.approx(1 - 2 / 11)
    assert effort.fields["compute"].saved == 0.0
    assert effort.typed == 8 and effort.scratch == 30
    assert effort.saved == pytest.approx(1 - 8 / 30)
    assert not effort.as_is


def test_rejected_and_unsuggested_decisions_count_as_typing_from_scratch():
    rejected = decision_effort({"technique": "x", "claimed_gain": None, "compute": None},
                               {"technique": None, "claimed_gain": None, "compute": None}, "rejected")
    assert rejected.saved == 0.0 and not rejected.as_is and rejected.typed == 0
    fresh = decision_effort(None, {"technique": "abc", "claimed_gain": None, "compute": None}, "edited")
    assert fresh.typed == fresh.scratch == 3 and fresh.saved == 0.0
    assert fresh.fields["claimed_gain"].saved == 0.0  # nothing to type, but nothing was suggested either


def test_a_tally_hand_computed():
    tally = EffortTally()
    nothing = {"technique": None, "claimed_gain": None, "compute": None}
    tally.add(decision_effort({"technique": "ab", "claimed_gain": None, "compute": None},
                              {"technique": "ab", "claimed_gain": None, "compute": None}, "accepted"))  # saved 1
    tally.add(decision_effort({"technique": "ab", "claimed_gain": None, "compute": None},
                              {"technique": "abcd", "claimed_gain": None, "compute": None}, "edited"))  # 1 - 2/4
    tally.add(decision_effort({"technique": "ab", "claimed_gain": "x", "compute": None}, nothing, "rejected"))  # 0
    result = tally.as_dict()
    assert result == {"decisions": 3, "accepted_as_is": round(1 / 3, 4), "saved": 0.5,
                      "fields": {"technique": 0.5, "claimed_gain": round(2 / 3, 4), "compute": round(2 / 3, 4)},
                      "typed_chars": 2, "scratch_chars": 6}
    assert EffortTally().as_dict()["saved"] is None


def test_compute_recall_counts_each_number_of_the_gold_compute():
    from workbench.gold import Gold, Quality

    quality = Quality()
    values = lambda compute: {"technique": "t", "claimed_gain": None, "compute": compute}  # noqa: E731
    quality.add(Gold("p1", "t", (), "t", None, "8 GPUs; 300B tokens"), "t", values("8 A100 GPUs"))  # 1 of 2
    quality.add(Gold("p2", "t", (), "t", None, "a single GPU"), "t", values("one GPU"))  # no number: not counted
    quality.add(Gold("p3", "t", (), "t", None, "1.3B parameters"), "t", values(None))  # 0 of 1
    quality.add(Gold("p4", "t", (), "t", None, None), "t", values("8 GPUs"))  # no gold compute: not counted
    assert (quality.compute_numbers, quality.compute_carried, quality.compute_recall) == (3, 1, 1 / 3)
