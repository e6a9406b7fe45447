"""Burst equals paced: the same keys sent in one write and sent one at a time, each after the screen
has settled, leave the same store (annotations and events). Through the real process in a pty.

The scripts cover decisions, undo, flag, the form with text, Tab, Enter, ctrl+a, ctrl+s and Esc
(with its yes/no question), every dialog and reading screen, go-to, search with Enter, compare
takes, and 1-9. Hypothesis draws scripts from that grammar; WORKBENCH_KEY_EXAMPLES sets how many
(a handful in CI: each example runs the app twice).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time

import pexpect
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import SEEDS

ESC, ENTER, TAB, CTRL_A, CTRL_S, DOWN = "\x1b", "\r", "\t", "\x01", "\x13", "\x1b[B"
# The table: sequences that went astray in a burst.
KNOWN = {
    "edit, save, edit, save": ["e", "x", CTRL_S, "e", "y", CTRL_S],
    "ctrl+a, text, tab, text": ["e", CTRL_A, *"AAA", TAB, *"BBB", CTRL_S],
    "go to 5 then accept": ["g", "5", ENTER, "a"],
    "search then accept": ["/", *"speech", ENTER, "a"],
    "help, esc, accept": ["?", ESC, "a"],
    "guidelines, esc, accept": ["h", ESC, "a"],
    "edit, paste, save": ["e", "\x1b[200~PASTED\x1b[201~", CTRL_S, "a"],  # a bracketed paste among keys
}
_VOLATILE = ("updated_at", "created_at", "seconds_spent")


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """One ingested store; every run starts from a copy of it."""
    folder = tmp_path_factory.mktemp("keys")
    db_path = folder / "template.db"
    subprocess.run([sys.executable, "-m", "workbench", "--db", str(db_path), "ingest", str(SEEDS)], check=True,
                   capture_output=True)
    return db_path


def _quiet(child: pexpect.spawn, gap: float = 0.25, limit: float = 5.0) -> None:
    """Until the app has drawn nothing for `gap` seconds: it has settled."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            child.read_nonblocking(65536, timeout=gap)
        except pexpect.TIMEOUT:
            return
        except pexpect.EOF:
            return


def _run(template, folder, keys: list[str], *, burst: bool) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    db_path = folder / "workbench.db"
    shutil.copy(template, db_path)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update(WORKBENCH_DB=str(db_path), TERM="xterm-256color", WORKBENCH_ANNOTATOR="keys",
               TEXTUAL_ANIMATIONS="none")
    child = pexpect.spawn(sys.executable, ["-m", "workbench", "review"], cwd=str(folder), env=env,
                          dimensions=(30, 100), encoding="utf-8", codec_errors="replace", timeout=30)
    try:
        child.expect("Multigrid", timeout=60)
        _quiet(child)
        if burst:
            child.send("".join(keys))
        else:
            for key in keys:
                child.send(key)
                _quiet(child)
        _quiet(child, gap=0.6, limit=20)
    finally:
        child.kill(signal.SIGKILL)  # every decision is committed as it is made
        child.close()
    return _stored(db_path)


def _stored(db_path) -> dict:
    db = sqlite3.connect(db_path)
    try:
        annotations = [_without_times(dict(zip([c[0] for c in cursor.description], row)))
                       for cursor in [db.execute("SELECT * FROM annotations ORDER BY paper_id, annotator")]
                       for row in cursor.fetchall()]
        events = []
        for paper_id, action, before, after, undoes in db.execute(
                "SELECT paper_id, action, before, after, undoes FROM events ORDER BY id"):
            events.append((paper_id, action, _json_without_times(before), _json_without_times(after), undoes))
    finally:
        db.close()
    return {"annotations": annotations, "events": events}


def _without_times(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in _VOLATILE}


def _json_without_times(text: str | None):
    return _without_times(json.loads(text)) if text else None


def _same_store(template, tmp_path, keys: list[str]) -> tuple[dict, dict]:
    burst = _run(template, tmp_path / "burst", keys, burst=True)
    paced = _run(template, tmp_path / "paced", keys, burst=False)
    return burst, paced


@pytest.mark.parametrize("name", list(KNOWN))
def test_the_sequences_that_went_astray_leave_the_same_store_in_a_burst(template, tmp_path, name):
    burst, paced = _same_store(template, tmp_path, KNOWN[name])
    assert paced["annotations"], "the paced run decided something"
    assert burst == paced


def test_the_known_sequences_do_what_they_say(template, tmp_path):
    """Not only the same in both: right (paper 2 edited "y"; AAA and BBB in their fields; #5 accepted)."""
    stored = _run(template, tmp_path / "a", KNOWN["edit, save, edit, save"], burst=True)["annotations"]
    assert sorted((a["status"], a["technique"][-1]) for a in stored) == [("edited", "x"), ("edited", "y")]
    stored = _run(template, tmp_path / "b", KNOWN["ctrl+a, text, tab, text"], burst=True)["annotations"]
    # ctrl+a selected the technique (AAA replaced it); Tab put the cursor at the end of the gain, as `e` does
    assert [(a["technique"], a["claimed_gain"][-3:]) for a in stored] == [("AAA", "BBB")]
    db = sqlite3.connect(template)
    fifth = db.execute("SELECT id FROM papers ORDER BY seq LIMIT 1 OFFSET 4").fetchone()[0]
    db.close()
    stored = _run(template, tmp_path / "c", KNOWN["go to 5 then accept"], burst=True)["annotations"]
    assert [(a["paper_id"], a["status"]) for a in stored] == [(fifth, "accepted")]
    for name in ("help, esc, accept", "guidelines, esc, accept"):
        stored = _run(template, tmp_path / name.replace(", ", "-"), KNOWN[name], burst=True)["annotations"]
        assert [a["status"] for a in stored] == ["accepted"], name


# ---------------------------------------------------------------------------------- the grammar

_WORD = st.text(alphabet="abcdefghijklmnopqrstuvwxyz ", min_size=1, max_size=6)
_FIELD_MOVES = st.sampled_from([TAB, ENTER, CTRL_A])


@st.composite
def _form(draw) -> list[str]:
    keys = ["e"]
    for _ in range(draw(st.integers(1, 3))):
        keys += [*draw(_WORD)]
        keys += draw(st.lists(_FIELD_MOVES, max_size=2))
    ending = draw(st.sampled_from(["save", "leave-discard", "leave-back-save"]))
    if ending == "save":
        return keys + [CTRL_S]
    if ending == "leave-discard":
        return keys + [ESC, "y"]
    return keys + [ESC, "n", CTRL_S]


_SIMPLE = st.sampled_from([["a"], ["r"], ["s"], ["n"], ["p"], ["u"], ["f"], ["1"], ["2"], ["a", "a"]])
_READING = st.sampled_from([["?", ESC], ["h", ESC], ["t", ESC], ["?", "q"]])
_GOTO = st.integers(1, 12).map(lambda n: ["g", *str(n), ENTER])
_SEARCH = st.sampled_from(["speech", "moe", "training", "zzzz"]).map(lambda w: ["/", *w, ENTER])
_COMPARE = st.lists(st.sampled_from(["1", "2", DOWN]), max_size=3).flatmap(
    lambda moves: st.sampled_from([["c", *moves, "a"], ["c", *moves, ESC], ["c", *moves, "e", "z", CTRL_S]]))
_STEP = st.one_of(_SIMPLE, _SIMPLE, _form(), _READING, _GOTO, _SEARCH, _COMPARE)
SCRIPTS = st.lists(_STEP, min_size=2, max_size=6).map(lambda steps: [key for step in steps for key in step])

EXAMPLES = int(os.environ.get("WORKBENCH_KEY_EXAMPLES", "4"))


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(keys=SCRIPTS)
def test_any_script_leaves_the_same_store_in_a_burst_as_paced(template, tmp_path_factory, keys):
    burst, paced = _same_store(template, tmp_path_factory.mktemp("script"), keys)
    assert burst == paced, [k.encode() for k in keys]
