"""Abstract revisions: a changed abstract is a new revision; suggestions and decisions name the text they were made on."""

from __future__ import annotations

import json

import pytest

from tests.conftest import write
from workbench.jsonl import export_annotation_lines, import_annotations
from workbench.models import get_model
from workbench.prompts import resolve_prompt
from workbench.review import ReviewSession, SuggestionFeed
from workbench.store import get_paper, suggestions_for_paper, undo_last

TITLE = "Multigrid Training for Video Models"
OLD = "We propose multigrid training, a schedule that trains video models 4.5x faster on 8 GPUs."
NEW = ("We propose multigrid training, a schedule of mini-batch shapes that trains video models 9.9x faster "
       "than the baseline on 8 GPUs.")


def _dump(run_cli, tmp_path, name, abstract):
    path = write(tmp_path / name, json.dumps({"title": TITLE, "abstract": abstract}) + "\n")
    result = run_cli("ingest", str(path))
    assert result.exit_code == 0, result.stderr
    return result


def _revisions(db):
    return db.execute("SELECT revision, abstract FROM paper_revisions ORDER BY revision").fetchall()


@pytest.fixture
def paper(run_cli, tmp_path, db):
    _dump(run_cli, tmp_path, "old.jsonl", OLD)
    return db.execute("SELECT id FROM papers").fetchone()[0]


def test_reingesting_identical_text_changes_nothing(run_cli, tmp_path, db, paper):
    before = list(db.conn.iterdump())
    _dump(run_cli, tmp_path, "again.jsonl", OLD)  # another file: one more sighting, nothing else
    after = list(db.conn.iterdump())
    assert [line for line in after if line not in before and "sightings" not in line] == []
    assert _revisions(db) == []  # one text: it is the paper's own, nothing kept apart


def test_a_changed_abstract_is_a_new_revision_and_the_old_text_is_kept(run_cli, tmp_path, db, paper):
    result = _dump(run_cli, tmp_path, "new.jsonl", NEW)
    assert "1 new abstract revision (the older text is kept)" in result.stdout + result.stderr
    assert get_paper(db, paper).abstract == NEW
    assert _revisions(db) == [(1, OLD), (2, NEW)]
    _dump(run_cli, tmp_path, "short.jsonl", "Multigrid.")  # shorter: recorded, not current
    assert get_paper(db, paper).abstract == NEW
    assert _revisions(db)[-1] == (3, "Multigrid.")


def test_a_changed_abstract_is_never_served_a_cached_suggestion(run_cli, tmp_path, db, paper):
    assert "suggested 1 (ok 1), cached 0" in run_cli("suggest", "--paper", paper).stdout
    old = suggestions_for_paper(db, paper)[0]
    _dump(run_cli, tmp_path, "new.jsonl", NEW)
    assert suggestions_for_paper(db, paper) == []  # the old text's suggestion is not shown for the new text
    result = run_cli("suggest", "--paper", paper)
    assert "suggested 1 (ok 1), cached 0" in result.stdout, result.stdout
    (new,) = suggestions_for_paper(db, paper)
    assert new.created_at >= old.created_at
    stored = db.execute("SELECT content_hash FROM suggestions WHERE paper_id = ?", [paper]).fetchone()[0]
    assert stored == db.execute("SELECT content_hash FROM papers WHERE id = ?", [paper]).fetchone()[0]
    for span in new.evidence.values():
        if span is not None and span.status == "exact":
            assert NEW[span.start:span.end] == span.quote


def test_a_decision_on_an_older_revision_is_marked_queued_and_exported_with_it(run_cli, tmp_path, db, paper):
    model, prompt = get_model("offline"), resolve_prompt("summary")
    run_cli("suggest")
    session = ReviewSession(db, "ana", SuggestionFeed(db, prompt, model), queue="all")
    view = session.view()
    assert not view.text_changed
    session.accept(view.suggestion)
    old_hash = db.execute("SELECT content_hash FROM papers").fetchone()[0]
    assert len(ReviewSession(db, "ana", SuggestionFeed(db, prompt, model), queue="changed")) == 0
    _dump(run_cli, tmp_path, "new.jsonl", NEW)
    changed = ReviewSession(db, "ana", SuggestionFeed(db, prompt, model), queue="changed")
    assert len(changed) == 1 and changed.view().text_changed
    (line,) = export_annotation_lines(db)
    assert json.loads(line)["decided_on"] == old_hash
    path = write(tmp_path / "export.jsonl", line)
    db.execute("DELETE FROM annotations")
    db.conn.commit()
    import_annotations(db, path, None)
    assert "".join(export_annotation_lines(db)) == line


def test_a_in_the_changed_queue_says_the_decision_stands_on_the_new_text(run_cli, tmp_path, db, paper):
    """`a` there once wrote nothing, so a decision checked against the new text could never leave the queue."""
    from workbench.store import get_annotation

    model, prompt = get_model("offline"), resolve_prompt("summary")
    run_cli("suggest")
    session = ReviewSession(db, "ana", SuggestionFeed(db, prompt, model), queue="all")
    first = session.accept(session.view().suggestion, "as suggested")
    _dump(run_cli, tmp_path, "new.jsonl", NEW)
    changed = ReviewSession(db, "ana", SuggestionFeed(db, prompt, model), queue="changed")
    shown = changed.view()
    assert shown.text_changed
    changed.confirm(shown.annotation)
    stored = get_annotation(db, paper, "ana")
    new_hash = db.execute("SELECT content_hash FROM papers").fetchone()[0]
    assert stored.decided_on == new_hash != first.decided_on
    assert (stored.status, stored.values, stored.notes, stored.suggestion_id) == (
        first.status, first.values, first.notes, first.suggestion_id)
    assert stored.version > first.version
    assert len(ReviewSession(db, "ana", SuggestionFeed(db, prompt, model), queue="changed")) == 0
    changed.confirm(stored)  # a second `a`: nothing more to say, nothing written
    assert get_annotation(db, paper, "ana").version == stored.version
    assert undo_last(db, "ana") == paper and get_annotation(db, paper, "ana").decided_on == first.decided_on


@pytest.mark.parametrize("first_keys", [["r"], ["a"]])
async def test_a_in_the_changed_queue_keeps_a_rejection_too(run_cli, tmp_path, db, db_path, paper, first_keys):
    """`a` on a rejection decided on the old text once accepted the suggestion, replacing the rejection:
    there it says the decision, whatever it is, stands on the new text (a pick, 1-9, is how to accept)."""
    from tests.tui_helpers import running
    from workbench.store import get_annotation

    async with running(db_path, queue="all") as (app, pilot):
        await pilot.press(*first_keys)
    first = get_annotation(db, paper, "ana")
    _dump(run_cli, tmp_path, "new.jsonl", NEW)
    async with running(db_path, queue="changed") as (app, pilot):
        assert "decision stands on this text" in app.screen.query_one("#summary").plain
        await pilot.press("a")
        await pilot.pause()
    stored = get_annotation(db, paper, "ana")
    assert (stored.status, stored.values) == (first.status, first.values)
    assert stored.decided_on == db.execute("SELECT content_hash FROM papers").fetchone()[0] != first.decided_on


def test_compare_doubt_and_search_filters_see_only_suggestions_of_the_current_text(run_cli, tmp_path, db, paper):
    from workbench.store import search
    from workbench.store.reports import grounded_suggestions, ok_values

    assert "suggested 1 (ok 1)" in run_cli("suggest", "--paper", paper).stdout
    key = suggestions_for_paper(db, paper)[0].key
    assert paper in ok_values(db, key) and paper in grounded_suggestions(db)
    assert [h.id for h in search(db, "multigrid gain:any", annotator="ana", active=key)[0]] == [paper]
    _dump(run_cli, tmp_path, "new.jsonl", NEW)
    assert ok_values(db, key) == {} and grounded_suggestions(db) == {}  # the old text's suggestion
    assert search(db, "multigrid gain:any", annotator="ana", active=key)[0] == []
