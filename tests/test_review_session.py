"""The review session (core, no Textual): queues, resume, decisions, undo, timing."""

from __future__ import annotations

import asyncio

import pytest

from workbench.db import close_db, open_db
from workbench.models import get_model
from workbench.prompts import resolve_prompt
from workbench.review import ReviewSession, SuggestionFeed
from workbench.store import get_annotation
from workbench.suggest import run_suggestions


BOTH_BACKENDS = True  # the store's contract: every test here runs on SQLite and on PostgreSQL


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


@pytest.fixture
def suggested(seeded_db):
    model, prompt = get_model("offline"), resolve_prompt("summary")
    asyncio.run(run_suggestions(seeded_db, prompt, model, limit=20))
    return seeded_db, SuggestionFeed(seeded_db, prompt, model)


def test_todo_queue_resumes_at_the_first_undecided_paper(suggested):
    db, feed = suggested
    session = ReviewSession(db, "ana", feed)
    first = session.current_id
    session.accept(session.view().suggestion)
    session.move(1)
    session.reject(session.view().suggestion)
    again = ReviewSession(db, "ana", feed)
    assert len(again) == 502 and again.current_id not in (first,)
    assert again.decided == 2 and again.counts == {"accepted": 1, "rejected": 1}
    everything = ReviewSession(db, "ana", feed, queue="all")
    assert len(everything) == 504 and everything.index == 2  # resumes after the two decided


def test_status_queues(suggested):
    db, feed = suggested
    session = ReviewSession(db, "ana", feed, queue="all")
    session.reject(None)
    session.move(1)
    session.save_fields({"technique": "mine", "claimed_gain": None, "compute": None}, session.view().suggestion, None)
    session.move(1)
    session.toggle_flag()
    assert len(ReviewSession(db, "ana", feed, queue="rejected")) == 1
    assert len(ReviewSession(db, "ana", feed, queue="edited")) == 1
    assert len(ReviewSession(db, "ana", feed, queue="flagged")) == 1
    assert len(ReviewSession(db, "ben", feed, queue="flagged")) == 0


def test_saving_unchanged_fields_is_an_accept_and_changed_ones_an_edit(suggested):
    db, feed = suggested
    session = ReviewSession(db, "ana", feed)
    suggestion = session.view().suggestion
    same = dict(suggestion.values)
    assert session.save_fields(same, suggestion, None).status == "accepted"
    changed = dict(same, compute="8 GPUs")
    assert session.save_fields(changed, suggestion, "note").status == "edited"
    row = get_annotation(db, session.current_id, "ana")
    assert (row.values["compute"], row.notes, row.suggestion_id) == ("8 GPUs", "note", suggestion.id)


def test_time_spent_is_per_visit_and_capped(suggested):
    db, feed = suggested
    clock = Clock()
    session = ReviewSession(db, "ana", feed, clock=clock)
    clock.now += 12.5
    assert session.accept(session.view().suggestion).seconds_spent == 12.5
    session.move(1)
    clock.now += 5000  # walked away
    assert session.reject(None).seconds_spent == 900.0


def test_undo_goes_back_to_the_paper_even_outside_the_queue(suggested):
    db, feed = suggested
    session = ReviewSession(db, "ana", feed)
    first = session.current_id
    session.accept(session.view().suggestion)
    fresh = ReviewSession(db, "ana", feed)  # todo no longer holds `first`
    assert first not in [pid for _, pid in fresh.order]
    assert fresh.undo() == first
    assert fresh.current_id == first and get_annotation(db, first, "ana") is None
    assert fresh.counts["accepted"] == 0 and fresh.decided == 0


def test_pick_and_the_default_shown_suggestion(suggested):
    db, feed = suggested
    asyncio.run(run_suggestions(db, resolve_prompt("gains"), get_model("offline"), limit=1))
    session = ReviewSession(db, "ana", feed)
    view = session.view()
    assert len(view.suggestions) == 2 and view.suggestion.prompt_id == feed.key.prompt_id
    other = 1 + next(i for i, s in enumerate(view.suggestions) if s.prompt_id != feed.key.prompt_id)
    assert session.pick(other) and session.view().suggestion.prompt_name == "gains"
    assert not session.pick(3)


def test_the_doubt_queue_puts_the_most_doubtful_papers_first_with_their_reasons(seeded_db):
    from tests.factories import add_suggestion
    from workbench.store import paper_order

    ids = [pid for _, pid in paper_order(seeded_db)[:6]]
    same = {"technique": "multigrid training", "claimed_gain": "4.5x faster", "compute": "128 GPUs"}
    for pid in ids:  # every paper: two sources that agree, exactly grounded
        for prompt in ("a" * 64, "b" * 64):
            add_suggestion(seeded_db, pid, prompt, prompt[0], "m", same,
                           evidence={f: {"quote": "q", "start": 0, "end": 1, "status": "exact"} for f in same})
    # paper 3: the sources disagree on the gain; paper 1: a number not in the abstract; paper 4: a failure
    add_suggestion(seeded_db, ids[3], "b" * 64, "b", "m", dict(same, claimed_gain="33% less data"),
                   evidence={f: {"quote": "q", "start": 0, "end": 1, "status": "exact"} for f in same})
    add_suggestion(seeded_db, ids[1], "a" * 64, "a", "m", same, warnings=[
        {"field": "claimed_gain", "kind": "number_not_in_abstract", "number": "4.5"}],
        evidence={f: {"quote": "q", "start": 0, "end": 1, "status": "exact"} for f in same})
    add_suggestion(seeded_db, ids[4], "c" * 64, "c", "m", {}, outcome="error")
    feed = SuggestionFeed(seeded_db, resolve_prompt("summary"), get_model("offline"))
    session = ReviewSession(seeded_db, "ana", feed, queue="doubt")
    order = [pid for _, pid in session.order]
    assert order[:3] == [ids[3], ids[1], ids[4]]
    assert set(order[3:6]) == {ids[0], ids[2], ids[5]} and len(order) == 504
    assert session.doubt_text(ids[3]).startswith("doubt 2.0: sources disagree on claimed gain")
    assert session.doubt_text(ids[1]) == "doubt 1.0: 4.5 in claimed gain is not in the abstract"
    assert session.doubt_text(ids[4]) == "doubt 0.5: 1 failed suggestion(s)"
    assert session.doubt_text(ids[0]) == "no doubt found"



def test_a_value_a_check_changed_puts_the_paper_ahead_of_one_only_marked(seeded_db):
    """The checks' warnings weigh in the doubt queue: a gain the check made null or an item it dropped (the
    stored value is not what the model said) ranks above a number merely marked, which ranks above a repeat
    removed, which ranks above a paper with nothing."""
    from tests.factories import add_suggestion
    from workbench.store import paper_order

    ids = [pid for _, pid in paper_order(seeded_db)[:6]]
    same = {"technique": "multigrid training", "claimed_gain": "4.5x faster", "compute": "128 GPUs"}
    exact = {f: {"quote": "q", "start": 0, "end": 1, "status": "exact"} for f in same}
    warnings = {
        ids[0]: [],
        ids[1]: [{"field": "technique", "kind": "repeated_item", "dropped": "multigrid"}],
        ids[2]: [{"field": "claimed_gain", "kind": "number_not_in_abstract", "number": "4.5"}],
        ids[3]: [{"field": "claimed_gain", "kind": "gain_without_figure", "dropped": "impressive gains"}],
        ids[4]: [{"field": "compute", "kind": "figure_not_in_abstract", "numbers": ["512"], "dropped": "512 TPUs"}],
        ids[5]: [{"field": "claimed_gain", "kind": "figure_not_in_abstract", "numbers": ["9"], "dropped": "9x"},
                 {"field": "claimed_gain", "kind": "gain_without_figure", "dropped": "faster"}],
    }
    for pid, found in warnings.items():
        add_suggestion(seeded_db, pid, "a" * 64, "a", "m", same, evidence=exact, warnings=found)
    session = ReviewSession(seeded_db, "ana", SuggestionFeed(seeded_db, resolve_prompt("summary"),
                                                             get_model("offline")), queue="doubt")
    order = [pid for _, pid in session.order][:6]
    assert order == [ids[5], ids[3], ids[4], ids[2], ids[1], ids[0]]
    assert session.doubt_text(ids[5]) == ("doubt 3.0: a check dropped a figure of claimed gain not in the abstract; "
                                          "a check made claimed gain null: no figure from the abstract")
    assert session.doubt_text(ids[3]) == "doubt 1.5: a check made claimed gain null: no figure from the abstract"
    assert session.doubt_text(ids[4]) == "doubt 1.5: a check dropped a figure of compute not in the abstract"
    assert session.doubt_text(ids[1]) == "doubt 0.5: a check removed a repeated item of technique"
    assert session.doubt_text(ids[0]) == "no doubt found"

def test_the_session_says_once_that_the_offline_model_ignores_a_prompt_without_its_table(seeded_db, db_path,
                                                                                         tmp_path):
    from tests.conftest import write
    from workbench.prompts import load_prompt_file
    from workbench.review import open_session

    bare = load_prompt_file(write(tmp_path / "bare.toml", 'name = "bare"\ndescription = "d"\nsystem = "s"\n'
                                                          'user = "{title} {abstract}"\n'))
    session = open_session(db_path, prompt=bare, model=get_model("offline"), annotator="ana")
    [notice] = session.notices_at_start
    assert notice.severity == "warning" and "ignores the text of prompt 'bare'" in notice.message
    session.close()
    session = open_session(db_path, prompt=resolve_prompt("summary"), model=get_model("offline"), annotator="ana")
    assert session.notices_at_start == []
    session.close()


def test_a_move_never_waits_for_a_busy_store_and_close_keeps_the_position(suggested, db_path):
    """Remembering where the reviewer is must not hold a move for the busy timeout while another
    writer (an ingest, a collect) has the store; the position is written again on close."""
    import time

    from workbench.db import WriteUnit
    from workbench.store import remembered_position

    db, feed = suggested
    session = ReviewSession(db, "ana", feed, queue="all")
    blocker = open_db(db_path)
    WriteUnit(blocker).begin()  # another writer holds the store (on either backend)
    started = time.monotonic()
    session.move(3)
    assert time.monotonic() - started < 1.0
    WriteUnit(blocker).rollback()
    blocker.close()
    target = session.current_id
    session.close()

    again = open_db(db_path)
    assert remembered_position(again, "ana", "all") == target
    again.close()


def _other_writer(db):
    """A second connection to the same store: another process's ingest, import or window."""
    from workbench.db import location_of

    return open_db(location_of(db))


def test_papers_ingested_after_the_start_join_the_queue_and_the_counts(suggested, tmp_path):
    from workbench.ingest import ingest

    db, feed = suggested
    session = ReviewSession(db, "ana", feed)
    assert (session.total_papers, len(session), session.undecided_left()) == (504, 504, 504)
    session.go_to_number(504)  # the last paper of the queue as it started
    other = _other_writer(db)
    try:
        lines = "".join(f'{{"title": "Later paper {n}", "abstract": "Ingested while the review ran {n}."}}\n'
                        for n in range(3))
        (tmp_path / "later.jsonl").write_text(lines, encoding="utf-8")
        assert ingest(other, [tmp_path / "later.jsonl"]).new == 3
    finally:
        close_db(other)
    assert session.advance()  # not "end of the queue": the new papers come next
    assert session.view().paper.title == "Later paper 0"
    assert (session.total_papers, len(session), session.undecided_left()) == (507, 507, 507)


def test_decisions_made_elsewhere_count_and_todo_passes_over_them_but_never_overwrites_them(suggested):
    from workbench.errors import Conflict
    from workbench.store import Decision, decide

    db, feed = suggested
    session = ReviewSession(db, "ana", feed)
    shown = session.current_id
    session.view()  # the reviewer has seen paper 1 undecided
    ahead = [pid for _, pid in session.order[1:3]]
    other = _other_writer(db)
    try:
        for pid in [shown, *ahead]:  # another window (or an import) of the same reviewer decides them
            decide(other, Decision(pid, "ana", "rejected", {"technique": None, "claimed_gain": None, "compute": None},
                                   None, 1.0, None, "another-window", based_on=None))
    finally:
        close_db(other)
    assert session.catch_up()
    assert session.decided == 3 and session.counts["rejected"] == 3 and session.undecided_left() == 501
    assert not session.catch_up()  # nothing new since
    with pytest.raises(Conflict):  # shown undecided, decided elsewhere since: the dialog, not an overwrite
        session.decide("edited", {"technique": "mine", "claimed_gain": None, "compute": None}, None)
    assert get_annotation(db, shown, "ana").status == "rejected"
    session.reload(shown)  # as the conflict dialog does; then the next undecided paper is after the two
    assert session.advance() and session.current_id not in ahead


def test_the_sessions_own_decisions_are_not_news(suggested):
    db, feed = suggested
    session = ReviewSession(db, "ana", feed)
    session.accept(session.view().suggestion)
    assert not session.catch_up()
    assert session.decided == 1


def test_saving_an_empty_form_decides_nothing(suggested):
    from workbench.errors import NothingToSave

    db, feed = suggested
    session = ReviewSession(db, "ana", feed, queue="all")
    session.go_to_number(100)  # no suggestion yet (20 were made): `e` then save with nothing typed
    empty = {"technique": None, "claimed_gain": " ", "compute": ""}
    with pytest.raises(NothingToSave, match="every field is empty"):
        session.save_fields(empty, session.view().suggestion, "a note")
    assert get_annotation(db, session.current_id, "ana") is None
    assert session.decided == 0


@pytest.mark.parametrize("values, notes, message", [
    ({"technique": "x" * 2_001}, None, "technique has 2,001 characters; the most a decision keeps is 2,000"),
    ({"claimed_gain": "y" * 2_100}, None, "claimed gain has 2,100 characters"),
    ({"technique": "mine"}, "n" * 10_050, "notes has 10,050 characters; the most a decision keeps is 10,000"),
])
def test_the_form_saves_nothing_an_import_could_not_read_back(suggested, tmp_path, values, notes, message):
    """A 2,100-character technique was saved, exported, and then refused by import: the round trip broke."""
    from workbench.errors import TooLong
    from workbench.jsonl import export_annotation_lines, import_annotations

    db, feed = suggested
    session = ReviewSession(db, "ana", feed, queue="all")
    fields = {"technique": None, "claimed_gain": None, "compute": None, **values}
    with pytest.raises(TooLong, match=message):
        session.save_fields(fields, session.view().suggestion, notes)
    assert get_annotation(db, session.current_id, "ana") is None
    longest = {f: (v[:2_000] if v else v) for f, v in fields.items()}
    session.save_fields(longest, session.view().suggestion, notes[:10_000] if notes else None)  # at the limit: kept
    exported = tmp_path / "out.jsonl"
    exported.write_text("".join(export_annotation_lines(db)))
    db.execute("DELETE FROM annotations")
    db.conn.commit()
    assert import_annotations(db, exported, None).written == 1
    assert "".join(export_annotation_lines(db)) == exported.read_text()


def test_keeping_mine_after_a_conflict_keeps_the_suggestion_as_it_was_shown(suggested):
    """The suggestion was redone under the same key while the dialog was open (`--force`, ctrl+r in another
    window): "y keeps yours" stores what the reviewer accepted, with the suggestion as they saw it."""
    from workbench.errors import Conflict
    from workbench.store import Decision, decide

    db, feed = suggested
    session = ReviewSession(db, "ana", feed)
    pid = session.current_id
    shown = session.view().suggestion
    other = _other_writer(db)
    try:
        decide(other, Decision(pid, "ana", "rejected", {"technique": None, "claimed_gain": None, "compute": None},
                               None, 1.0, None, "another-window"))
        other.execute("UPDATE suggestions SET claimed_gain = 'REGENERATED GAIN' WHERE id = ?", [shown.id])
        if hasattr(other, "conn"):
            other.conn.commit()
    finally:
        close_db(other)
    with pytest.raises(Conflict) as raised:
        session.accept(shown)
    row = session.keep_mine(raised.value)
    assert row.status == "accepted" and row.values == dict(shown.values)
    stored = get_annotation(db, pid, "ana")
    assert stored.values == dict(shown.values) and stored.suggested["fields"] == dict(shown.values)
    assert stored.values["claimed_gain"] != "REGENERATED GAIN"


def test_todo_takes_only_undecided_new_papers_and_doubt_passes_over_papers_decided_elsewhere(suggested, tmp_path):
    from workbench.ingest import ingest
    from workbench.store import Decision, decide, paper_order

    db, feed = suggested
    todo = ReviewSession(db, "ana", feed)
    doubt = ReviewSession(db, "ana", feed, queue="doubt")
    next_in_doubt = doubt.order[doubt.index + 1][1]
    other = _other_writer(db)
    nulls = {"technique": None, "claimed_gain": None, "compute": None}
    try:
        (tmp_path / "later.jsonl").write_text('{"title": "Later A", "abstract": "One."}\n'
                                              '{"title": "Later B", "abstract": "Two."}\n', encoding="utf-8")
        ingest(other, [tmp_path / "later.jsonl"])
        later = [pid for _, pid in paper_order(other)][-2:]
        # ingested and decided (an import) before the review looked: todo must not take that one
        for pid in (later[0], next_in_doubt):
            decide(other, Decision(pid, "ana", "rejected", nulls, None, 1.0, None, "import"))
    finally:
        close_db(other)
    assert todo.catch_up()
    assert [pid for _, pid in todo.order[-1:]] == [later[1]] and later[0] not in todo._queued
    assert (todo.total_papers, todo.undecided_left()) == (506, 504)  # one decided elsewhere, Later B to do
    doubt.reject(doubt.view().suggestion)
    assert doubt.advance() and doubt.current_id != next_in_doubt
