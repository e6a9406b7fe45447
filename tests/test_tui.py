"""The review TUI driven by Textual's Pilot; every assertion is on the screen state or the store."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
from textual.widgets import TextArea

from tests.tui_helpers import SIZE, DeadKeyModel, FailingModel, SlowModel, make_app, running, settle
from workbench.store import paper_order
from workbench.tui.screens.paper_keys import palette_entries
from workbench.tui.screens.dialogs import GotoScreen, ReadingScreen, SearchScreen
from workbench.tui.screens.paper import ReviewScreen
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


def showing(app, dialog_id: str) -> bool:
    return isinstance(app.screen, ReadingScreen) and app.screen.dialog_id == dialog_id


def form_values(app) -> dict:
    return app.screen.query_one(SuggestionForm).values()


def text_of(app, selector: str) -> str:
    """Plain text of a panel: #progress, #paper (title, metadata, abstract) or #summary (the right pane)."""
    return app.screen.query_one(selector, TextPanel).plain


async def test_launch_shows_the_first_paper_and_prefetches_suggestions(seeded_db, db_path, ids):
    async with running(db_path) as (app, pilot):
        assert "A Multigrid Method" in text_of(app, "#paper")
        assert "0/504 decided" in text_of(app, "#progress") and "1 of 504 in 'todo'" in text_of(app, "#progress")
        assert "4.5x faster" in form_values(app)["claimed_gain"]
        assert "✓ exact" in text_of(app, "#summary")
        stored = {r[0] for r in seeded_db.execute("SELECT paper_id FROM suggestions")}
        assert stored == set(ids[:5])  # the current paper and the next four
        assert app.focused is None


async def test_the_next_papers_are_suggested_after_the_current_one_is_drawn(seeded_db, db_path, ids):
    def stored():
        return {r[0] for r in seeded_db.execute("SELECT paper_id FROM suggestions")}

    async with running(db_path) as (app, pilot):
        await pilot.press(*"aaaaaa")  # faster than the fill-ahead timer: each paper is filled as it comes up
        await pilot.pause()
        assert app.session.current_id == ids[6] and "✓ exact" in text_of(app, "#summary")
        assert ids[6] in stored()
        await pilot.pause(0.1)
        assert stored() == set(ids[:11])  # then the four after it


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


@pytest.mark.parametrize("move", ["tab", "enter"])
async def test_typing_after_moving_to_a_field_adds_at_its_end_as_in_the_first(db_path, ids, move):
    """`e x tab y tab z ctrl+s` once stored "...x" but "y5.5 ~ 221.3X...": the first field's cursor was at its end,
    the next ones' at their start."""
    async with running(db_path) as (app, pilot):
        await pilot.press("e")
        before = form_values(app)
        await _burst(app, pilot, ["x", move, "y", move, "z", "shift+tab", "w", "ctrl+s"])
        row = annotation(db_path, ids[0])
        assert row["technique"] == before["technique"] + "x"
        assert row["claimed_gain"] == before["claimed_gain"] + "yw"
        assert row["compute"] == (before["compute"] or "") + "z"


async def test_a_suggestion_that_arrives_while_the_form_is_open_is_said_and_the_typing_kept(db_path, ids):
    """"suggesting…" stayed on screen with the reply long stored; the form is left as typed (a redraw under the
    reviewer's keys would act on what they never saw), and it says the suggestion came."""
    app = make_app(db_path, model=SlowModel(1.0))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("e", *"mine")
        assert "suggesting…" in str(app.screen.query_one("#editor-source").render())
        await pilot.pause(2.0)
        assert "arrived while you typed" in str(app.screen.query_one("#editor-source").render())
        assert form_values(app)["technique"] == "mine"
        await pilot.press("escape", "y")  # leave, dropping the typing: the suggestion shows
        await settle(app, pilot)
        assert "slow-model · ok" in text_of(app, "#summary")


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
        await pilot.press("a")  # ids[7] accepted; on to ids[8]
        await pilot.press("g", "9", "9", "9", "9", "enter")
        await pilot.pause()
        assert app.session.current_id == ids[8]  # out of range: stays, and says so in the dialog, still open
        assert isinstance(app.screen, GotoScreen)
        assert "No paper '9999' (a paper number from #1 to #504" in str(app.screen.query_one("#goto-problem").render())
        await pilot.press("backspace", "backspace", "backspace", "enter")  # corrects the number: no undo
        await pilot.pause()
        assert app.session.current_id == ids[8] and annotation(db_path, ids[7])["status"] == "accepted"
        assert not isinstance(app.screen, GotoScreen)


async def test_goto_an_id_start_made_of_digits_or_shared_by_several(db_path, ids):
    """"8237" (paper #1's id starts so) was read only as a number; "e5", the start of three ids, was "no paper"."""
    digits = next(pid for pid in ids if pid[:4].isdecimal() and int(pid[:4]) > len(ids)
                  and sum(other.startswith(pid[:4]) for other in ids) == 1)
    shared = next(pid[:2] for pid in ids if not pid[:2].isdecimal() and sum(o.startswith(pid[:2]) for o in ids) > 1)
    async with running(db_path) as (app, pilot):
        await pilot.press("g", *digits[:4], "enter")
        await pilot.pause()
        assert app.session.current_id == digits and not isinstance(app.screen, GotoScreen)
        await pilot.press("g", *shared, "enter")
        await pilot.pause()
        problem = app.screen.query_one("#goto-problem")
        assert str(problem.render()) == f"Several paper ids start with '{shared}': type more of the id."
        await pilot.press("backspace")
        assert str(problem.render()) == ""  # said of what was typed before


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
        summary = text_of(app, "#summary")
        assert "\n1 gains@" in summary and "\n2 summary@" in summary  # the legend: the sources, numbered
        assert app.screen.view.suggestion.prompt_name == "summary"  # the active prompt's is shown first
        await pilot.press("1")
        await pilot.pause()
        assert app.screen.view.suggestion.prompt_name == "gains"
        await pilot.press("a")
        row = annotation(db_path, ids[0])
        assert row["suggestion_id"] == seeded_db.execute(
            "SELECT s.id FROM suggestions s JOIN prompts p ON p.id = s.prompt_id "
            "WHERE s.paper_id = ? AND p.name = 'gains'", [ids[0]]).fetchone()[0]
        for number, prompt in (("1", "gains"), ("2", "summary")):  # the same meaning on the next paper
            await pilot.press(number)
            await pilot.pause()
            assert app.session.current_id == ids[1] and app.screen.view.suggestion.prompt_name == prompt


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
        assert showing(app, "help")
        keys = dict(app.key_help())
        assert keys["a"].startswith("Accept what the pane shows") and keys["^s"].startswith("Save the form")
        assert keys["u, ⌫"].startswith("Undo your last change")
        assert keys["/"].startswith("Search titles and abstracts") and keys["?"] == "These keys"
        await pilot.press("a")  # bindings of the review screen are not active under the help
        await pilot.press("escape")
        assert not showing(app, "help") and app.session.decided == 0


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


@pytest.mark.parametrize("fault", ["surrogate", "surrogate-raw"])
async def test_a_reply_with_a_lone_surrogate_is_an_invalid_suggestion_not_a_crash(db_path, ids, fault):
    from tests.fake_openai import FakeOpenAI
    from workbench.models.openai_compat import OpenAICompatibleModel, RetryPolicy

    fake = FakeOpenAI(default=fault).start()
    model = OpenAICompatibleModel("test-model", base_url=fake.base_url, api_key="sk-tui-0123456789", timeout=5.0,
                                  response_format="json_schema", retry=RetryPolicy(max_attempts=1))
    try:
        async with running(db_path, model=model) as (app, pilot):
            assert "invalid" in text_of(app, "#summary") and "lone surrogate" in text_of(app, "#summary")
            await pilot.press("e", *"by hand", "ctrl+s")
            assert annotation(db_path, ids[0])["technique"] == "by hand"
            assert app.is_running
    finally:
        fake.stop()
    stored = sqlite3.connect(db_path).execute("SELECT outcome FROM suggestions WHERE paper_id = ?", [ids[0]])
    assert stored.fetchall() == [("invalid",)]


async def test_a_bad_key_stops_suggestions_but_not_the_reviewer(notices, db_path, ids):
    async with running(db_path, model=DeadKeyModel()) as (app, pilot):
        assert "rejected the API key" in text_of(app, "#summary")
        assert any("check OPENAI_API_KEY" in n for n in notices)
        await pilot.press("r", "e", *"manual", "ctrl+s")
        assert annotation(db_path, ids[0])["status"] == "rejected"
        assert annotation(db_path, ids[1])["technique"] == "manual"


async def test_a_locked_store_is_reported_and_nothing_is_lost(notices, db_path, ids):
    app = make_app(db_path)
    app.session.db.execute("PRAGMA busy_timeout = 100")
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await settle(app, pilot)
        blocker = sqlite3.connect(db_path)
        blocker.execute("BEGIN IMMEDIATE")  # another process holds the write lock
        await pilot.press("a")
        await pilot.pause()
        assert app.session.current_id == ids[0] and annotation(db_path, ids[0]) is None
        assert any("nothing was saved" in n for n in notices)
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
        assert flagged.session.current_id == ids[2] and "1 of 1 in 'flagged'" in text_of(flagged, "#progress")
    empty = make_app(db_path, queue="edited")
    async with empty.run_test(size=SIZE) as pilot:
        await settle(empty, pilot)
        assert "Nothing to review in the 'edited' queue" in text_of(empty, "#paper")
        await pilot.press("a", "e", "r")  # nothing to decide: nothing happens, nothing breaks
        await pilot.pause()
        assert empty.session.decided == 2 and empty.session.current_id is None and not empty.screen.editing
        assert "Nothing to review in the 'edited' queue" in text_of(empty, "#paper")


async def test_keys_can_be_remapped(db_path, ids):
    async with running(db_path, keymap={"accept": "y", "reject": "x"}) as (app, pilot):
        await pilot.press("a")
        assert annotation(db_path, ids[0]) is None
        await pilot.press("y", "x")
        assert annotation(db_path, ids[0])["status"] == "accepted"
        assert annotation(db_path, ids[1])["status"] == "rejected"
        assert dict(app.key_help())["y"].startswith("Accept") and dict(app.key_help())["x"] == "Reject this paper"


def test_unknown_binding_id_in_the_config_is_a_clear_error(db_path, seeded_db):
    from workbench.errors import InputError

    with pytest.raises(InputError) as caught:
        make_app(db_path, keymap={"acept": "y"})
    assert str(caught.value).endswith("no-config.toml: unknown key 'acept' in [keys]; did you mean 'accept'?")


@pytest.mark.parametrize("keys, bad", [("ctrl+shift+alt+zz", "ctrl+shift+alt+zz"), ("notakey", "notakey"),
                                       ("a,hyper+b,blah", "blah"), ("cmd+a", "cmd+a"), ("shift+x", "shift+x"),
                                       ("ctrl+ctrl+a", "ctrl+ctrl+a"), ("a,alt+x", "alt+x")])
def test_a_key_no_keyboard_can_type_is_a_config_error_naming_it(db_path, seeded_db, keys, bad):
    from workbench.errors import InputError

    with pytest.raises(InputError, match=f"config \\[keys\\]: accept = '{re.escape(keys)}': '{re.escape(bad)}' is a key "
                                         "no keyboard can type"):
        make_app(db_path, keymap={"accept": keys})


@pytest.mark.parametrize("keymap, key, first, second", [({"quit": "x", "reject": "x"}, "x", "reject", "quit"),
                                                         ({"accept": "r"}, "r", "accept", "reject")])
def test_a_key_bound_to_two_actions_is_a_config_error_naming_both(db_path, seeded_db, keymap, key, first, second):
    from workbench.errors import InputError

    with pytest.raises(InputError, match=f"'{key}' is bound to both {first} and {second}"):
        make_app(db_path, keymap=keymap)


@pytest.mark.parametrize("keys", ["y", "Y", "f1", "ctrl+g", "question_mark", "slash", "enter,space", "shift+right",
                                  "home", "ctrl+shift+left", "full_stop", "1", "? , y"])
def test_every_key_textual_names_is_accepted(db_path, seeded_db, keys):
    expected = "question_mark,y" if keys == "? , y" else keys  # as Textual's key events name them
    freed = {"help": "f12", "search": "f11", "skip": "s", "pick_1": "f10"}  # their keys go to accept here
    app = make_app(db_path, keymap={"accept": keys, **freed})
    assert app.keymap_overrides == {"accept": expected, **freed}


async def test_command_palette_offers_the_review_actions(db_path, ids):
    from workbench.tui.screens.commands import CommandsScreen

    async with running(db_path) as (app, pilot):
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert isinstance(app.screen, CommandsScreen)
        listed = {description: keys for keys, description, _ in app.screen.shown}
        for title in ("Accept", "Reject", "Undo", "Flag", "Go to", "Search", "Re-suggest"):
            assert title in listed
        assert (listed["Accept"], listed["Undo"]) == ("a", "u, ⌫")
        await pilot.press(*"re")
        assert [description for _, description, _ in app.screen.shown][:2] == ["Reject", "Re-suggest"]
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, ReviewScreen) and annotation(db_path, ids[0]) is None


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
    assert lines[1][0].startswith("#1  ·  3 authors") and lines[1][1] == {"dim"}
    assert lines[-1] == ("Plain words here.", {"None"})


async def _two_prompts(db_path):
    other = make_app(db_path, prompt="gains", model=SlowModel(0))  # a second model's suggestions
    async with other.run_test(size=SIZE) as pilot:
        await settle(other, pilot)


async def test_compare_screen_picks_another_suggestion_and_accepts_it(db_path, ids, seeded_db):
    from workbench.tui.screens.sources import CompareScreen, comparison_tables

    await _two_prompts(db_path)
    async with running(db_path) as (app, pilot):
        await pilot.press("c")
        assert isinstance(app.screen, CompareScreen)
        screen = app.screen
        table = comparison_tables(screen.view, screen.columns, screen.choice, screen.row)[0]
        headers = " ".join(str(column.header) for column in table.columns)
        assert "summary@" in headers and "gains@" in headers and "slow-model" in headers
        assert "→ your decision" in headers
        other = 1 + next(i for i, s in enumerate(screen.columns) if s.suggestion and s.suggestion.model == "slow-model")
        await pilot.press(str(other), "a")
        await settle(app, pilot)
        row = annotation(db_path, ids[0])
        chosen = seeded_db.execute("SELECT model FROM suggestions WHERE id = ?", [row["suggestion_id"]]).fetchone()[0]
        assert (row["status"], chosen, row["field_sources"]) == ("accepted", "slow-model", None)
        assert app.session.current_id == ids[1]


async def test_compare_screen_takes_each_field_from_another_source_and_records_which(db_path, ids, seeded_db):
    from workbench.tui.screens.sources import CompareScreen

    await _two_prompts(db_path)
    async with running(db_path) as (app, pilot):
        await pilot.press("c")
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        summary = 1 + next(i for i, s in enumerate(screen.columns) if s.suggestion and s.suggestion.model == "offline")
        slow = 1 + next(i for i, s in enumerate(screen.columns) if s.suggestion and s.suggestion.model == "slow-model")
        slow_gain = screen.columns[slow - 1].values["claimed_gain"]
        await pilot.press(str(summary), "down", "down", str(slow))  # all from summary, then the gain from the other
        await pilot.press("e")
        await pilot.pause()
        assert app.screen.editing and form_values(app)["claimed_gain"] == slow_gain
        await pilot.press("ctrl+a", *"by hand", "ctrl+s")  # technique typed over
        await settle(app, pilot)
        row = annotation(db_path, ids[0])
        sources = json.loads(row["field_sources"])
        assert row["status"] == "edited" and row["technique"] == "by hand" and row["claimed_gain"] == slow_gain
        assert sources["technique"] == "you" and sources["claimed_gain"].endswith("· slow-model")
        assert sources["compute"].startswith("suggestion:summary@") and sources["compute"].endswith("· offline")


async def test_compare_screen_edit_opens_the_form_with_that_suggestion(db_path, ids):
    await _two_prompts(db_path)
    async with running(db_path) as (app, pilot):
        await pilot.press("c", "1", "e")
        await pilot.pause()
        assert app.screen.editing and app.focused.id == "field-technique"
        await pilot.press("escape", "c", "escape")
        assert annotation(db_path, ids[0]) is None and not app.screen.editing


async def test_adjudication_takes_a_reviewers_answer_as_the_starting_point(db_path, ids, seeded_db):
    from workbench.store import Decision, decide
    from workbench.tui.screens.sources import CompareScreen

    decide(seeded_db, Decision(ids[3], "ana", "edited", {"technique": "ana's technique", "claimed_gain": "2x"}))
    decide(seeded_db, Decision(ids[3], "ben", "edited", {"technique": "ben's technique", "compute": "8 GPUs"}))
    async with running(db_path, annotator="cleo", queue="disagreements", others=("ana", "ben")) as (app, pilot):
        await pilot.press("c")
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        labels = [c.label for c in screen.columns]
        assert labels[-2:] == ["ana (edited)", "ben (edited)"]
        ben = len(labels)
        await pilot.press(str(ben), "down", "down", str(ben - 1), "a")  # ben's, with ana's gain
        await settle(app, pilot)
        row = annotation(db_path, ids[3], "cleo")
        assert (row["status"], row["technique"], row["claimed_gain"], row["compute"]) == (
            "edited", "ben's technique", "2x", "8 GPUs")
        assert json.loads(row["field_sources"]) == {"technique": "annotator:ben", "claimed_gain": "annotator:ana",
                                                    "compute": "annotator:ben"}


async def test_stats_screen_shows_progress_pace_and_rates(db_path, ids):
    from workbench.tui.screens.stats import stats_renderable

    async with running(db_path) as (app, pilot):
        await pilot.press("a", "r", "t")
        assert showing(app, "stats")
        from rich.console import Console

        console = Console(width=120, record=True)
        console.print(stats_renderable(app.session.stats()))
        text = console.export_text()
        assert "ana: 2 of 504 papers decided" in text and "✓ 1 accepted" in text and "✗ 1 rejected" in text
        assert "this session │         2" in text and "summary@" in text and "50.0%" in text
        await pilot.press("escape")
        assert not showing(app, "stats")


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


async def test_a_model_that_raises_fails_that_paper_once_not_in_a_loop(notices, db_path, ids):
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
        assert any(n.startswith("Asking summary@") and "broken again" in n for n in notices)


def test_long_texts_are_cut_at_sentences_into_pieces_that_keep_their_styles():
    from rich.text import Text

    from workbench.tui.widgets.panel import PIECE_CHARS, pieces

    short = Text("A short abstract. It fits.")
    assert pieces(short) == [short]
    sentence = "This sentence is about forty characters. "
    long = Text(sentence * 500)  # 20,500 characters
    long.stylize("bold", 10, 20)
    parts = pieces(long)
    assert "".join(p.plain for p in parts) == long.plain
    assert all(len(p.plain) <= PIECE_CHARS for p in parts) and all(p.plain.endswith(". ") for p in parts[:-1])
    assert parts[0].spans[0].start == 10 and parts[0].spans[0].end == 20
    word = Text("x" * (3 * PIECE_CHARS))  # one unbroken word is folded anywhere
    assert [len(p.plain) for p in pieces(word)] == [PIECE_CHARS] * 3


async def test_an_abstract_at_the_size_limit_is_wrapped_only_as_far_as_the_view(db_path, tmp_path):
    from tests.conftest import write
    from workbench.db import open_db
    from workbench.ingest import ingest

    abstract = "We propose MaxNet. " + "It is a long abstract sentence. " * 3124
    source = write(tmp_path / "big.jsonl", json.dumps({"title": "Big", "abstract": abstract[:100_000]}) + "\n")
    db = open_db(db_path)
    ingest(db, [source])
    db.close()
    async with running(db_path) as (app, pilot):
        panel = app.screen.query_one("#paper", TextPanel)
        assert panel._wrapped_pieces == 1 and len(panel._pieces) > 20
        assert "It is a long abstract sentence." in text_of(app, "#paper")
        await pilot.press("pagedown", "pagedown", "pagedown")
        assert panel._offset == 30 and panel._wrapped_pieces <= 3


async def test_guidelines_open_beside_the_task(notices, db_path, ids, tmp_path):
    from textual.widgets import Markdown

    from workbench.config import guidelines, load_config
    from workbench.prompts import prompts_dir

    notes = guidelines(load_config(), prompts_dir())
    assert notes is not None and notes.path.name == "guidelines.md"
    async with running(db_path, guidelines=notes) as (app, pilot):
        await pilot.press("h")
        await pilot.pause()
        assert showing(app, "guidelines")
        assert "No figure, no gain" in app.screen.query_one(Markdown).source
        await pilot.press("escape", "a")
        assert annotation(db_path, ids[0])["status"] == "accepted"
    async with running(db_path, guidelines=notes, size=(130, 40)) as (app, pilot):  # wide: beside the task
        side = app.screen.query_one("#guidelines-side")
        assert not side.display
        await pilot.press("h")
        await pilot.pause()
        assert side.display and side.region.width >= 30
        assert "No figure, no gain" in side.query_one(Markdown).source
        await pilot.press("a", "r")  # the review goes on with the guidelines open
        assert [annotation(db_path, i)["status"] for i in ids[1:3]] == ["accepted", "rejected"]
        assert side.display and app.screen.query_one("#paper").region.width >= 40
        await pilot.press("h")
        await pilot.pause()
        assert not side.display
        await pilot.press("h")
        await pilot.resize_terminal(100, 30)  # too narrow beside the task: it closes; h opens the overlay
        await pilot.pause()
        assert not side.display
    async with running(db_path, guidelines=None) as (app, pilot):
        await pilot.press("h")
        await pilot.pause()
        assert not showing(app, "guidelines")
        assert any("No guidelines" in n for n in notices)


def test_a_guidelines_path_in_the_config_that_is_missing_is_a_clear_error(tmp_path, monkeypatch):
    from tests.conftest import write
    from workbench.config import guidelines, load_config
    from workbench.errors import InputError

    config = write(tmp_path / "config.toml", '[review]\nguidelines = "nope.md"\n')
    monkeypatch.setenv("WORKBENCH_CONFIG", str(config))
    with pytest.raises(InputError, match=r"\[review\] guidelines: no such file nope.md"):
        guidelines(load_config(), tmp_path)


# --------------------------------------------------------------------------- the review loop's traps


async def test_a_key_on_a_suggestion_still_coming_says_so_and_decides_nothing(notices, db_path, ids):
    model = SlowModel(1.5)
    app = make_app(db_path, model=model)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await pilot.pause()
        await pilot.press("a")
        await pilot.pause()
        assert annotation(db_path, ids[0]) is None and app.session.current_id == ids[0]
        assert any("still coming" in n for n in notices)
        await settle(app, pilot)
        await pilot.press("a")  # shown now: accepted
        assert annotation(db_path, ids[0])["status"] == "accepted"


async def test_a_on_an_edited_paper_keeps_the_edit_and_a_pick_is_needed_to_replace_it(db_path, ids):
    async with running(db_path, queue="all") as (app, pilot):
        suggested = form_values(app)["technique"]
        await pilot.press("e", "ctrl+a", *"my own words", "ctrl+s")
        await settle(app, pilot)
        await pilot.press("p")  # back to the edited paper
        await settle(app, pilot)
        assert form_values(app)["technique"] == "my own words" and "a keeps them" in text_of(app, "#summary")
        await pilot.press("a")  # confirms what is shown
        await settle(app, pilot)
        row = annotation(db_path, ids[0])
        assert (row["status"], row["technique"]) == ("edited", "my own words")
        assert app.session.current_id == ids[1]
        await pilot.press("p", "1")  # an explicit pick shows the suggestion instead
        await settle(app, pilot)
        assert form_values(app)["technique"] == suggested and "a accepts it in place" in text_of(app, "#summary")
        await pilot.press("a")
        row = annotation(db_path, ids[0])
        assert (row["status"], row["technique"]) == ("accepted", suggested)


async def test_badges_and_highlights_describe_what_is_stored_not_the_old_suggestion(db_path, ids):
    async with running(db_path, queue="all") as (app, pilot):
        await pilot.press("e", "ctrl+a", *"my own paraphrase here", "tab", "tab", "ctrl+a", *"128 GPUs")
        await pilot.pause()
        labels = {name: str(app.screen.query_one(f"#label-{name}").render()) for name in ("technique", "compute")}
        assert "✎ own words" in labels["technique"] and "✓ in abstract" in labels["compute"]
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        await pilot.press("p")
        await settle(app, pilot)
        summary = text_of(app, "#summary")
        assert "✎ own words" in summary and "✓ in abstract" in summary and "✓ exact" in summary  # gain kept
        view = app.screen.view
        evidence = view.evidence()
        assert evidence["technique"] is None or evidence["technique"].status == "ungrounded"
        assert view.paper.abstract[evidence["compute"].start:evidence["compute"].end] == "128 GPUs"


async def test_after_a_jump_the_todo_queue_goes_on_to_the_next_undecided_paper(db_path, ids):
    async with running(db_path) as (app, pilot):
        await pilot.press("a", "a", "a")  # papers 1-3 decided
        await settle(app, pilot)
        assert "4 of 504 in 'todo' · 501 to do" in text_of(app, "#progress")
        await pilot.press("g", *ids[0][:10], "enter")  # back to a decided paper (it joins the queue)
        await settle(app, pilot)
        assert app.session.current_id == ids[0] and "1 of 504 in 'todo' · 501 to do" in text_of(app, "#progress")
        await pilot.press("r")  # re-decided: on to the next undecided, not to paper 2
        await settle(app, pilot)
        assert app.session.current_id == ids[3] and "501 to do" in text_of(app, "#progress")
        await pilot.press("s", "a")
        await settle(app, pilot)
        assert "500 to do" in text_of(app, "#progress")


async def test_session_pace_leaves_out_undone_decisions(db_path, ids):
    async with running(db_path) as (app, pilot):
        await pilot.press("a", "u", "a")
        await settle(app, pilot)
        stats = app.session.stats()
        assert stats.this_session["decisions"] == stats.overall["decisions"] == 1


async def test_small_print_palette_search_and_resuggest(notices, db_path, ids):
    async with running(db_path) as (app, pilot):
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert "Quit" not in titles and "Keys" in titles  # Textual's own palette (other screens), less its Quit
        await pilot.press("slash", *"zzqqxx")
        await pilot.pause()
        assert "No paper matches." in str(app.screen.query_one("#search-status").render())
        await pilot.press("escape", "ctrl+r")
        await pilot.pause()
        assert any(n.startswith("Suggested again with summary@") for n in notices)


async def test_the_screen_shows_the_sessions_notice_once(notices, seeded_db, db_path, tmp_path):
    from tests.conftest import write

    bare = write(tmp_path / "bare.toml", 'name = "bare"\ndescription = "d"\nsystem = "s"\nuser = "{title} {abstract}"\n')
    async with running(db_path, prompt=str(bare)) as (app, pilot):
        await pilot.press("n")
        await settle(app, pilot)
        assert sum("ignores the text of prompt 'bare'" in n for n in notices) == 1


async def _burst(app, pilot, keys: list[str]) -> None:
    """Keys posted back to back, as the terminal driver delivers a burst (pilot.press waits between keys)."""
    from textual import events

    for key in keys:
        app.post_message(events.Key(key, {"question_mark": "?", "space": " "}.get(key, key if len(key) == 1 else None)))
    await settle(app, pilot)
    await pilot.pause(0.2)


def _decided(db_path) -> list[str]:
    db = sqlite3.connect(db_path)
    rows = [r[0] for r in db.execute("SELECT status FROM annotations ORDER BY updated_at, paper_id")]
    db.close()
    return rows


@pytest.mark.parametrize("keys, statuses, technique_ends", [
    (["e", "x", "ctrl+s", "a"], ["edited", "accepted"], "x"),
    (["a", "a", "e", "x", "ctrl+s", "a", "a"], ["accepted", "accepted", "edited", "accepted", "accepted"], "x"),
    (["e", "escape", "a"], ["accepted"], None),
])
async def test_keys_typed_behind_save_or_leave_in_a_burst_are_decisions_not_text(db_path, ids, keys, statuses,
                                                                                  technique_ends):
    async with running(db_path) as (app, pilot):
        await _burst(app, pilot, keys)
        assert sorted(_decided(db_path)) == sorted(statuses)
        if technique_ends:
            edited = [annotation(db_path, pid) for pid in ids[:len(statuses)]]
            assert any(row and row["status"] == "edited" and row["technique"].endswith(technique_ends)
                       for row in edited)


@pytest.mark.parametrize("keys, expected", [
    (["ctrl+p", *"reject", "enter", "a"], [(0, "rejected", False), (1, "accepted", False)]),
    (["ctrl+p", *"flag", "enter", "a"], [(0, "accepted", True), (1, None, False)]),
    (["ctrl+p", *"go", "space", *"to", "enter", "7", "enter", "a", "s", "a"],
     [(0, None, False), (6, "accepted", False), (7, None, False), (8, "accepted", False)]),
    (["ctrl+p", *"edit", "enter", "Z", "Z", "ctrl+s", "a"], [(0, "edited", False), (1, "accepted", False)]),
])
async def test_keys_typed_behind_a_command_from_the_palette_act_after_it(db_path, ids, keys, expected):
    """Textual's palette ran its command after the next keys: `ctrl+p reject enter a` accepted #1, rejected #2."""
    async with running(db_path) as (app, pilot):
        await _burst(app, pilot, keys)
        for index, status, flagged in expected:
            row = annotation(db_path, ids[index]) or {"status": None, "flagged": 0}
            assert (row["status"], bool(row["flagged"])) == (status, flagged), index
        if "Z" in keys:
            assert annotation(db_path, ids[0])["technique"].endswith("ZZ")


async def test_a_search_from_the_palette_in_a_burst_takes_every_key_it_was_typed(db_path, ids):
    """The `s` of "speech" once went to the review (a skip) and the search box read "peecha"."""
    async with running(db_path) as (app, pilot):
        first_hit = app.session.find("speech")[0][0].id
        await _burst(app, pilot, ["ctrl+p", *"search", "enter", *"speech", "enter", "a"])
        assert annotation(db_path, ids[0]) is None and annotation(db_path, first_hit)["status"] == "accepted"


def _offline_values(db, pid) -> dict:
    from workbench.models.offline import OfflineModel
    from workbench.prompts import resolve_prompt
    from workbench.store import get_paper
    from workbench.suggest import suggest_paper_now

    return dict(suggest_paper_now(get_paper(db, pid), resolve_prompt("summary"), OfflineModel()).suggestion.values)


ANA, BEN = {f: "annotator:ana" for f in ("technique", "claimed_gain", "compute")}, \
    {f: "annotator:ben" for f in ("technique", "claimed_gain", "compute")}


@pytest.mark.parametrize("ana_differs, keys, status, edited, sources", [
    (False, ["1"], "accepted", [], None),  # the suggestion's column
    (False, ["2"], "accepted", [], ANA),  # ana's column, every value the suggestion's
    (True, ["2"], "edited", ["technique"], ANA),  # ana's column, her technique her own
    (True, ["2", "down", "1"], "accepted", [], {**ANA, "technique": "SUGGESTION"}),  # mixed per field
    (True, ["1", "down", "2"], "edited", ["technique"], {f: "SUGGESTION" for f in ANA} | {"technique": "annotator:ana"}),
    (False, ["3"], "rejected", None, BEN),  # ben's rejection
], ids=["suggestion", "reviewer-same", "reviewer-edited", "mixed-same", "mixed-edited", "rejected-reviewer"])
async def test_adjudication_records_the_suggestion_on_screen_and_where_each_value_came_from(
        db_path, ids, seeded_db, ana_differs, keys, status, edited, sources):
    from workbench.jsonl import export_annotation_lines
    from workbench.store import Decision, decide

    pid = ids[3]
    suggested = _offline_values(seeded_db, pid)
    ana = dict(suggested, technique="ana's technique") if ana_differs else dict(suggested)
    decide(seeded_db, Decision(pid, "ana", "edited" if ana_differs else "accepted", ana))
    decide(seeded_db, Decision(pid, "ben", "rejected", {}))
    async with running(db_path, annotator="cleo", queue="disagreements", others=("ana", "ben")) as (app, pilot):
        label = app.screen.view.suggestion.label
        await pilot.press("c", *keys, "a")
        await settle(app, pilot)
        row = annotation(db_path, pid, "cleo")
    assert row is not None and row["status"] == status
    [record] = [json.loads(line) for line in export_annotation_lines(seeded_db, annotator="cleo")]
    assert record["status"] == status
    assert record["suggestion"] is not None and record["suggestion"]["fields"] == suggested
    assert record["suggestion"]["model"] == "offline" and record["suggestion"]["prompt"] == "summary"
    if status == "rejected":
        assert record["annotation"] == {f: None for f in suggested}
    else:
        expected = {f: (ana if (sources or {}).get(f) == "annotator:ana" else suggested)[f] for f in suggested}
        assert record["annotation"] == expected
        assert record["edited_fields"] == edited
    want = None if sources is None else {f: (f"suggestion:{label}" if s == "SUGGESTION" else s)
                                         for f, s in sources.items()}
    assert record.get("field_sources") == want
    assert (json.loads(row["field_sources"]) if row["field_sources"] else None) == want


async def test_compare_headings_say_what_each_source_is(db_path, ids, seeded_db):
    from workbench.store import Decision, decide
    from workbench.tui.screens.sources import comparison_tables

    decide(seeded_db, Decision(ids[3], "ana", "edited", {"technique": "x"}))
    decide(seeded_db, Decision(ids[3], "ben", "rejected", {}))
    async with running(db_path, annotator="cleo", queue="disagreements", others=("ana", "ben"),
                       model=FailingModel()) as (app, pilot):
        await pilot.press("c")
        screen = app.screen
        table = comparison_tables(screen.view, screen.columns, screen.choice, screen.row)[0]
        headers = [str(column.header) for column in table.columns][1:-1]
        assert headers[0].startswith("1. suggestion ") and "failed" in headers[0] and "error" in headers[0]
        assert headers[1:] == ["2. ana's decision · edited", "3. ben's decision · rejected"]


@pytest.mark.parametrize("queue, to_do", [("all", 503), ("doubt", 503), ("flagged", 0),
                                          ('search:"mixture of experts" status:todo', None)])
async def test_every_queue_says_how_many_are_still_to_do_on_one_line_at_80_columns(db_path, ids, seeded_db, queue,
                                                                                   to_do):
    from workbench.store import Decision, decide, set_flag

    name = "a" * 40
    accepted = decide(seeded_db, Decision(ids[0], name, "accepted", {"technique": "x"}))
    set_flag(seeded_db, ids[0], name, True, based_on=accepted.version)
    async with running(db_path, queue=queue, size=(80, 24), annotator=name) as (app, pilot):
        line = text_of(app, "#progress")
        expected = app.session.undecided_left() if to_do is None else to_do
        assert f" · {expected} to do" in line and "\n" not in line and len(line) <= 80


def test_the_end_of_the_queue_counts_one_paper_in_the_singular(seeded_db):
    from workbench.models.offline import OfflineModel
    from workbench.prompts import resolve_prompt
    from workbench.review import ReviewSession, SuggestionFeed

    session = ReviewSession(seeded_db, "ana", SuggestionFeed(seeded_db, resolve_prompt("summary"), OfflineModel()))
    session._undecided = 1
    assert "1 paper before this one is still undecided" in session.end_of_queue_text()
    session._undecided = 2
    assert "2 papers before this one are still undecided" in session.end_of_queue_text()


@pytest.mark.parametrize("binding, key, page", [("help", "f1", "help"), ("stats", "f2", "stats"),
                                                 ("guidelines", "ctrl+g", "guidelines"), ("title", "f3", "title")])
@pytest.mark.parametrize("close", ["own", "escape", "q"])
async def test_a_reading_page_closes_with_its_own_key_whatever_it_is_mapped_to(db_path, ids, binding, key, page,
                                                                                close):
    from workbench.config import guidelines, load_config
    from workbench.prompts import prompts_dir

    async with running(db_path, keymap={binding: key},
                       guidelines=guidelines(load_config(), prompts_dir())) as (app, pilot):
        await pilot.press(key)
        await pilot.pause()
        assert showing(app, page)
        await pilot.press(key if close == "own" else close)
        await pilot.pause()
        assert not showing(app, page) and app.session.decided == 0


async def test_a_long_title_is_cut_to_three_lines_and_the_title_key_shows_it_whole(db_path, tmp_path):
    from workbench.db import open_db
    from workbench.ingest import ingest

    title = "Scaling " + " ".join(f"word{n}" for n in range(125)) + " at scale"  # 900-odd characters
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps({"title": title, "abstract": "We train faster. It works on 8 GPUs."}) + "\n")
    db = open_db(db_path)
    ingest(db, [path])
    db.close()
    async with running(db_path, size=(80, 24)) as (app, pilot):
        panel = app.screen.query_one("#paper", TextPanel)
        shown = panel.plain.split("\n")
        assert len(title) >= 900 and shown[2].endswith("…") and "word124" not in panel.plain
        assert all(len(line) <= panel.content_size.width for line in shown[:3])
        assert "We train faster" in panel.plain and shown[3].startswith("#1  ·  id ")  # the metadata follows at once
        await pilot.press("i")
        await pilot.pause()
        assert showing(app, "title") and "word124" in str(app.screen.query_one("#title Static").render())


async def test_compare_at_80_columns_shows_one_source_beside_the_result_and_follows_the_cursor(db_path, ids,
                                                                                                seeded_db):
    from workbench.store import Decision, decide
    from workbench.tui.screens.sources import CompareScreen

    long = " ".join(["a long value that wraps over many lines at eighty columns"] * 6)
    decide(seeded_db, Decision(ids[3], "ana", "edited", {f: f"ana: {long}" for f in ("technique", "claimed_gain",
                                                                                      "compute")}))
    decide(seeded_db, Decision(ids[3], "ben", "rejected", {}))
    async with running(db_path, annotator="cleo", queue="disagreements", others=("ana", "ben"),
                       size=(80, 24)) as (app, pilot):
        await pilot.press("c")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, CompareScreen) and screen.narrow

        def headings() -> list[str]:
            return [str(c.header) for c in screen.query_one("#compare-head").content.columns][1:]

        assert headings()[0].startswith("1. suggestion summary@") and headings()[1] == "→ your decision"
        await pilot.press("right")
        assert headings() == ["2. ana's decision · edited", "→ your decision"]
        await pilot.press("right", "right")  # round to the first again
        assert headings()[0].startswith("1. ")
        container = screen.query_one("#compare")
        for row in range(1, 4):
            await pilot.press("down")
            await pilot.pause()
            await pilot.pause()
            widget = screen.query_one(f"#compare-row-{row}")
            assert container.region.contains_region(widget.region) and widget.region.height > 0, row
        assert container.scroll_y > 0
    async with running(db_path, annotator="cleo", queue="disagreements", others=("ana", "ben"),
                       size=(120, 40)) as (app, pilot):
        await pilot.press("c")
        screen = app.screen
        assert not screen.narrow
        assert len(screen.query_one("#compare-head").content.columns) == 1 + 3 + 1  # every source


async def test_the_footer_keeps_its_order_after_a_remap(db_path, ids):
    async def footer(keymap):
        async with running(db_path, keymap=keymap) as (app, pilot):
            return [(key.action, key.key_display) for key in app.screen.query("FooterKey")]  # by its CSS type

    default, remapped = await footer(None), await footer({"accept": "y", "reject": "x", "help": "f1"})
    assert [action for action, _ in remapped] == [action for action, _ in default]
    assert dict(remapped)["accept"] == "y" and dict(remapped)["help"] == "f1"


async def test_the_form_shows_cleaned_text_and_saves_what_the_reviewer_sees(db_path, ids, seeded_db):
    from workbench.safe_text import clean
    from workbench.store import Decision, decide

    raw = "multi\x1b[2Jgrid\x07 \x00rev\u202eersed zero\u200bwidth"
    decide(seeded_db, Decision(ids[0], "ana", "edited", {"technique": raw, "compute": "8 GPUs"}))
    async with running(db_path, queue="all") as (app, pilot):
        assert app.session.current_id == ids[1]
        await pilot.press("p", "e")
        await pilot.pause()
        shown = app.screen.query_one("#field-technique", TextArea).text
        assert shown == clean(raw) and "\x1b" not in shown and "\u202e" not in shown and "\u200b" not in shown
        assert "␛[2Jgrid␇ ␀rev" in shown  # the same stand-ins as the panes
        await pilot.press("tab", "tab", "ctrl+a", *"1 GPU")  # change another field; the technique is left alone
        await pilot.press("tab")
        app.screen.query_one("#field-notes", TextArea).insert("pasted\u202e\x1b]0;x\x07 note")
        await pilot.pause()
        assert app.screen.query_one("#field-notes", TextArea).text == clean("pasted\u202e\x1b]0;x\x07 note")
        await pilot.press("ctrl+s")
        await settle(app, pilot)
    row = annotation(db_path, ids[0])
    # Untouched, the technique keeps its exact text (shown as stand-ins, it is still that value);
    # what the reviewer typed or pasted is saved as shown.
    assert row["technique"] == raw and row["compute"] == "1 GPU"
    assert row["notes"] == clean("pasted\u202e\x1b]0;x\x07 note")


async def test_one_paper_number_everywhere_and_a_restart_resumes_where_the_reviewer_was(db_path, ids):
    """#N is a paper's own number in the paper pane, search, go-to and compare; the queue position
    is written without '#'. Quitting and starting again comes back to the paper on screen."""
    async with running(db_path) as (app, pilot):
        await pilot.press("a", "a", "a")
    async with running(db_path) as (app, pilot):  # 'todo' now starts at paper #4
        await pilot.press("s", "s")
        assert app.session.current_id == ids[5]
        assert "\n#6  ·" in text_of(app, "#paper") and "3 of 501 in 'todo'" in text_of(app, "#progress")
        await pilot.press("g", "1", "0", "enter")
        await settle(app, pilot)
        assert app.session.current_id == ids[9]  # paper #10, not the 10th of the queue
        hits, _ = app.session.find(app.screen.view.paper.title[:30])
        assert hits[0].id == ids[9] and hits[0].seq == 10
    async with running(db_path) as (again, pilot):
        assert again.session.current_id == ids[9]  # where the reviewer was, not the first skipped


async def test_saving_the_form_untouched_keeps_the_exact_values_and_is_no_edit(db, db_path):
    """The form shows control characters as stand-ins (␛); a field the reviewer did not touch keeps
    the suggestion's exact text, and a save with nothing changed is `accepted`, not `edited`."""
    from workbench.ingest import ingest

    path = db_path.parent / "hostile.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"title": "FooNet: a net \x1b[2J with tricks",
                                "abstract": "We propose FooNet: a net \x1b[2J with tricks. It trains 3x faster on 8 GPUs."})
                    + "\n")
    ingest(db, [path])
    async with running(db_path) as (app, pilot):
        suggested = app.screen.view.suggestion.values
        assert any("\x1b" in (v or "") for v in suggested.values())
        await pilot.press("e", "ctrl+s")
    row = sqlite3.connect(db_path).execute("SELECT status, technique, claimed_gain, compute FROM annotations").fetchone()
    assert row == ("accepted", suggested["technique"], suggested["claimed_gain"], suggested["compute"])


@pytest.mark.parametrize("typed", ["²", "99999999999999999999999", "#0"])
async def test_go_to_a_number_no_paper_has_says_so_and_the_review_goes_on(db_path, ids, typed):
    """'²' is a digit int() refuses, and 23 digits overflow SQLite: both ended the app."""
    async with running(db_path) as (app, pilot):
        await pilot.press("g", *typed, "enter")
        await settle(app, pilot)
        assert app.is_running and app.session.current_id == ids[0]
        assert str(app.screen.query_one("#goto-problem").render()).startswith("No paper ")


async def test_the_palette_offers_only_what_the_keys_could_do_now(db_path, ids):
    """With the form open, the palette's Accept would have dropped the typed values unasked."""
    async with running(db_path) as (app, pilot):
        closed = {description for _, description, _ in palette_entries(app.screen)}
        await pilot.press("e")
        opened = {description for _, description, _ in palette_entries(app.screen)}
    assert "Accept" in closed and "Accept" not in opened and "Save" in opened


async def test_the_top_line_counts_papers_another_writer_ingested_without_a_key(seeded_db, db_path, tmp_path):
    """Counted live: the screen looks at the store every few seconds (here called at once), not only at a key."""
    from workbench.ingest import ingest

    async with running(db_path) as (app, pilot):
        assert "504 to do" in text_of(app, "#progress")
        (tmp_path / "later.jsonl").write_text('{"title": "Later paper", "abstract": "Ingested meanwhile."}\n',
                                             encoding="utf-8")
        assert ingest(seeded_db, [tmp_path / "later.jsonl"]).new == 1  # another connection: another writer
        app.screen.look_outside()
        await pilot.pause()
        assert "0/505 decided" in text_of(app, "#progress") and "505 to do" in text_of(app, "#progress")
        assert "1 of 505 in 'todo'" in text_of(app, "#progress")


async def test_a_on_your_own_decision_changed_elsewhere_since_it_was_shown_opens_the_conflict_dialog(
        seeded_db, db_path, ids):
    """`a` on a paper that shows your decision keeps it as it is. If another window or an import changed it
    after it was shown, it is a conflict like any other: the dialog, and the keys typed ahead go to it (a
    burst of `a` once accepted the suggestion over the other window's rejection). A flag alone is no change."""
    from workbench.store import Decision, decide, get_annotation, set_flag
    from workbench.tui.screens.dialogs import ConflictScreen

    async with running(db_path) as (app, pilot):
        await pilot.press("a", "p")  # accept #1, back to it: the pane shows your decision, `a` keeps it
        await settle(app, pilot)
        assert app.session.current_id == ids[0] and app.session.view().shows_decision
        shown = get_annotation(seeded_db, ids[0], "ana")
        flagged = set_flag(seeded_db, ids[0], "ana", True, based_on=shown.version, session="another-window")
        await pilot.press("a")  # only the flag changed elsewhere: confirmed, on to #2
        await settle(app, pilot)
        assert app.session.current_id == ids[1] and not isinstance(app.screen, ConflictScreen)
        await pilot.press("p")
        await settle(app, pilot)
        decide(seeded_db, Decision(ids[0], "ana", "rejected", {"technique": None, "claimed_gain": None, "compute": None},
                                   None, 1.0, None, "another-window", based_on=flagged.version))
        await pilot.press("a", "a", "a")  # a burst: the first finds the change, the others go to the dialog
        await settle(app, pilot)
        assert isinstance(app.screen, ConflictScreen) and app.session.current_id == ids[0]
        assert get_annotation(seeded_db, ids[0], "ana").status == "rejected"  # the other decision stands
        await pilot.press("s")  # take the stored one: nothing written
        await settle(app, pilot)
        assert get_annotation(seeded_db, ids[0], "ana").status == "rejected"
        assert "✗ Your decision: rejected" in text_of(app, "#summary")


async def test_when_suggestions_stop_on_another_paper_the_one_on_screen_says_so(notices, db_path, ids):
    """The request that found the endpoint down was for a paper ahead: the paper on screen, whose own
    request was cancelled with the rest, said "suggesting…" until the reviewer moved away and back."""
    import asyncio

    from workbench.errors import AbortedRun

    class DownAhead(FailingModel):
        name = "down-ahead"

        async def summarise(self, title, abstract, prompt):
            if title.startswith("A Multigrid Method"):  # the first paper's request hangs
                await asyncio.sleep(30)
            raise AbortedRun("the endpoint http://127.0.0.1:9/v1 is not answering: 8 requests in a row failed")

    async with running(db_path, model=DownAhead()) as (app, pilot):
        await pilot.pause(0.2)
        assert app.session.current_id == ids[0]
        assert "unavailable: the endpoint http://127.0.0.1:9/v1 is not answering" in text_of(app, "#summary")


async def test_composing_after_a_conflict_measures_yours_against_the_suggestion_as_shown(seeded_db, db_path, ids):
    """The dialog's `e`, then ctrl+s with nothing typed: `accepted` against the suggestion as it was shown, not
    against one redone under the same key meanwhile (it was stored as `edited`, the redone values as its source)."""
    from workbench.store import Decision, decide, get_annotation
    from workbench.tui.screens.dialogs import ConflictScreen

    async with running(db_path) as (app, pilot):
        shown = dict(app.session.view().suggestion.values)
        decide(seeded_db, Decision(ids[0], "ana", "rejected", {"technique": None, "claimed_gain": None, "compute": None},
                                   None, 1.0, None, "another-window"))
        seeded_db.execute("UPDATE suggestions SET technique = 'REDONE' WHERE paper_id = ?", [ids[0]])
        seeded_db.conn.commit()
        await pilot.press("a")
        await settle(app, pilot)
        assert isinstance(app.screen, ConflictScreen)
        await pilot.press("e")
        await settle(app, pilot)
        await pilot.press("ctrl+s")
        await settle(app, pilot)
        stored = get_annotation(seeded_db, ids[0], "ana")
        assert (stored.status, stored.values, stored.suggested["fields"]) == ("accepted", shown, shown)


async def test_a_refused_flag_or_a_redraw_never_makes_the_next_key_act_on_a_decision_not_seen(seeded_db, db_path,
                                                                                                ids):
    """`f` (or `1`-`9`, ctrl+r, a reply) draws the paper again as stored now. A key typed after it once acted
    on that stored decision without a dialog: the suggestion accepted over another window's rejection.
    Drawn again on the same visit, a paper keeps the version first shown: the next decision is a conflict."""
    from workbench.store import Decision, decide, get_annotation
    from workbench.tui.screens.dialogs import ConflictScreen

    nulls = {"technique": None, "claimed_gain": None, "compute": None}
    async with running(db_path) as (app, pilot):
        decide(seeded_db, Decision(ids[0], "ana", "rejected", nulls, None, 1.0, None, "another-window"))
        await pilot.press("f", "a")  # `f` flags the paper as stored now; the `a` typed after it
        await settle(app, pilot)
        assert isinstance(app.screen, ConflictScreen)  # ... goes to the dialog, not over the rejection
        assert get_annotation(seeded_db, ids[0], "ana").status == "rejected"
        await pilot.press("s", "n")
        await settle(app, pilot)
        assert app.session.current_id == ids[1]
        decide(seeded_db, Decision(ids[1], "ana", "rejected", nulls, None, 1.0, None, "another-window"))
        await pilot.press("1", "a")  # a pick draws the paper again as stored; the `a` after it
        await settle(app, pilot)
        assert isinstance(app.screen, ConflictScreen)
        assert get_annotation(seeded_db, ids[1], "ana").status == "rejected"


async def test_a_flag_set_elsewhere_alone_is_no_conflict_for_a_decision(seeded_db, db_path, ids):
    from workbench.store import get_annotation, set_flag
    from workbench.tui.screens.dialogs import ConflictScreen

    async with running(db_path) as (app, pilot):
        set_flag(seeded_db, ids[0], "ana", True, based_on=None, session="another-window")
        await pilot.press("a")  # undecided when shown, flagged elsewhere since: accepted, no dialog
        await settle(app, pilot)
        assert not isinstance(app.screen, ConflictScreen) and app.session.current_id == ids[1]
        stored = get_annotation(seeded_db, ids[0], "ana")
        assert (stored.status, bool(stored.flagged)) == ("accepted", True)  # the other window's flag stays
