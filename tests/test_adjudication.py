"""Adjudication for any number of annotators: the disagreements queue, `review --adjudicate` (the
NAME@adjudicated role), the compare screen with every reviewer's column, `export --final`, and the stats
screen's agreement and team tabs."""

from __future__ import annotations

import json

import pytest

from tests.test_leases import papers_file
from tests.tui_helpers import running, settle
from workbench.db import open_db
from workbench.ingest import ingest
from workbench.review.adjudication import adjudicated_annotators, adjudication_plan
from workbench.store import Decision, decide, get_annotation, paper_order, set_distribution
from workbench.team_agreement import disagreeing_papers, team_status
from workbench.tui.widgets.panel import TextPanel
from workbench.vocab import ACCEPTED, DISAGREEMENTS, EDITED, REJECTED, adjudicator_role


def _store(url, tmp_path, count=8):
    db = open_db(url)
    ingest(db, [papers_file(tmp_path, count)])
    return db, [pid for _, pid in paper_order(db)]


def _say(db, pid, who, technique, gain=None, compute=None, status=EDITED):
    return decide(db, Decision(pid, who, status, {"technique": technique, "claimed_gain": gain, "compute": compute}))


def _three_reviewers(db, ids):
    """ids[0]: all agree (case, punctuation and accepted/edited aside); ids[1]: dan differs on compute;
    ids[2]: ben rejected; ids[3]: only ana decided; ids[4]: ana and ben agree, an adjudication differs."""
    _say(db, ids[0], "ana", "Layer dropping.", "3x faster", status=ACCEPTED)
    _say(db, ids[0], "ben", "layer  dropping", "3X faster")
    _say(db, ids[0], "dan", "LAYER DROPPING", "3x faster!")
    for who in ("ana", "ben"):
        _say(db, ids[1], who, "token merging", "2x", "8 GPUs")
    _say(db, ids[1], "dan", "token merging", "2x", "16 GPUs")
    _say(db, ids[2], "ana", "pruning")
    _say(db, ids[2], "ben", None, status=REJECTED)
    _say(db, ids[3], "ana", "distillation")
    _say(db, ids[4], "ana", "mixup")
    _say(db, ids[4], "ben", "mixup")
    _say(db, ids[4], adjudicator_role("cleo"), "cutmix")


# --------------------------------------------------------------------------- bad input first


@pytest.mark.parametrize("args, message", [
    (["--annotator", "cleo@adjudicated"], "is an adjudicator's role: use --annotator 'cleo' --adjudicate"),
    (["--annotator", "@adjudicated"], "is not an adjudicator's role (a person's name, then @adjudicated once)"),
    (["--annotator", "x@adjudicated@adjudicated"], "is not an adjudicator's role"),  # no advice to use 'x@adjudicated'
    (["--annotator", "cleo", "--adjudicate", "--queue", "flagged"], "--adjudicate steps through the disagreements"),
    (["--annotator", "cleo", "--adjudicate", "--annotators", "ana"], "two or more different names"),
    (["--annotator", "cleo", "--adjudicate", "--annotators", "ana,ana"], "two or more different names"),
    (["--annotator", "cleo", "--adjudicate", "--annotators", "ana,zed"], "'zed' has no decisions in this store"),
    (["--annotator", "cleo", "--annotators", "ana,ben"], "--annotators goes with --queue disagreements or --adjudicate"),
])
def test_review_refuses_what_adjudication_cannot_do_in_one_line(db_path, tmp_path, run_cli, args, message):
    db, ids = _store(db_path, tmp_path)
    _three_reviewers(db, ids)
    db.close()
    result = run_cli("review", *args)
    assert result.exit_code == 2 and message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_the_disagreements_queue_needs_two_annotators_besides_the_adjudicator(db_path, tmp_path, run_cli):
    db, ids = _store(db_path, tmp_path)
    _say(db, ids[0], "ana", "x")
    _say(db, ids[0], adjudicator_role("cleo"), "y")  # an adjudication is not an annotator
    db.close()
    result = run_cli("review", "--annotator", "cleo", "--adjudicate")
    assert result.exit_code == 2 and "has 1 annotator with decisions (ana)" in result.stderr


# --------------------------------------------------------------------------- which papers disagree


def test_papers_disagree_when_two_or_more_decisions_differ_on_rejection_or_a_normalised_field(db, tmp_path):
    ingest(db, [papers_file(tmp_path, 8)])
    ids = [pid for _, pid in paper_order(db)]
    _three_reviewers(db, ids)
    assert disagreeing_papers(db) == [ids[1], ids[2]]  # not ids[4]: the adjudication is not a decision
    assert disagreeing_papers(db, ["ana", "ben"]) == [ids[2]]  # ana and ben agree on ids[1]
    assert disagreeing_papers(db, ["ana", "dan"]) == [ids[1]]
    assert adjudicated_annotators(db, None) == ("ana", "ben", "dan")
    assert adjudicated_annotators(db, None, exclude="ben") == ("ana", "dan")
    assert adjudication_plan(db, "cleo", "todo", None, True) == ("cleo@adjudicated", DISAGREEMENTS,
                                                                 ("ana", "ben", "dan"))
    assert adjudication_plan(db, "ana", DISAGREEMENTS, "ben,dan", False) == ("ana", DISAGREEMENTS, ("ben", "dan"))
    # team status agrees: accepted and edited with the same values are not waiting for adjudication
    set_distribution(db, 2, None)
    assert team_status(db)["papers"]["awaiting_adjudication"] == 2


# --------------------------------------------------------------------------- the review app


def _texts(app, selector: str, width: int = 126) -> str:
    """A Static's content as the screen lays it out (rich's text at about the dialog's width)."""
    from rich.console import Console

    console = Console(width=width, record=True, file=open("/dev/null", "w"))
    console.print(app.screen.query_one(selector).content)
    return console.export_text()


async def test_adjudicating_shows_three_reviewers_columns_and_stores_the_adjudicated_role(db_path, tmp_path):
    from workbench.tui.screens.sources import CompareScreen

    db, ids = _store(db_path, tmp_path)
    _three_reviewers(db, ids)
    set_distribution(db, 3, None)  # ids[1] has every decision it needs: adjudicating takes no slot
    annotator, queue, others = adjudication_plan(db, "cleo", "todo", None, True)
    db.close()
    async with running(db_path, annotator=annotator, queue=queue, others=others, size=(130, 40)) as (app, pilot):
        assert [pid for _, pid in app.session.order] == [ids[1], ids[2]]
        summary = app.screen.query_one("#summary", TextPanel).plain
        assert "ana: edited" in summary and "ben: edited" in summary and "dan: edited" in summary
        await pilot.press("c")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CompareScreen) and not screen.narrow
        headers = [str(c.header) for c in screen.query_one("#compare-head").content.columns][1:]
        assert headers[-4:] == ["2. ana's decision · edited", "3. ben's decision · edited",
                                "4. dan's decision · edited", "→ your decision"]
        # ana's columns for all fields, then dan's compute: a decision no single reviewer made
        await pilot.press("2", "down", "down", "down", "4", "a")
        await settle(app, pilot)
        assert app.session.current_id == ids[2]
    db = open_db(db_path)
    adjudicated = get_annotation(db, ids[1], "cleo@adjudicated")
    assert (adjudicated.status, adjudicated.values) == (EDITED, {"technique": "token merging", "claimed_gain": "2x",
                                                                 "compute": "16 GPUs"})
    assert adjudicated.field_sources == {"technique": "annotator:ana", "claimed_gain": "annotator:ana",
                                         "compute": "annotator:dan"}
    assert get_annotation(db, ids[1], "cleo") is None  # the adjudicator's own decisions are untouched
    assert [get_annotation(db, ids[1], who).values["compute"] for who in ("ana", "ben", "dan")] == [
        "8 GPUs", "8 GPUs", "16 GPUs"]
    # ids[1] is adjudicated; ids[2] (in the queue: two decisions that differ) still needs a third decision
    assert team_status(db)["papers"]["awaiting_adjudication"] == 0
    db.close()


async def test_compare_at_80_columns_steps_through_every_reviewer(db_path, tmp_path):
    db, ids = _store(db_path, tmp_path)
    _three_reviewers(db, ids)
    annotator, queue, others = adjudication_plan(db, "cleo", "todo", None, True)
    db.close()
    async with running(db_path, annotator=annotator, queue=queue, others=others, size=(80, 24)) as (app, pilot):
        await pilot.press("c")
        await pilot.pause()
        screen = app.screen
        assert screen.narrow
        seen = []
        for _ in range(len(screen.columns)):
            seen.append(str(screen.query_one("#compare-head").content.columns[1].header))
            await pilot.press("right")
        assert [h for h in seen if "decision" in h] == ["2. ana's decision · edited", "3. ben's decision · edited",
                                                         "4. dan's decision · edited"]
        await pilot.press("3", "a")  # ben's column, taken for every field
        await settle(app, pilot)
    db = open_db(db_path)
    assert get_annotation(db, ids[1], "cleo@adjudicated").values["compute"] == "8 GPUs"
    db.close()


async def test_the_stats_screen_has_agreement_and_team_tabs(db_path, tmp_path):
    from workbench.tui.screens.stats import StatsScreen

    db, ids = _store(db_path, tmp_path)
    _three_reviewers(db, ids)
    set_distribution(db, 2, None)
    db.close()
    async with running(db_path, annotator="ana", size=(130, 40)) as (app, pilot):
        await pilot.press("t")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, StatsScreen)
        assert "ana: 5 of 8 papers decided" in _texts(app, "#stats-body")
        await pilot.press("right")
        body = _texts(app, "#stats-body")
        assert "3 annotators (ana, ben, dan)" in body and "presence AC1" in body
        await pilot.press("right")
        body = _texts(app, "#stats-body")
        # in progress: ids[3] (1 of 2 decisions) and ids[5], which ana's own session holds a lease on
        assert "2 complete  ·  2 in progress  ·  2 not started  ·  2 waiting for adjudication" in body
        assert "Each paper needs 2 decisions" in body
        for who, decisions in (("ana", "5"), ("ben", "4"), ("dan", "2")):
            row = next(line for line in body.splitlines() if f" {who} " in line)
            assert row.split("│")[2].strip() == decisions
            assert row.split("│")[-2].strip() == ("1" if who == "ana" else "0")  # live leases: ana's paper on screen
        await pilot.press("1")
        assert "ana: 5 of 8 papers decided" in _texts(app, "#stats-body")
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, StatsScreen)


async def test_the_team_tab_of_a_lone_annotator_says_agreement_needs_two(db_path, tmp_path):
    db, ids = _store(db_path, tmp_path)
    _say(db, ids[0], "ana", "x")
    db.close()
    async with running(db_path, annotator="ana") as (app, pilot):
        await pilot.press("t", "right")
        assert "Agreement needs two or more annotators with decisions; this store has 1." in _texts(app, "#stats-body")
        await pilot.press("right")
        body = _texts(app, "#stats-body")
        assert "No distribution set" in body and "1 complete" in body


# --------------------------------------------------------------------------- export --final


def test_export_final_on_both_backends(store_url, tmp_path, run_cli):
    db, ids = _store(store_url, tmp_path)
    _three_reviewers(db, ids)
    _say(db, ids[5], "ana", None, status=REJECTED)
    _say(db, ids[5], "ben", None, status=REJECTED)
    decide(db, Decision(ids[6], "ana", EDITED, {"technique": "title \x1b[2J with ESC", "claimed_gain": None,
                                                "compute": None}))
    decide(db, Decision(ids[6], "ben", EDITED, {"technique": "title \x1b[2J with esc", "claimed_gain": None,
                                                "compute": None}))
    db.close()
    result = run_cli("--db", store_url, "export", "--final")
    assert result.exit_code == 0 and "\x1b" not in result.stdout and "\\u001b" in result.stdout
    records = [json.loads(line) for line in result.stdout.splitlines()]
    by_id = {r["paper_id"]: r for r in records}
    # every paper needs 1 decision (no setting): ids[3] with its one decision is agreed
    assert [r["paper_id"] for r in records] == [ids[0], ids[3], ids[4], ids[5], ids[6]]
    assert by_id[ids[0]] == {
        "paper_id": ids[0], "title": "Paper number 0", "abstract": "We train 0 times faster.", "final": "agreed",
        "status": ACCEPTED, "annotation": {"technique": "Layer dropping.", "claimed_gain": "3x faster", "compute": None},
        "decided_by": "ana", "annotators": ["ana", "ben", "dan"], "text_changed": False}
    assert (by_id[ids[4]]["final"], by_id[ids[4]]["decided_by"], by_id[ids[4]]["annotation"]["technique"]) == (
        "adjudicated", "cleo@adjudicated", "cutmix")
    assert by_id[ids[4]]["annotators"] == ["ana", "ben"]
    assert (by_id[ids[5]]["status"], by_id[ids[5]]["annotation"]) == (REJECTED, {"technique": None,
                                                                               "claimed_gain": None, "compute": None})
    assert list(by_id[ids[0]]) == ["paper_id", "title", "abstract", "final", "status", "annotation", "decided_by",
                                   "annotators", "text_changed"]
    # a paper that needs 2 decisions and has one has no final decision yet
    assert run_cli("--db", store_url, "team", "per-paper", "2").exit_code == 0
    again = [json.loads(line)["paper_id"] for line in run_cli("--db", store_url, "export", "--final").stdout.splitlines()]
    assert again == [ids[0], ids[4], ids[5], ids[6]]
    out = tmp_path / "final.jsonl"
    written = run_cli("--db", store_url, "export", "--final", "-o", str(out))
    assert "exported 4 final decisions" in written.stderr and len(out.read_text().splitlines()) == 4


@pytest.mark.parametrize("extra", [["--status", "accepted"], ["--annotator", "ana"], ["--flagged"], ["--suggestions"]])
def test_export_final_takes_no_other_filter(db_path, tmp_path, run_cli, extra):
    db, ids = _store(db_path, tmp_path)
    _say(db, ids[0], "ana", "x")
    db.close()
    result = run_cli("export", "--final", *extra)
    assert result.exit_code == 2 and "--final takes no other filter" in result.stderr and result.stdout == ""


def test_export_final_says_when_the_text_changed_since_the_final_decision(db_path, tmp_path, run_cli):
    db, ids = _store(db_path, tmp_path)
    decide(db, Decision(ids[0], "ana", EDITED, {"technique": "x", "claimed_gain": None, "compute": None},
                        decided_on="an older text"))
    db.close()
    [record] = [json.loads(line) for line in run_cli("export", "--final").stdout.splitlines()]
    assert record["text_changed"] is True


@pytest.mark.parametrize("width", [80, 130])
def test_the_team_tabs_show_a_hostile_name_as_plain_text(db, tmp_path, width):
    from rich.console import Console

    from workbench.review.adjudication import team_figures
    from workbench.tui.screens.stats import agreement_renderable, team_renderable

    ingest(db, [papers_file(tmp_path, 3)])
    ids = [pid for _, pid in paper_order(db)]
    hostile = "[@click=app.quit]eve\x1b]0;pwned\x07\u202e"
    for who in (hostile, "ana"):
        _say(db, ids[0], who, f"technique of {who[:5]}")
    figures = team_figures(db)
    console = Console(width=width, record=True, file=open("/dev/null", "w"), force_terminal=True)
    for renderable in (agreement_renderable(figures, width), team_renderable(figures, width)):
        console.print(renderable)
    text = console.export_text(styles=True, clear=False)
    assert "\x1b]0;" not in text and "\x07" not in text and "\u202e" not in text
    assert "[@click=app.quit]eve" in console.export_text()  # shown as it is, never run as markup
