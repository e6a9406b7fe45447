"""Import refuses records no review decision could have made, and takes back every one the review exports."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.conftest import SEEDS, write
from tests.factories import add_suggestion
from workbench.db import open_db
from workbench.ingest import ingest
from workbench.jsonl import export_annotation_lines, import_annotations
from workbench.models import get_model
from workbench.prompts import resolve_prompt
from workbench.review import ReviewSession, SuggestionFeed
from workbench.store import get_annotation, paper_order
from workbench.suggest import run_suggestions

T0, T1 = "2026-11-23T12:00:00Z", "2026-11-23T12:05:00Z"
SUGGESTED = {"technique": "multigrid training", "claimed_gain": "4.5x faster", "compute": None}


@pytest.fixture
def papers(seeded_db):
    ids = [pid for _, pid in paper_order(seeded_db)]
    suggestion = add_suggestion(seeded_db, ids[0], "p" * 64, "summary", "offline", SUGGESTED, suggestion_id="s-0")
    return seeded_db, ids, suggestion


def _accepted(pid: str, suggestion) -> dict:
    """An accepted decision as `workbench export` writes it."""
    return {"paper_id": pid, "annotator": "ana", "status": "accepted", "flagged": False,
            "annotation": dict(SUGGESTED), "edited_fields": [], "notes": None,
            "suggestion": {"id": suggestion.id, **suggestion.snapshot()},
            "seconds_spent": 4.2, "created_at": T0, "updated_at": T1}


def _rejected(record):
    return {**record, "status": "rejected", "annotation": {"technique": "x", "claimed_gain": "2x", "compute": "8 GPUs"}}


def _with(record, **annotation):
    return {**record, "annotation": {**record["annotation"], **annotation}}


def _without(record, *fields):
    return {**record, "annotation": {f: v for f, v in record["annotation"].items() if f not in fields}}


def _times(record, created=T0, updated=T1):
    return {**record, "created_at": created, "updated_at": updated}


EVERY_FIELD = "every field (technique, claimed_gain, compute) must be there, null when not stated"
TIME_FORM = "must be a UTC time to the second as export writes it, such as 2026-11-23T12:00:00Z"

REFUSED = [
    pytest.param(_rejected, "'status' is rejected but 'technique' has a value; a rejection's fields are all null",
                 id="rejection-with-values"),
    pytest.param(lambda r: _with(r, technique="progressive resizing"),
                 "'status' is accepted but 'technique' differs from the suggestion it names; "
                 "a changed value makes it edited", id="accepted-differs-from-its-suggestion"),
    pytest.param(lambda r: {**r, "suggestion": None},
                 "'status' is accepted but 'technique' has a value and the record names no suggestion; "
                 "a value not taken from a suggestion makes it edited", id="accepted-values-without-a-suggestion"),
    pytest.param(lambda r: _without(r, "compute"), f"'annotation' lacks 'compute'; {EVERY_FIELD}",
                 id="annotation-lacks-a-field"),
    pytest.param(lambda r: _without(r, "technique", "claimed_gain", "compute"),
                 f"'annotation' lacks 'technique'; {EVERY_FIELD}", id="annotation-empty"),
    pytest.param(lambda r: _times(r, created=T1, updated=T0), f"'created_at' {T1} is later than 'updated_at' {T0}",
                 id="created-after-updated"),
    pytest.param(lambda r: {**r, "status": "edited"},
                 "'status' is edited but every field is the suggestion's it names; unchanged, it is accepted",
                 id="edited-but-unchanged"),
    pytest.param(lambda r: {**r, "title": 123}, "'title' must be the paper's title (text) or left out", id="title-not-text"),
    pytest.param(lambda r: {**r, "title": "   "}, "'title' must be the paper's title (text) or left out",
                 id="title-blank"),
    pytest.param(lambda r: {**r, "title": "Some Other Paper Entirely"},
                 "'title' names another paper than 'paper_id'", id="title-of-another-paper"),
    pytest.param(lambda r: {**r, "decided_on": "zz"},
                 "'decided_on' must be the content hash of the text decided on (16 hex digits)", id="decided-on-not-a-hash"),
    pytest.param(lambda r: {**r, "suggestion": {**r["suggestion"], "fields": {"technique": "multigrid training",
                                                                                "claimed_gain": "4.5x faster"}}},
                 "'suggestion.fields' lacks 'compute'; every field must be there, null when none",
                 id="suggestion-lacks-a-field"),
    *[pytest.param(lambda r, stated=stated: {**r, "edited_fields": stated},
                   "'edited_fields' must list the fields whose value differs from the suggestion, [], or be left out",
                   id=f"edited-fields-{name}")  # was ignored without a word
      for name, stated in [("a-number", 10 ** 400), ("text", "x"), ("an-object", {"a": 1}),
                           ("not-a-field", ["nonsense"]), ("a-field-not-edited", ["technique"])]],
    pytest.param(lambda r: {**r, "seconds_spent": 10 ** 400},  # no float holds it: was an internal OverflowError
                 "'seconds_spent' must be a number of seconds from 0 to", id="seconds-an-integer-of-400-digits"),
    *[pytest.param(lambda r, who=who: {**r, "annotator": who},
                   f"'annotator' {who!r} is not an adjudicator's role (a person's name, then @adjudicated once)",
                   id=name)  # such a record became `export --final`'s decision over every annotator's
      for name, who in [("role-of-nobody", "@adjudicated"), ("role-twice", "x@adjudicated@adjudicated"),
                        ("role-of-a-blank", "ana @adjudicated")]],
    *[pytest.param(lambda r, key=key, value=value: {**r, key: value}, f"'{key}' {TIME_FORM}, got {value!r}", id=name)
      for name, key, value in [
          ("week-date", "created_at", "2026-W49-1T09:00:00Z"),
          ("date-only", "updated_at", "2026-12-07"),
          ("offset-not-z", "created_at", "2026-11-23T12:00:00+00:00"),
          ("fractional-seconds", "created_at", "2026-11-23T12:00:00.5Z"),
          ("no-zone", "updated_at", "2026-11-23T12:00:00"),
          ("impossible-date", "created_at", "2026-02-30T12:00:00Z"),
          ("not-text", "created_at", 20261123),
      ]],
]


@pytest.mark.parametrize("change, message", REFUSED)
def test_a_record_no_decision_could_make_is_one_line_and_nothing_of_the_file_is_stored(papers, run_cli, tmp_path,
                                                                                        change, message):
    db, ids, suggestion = papers
    good = {"paper_id": ids[1], "annotator": "ana", "status": "edited",
            "annotation": {"technique": "mine", "claimed_gain": None, "compute": None}}
    path = write(tmp_path / "in.jsonl", json.dumps(good) + "\n" + json.dumps(change(_accepted(ids[0], suggestion))) + "\n")
    result = run_cli("import", str(path))
    assert (result.exit_code, result.stdout) == (2, "")
    assert result.stderr.startswith(f"workbench: {path}:2: {message}") and result.stderr.count("\n") == 1
    assert db["annotations"].count == 0 and db["events"].count == 0


def test_the_unchanged_record_those_are_made_from_imports(papers, run_cli, tmp_path):
    """The refusals above are each one change away from a record that imports."""
    db, ids, suggestion = papers
    path = write(tmp_path / "in.jsonl", json.dumps(_accepted(ids[0], suggestion)) + "\n")
    result = run_cli("import", str(path))
    assert result.exit_code == 0, result.stderr
    row = get_annotation(db, ids[0], "ana")
    assert (row.status, row.values, row.created_at, row.updated_at) == ("accepted", SUGGESTED, T0, T1)


def test_a_record_with_only_one_time_is_never_created_after_it_was_updated(papers, run_cli, tmp_path):
    db, ids, _ = papers
    record = {"paper_id": ids[1], "annotator": "ana", "status": "rejected",
              "annotation": {"technique": None, "claimed_gain": None, "compute": None}, "updated_at": T0}
    assert run_cli("import", str(write(tmp_path / "in.jsonl", json.dumps(record) + "\n"))).exit_code == 0
    row = get_annotation(db, ids[1], "ana")
    assert (row.created_at, row.updated_at) == (T0, T0)


def test_an_old_record_without_updated_at_does_not_win_newer(papers, run_cli, tmp_path):
    """`--on-conflict newer` compares updated_at: a record that lacks it takes its created_at, not the time of
    the import (which made a January record replace a decision made today)."""
    db, ids, _ = papers
    nulls = {"technique": None, "claimed_gain": None, "compute": None}
    today = {"paper_id": ids[2], "annotator": "ana", "status": "rejected", "annotation": nulls,
             "created_at": T0, "updated_at": T1}
    assert run_cli("import", str(write(tmp_path / "today.jsonl", json.dumps(today) + "\n"))).exit_code == 0
    january = {"paper_id": ids[2], "annotator": "ana", "status": "edited",
               "annotation": dict(nulls, technique="OLD JANUARY VALUE"), "created_at": "2026-01-01T00:00:00Z"}
    result = run_cli("import", "--on-conflict", "newer", str(write(tmp_path / "old.jsonl", json.dumps(january) + "\n")))
    assert result.exit_code == 0, result.stderr
    row = get_annotation(db, ids[2], "ana")
    assert (row.status, row.values["technique"], row.updated_at) == ("rejected", None, T1)


def test_every_decision_the_review_makes_exports_and_imports_back_byte_identical(seeded_db, tmp_path):
    prompt, model = resolve_prompt("summary"), get_model("offline")
    asyncio.run(run_suggestions(seeded_db, prompt, model, limit=6))
    session = ReviewSession(seeded_db, "ana", SuggestionFeed(seeded_db, prompt, model), queue="all")
    session.accept(session.view().suggestion, "as suggested")
    session.move(1)
    suggestion = session.view().suggestion
    session.save_fields(dict(suggestion.values), suggestion, None)  # saved unchanged: accepted
    session.move(1)
    suggestion = session.view().suggestion
    session.save_fields({**suggestion.values, "compute": "8 GPUs"}, suggestion, "checked table 2")
    session.toggle_flag()
    session.move(1)
    session.reject(session.view().suggestion, "not about pre-training")
    session.move(1)
    session.toggle_flag()
    session.reject(None)
    session.move(1)
    session.save_fields({"technique": "mine", "claimed_gain": None, "compute": None}, session.view().suggestion,
                        None, {"technique": "you", "claimed_gain": "annotator:ben", "compute": "annotator:ben"})
    first = "".join(export_annotation_lines(seeded_db))
    statuses = [json.loads(line)["status"] for line in first.splitlines()]
    assert statuses == ["accepted", "accepted", "edited", "rejected", "rejected", "edited"]
    fresh = open_db(tmp_path / "fresh.db")
    ingest(fresh, [SEEDS])
    assert import_annotations(fresh, write(tmp_path / "export.jsonl", first), None).written == 6
    assert "".join(export_annotation_lines(fresh)) == first
    fresh.close()


@pytest.mark.parametrize("notes", ["", "   ", "\n\t"])
def test_empty_notes_are_no_notes_as_the_review_keeps_them(papers, run_cli, tmp_path, notes):
    db, ids, suggestion = papers
    record = {**_accepted(ids[0], suggestion), "notes": notes}
    result = run_cli("import", str(write(tmp_path / "in.jsonl", json.dumps(record) + "\n")))
    assert (result.exit_code, result.stdout.split(" from ")[0]) == (0, "imported 1 annotation")
    assert get_annotation(db, ids[0], "ana").notes is None


def test_an_empty_edit_on_a_failed_suggestion_from_an_older_store_still_imports(papers, run_cli, tmp_path):
    """Before the empty form was refused, `e` then ctrl+s on a failed suggestion stored `edited` with every
    field null against a suggestion with none: stores that hold one must still export and import it."""
    db, ids, suggestion = papers
    nulls = {"technique": None, "claimed_gain": None, "compute": None}
    failed = {"id": "s-failed", "prompt": "summary", "prompt_hash": "p" * 64, "model": "gpt-x", "fields": nulls}
    record = {"paper_id": ids[3], "annotator": "ana", "status": "edited", "annotation": nulls, "suggestion": failed,
              "created_at": T0, "updated_at": T1}
    result = run_cli("import", str(write(tmp_path / "in.jsonl", json.dumps(record) + "\n")))
    assert result.exit_code == 0, result.stderr
    assert get_annotation(db, ids[3], "ana").status == "edited"
