"""The real `workbench review` process in a pseudo-terminal: decisions survive SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
import time
from contextlib import contextmanager

import pexpect

from tests.conftest import ROOT


def _decisions(db_path) -> list[tuple]:
    if not db_path.exists():
        return []
    db = sqlite3.connect(db_path, timeout=5)
    try:
        return db.execute("SELECT paper_id, status FROM annotations WHERE annotator = 'pty' AND status IS NOT NULL").fetchall()
    except sqlite3.OperationalError:  # tables not created yet
        return []
    finally:
        db.close()


def _wait_for(child, condition, timeout: float):
    """Poll `condition` while draining the child's output (a full pty would block it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            child.expect(pexpect.TIMEOUT, timeout=0.1)
        except pexpect.EOF:
            break
        if condition():
            return True
    return condition()


def test_accept_three_then_sigkill_keeps_all_three(tmp_path):
    db_path = tmp_path / "annotations" / "workbench.db"  # empty: review ingests the seeds first
    env = dict(os.environ, WORKBENCH_DB=str(db_path), TERM="xterm-256color", WORKBENCH_ANNOTATOR="pty",
               TEXTUAL_ANIMATIONS="none")
    child = pexpect.spawn(sys.executable, ["-m", "workbench", "review"], cwd=str(tmp_path), env=env,
                          dimensions=(30, 100), encoding="utf-8", timeout=30)
    try:
        child.expect("Multigrid", timeout=60)  # the first paper is on screen
        for expected in (1, 2, 3):
            child.send("a")
            assert _wait_for(child, lambda: len(_decisions(db_path)) == expected, 15), f"decision {expected} not stored"
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    finally:
        if child.isalive():
            child.kill(signal.SIGKILL)
    assert child.signalstatus == signal.SIGKILL
    decisions = _decisions(db_path)
    assert len(decisions) == 3 and {s for _, s in decisions} == {"accepted"}
    db = sqlite3.connect(db_path)
    assert db.execute("SELECT count(*) FROM events WHERE annotator = 'pty' AND action = 'accepted'").fetchone()[0] == 3
    assert db.execute("SELECT count(*) FROM papers").fetchone()[0] == 504
    first = db.execute("SELECT id FROM papers ORDER BY seq LIMIT 1").fetchone()[0]
    assert first in {pid for pid, _ in decisions}
    db.close()


def _spawn(args: list[str], tmp_path, db_path, **env_extra) -> pexpect.spawn:
    env = dict(os.environ, WORKBENCH_DB=str(db_path), TERM="xterm-256color", WORKBENCH_ANNOTATOR="pty",
               TEXTUAL_ANIMATIONS="none", **env_extra)
    return pexpect.spawn(sys.executable, args, cwd=str(tmp_path), env=env, dimensions=(30, 100), encoding="utf-8",
                         timeout=30, codec_errors="replace")


@contextmanager
def _reviewing(tmp_path, db_path):
    """`workbench review` in a pty, its first paper on screen; `q` on leaving the block (killed if
    it does not end)."""
    child = _spawn(["-m", "workbench", "review"], tmp_path, db_path)
    try:
        child.expect("Multigrid", timeout=60)
        yield child
        child.send("q")
        child.expect(pexpect.EOF, timeout=30)
        child.close()
    finally:
        if child.isalive():
            child.kill(signal.SIGKILL)


def test_a_crash_inside_the_tui_exits_1(tmp_path):
    """The contract: a runtime failure is exit code 1, even when Textual catches it and shuts down."""
    db_path = tmp_path / "annotations" / "workbench.db"
    crash = ("import sys\nfrom workbench.tui.screens.paper import ReviewScreen\n"
             "def broken(self):\n    raise RuntimeError('a bug on the review screen')\n"
             "ReviewScreen.on_mount = broken\nfrom workbench.cli import main\n"
             "sys.argv = ['workbench', 'review']\nmain()\n")
    child = _spawn(["-c", crash], tmp_path, db_path)
    child.expect(pexpect.EOF, timeout=60)
    child.close()
    assert child.exitstatus == 1
    assert "a bug on the review screen" in child.before


def test_a_read_only_store_opens_for_browsing_and_says_decisions_cannot_be_saved(tmp_path):
    import shutil
    import subprocess

    db_path = tmp_path / "annotations" / "workbench.db"
    shutil.copytree(os.path.dirname(__file__) + "/../seeds", tmp_path / "seeds")
    subprocess.run([sys.executable, "-m", "workbench", "--db", str(db_path), "ingest"], check=True, cwd=tmp_path,
                   capture_output=True)
    if subprocess.run(["chattr", "+i", str(db_path)], capture_output=True).returncode != 0:
        import pytest

        pytest.skip("this file system cannot make a file read-only for root (chattr +i)")
    try:
        child = _spawn(["-m", "workbench", "review"], tmp_path, db_path)
        child.expect("read-only", timeout=60)
        child.expect("Multigrid", timeout=15)  # the first paper, to browse
        child.send("r")
        child.expect("Not saved", timeout=15)
        child.send("q")
        child.expect(pexpect.EOF, timeout=15)
        child.close()
        assert child.exitstatus == 0
    finally:
        subprocess.run(["chattr", "-i", str(db_path)], capture_output=True)
    assert _decisions(db_path) == []


def test_a_burst_of_keys_is_acted_on_every_one(tmp_path):
    """Ten `a` sent at once record ten decisions; `e`, text and ctrl+s sent at once save the text.
    Then `q`: the store file alone holds every decision (no -wal left to copy along; the empty lock
    file of writers' turns stays, workbench/writer_turns.py)."""
    import shutil

    db_path = tmp_path / "annotations" / "workbench.db"
    with _reviewing(tmp_path, db_path) as child:
        child.send("a" * 10)
        assert _wait_for(child, lambda: len(_decisions(db_path)) == 10, 30), f"{len(_decisions(db_path))} of 10"
        child.send("e\x01typed in one burst\x13")  # e, ctrl+a, the text, ctrl+s
        assert _wait_for(child, lambda: len(_decisions(db_path)) == 11, 30)
    assert child.exitstatus == 0
    # No -wal or -shm left: the store file alone holds everything. The turns lock file is empty (README).
    assert sorted(p.name for p in db_path.parent.iterdir()) == ["workbench.db", "workbench.db-turns"]
    assert (db_path.parent / "workbench.db-turns").stat().st_size == 0
    copy = shutil.copy(db_path, tmp_path / "copy.db")
    db = sqlite3.connect(copy)
    rows = db.execute("SELECT status, technique FROM annotations a JOIN papers p ON p.id = a.paper_id "
                      "WHERE annotator = 'pty' ORDER BY p.seq").fetchall()
    db.close()
    assert [s for s, _ in rows] == ["accepted"] * 10 + ["edited"]
    assert rows[-1][1] == "typed in one burst"


def test_an_undecodable_byte_on_stdin_is_ignored(tmp_path):
    """Bytes that are not UTF-8 (a stray 0xff, a cut sequence) used to crash Textual's input
    thread with a traceback, the app left without input and exit 0; now they are dropped."""
    db_path = tmp_path / "annotations" / "workbench.db"
    with _reviewing(tmp_path, db_path) as child:
        child.send("a")
        assert _wait_for(child, lambda: len(_decisions(db_path)) == 1, 15)
        os.write(child.child_fd, b"\xff")
        time.sleep(0.5)
        os.write(child.child_fd, b"\xc3(")  # a cut two-byte sequence, then "("
        time.sleep(0.5)
        child.send("a")
        assert _wait_for(child, lambda: len(_decisions(db_path)) == 2, 15), "keys after the bad bytes were lost"
    assert child.exitstatus == 0
    assert "Traceback" not in child.before and "UnicodeDecodeError" not in child.before


# `workbench review` as run from the command line, recording which packages were loaded once the first
# frame's content is built (ReviewScreen.show_current(first=True) has returned).
_RECORD_FIRST_FRAME = """
import sys
from workbench.tui.screens import paper

shown, record = paper.ReviewScreen.show_current, sys.argv[1]


def show_current(self, *, first=False):
    shown(self, first=first)
    if first:
        with open(record, "w") as out:
            out.write("\\n".join(sorted({name.split(".")[0] for name in sys.modules})))


paper.ReviewScreen.show_current = show_current
sys.argv = ["workbench", "review"]
from workbench.cli import main

main()
"""


def test_the_first_frame_imports_neither_pydantic_nor_the_openai_sdk_and_a_first_key_waits_for_the_suggestion(
        tmp_path):
    """Launch speed: the offline review of a migrated store draws its first paper before pydantic, openai,
    tenacity or httpx2 are imported (~100 ms of a 0.5 s launch); that paper's suggestion follows at once, and an
    `a` typed in the same instant accepts it (it waited for it), never a paper without one."""
    from workbench.db import close_db, open_db
    from workbench.ingest import ingest

    db_path = tmp_path / "annotations" / "workbench.db"
    db_path.parent.mkdir()
    db = open_db(db_path)
    ingest(db, [ROOT / "seeds"])
    close_db(db)
    record = tmp_path / "modules.txt"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPENAI_", "WORKBENCH_CONFIG"))}
    env.update(WORKBENCH_DB=str(db_path), TERM="xterm-256color", WORKBENCH_ANNOTATOR="pty", TEXTUAL_ANIMATIONS="none",
               WORKBENCH_CONFIG=str(tmp_path / "none.toml"))
    child = pexpect.spawn(sys.executable, ["-c", _RECORD_FIRST_FRAME, str(record)], cwd=str(tmp_path), env=env,
                          dimensions=(30, 100), encoding="utf-8", timeout=30)
    try:
        child.expect("Multigrid", timeout=60)
        child.send("a")
        assert _wait_for(child, lambda: len(_decisions(db_path)) == 1, 15)
    finally:
        child.kill(signal.SIGKILL)
    loaded = set(record.read_text().split())
    assert {"textual", "workbench", "sqlite3"} <= loaded  # the record is of a real first frame
    assert not loaded & {"pydantic", "pydantic_core", "openai", "tenacity", "httpx2", "httpx"}
    db = sqlite3.connect(db_path)
    row = db.execute("SELECT status, suggestion_id, technique FROM annotations WHERE annotator = 'pty'").fetchone()
    assert row[0] == "accepted" and row[1] is not None and row[2]



def test_review_takes_ctrl_s_from_the_terminal_as_it_starts_and_gives_flow_control_back(tmp_path):
    """With flow control on (IXON), the terminal itself swallowed a ctrl+s typed before Textual took the
    keyboard (~0.3 s in): `e early ctrl+s a` at launch left the form open with "...earlya" and nothing saved.
    `workbench review` turns it off as its first import runs, and the terminal has it back at exit."""
    probe = ("import sys, termios; sys.argv[1:] = ['review']; import workbench.cli; "
             "print('ixon', termios.tcgetattr(0)[0] & termios.IXON)")
    child = pexpect.spawn("sh", ["-c", f'stty ixon; {sys.executable} -c "{probe}"; stty -a'], cwd=str(ROOT),
                          encoding="utf-8", timeout=60, env=dict(os.environ, TERM="xterm-256color"))
    child.expect(pexpect.EOF)
    out = child.before
    assert "ixon 0" in out  # off while the review runs
    assert " ixon" in out.split("ixon 0", 1)[1] and "-ixon" not in out.split("ixon 0", 1)[1]  # back on after
