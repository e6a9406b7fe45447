"""Snapshots of the review screen (pytest-textual-snapshot). Update with --snapshot-update."""

from __future__ import annotations

import pytest

from tests.tui_helpers import FailingModel, make_app, settle
from workbench.tui.widgets.form import FieldArea

SIZE = (100, 30)


@pytest.fixture(autouse=True)
def no_blink(monkeypatch):
    monkeypatch.setattr(FieldArea, "BLINK", False)


def _settled(app):
    async def run_before(pilot):
        await settle(app, pilot)
    return run_before


def test_main_screen(snap_compare, seeded_db, db_path):
    app = make_app(db_path)
    assert snap_compare(app, terminal_size=SIZE, run_before=_settled(app))


def test_edit_mode(snap_compare, seeded_db, db_path):
    app = make_app(db_path)
    assert snap_compare(app, press=["e", "ctrl+a", *"multigrid training", "tab"], terminal_size=SIZE,
                        run_before=_settled(app))


def test_failed_suggestion(snap_compare, seeded_db, db_path):
    app = make_app(db_path, model=FailingModel())
    assert snap_compare(app, terminal_size=SIZE, run_before=_settled(app))


def test_help(snap_compare, seeded_db, db_path):
    app = make_app(db_path)
    assert snap_compare(app, press=["question_mark"], terminal_size=SIZE, run_before=_settled(app))
