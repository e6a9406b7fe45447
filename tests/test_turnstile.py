"""Writers take turns at a SQLite store: a reviewer waits for one bulk transaction at most."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from workbench.db import close_db, open_db
from workbench.turnstile import TURNSTILE_BYTE, Turnstile

ROOT = Path(__file__).resolve().parent.parent

HOLDER = """
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX, 1, {byte})
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


def test_a_writer_waits_while_another_process_holds_the_turnstile_then_goes_on(tmp_path):
    db = open_db(tmp_path / "s.db")
    holder = subprocess.Popen([sys.executable, "-c", HOLDER.format(byte=TURNSTILE_BYTE), str(tmp_path / "s.db"), "0.4"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    started = time.monotonic()
    with db.conn:
        db.execute("INSERT INTO review_positions (annotator, queue, paper_id, at) VALUES ('a', 'todo', 'p', 'x')")
    plain = time.monotonic() - started  # an implicit transaction: no turnstile
    started = time.monotonic()
    from workbench.store import transaction

    with transaction(db):
        db.execute("UPDATE review_positions SET at = 'y'")
    waited = time.monotonic() - started
    holder.wait()
    assert plain < 0.2 and 0.2 < waited < 2.0  # waited for the holder (0.4 s from its start), no longer
    assert db.execute("SELECT at FROM review_positions").fetchone()[0] == "y"
    close_db(db)


def test_a_writer_held_up_past_its_busy_timeout_goes_on_without_the_turnstile(tmp_path):
    db = open_db(tmp_path / "s.db", busy_timeout=0.3)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER.format(byte=TURNSTILE_BYTE), str(tmp_path / "s.db"), "30"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        from workbench.store import transaction

        started = time.monotonic()
        with transaction(db):
            db.execute("INSERT INTO review_positions (annotator, queue, paper_id, at) VALUES ('a', 'todo', 'p', 'x')")
        assert 0.25 < time.monotonic() - started < 2.0  # SQLite's own lock decided; nothing stopped
    finally:
        holder.kill()
        holder.wait()
    close_db(db)


def test_a_reviewer_keeps_the_turnstile_for_its_transaction_and_a_bulk_writer_only_to_begin(tmp_path):
    path = tmp_path / "s.db"
    open_db(path).close()
    reviewer, bulk = Turnstile(path, holds=True), Turnstile(path, holds=False)
    reviewer.enter(1.0)
    reviewer.begun()
    assert reviewer.held
    reviewer.leave()
    bulk.enter(1.0)
    bulk.begun()
    assert not bulk.held and not reviewer.held


def test_a_store_that_cannot_be_opened_for_writing_has_no_turnstile_and_waits_for_nothing(tmp_path):
    turnstile = Turnstile(tmp_path / "missing.db", holds=True)
    started = time.monotonic()
    turnstile.enter(5.0)
    assert time.monotonic() - started < 0.5 and not turnstile.held
