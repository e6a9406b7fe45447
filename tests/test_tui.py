"""The review TUI driven by Textual's Pilot; every assertion is on the screen state or the store."""

from __future__ import annotations

import sqlite3

import pytest
from textual.widgets import TextArea

from tests.tui_helpers import SIZE, DeadKeyModel, FailingModel, SlowModel, make_app, running, settle
from workbench.store import paper_order
from workbench.tui.screens.dialogs import HelpScreen, SearchScreen
from workbench.tui.widgets.form import SuggestionForm
from workbench.tui.widgets.panel import TextPanel


@pytest.fixture
def ids(seeded_db):
    return [pid for _, pid in paper_order(seeded_db)]


def annotation(db_path, pid, who="ana"):
    db = sqlite3.connect(db_path)
    db.row_factory = sqlite3.Row
    row = db.execute("SELECT * FROM annotations WHERE paper_id = ? AND annotator = ?", [pid, who]).fetchone()
    db.close()
    return dict(row) if row else None


def form_values(app) -> dict:
    return app.screen.query_one(SuggestionForm).values()


def text_of(app, selector: str) -> str:
    """Plain text of a panel: #progress, #paper (title, metadata, abstract) or #summary (the right pane)."""
    return app.screen.query_one(selector, TextPanel).plain


async def test_launch_shows_the_first_paper_and_prefetches_suggestions(seeded_db, db_path, ids):
    async with running(db_path) as (app, pilot):
        assert "A Multigrid Method" in text_of(app, "#paper")
        assert "0/504 decided" in text_of(app, "#progress") and "#1 of 504 in 'todo'" in text_of(app, "#progress")
        assert "4.5x faster" in form_values(app)["claimed_gain"]
        assert "✓ exact" in text_of(app, "#summary")
        stored = {r[0] for r in seeded_db.execute("SELECT paper_id FROM suggestions")}
        assert stored == set(ids[:5])  # the current paper and the next four
        assert app.focused is None


async def test_accept_stores_the_suggestion_as_is_and_moves_on(db_path, ids):
    async with running(db_path) as (app, pilot):
        shown = form_values(app)
        await pilot.press("a")
        await settle(app, pilot)
        row = annotation(db_path, ids[0])
        assert row["status"] == "accepted" and row["claimed_gain"] == shown["claimed_gain"]
        assert row["suggestion_id"] is not None and row["seconds_spent"] >= 0
        assert app.session.current_id == ids[1] and "1/504 decided" in text_of(app, "#progress")
        assert "BIOptimus" in text_of(app, "#paper")


async def test_edit_tab_and_ctrl_s_save_an_edited_decision(db_path, ids):
    async with running(db_path) as (app, pilot):
        await pilot.press("e")
        assert app.focused.id == "field-technique"
        await pilot.press("ctrl+a", *"multigrid", "tab")  # replace the value, next field
        assert app.focused.id == "field-claimed_gain"
        await pilot.press("tab", "tab", *"check table 3", "ctrl+s")
        await settle(app, pilot)
        row = annotation(db_path, ids[0])
        assert row["status"] == "edited" and row["technique"] == "multigrid" and row["notes"] == "check table 3"
        assert "4.5x faster" in row["claimed_gain"]
        assert app.focused is None and app.session.current_id == ids[1]


async def test_enter_moves_to_the_next_field_instead_of_a_newline(db_path, ids):
    async with running(db_path) as (app, pilot):
        await pilot.press("e", "enter")
        assert app.focused.id == "field-claimed_gain"
        assert "\n" not in app.screen.query_one("#field-technique", TextArea).text


async def test_keys_typed_in_a_field_go_to_the_field_not_the_bindings(db_path, ids):
    async with running(db_path) as (app, pilot):
        await pilot.press("e", "ctrl+a", "a", "r", "s", "u", "f", "n", "q", "1", "space", "slash")
        assert app.screen.query_one("#field-technique", TextArea).text == "arsufnq1 /"
        assert annotation(db_path, ids[0]) is None and app.session.current_id == ids[0]
        assert app.is_running


async def test_escape_asks_before_discarding_typed_edits(db_path, ids):
    from workbench.tui.screens.dialogs import ConfirmScreen

    async with running(db_path) as (app, pilot):
        before = form_values(app)
        await pilot.press("e", "escape")  # nothing typed: leaves at once
        await pilot.pause()
        assert not app.screen.editing and app.focused is None
        await pilot.press("e", *"junk", "escape")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")  # no: back to the form, the typing still there
        await pilot.pause()
        assert app.screen.editing and app.screen.query_one("#field-technique", TextArea).text.endswith("junk")
        await pilot.press("escape", "y")  # yes: discarded
        await pilot.pause()
        assert not app.screen.editing and app.focused is None and form_values(app) == before
        assert annotation(db_path, ids[0]) is None


async def test_reject_skip_next_and_previous(db_path, ids):
    async with running(db_path) as (app, pilot):
        await pilot.press("r")
        assert annotation(db_path, ids[0])["status"] == "rejected"
        await pilot.press("s")
        assert annotation(db_path, ids[1]) is None and app.session.current_id == ids[2]
        await pilot.press("n", "right")
        assert app.session.current_id == ids[4]
        await pilot.press("p", "left", "left")
        assert app.session.current_id == ids[1]
        await pilot.press("left")  # already at the start: stays
        assert app.session.current_id == ids[0]
        await settle(app, pilot)
        assert "Your decision: rejected" in text_of(app, "#summary")


async def test_undo_goes_back_and_restores_what_was_there(db_path, ids):
    async with running(db_path) as (app, pilot):
        await pilot.press("a", "a")
        await settle(app, pilot)
        assert app.session.current_id == ids[2]
        await pilot.press("u")
        await settle(app, pilot)
        assert app.session.current_id == ids[1] and annotation(db_path, ids[1]) is None
        assert annotation(db_path, ids[0])["status"] == "accepted"
        await pilot.press("r", "u", "u")
        await settle(app, pilot)
        assert app.session.current_id == ids[0] and annotation(db_path, ids[0]) is None
        assert "0/504 decided" in text_of(app, "#progress")


async def test_flag_and_unflag(db_path, ids):
    async with running(db_path) as (app, pilot):
        await pilot.press("f")
        await pilot.pause()
        assert annotation(db_path, ids[0])["flagged"] == 1 and annotation(db_path, ids[0])["status"] is None
        assert "⚑ flagged" in text_of(app, "#summary")
        await pilot.press("f")
        assert annotation(db_path, ids[0])["flagged"] == 0


async def test_goto_by_position_and_by_id(db_path, ids):
    async with running(db_path) as (app, pilot):
        await pilot.press("g", "4", "2", "enter")
        assert app.session.current_id == ids[41]
        await pilot.press("g", *ids[7][:8], "enter")
        assert app.session.current_id == ids[7]
        await pilot.press("g", "9", "9", "9", "9", "enter")
        await pilot.pause()
        assert app.session.current_id == ids[7]  # out of range: stays, says so


async def test_search_titles(db_path, ids):
    async with running(db_path) as (app, pilot):
        await pilot.press("slash")
        assert isinstance(app.screen, SearchScreen)
        await pilot.press(*"galore")
        await pilot.pause()
        await pilot.press("enter")
        await settle(app, pilot)
        assert text_of(app, "#paper").startswith("GaLore: Memory-Efficient LLM Training")


async def test_number_keys_switch_between_suggestions_and_accept_the_shown_one(db_path, ids, seeded_db):
    other = make_app(db_path, prompt="gains")  # a second prompt's suggestions for the first papers
    async with other.run_test(size=SIZE) as pilot:
        await settle(other, pilot)
    async with running(db_path) as (app, pilot):
        assert "of 2 (1-2, c)" in text_of(app, "#summary")
        suggestions = app.screen.view.suggestions
        assert app.screen.view.suggestion.prompt_name == "summary"  # the active prompt's is shown first
        await pilot.press(str(1 + next(i for i, s in enumerate(suggestions) if s.prompt_name == "gains")))
        await pilot.pause()
        assert app.screen.view.suggestion.prompt_name == "gains"
        await pilot.press("a")
        row = annotation(db_path, ids[0])
        assert row["suggestion_id"] == seeded_db.execute(
            "SELECT s.id FROM suggestions s JOIN prompts p ON p.id = s.prompt_id "
            "WHERE s.paper_id = ? AND p.name = 'gains'", [ids[0]]).fetchone()[0]


async def test_ctrl_r_resuggests_the_current_paper(db_path, ids, seeded_db):
    model = SlowModel(0.01)
    async with running(db_path, model=model) as (app, pilot):
        calls = model.calls
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert model.calls == calls + 1
        assert seeded_db.execute("SELECT count(*) FROM suggestions WHERE paper_id = ?", [ids[0]]).fetchone()[0] == 1


async def test_quit(db_path, ids):
    async with running(db_path) as (app, pilot):
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


async def test_help_lists_the_keys_and_closes(db_path, ids):
    async with running(db_path) as (app, pilot):
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        keys = dict(app.key_help())
        assert keys["a"] == "Accept" and keys["^s"] == "Save" and keys["u, ⌫"] == "Undo"
        assert keys["/"] == "Search" and keys["?"] == "Help"
        await pilot.press("a")  # bindings of the review screen are not active under the help
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen) and app.session.decided == 0


async def test_the_reviewer_never_waits_on_a_slow_model(db_path, ids):
    model = SlowModel(1.0)
    app = make_app(db_path, model=model)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert "suggesting…" in text_of(app, "#summary")
        await pilot.press("n", "n")  # moving on while suggestions are under way
        assert app.session.current_id == ids[2] and "suggesting…" in text_of(app, "#summary")
        await pilot.press("e", *"by hand", "ctrl+s")  # and deciding without one
        assert annotation(db_path, ids[2])["technique"] == "by hand"
        await settle(app, pilot)
        assert "A Multigrid" not in text_of(app, "#paper")
        assert form_values(app)["technique"]  # the current paper's suggestion arrived and filled the form


async def test_a_failed_suggestion_shows_its_outcome_and_hand_written_fields_save(db_path, ids):
    async with running(db_path, model=FailingModel()) as (app, pilot):
        assert "error: HTTP 500: upstream exploded" in text_of(app, "#summary")
        await pilot.press("a")  # nothing to accept: a warning, no decision
        assert annotation(db_path, ids[0]) is None and app.session.current_id == ids[0]
        await pilot.press("e", *"hand-made", "ctrl+s")
        row = annotation(db_path, ids[0])
        assert (row["status"], row["technique"]) == ("edited", "hand-made")


async def test_a_bad_key_stops_suggestions_but_not_the_reviewer(db_path, ids):
    async with running(db_path, model=DeadKeyModel()) as (app, pilot):
        assert "rejected the API key" in text_of(app, "#summary")
        assert any("check OPENAI_API_KEY" in n.message for n in app._notifications)
        await pilot.press("r", "e", *"manual", "ctrl+s")
        assert annotation(db_path, ids[0])["status"] == "rejected"
        assert annotation(db_path, ids[1])["technique"] == "manual"


async def test_a_locked_store_is_reported_and_nothing_is_lost(db_path, ids):
    app = make_app(db_path)
    app.session.db.execute("PRAGMA busy_timeout = 100")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        blocker = sqlite3.connect(db_path)
        blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        await pilot.press("a")
        await pilot.pause()
        assert app.session.current_id == ids[0] and annotation(db_path, ids[0]) is None
        assert any("nothing was saved" in n.message for n in app._notifications)
        blocker.rollback()
        blocker.close()
        await pilot.press("a")
        assert annotation(db_path, ids[0])["status"] == "accepted" and app.session.current_id == ids[1]


async def test_queues_and_resume_after_restart(db_path, ids):
    first = make_app(db_path)
    async with first.run_test(size=SIZE) as pilot:
        await settle(first, pilot)
        await pilot.press("a", "r", "f")
    resumed = make_app(db_path)
    async with resumed.run_test(size=SIZE) as pilot:
        await settle(resumed, pilot)
        assert resumed.session.current_id == ids[2] and "2/504 decided" in text_of(resumed, "#progress")
    flagged = make_app(db_path, queue="flagged")
    async with flagged.run_test(size=SIZE) as pilot:
        await settle(flagged, pilot)
        assert flagged.session.current_id == ids[2] and "#1 of 1 in 'flagged'" in text_of(flagged, "#progress")
    empty = make_app(db_path, queue="edited")
    async with empty.run_test(size=SIZE) as pilot:
        await settle(empty, pilot)
        assert "Nothing to review in the 'edited' queue" in text_of(empty, "#paper")
        await pilot.press("a", "e", "r")  # nothing happens, nothing breaks
        assert empty.is_running


async def test_keys_can_be_remapped(db_path, ids):
    async with running(db_path, keymap={"accept": "y", "reject": "x"}) as (app, pilot):
        await pilot.press("a")
        assert annotation(db_path, ids[0]) is None
        await pilot.press("y", "x")
        assert annotation(db_path, ids[0])["status"] == "accepted"
        assert annotation(db_path, ids[1])["status"] == "rejected"
        assert dict(app.key_help())["y"] == "Accept" and dict(app.key_help())["x"] == "Reject"


def test_unknown_binding_id_in_the_config_is_a_clear_error(db_path, seeded_db):
    from workbench.errors import InputError

    with pytest.raises(InputError, match="config \\[keys\\]: unknown binding id 'acept'"):
        make_app(db_path, keymap={"acept": "y"})


async def test_command_palette_offers_the_review_actions(db_path, ids):
    async with running(db_path) as (app, pilot):
        titles = [c.title for c in app.get_system_commands(app.screen)]
        for title in ("Accept", "Reject", "Undo", "Flag", "Go to", "Search", "Re-suggest"):
            assert title in titles


def test_panel_keeps_each_line_its_own_style():
    """Wrapped lines render with their spans' styles and nothing leaks to the next line."""
    from rich.console import Console
    from rich.text import Text

    from workbench.records import PaperRow
    from workbench.tui.widgets.abstract import paper_text

    text = paper_text(PaperRow("x1", 1, "A Title", "Plain words here.", authors_count=3), {})
    console = Console()
    lines = [(line.plain, {str(s.style) for s in line.render(console) if s.text.strip()})
             for line in text.wrap(console, 40)]
    assert lines[0] == ("A Title", {"bold"})
    assert lines[1][0].startswith("3 authors") and lines[1][1] == {"dim"}
    assert lines[-1] == ("Plain words here.", {"None"})


async def _two_prompts(db_path):
    other = make_app(db_path, prompt="gains", model=SlowModel(0))  # a second model's suggestions
    async with other.run_test(size=SIZE) as pilot:
        await settle(other, pilot)


async def test_compare_screen_picks_another_suggestion_and_accepts_it(db_path, ids, seeded_db):
    from workbench.tui.screens.compare import CompareScreen

    await _two_prompts(db_path)
    async with running(db_path) as (app, pilot):
        await pilot.press("c")
        assert isinstance(app.screen, CompareScreen)
        from workbench.tui.screens.compare import comparison_table

        headers = " ".join(str(column.header) for column in comparison_table(app.screen.view, 1).columns)
        assert "summary@" in headers and "gains@" in headers and "slow-model" in headers and "yours: not decided" in headers
        other = 1 + next(i for i, s in enumerate(app.screen.view.suggestions) if s.model == "slow-model")
        await pilot.press(str(other), "a")
        await settle(app, pilot)
        row = annotation(db_path, ids[0])
        chosen = seeded_db.execute("SELECT model FROM suggestions WHERE id = ?", [row["suggestion_id"]]).fetchone()[0]
        assert (row["status"], chosen) == ("accepted", "slow-model") and app.session.current_id == ids[1]


async def test_compare_screen_edit_opens_the_form_with_that_suggestion(db_path, ids):
    await _two_prompts(db_path)
    async with running(db_path) as (app, pilot):
        await pilot.press("c", "1", "e")
        await pilot.pause()
        assert app.screen.editing and app.focused.id == "field-technique"
        await pilot.press("escape", "c", "escape")
        assert annotation(db_path, ids[0]) is None and not app.screen.editing


async def test_stats_screen_shows_progress_pace_and_rates(db_path, ids):
    from workbench.tui.screens.stats import StatsScreen, stats_renderable

    async with running(db_path) as (app, pilot):
        await pilot.press("a", "r", "t")
        assert isinstance(app.screen, StatsScreen)
        from rich.console import Console

        console = Console(width=120, record=True)
        console.print(stats_renderable(app.session.stats()))
        text = console.export_text()
        assert "ana: 2 of 504 papers decided" in text and "✓ 1 accepted" in text and "✗ 1 rejected" in text
        assert "this session │         2" in text and "summary@" in text and "50.0%" in text
        await pilot.press("escape")
        assert not isinstance(app.screen, StatsScreen)


async def test_disagreements_queue_shows_both_decisions_and_stores_the_adjudicators(db_path, ids, seeded_db):
    from workbench.store import Decision, decide

    decide(seeded_db, Decision(ids[3], "ana", "accepted", {"technique": "x"}))
    decide(seeded_db, Decision(ids[3], "ben", "rejected", {}))
    decide(seeded_db, Decision(ids[5], "ana", "accepted", {"technique": "same"}))
    decide(seeded_db, Decision(ids[5], "ben", "accepted", {"technique": "same"}))
    async with running(db_path, annotator="cleo", queue="disagreements", others=("ana", "ben")) as (app, pilot):
        assert len(app.session) == 1 and app.session.current_id == ids[3]
        summary = text_of(app, "#summary")
        assert "ana: accepted" in summary and "ben: rejected" in summary
        await pilot.press("r")
        assert annotation(db_path, ids[3], "cleo")["status"] == "rejected"
        assert annotation(db_path, ids[3], "ana")["status"] == "accepted"


async def test_a_model_that_raises_fails_that_paper_once_not_in_a_loop(db_path, ids):
    class BrokenModel(FailingModel):
        name = "broken"
        calls = 0

        async def summarise(self, title, abstract, prompt):
            BrokenModel.calls += 1
            raise RuntimeError("a bug in a provider")

    async with running(db_path, model=BrokenModel()) as (app, pilot):
        await pilot.pause(0.2)
        await settle(app, pilot)
        assert BrokenModel.calls == 5  # the current paper and the next four, once each
        assert "error: RuntimeError: a bug in a provider" in text_of(app, "#summary")
        await pilot.press("ctrl+r")
        await settle(app, pilot)
        assert BrokenModel.calls == 6 and app.is_running
        assert any(n.message.startswith("Asking summary@") and "broken again" in n.message for n in app._notifications)


async def test_the_screen_shows_the_sessions_notice_once(seeded_db, db_path, tmp_path):
    from tests.conftest import write

    bare = write(tmp_path / "bare.toml", 'name = "bare"\ndescription = "d"\nsystem = "s"\nuser = "{title} {abstract}"\n')
    async with running(db_path, prompt=str(bare)) as (app, pilot):
        await pilot.press("n")
        await settle(app, pilot)
        assert sum("ignores the text of prompt 'bare'" in n.message for n in app._notifications) == 1
