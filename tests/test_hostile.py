"""A hostile corpus through every door: ingest, suggest (offline and a hostile server), every
screen of the TUI, every command that prints data, and the real process in a terminal.

tests/fixtures/hostile.jsonl and hostile.txt hold markup, action links, unbalanced tags,
ANSI/OSC escape sequences (screen clear, window title, clipboard), BIDI and zero-width
characters, a 10,000-character word, a 1,600-character sentence, runs of digits and dots,
a prompt injection, and an abstract at the size limit. Surrogates and huge integers are
refused at the door (their own files). Everywhere: nothing crashes, no action fires,
nothing is written outside the store, and no escape byte from the data reaches an output.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import sys
import time

import pexpect
import pytest

from tests.conftest import FIXTURES, write
from tests.fake_openai import FakeOpenAI
from tests.tui_helpers import SIZE, make_app, running, settle
from workbench.store import paper_order

HOSTILE = [FIXTURES / "hostile.jsonl", FIXTURES / "hostile.txt"]
# Bytes a terminal acts on: ESC, BEL, 8-bit CSI/OSC, and the BIDI override.
FORBIDDEN = ("\x1b", "\x07", "\x9b", "\x9d", "\u202e")


def assert_inert(*outputs: str) -> None:
    for output in outputs:
        for char in FORBIDDEN:
            assert char not in output, f"{char!r} reached an output: ...{output[max(0, output.find(char) - 60):][:120]!r}"


def files_under(folder) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if "annotations" not in p.parts}


@pytest.fixture
def hostile_db(run_cli, db_path, tmp_path):
    result = run_cli("ingest", *map(str, HOSTILE))
    assert result.exit_code == 0, result.stderr
    assert "12 new" in result.stdout
    assert_inert(result.stdout, result.stderr)
    return db_path


def test_ingest_refuses_what_the_store_cannot_hold_and_keeps_the_rest(run_cli, tmp_path):
    surrogate = write(tmp_path / "surrogate.jsonl", '{"title": "T\\ud800", "abstract": "A"}\n')
    huge = write(tmp_path / "huge.txt", "Title\n\nAbstract.\n\n  • 123456789012345678901234567890 authors\n·\nMar 1, 2024\n")
    escaped_name = write(tmp_path / "name\x1b]0;FILE\x07.txt", "")
    result = run_cli("ingest", str(surrogate), str(huge), str(escaped_name), *map(str, HOSTILE))
    assert result.exit_code == 2
    assert "12 new" in result.stdout and result.stderr.count("\n") == 3
    assert f"{surrogate}:1: contains an invalid Unicode character" in result.stderr
    assert "huge.txt:5: authors 123456789012345678901234567890 is out of range" in result.stderr
    assert "name␛]0;FILE␇.txt: file is empty" in result.stderr
    assert_inert(result.stdout, result.stderr)


def test_offline_suggest_gives_every_hostile_paper_a_suggestion(run_cli, hostile_db):
    result = run_cli("suggest")
    assert result.exit_code == 0, result.stderr
    assert "suggested 12" in result.stdout
    import sqlite3

    with sqlite3.connect(hostile_db) as db:
        rows = db.execute("SELECT p.title, s.outcome, s.warnings FROM suggestions s JOIN papers p ON p.id = s.paper_id")
        by_title = {title: (outcome, json.loads(warnings or "[]")) for title, outcome, warnings in rows}
    assert len(by_title) == 12
    injected = by_title["Prompt injection in the abstract"]
    assert not any(w["kind"] == "instruction_in_text" for w in injected[1]) or injected[0] == "ok"


def test_a_server_answering_hostile_strings_is_stored_as_data(run_cli, hostile_db, monkeypatch, tmp_path):
    fake = FakeOpenAI(default="hostile").start()
    try:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.base_url)
        result = run_cli("suggest", "--model", "evil-model", "--response-format", "json_schema")
    finally:
        fake.stop()
    assert result.exit_code == 0 and "suggested 12 (ok 12)" in result.stdout
    exported = run_cli("export", "--suggestions").stdout
    assert_inert(exported)
    first = json.loads(exported.splitlines()[0])
    assert first["fields"]["technique"].startswith("[@click=app.quit]Quit[/] \x1b]0;PWNED-TITLE")  # kept, as data
    assert first["fields"]["claimed_gain"] is None  # "99x" is in no abstract: the shipped prompt's checks drop it
    with sqlite3.connect(hostile_db) as conn:
        warnings = [json.loads(w) for (w,) in conn.execute("SELECT warnings FROM suggestions")]
    dropped = [[w["dropped"] for w in ws if w["field"] == "claimed_gain"] for ws in warnings]
    # the items of the gain (split at ";"), as data: the one with the figure, then what was left without one
    assert dropped == [["[link=https://evil.example]99x faster[/link] \x1b]52", "c; cHduZWQ=\x07"]] * 12
    log = run_cli("log", "--limit", "5", env={"COLUMNS": "250"})
    assert log.exit_code == 0 and "[@click=app.quit]" in log.stdout
    assert_inert(log.stdout, log.stderr)


def test_every_command_that_prints_data_prints_it_inert(run_cli, hostile_db, tmp_path):
    run_cli("suggest")
    run_cli("suggest", "--prompt", "gains")
    ids = [pid for _, pid in paper_order_of(hostile_db)]
    lines = []
    for who in ("evil [/]", "\x1b]0;ANNOTATOR\x07 eve"):
        for i, pid in enumerate(ids[:6]):
            status = "rejected" if (i + len(who)) % 3 == 0 else "edited"
            technique = None if status == "rejected" else f"[bold]{who}[/] \x1b[2J"  # a rejection states no values
            lines.append(json.dumps({"paper_id": pid, "annotator": who, "status": status, "notes": f"{who} \x1b[2J",
                                     "annotation": {"technique": technique, "claimed_gain": None, "compute": None}}))
    bad_name = run_cli("import", str(write(tmp_path / "names.jsonl", "\n".join(lines) + "\n")))
    assert bad_name.exit_code == 2 and "contains control characters" in bad_name.stderr
    assert_inert(bad_name.stderr)
    good = [line for line in lines if "ANNOTATOR" not in line]
    good += [json.dumps({**json.loads(line), "annotator": "mallory"}) for line in good]
    imported = run_cli("import", str(write(tmp_path / "ok.jsonl", "\n".join(good) + "\n")))
    assert imported.exit_code == 0, imported.stderr
    outputs = []
    for args in (["stats"], ["stats", "--json"], ["compare", "--diff", "5"], ["compare", "--json"],
                 ["compare", "--against", "evil [/]"], ["compare", "--against", "evil [/]", "--json"],
                 ["agreement"], ["agreement", "--json"], ["export"], ["export", "--suggestions"], ["log"],
                 ["prompts"]):
        result = run_cli(*args, env={"COLUMNS": "200"})
        assert result.exit_code == 0, (args, result.stderr)
        outputs += [result.stdout, result.stderr]
    assert_inert(*outputs)
    text = "".join(outputs)
    assert "evil [/]" in text and "[@click=app.quit]Quit the app[/]" in text  # shown as the characters they are


def paper_order_of(db_path):
    from workbench.db import open_db

    db = open_db(db_path)
    try:
        return paper_order(db)
    finally:
        db.close()


async def test_every_screen_shows_hostile_papers_as_text(notices, hostile_db, tmp_path):
    from textual.widgets import OptionList

    from tests.tui_helpers import SlowModel
    from workbench.tui.screens.sources import CompareScreen
    from workbench.tui.screens.dialogs import GotoScreen, ReadingScreen, SearchScreen

    other = make_app(hostile_db, prompt="gains", model=SlowModel(0))  # a second source for the compare screen
    async with other.run_test(size=SIZE) as pilot:
        await settle(other, pilot)
        for _ in range(12):
            await pilot.press("n")
            await settle(other, pilot)
    before = files_under(tmp_path)
    async with running(hostile_db, queue="all") as (app, pilot):
        screens = []
        for _ in range(12):  # every paper, in both panes, and the edit form on each
            screens.append(app.export_screenshot())
            await pilot.press("e", *"typed", "ctrl+s")
            await settle(app, pilot)
        await pilot.press("g", "1", "enter")
        await settle(app, pilot)
        for key, screen in (("c", CompareScreen), ("t", ReadingScreen), ("question_mark", ReadingScreen)):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, screen)
            screens.append(app.export_screenshot())
            await pilot.press("escape")
            await pilot.pause()
        await pilot.press("g")
        assert isinstance(app.screen, GotoScreen)
        await pilot.press(*"\x1b]0;x", "enter")
        await pilot.pause()
        assert isinstance(app.screen, GotoScreen)  # no such paper: said in the dialog, as text
        screens.append(app.export_screenshot())
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("slash", *"click")
        await pilot.pause()
        assert isinstance(app.screen, SearchScreen)
        screens.append(app.export_screenshot())
        results = app.screen.query_one(OptionList)
        assert results.option_count >= 1
        await pilot.click(OptionList, offset=(4, 1))  # the search result whose title is an action link
        await settle(app, pilot)
        assert app.is_running and not isinstance(app.screen, SearchScreen)
        screens.append(app.export_screenshot())
        for _ in range(3):
            await pilot.press("u")
            await settle(app, pilot)
        assert app.is_running
        notes = list(notices)
    assert_inert(*screens, *notes)
    joined = "".join(screens).replace("&#160;", " ")
    assert "[@click=app.quit]Quit" in joined and "[link=https://evil.example]Linked" in joined  # the characters
    assert files_under(tmp_path) == before  # no screenshot, no file written by an action


def test_the_real_process_never_passes_the_datas_escapes_to_the_terminal(hostile_db, tmp_path):
    env = dict(os.environ, WORKBENCH_DB=str(hostile_db), TERM="xterm-256color", WORKBENCH_ANNOTATOR="pty",
               TEXTUAL_ANIMATIONS="none")
    child = pexpect.spawn(sys.executable, ["-m", "workbench", "review", "--queue", "all"], cwd=str(tmp_path),
                          env=env, dimensions=(30, 100), encoding="utf-8", timeout=30, codec_errors="replace")
    seen = []
    try:
        child.expect("decided", timeout=60)
        seen.append(child.before + child.after)
        for _ in range(13):
            child.send("n")
            time.sleep(0.3)
            try:
                child.expect(pexpect.TIMEOUT, timeout=0.3)
            except pexpect.EOF:
                break
            seen.append(child.before)
        assert child.isalive()
        child.send("q")
        child.expect(pexpect.EOF, timeout=120)
        seen.append(child.before)
    finally:
        if child.isalive():
            child.kill(signal.SIGKILL)
    output = "".join(seen)
    for payload in ("\x1b]0;PWNED-TITLE", "\x1b]52;c;", "\x1b]0;DUMP-TITLE", "\x9b31m", "\x1b[2J\x1b[H The screen",
                    "\x1b[31mRed"):
        assert payload not in output
    assert "␛]52;c;cHduZWQ=␇" in output  # shown, as the characters they are
    assert "PWNED-TITLE" in output or "␛]0;PWNED" in output  # the title was shown, as text
    assert child.exitstatus == 0
