"""The real `workbench review` process in a pseudo-terminal: decisions survive SIGKILL."""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
import time

import pexpect


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
