"""Snapshots of every screen at 80x24 (the smallest supported terminal) and at 100x30
(pytest-textual-snapshot). Update with --snapshot-update after looking at the report."""

from __future__ import annotations

import asyncio

import pytest

from tests.tui_helpers import FailingModel, SlowModel, make_app, settle

SIZES = {"80x24": (80, 24), "100x30": (100, 30)}


@pytest.fixture(params=list(SIZES))
def size(request):
    return SIZES[request.param]


def _settled(app):
    async def run_before(pilot):
        await settle(app, pilot)
    return run_before


def _second_source(db_path):
    other = make_app(db_path, prompt="gains", model=SlowModel(0))

    async def prepare():
        async with other.run_test(size=(100, 30)) as pilot:
            await settle(other, pilot)

    asyncio.run(prepare())


def test_main_screen(snap_compare, seeded_db, db_path, size):
    app = make_app(db_path)
    assert snap_compare(app, terminal_size=size, run_before=_settled(app))


def test_edit_mode(snap_compare, seeded_db, db_path, size):
    app = make_app(db_path)
    assert snap_compare(app, press=["e", "ctrl+a", *"multigrid training", "tab"], terminal_size=size,
                        run_before=_settled(app))


def test_discard_question(snap_compare, seeded_db, db_path, size):
    app = make_app(db_path)
    assert snap_compare(app, press=["e", *"typed", "escape"], terminal_size=size, run_before=_settled(app))


def test_failed_suggestion(snap_compare, seeded_db, db_path, size):
    app = make_app(db_path, model=FailingModel())
    assert snap_compare(app, terminal_size=size, run_before=_settled(app))


def test_help(snap_compare, seeded_db, db_path, size):
    app = make_app(db_path)
    assert snap_compare(app, press=["question_mark"], terminal_size=size, run_before=_settled(app))


def test_compare_screen(snap_compare, seeded_db, db_path, size):
    _second_source(db_path)
    app = make_app(db_path)
    assert snap_compare(app, press=["c", "down", "down"], terminal_size=size, run_before=_settled(app))


def test_stats_screen(snap_compare, seeded_db, db_path, size):
    app = make_app(db_path)
    app.session.clock = lambda: 0.0  # decisions take 0 s: the pace columns stay stable
    app.session.shown_at = 0.0
    assert snap_compare(app, press=["a", "r", "t"], terminal_size=size, run_before=_settled(app))


def test_search(snap_compare, seeded_db, db_path, size):
    app = make_app(db_path)
    assert snap_compare(app, press=["a", "slash", *"data selection"], terminal_size=size, run_before=_settled(app))


def test_goto(snap_compare, seeded_db, db_path, size):
    app = make_app(db_path)
    assert snap_compare(app, press=["g", "4", "2"], terminal_size=size, run_before=_settled(app))


def test_guidelines(snap_compare, seeded_db, db_path, size):
    from workbench.config import guidelines, load_config
    from workbench.prompts import prompts_dir

    app = make_app(db_path, guidelines=guidelines(load_config(), prompts_dir()))
    assert snap_compare(app, press=["h"], terminal_size=size, run_before=_settled(app))


def test_guidelines_beside_the_task_from_120_columns(snap_compare, seeded_db, db_path):
    from workbench.config import guidelines, load_config
    from workbench.prompts import prompts_dir

    app = make_app(db_path, guidelines=guidelines(load_config(), prompts_dir()))
    assert snap_compare(app, press=["h"], terminal_size=(130, 40), run_before=_settled(app))


# A day's work at 80x24: each state that used to wrap or overflow.
SMALL = (80, 24)
LONG_TITLE = "Scaling " + " ".join(f"word{n}" for n in range(125)) + " at scale"  # 900-odd characters


def _decide_many(db, count: int) -> None:
    from workbench.store import Decision, decide, paper_order

    for n, (_, pid) in enumerate(paper_order(db)[:count]):
        status = "rejected" if n % 15 == 0 else "edited" if n % 10 == 0 else "accepted"
        decide(db, Decision(pid, "ana", status, {} if status == "rejected" else {"technique": f"t{n}"}))


def test_80x24_after_120_decisions(snap_compare, seeded_db, db_path):
    _decide_many(seeded_db, 120)
    app = make_app(db_path)
    assert snap_compare(app, terminal_size=SMALL, run_before=_settled(app))


def test_80x24_with_a_40_character_annotator_name(snap_compare, seeded_db, db_path):
    app = make_app(db_path, annotator="Maximiliana Konstantinopoulou-Wiśniewska"[:40].ljust(40, "x"))
    assert snap_compare(app, terminal_size=SMALL, run_before=_settled(app))


def test_80x24_with_a_long_search_queue(snap_compare, seeded_db, db_path):
    app = make_app(db_path, queue='search:"mixture of experts" status:todo')
    assert snap_compare(app, terminal_size=SMALL, run_before=_settled(app))


def test_80x24_with_a_900_character_title(snap_compare, db, db_path, tmp_path):
    import json

    from workbench.ingest import ingest

    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps({"title": LONG_TITLE, "abstract": "We pre-train 2x faster on 8 GPUs. " * 8}) + "\n")
    ingest(db, [path])
    app = make_app(db_path)
    assert snap_compare(app, terminal_size=SMALL, run_before=_settled(app))


def test_80x24_compare_adjudicating(snap_compare, seeded_db, db_path):
    from workbench.store import Decision, decide, paper_order

    pid = paper_order(seeded_db)[3][1]
    decide(seeded_db, Decision(pid, "ana", "edited", {"technique": "ana's technique", "claimed_gain": "2x faster"}))
    decide(seeded_db, Decision(pid, "ben", "rejected", {}))
    app = make_app(db_path, annotator="cleo", queue="disagreements", others=("ana", "ben"))
    assert snap_compare(app, press=["c", "right", "down", "down", "down"], terminal_size=SMALL,
                        run_before=_settled(app))
