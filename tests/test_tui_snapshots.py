"""Snapshots of the review screen (pytest-textual-snapshot). Update with --snapshot-update."""

from __future__ import annotations

import pytest

from tests.tui_helpers import SIZE, FailingModel, make_app, settle


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


def test_compare_screen(snap_compare, seeded_db, db_path):
    import asyncio

    from tests.tui_helpers import SlowModel

    other = make_app(db_path, prompt="gains", model=SlowModel(0))

    async def prepare():
        async with other.run_test(size=SIZE) as pilot:
            await settle(other, pilot)

    asyncio.run(prepare())
    app = make_app(db_path)
    assert snap_compare(app, press=["c"], terminal_size=SIZE, run_before=_settled(app))


def test_stats_screen(snap_compare, seeded_db, db_path):
    app = make_app(db_path)
    app.session.clock = lambda: 0.0  # decisions take 0 s: the pace columns stay stable
    app.session.shown_at = 0.0
    assert snap_compare(app, press=["a", "r", "t"], terminal_size=SIZE, run_before=_settled(app))
