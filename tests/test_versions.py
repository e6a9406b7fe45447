"""Versioned decisions: a write based on a version that is no longer current is a conflict, never an overwrite."""

from __future__ import annotations

import asyncio

import pytest

from workbench.db import open_db
from workbench.errors import Conflict
from workbench.models import get_model
from workbench.prompts import resolve_prompt
from workbench.review import ReviewSession, SuggestionFeed
from workbench.store import Decision, decide, get_annotation, set_flag, undo_last
from workbench.suggest import run_suggestions


BOTH_BACKENDS = True  # the store's contract: every test here runs on SQLite and on PostgreSQL


def _events(db) -> int:
    return db.execute("SELECT count(*) FROM events").fetchone()[0]


def test_a_decision_based_on_a_stale_version_is_a_conflict_and_writes_nothing(seeded_db):
    pid = seeded_db.execute("SELECT id FROM papers ORDER BY seq").fetchone()[0]
    first = decide(seeded_db, Decision(pid, "ana", "edited", {"technique": "mine"}))
    assert first.version == 1
    with pytest.raises(Conflict) as caught:
        decide(seeded_db, Decision(pid, "ana", "accepted", {"technique": "theirs"}))  # based on "none existed"
    assert caught.value.stored.values["technique"] == "mine"
    assert caught.value.attempted.values["technique"] == "theirs"
    assert get_annotation(seeded_db, pid, "ana").values["technique"] == "mine"
    assert _events(seeded_db) == 1
    second = decide(seeded_db, Decision(pid, "ana", "accepted", {"technique": "theirs"}, based_on=first.version))
    assert second.version == 2 and get_annotation(seeded_db, pid, "ana").values["technique"] == "theirs"


def test_flag_and_undo_are_versioned_too(seeded_db):
    pid = seeded_db.execute("SELECT id FROM papers ORDER BY seq").fetchone()[0]
    row = decide(seeded_db, Decision(pid, "ana", "edited", {"technique": "mine"}))
    with pytest.raises(Conflict):
        set_flag(seeded_db, pid, "ana", True, based_on=None)
    flagged = set_flag(seeded_db, pid, "ana", True, based_on=row.version)
    assert flagged.version == 2 and flagged.flagged
    assert undo_last(seeded_db, "ana") == pid
    restored = get_annotation(seeded_db, pid, "ana")
    assert not restored.flagged and restored.values["technique"] == "mine" and restored.version == 3


@pytest.fixture
def two_windows(seeded_db, db_path):
    model, prompt = get_model("offline"), resolve_prompt("summary")
    asyncio.run(run_suggestions(seeded_db, prompt, model, limit=3))
    other_db = open_db(db_path)
    one = ReviewSession(seeded_db, "ana", SuggestionFeed(seeded_db, prompt, model))
    two = ReviewSession(other_db, "ana", SuggestionFeed(other_db, prompt, model))
    yield one, two
    other_db.close()


def test_two_windows_an_accept_in_the_stale_one_does_not_replace_the_edit(two_windows):
    one, two = two_windows
    shown_one, shown_two = one.view(), two.view()
    assert shown_one.paper.id == shown_two.paper.id and not shown_two.decided
    one.save_fields({"technique": "ana's own words", "claimed_gain": None, "compute": None}, shown_one.suggestion,
                    None)
    with pytest.raises(Conflict) as caught:
        two.accept(shown_two.suggestion)
    stored = get_annotation(one.db, shown_one.paper.id, "ana")
    assert stored.status == "edited" and stored.values["technique"] == "ana's own words"
    assert caught.value.stored.values["technique"] == "ana's own words"
    assert caught.value.attempted.status == "accepted"
    # The session reloaded the paper: what it shows now is the stored edit, and a write based on it goes in.
    again = two.view()
    assert again.annotation.values["technique"] == "ana's own words"
    two.keep_mine(caught.value)
    assert get_annotation(one.db, shown_one.paper.id, "ana").status == "accepted"


def test_two_windows_a_flag_toggles_what_is_stored_and_never_moves_the_base_of_a_decision(two_windows):
    """A flag is a marker: `f` toggles the stored flag, whoever set it (a refusal made `f` fail for good until
    the reviewer left the paper). The base of the next decision moves only while the decision is the one
    seen: after a decision elsewhere, `f` works and a decision still conflicts."""
    one, two = two_windows
    shown_two = two.view()
    one.view()
    assert one.toggle_flag() is True
    assert two.toggle_flag() is False  # what is stored now: flagged by window one, so this unflags
    assert not get_annotation(one.db, one.current_id, "ana").flagged
    assert two.toggle_flag() is True
    one.reject(None)  # a decision elsewhere
    assert two.toggle_flag() is False  # the flag still toggles ...
    with pytest.raises(Conflict):  # ... and the accept shown before the rejection is still a conflict
        two.accept(shown_two.suggestion)
    assert get_annotation(one.db, one.current_id, "ana").status == "rejected"


def test_two_windows_the_same_accept_in_both_is_no_conflict_and_writes_once(two_windows):
    """Window one accepted; window two, still showing the paper, accepts the same suggestion: they say the
    same thing, so there is nothing to choose between and no dialog; one decision and one event are stored."""
    one, two = two_windows
    shown_one, shown_two = one.view(), two.view()
    first = one.accept(shown_one.suggestion)
    events = _events(one.db)
    second = two.accept(shown_two.suggestion)
    assert second.version == first.version and _events(one.db) == events
    assert get_annotation(one.db, shown_one.paper.id, "ana").status == "accepted"
    # The next write of window two is based on the stored decision: an edit goes in without a conflict.
    two.save_fields({"technique": "two's words", "claimed_gain": None, "compute": None}, shown_two.suggestion, None)
    assert get_annotation(one.db, shown_one.paper.id, "ana").values["technique"] == "two's words"


def test_two_windows_a_different_decision_is_still_a_conflict(two_windows):
    one, two = two_windows
    shown_one, shown_two = one.view(), two.view()
    one.reject(shown_one.suggestion)
    with pytest.raises(Conflict):
        two.accept(shown_two.suggestion)
    assert get_annotation(one.db, shown_one.paper.id, "ana").status == "rejected"


def test_the_same_values_from_another_suggestion_are_another_decision():
    """`says_the_same` (no dialog between two windows) holds only when the decision started from the same
    suggestion too: the same values accepted from model Y's suggestion are not model X's accept."""
    from workbench.records import AnnotationRow

    def row(suggestion_id, **extra):
        return AnnotationRow("p1", "ana", "accepted", False, {"technique": "T"}, suggestion_id=suggestion_id, **extra)

    assert row("x").says_the_same(row("x"))
    assert not row("x").says_the_same(row("y"))
    assert not row("x").says_the_same(row("x", field_sources={"technique": "suggestion:y"}))
    undecided = AnnotationRow("p1", "ana", None, True, {}, suggestion_id="x")  # only flagged: not a decision
    assert not undecided.says_the_same(undecided)
