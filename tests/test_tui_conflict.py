"""The conflict dialog: a decision on a paper another window changed meanwhile (Pilot; assertions on the store)."""

from __future__ import annotations

import io
import sqlite3

import pytest
from rich.console import Console

from tests.tui_helpers import running
from workbench.store import Decision, decide, get_annotation, paper_order
from workbench.tui.screens.dialogs import ConflictScreen
from workbench.tui.widgets.form import SuggestionForm


@pytest.fixture
def ids(seeded_db):
    return [pid for _, pid in paper_order(seeded_db)]


def events(db_path) -> list[str]:
    db = sqlite3.connect(db_path)
    rows = [r[0] for r in db.execute("SELECT action FROM events ORDER BY id")]
    db.close()
    return rows


async def _conflict(app, pilot, seeded_db, ids, choice: str):
    """The other window saves an edit on the paper this one shows; then `a` here meets it, and the
    reviewer answers the dialog with `choice`."""
    assert app.session.current_id == ids[0]
    theirs = decide(seeded_db, Decision(ids[0], "ana", "edited", {"technique": "[b]the other window[/b]"}))
    await pilot.press("a")
    await pilot.pause()
    assert isinstance(app.screen, ConflictScreen)
    console = Console(width=160, record=True, file=io.StringIO())
    for widget in app.screen.query("Static"):
        console.print(widget.content)
    shown = console.export_text()
    assert "[b]the other window[/b]" in shown and "accepted" in shown  # as text, not markup
    assert get_annotation(seeded_db, ids[0], "ana") == theirs  # nothing written
    await pilot.press(choice)
    await pilot.pause()
    assert not isinstance(app.screen, ConflictScreen)
    return theirs


async def test_keep_yours_writes_your_decision_based_on_the_stored_one(db_path, seeded_db, ids):
    async with running(db_path) as (app, pilot):
        theirs = await _conflict(app, pilot, seeded_db, ids, "y")
    stored = get_annotation(seeded_db, ids[0], "ana")
    assert stored.status == "accepted" and stored.values["technique"] != theirs.values["technique"]
    assert stored.version > theirs.version and events(db_path) == ["edited", "accepted"]


async def test_take_the_stored_one_writes_nothing(db_path, seeded_db, ids):
    async with running(db_path) as (app, pilot):
        theirs = await _conflict(app, pilot, seeded_db, ids, "s")
        assert app.session.current_id == ids[0]  # still on the paper, now showing the stored decision
        assert app.screen.view.annotation == theirs
        await pilot.press("a")  # `a` now confirms the stored edit: nothing replaces it
        await pilot.pause()
    assert get_annotation(seeded_db, ids[0], "ana") == theirs and events(db_path) == ["edited"]


async def test_compose_opens_the_form_with_yours_and_saves_based_on_the_stored_one(db_path, seeded_db, ids):
    async with running(db_path) as (app, pilot):
        theirs = await _conflict(app, pilot, seeded_db, ids, "e")
        form = app.screen.query_one(SuggestionForm)
        assert form.editing
        mine = form.values()["technique"]
        assert mine and mine != theirs.values["technique"]
        await pilot.press("end", "!", "ctrl+s")
        await pilot.pause()
    stored = get_annotation(seeded_db, ids[0], "ana")
    assert stored.status == "edited" and stored.values["technique"] == mine + "!"
    assert events(db_path) == ["edited", "edited"]


async def test_compose_keeps_your_notes_and_a_third_write_meanwhile_is_a_conflict_again(db_path, seeded_db, ids):
    """The form after `e` holds your notes too, and saves on the version the dialog showed: a decision
    made while the form was open is met again as a conflict, never replaced unseen."""
    async with running(db_path) as (app, pilot):
        decide(seeded_db, Decision(ids[0], "ana", "edited", {"technique": "other"}, notes="their note"))
        await pilot.press("e", "tab", "tab", "tab", *"my note", "ctrl+s")  # the notes are the fourth field
        await pilot.pause()
        assert isinstance(app.screen, ConflictScreen)
        await pilot.press("e")
        await pilot.pause()
        assert app.screen.query_one(SuggestionForm).values()["notes"] == "my note"  # yours, not theirs
        third = decide(seeded_db, Decision(ids[0], "ana", "rejected", {},
                                           based_on=get_annotation(seeded_db, ids[0], "ana").version))
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, ConflictScreen)  # the third write is shown, not replaced unseen
        await pilot.press("s")
        await pilot.pause()
    assert get_annotation(seeded_db, ids[0], "ana") == third


async def test_undo_never_reverts_an_import_and_goes_on_to_the_change_before_it(db_path, seeded_db, ids, notices,
                                                                                tmp_path):
    """An import replaced the reviewer's latest-but-one change. Undo once stuck there for good ("changed since it
    was shown", on another paper): now it shows that paper, says why, and the next `u` undoes the change before."""
    import json

    from workbench.jsonl import import_annotations

    async with running(db_path) as (app, pilot):
        await pilot.press("a", "r", "a")  # ids[0] accepted, ids[1] rejected, ids[2] accepted
        await pilot.pause()
        record = {"paper_id": ids[1], "annotator": "ana", "status": "edited",
                  "annotation": {"technique": "the import's", "claimed_gain": None, "compute": None}}
        (tmp_path / "in.jsonl").write_text(json.dumps(record) + "\n")
        assert import_annotations(seeded_db, tmp_path / "in.jsonl", None, "replace").written == 1
        await pilot.press("u")  # ids[2]: undone
        await pilot.pause()
        assert get_annotation(seeded_db, ids[2], "ana") is None
        await pilot.press("u")  # ids[1]: the import's, kept; shown, with the reason
        await pilot.pause()
        assert app.session.current_id == ids[1]
        assert get_annotation(seeded_db, ids[1], "ana").values["technique"] == "the import's"
        assert notices[-1] == ("your latest change to this paper cannot be undone: it changed since (now edited), by "
                               "an import or another window. Press u again for your change before it.")
        await pilot.press("u")  # ids[0]: undone
        await pilot.pause()
        assert app.session.current_id == ids[0] and get_annotation(seeded_db, ids[0], "ana") is None
        assert get_annotation(seeded_db, ids[1], "ana").values["technique"] == "the import's"
        assert events(db_path) == ["accepted", "rejected", "accepted", "import", "undo", "undo"]
        await pilot.press("u")
        await pilot.pause()
        assert notices[-1] == "Nothing to undo."
