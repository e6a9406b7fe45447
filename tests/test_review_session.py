"""The review session (core, no Textual): queues, resume, decisions, undo, timing."""

from __future__ import annotations

import asyncio

import pytest

from workbench.models import get_model
from workbench.prompts import resolve_prompt
from workbench.review import ActiveKey, ReviewSession
from workbench.store import get_annotation
from workbench.suggest import canonical_params, run_suggestions


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def suggested(seeded_db):
    model, prompt = get_model("offline"), resolve_prompt("summary")
    asyncio.run(run_suggestions(seeded_db, prompt, model, limit=20))
    return seeded_db, ActiveKey(prompt.id, model.name, canonical_params(model, prompt))


def test_todo_queue_resumes_at_the_first_undecided_paper(suggested):
    db, active = suggested
    session = ReviewSession(db, "ana", active)
    first = session.current_id
    session.accept(session.view().suggestion)
    session.move(1)
    session.reject(session.view().suggestion)
    again = ReviewSession(db, "ana", active)
    assert len(again) == 502 and again.current_id not in (first,)
    assert again.decided == 2 and again.counts == {"accepted": 1, "rejected": 1}
    everything = ReviewSession(db, "ana", active, queue="all")
    assert len(everything) == 504 and everything.index == 2  # resumes after the two decided


def test_status_queues(suggested):
    db, active = suggested
    session = ReviewSession(db, "ana", active, queue="all")
    session.reject(None)
    session.move(1)
    session.save_fields({"technique": "mine", "claimed_gain": None, "compute": None}, session.view().suggestion, None)
    session.move(1)
    session.toggle_flag()
    assert len(ReviewSession(db, "ana", active, queue="rejected")) == 1
    assert len(ReviewSession(db, "ana", active, queue="edited")) == 1
    assert len(ReviewSession(db, "ana", active, queue="flagged")) == 1
    assert len(ReviewSession(db, "ben", active, queue="flagged")) == 0


def test_saving_unchanged_fields_is_an_accept_and_changed_ones_an_edit(suggested):
    db, active = suggested
    session = ReviewSession(db, "ana", active)
    suggestion = session.view().suggestion
    same = {f: suggestion[f] for f in ("technique", "claimed_gain", "compute")}
    assert session.save_fields(same, suggestion, None)["status"] == "accepted"
    changed = dict(same, compute="8 GPUs")
    assert session.save_fields(changed, suggestion, "note")["status"] == "edited"
    row = get_annotation(db, session.current_id, "ana")
    assert (row["compute"], row["notes"], row["suggestion_id"]) == ("8 GPUs", "note", suggestion["id"])


def test_time_spent_is_per_visit_and_capped(suggested):
    db, active = suggested
    clock = Clock()
    session = ReviewSession(db, "ana", active, clock=clock)
    clock.now += 12.5
    assert session.accept(session.view().suggestion)["seconds_spent"] == 12.5
    session.move(1)
    clock.now += 5000  # walked away
    assert session.reject(None)["seconds_spent"] == 900.0


def test_undo_goes_back_to_the_paper_even_outside_the_queue(suggested):
    db, active = suggested
    session = ReviewSession(db, "ana", active)
    first = session.current_id
    session.accept(session.view().suggestion)
    fresh = ReviewSession(db, "ana", active)  # todo no longer holds `first`
    assert first not in [pid for _, pid in fresh.order]
    assert fresh.undo() == first
    assert fresh.current_id == first and get_annotation(db, first, "ana") is None
    assert fresh.counts["accepted"] == 0 and fresh.decided == 0


def test_pick_and_the_default_shown_suggestion(suggested):
    db, active = suggested
    asyncio.run(run_suggestions(db, resolve_prompt("gains"), get_model("offline"), limit=1))
    session = ReviewSession(db, "ana", active)
    view = session.view()
    assert len(view.suggestions) == 2 and view.suggestion["prompt_id"] == active.prompt_id
    other = 1 + next(i for i, s in enumerate(view.suggestions) if s["prompt_id"] != active.prompt_id)
    assert session.pick(other) and session.view().suggestion["prompt_name"] == "gains"
    assert not session.pick(3)
