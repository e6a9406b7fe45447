"""A reviewer's write goes before a bulk writer's next transaction (workbench/writer_turns.py): two real
connections to one SQLite file, the bulk one writing back to back as `batch collect` does."""

from __future__ import annotations

import threading
import time

from workbench.db import close_db, open_db
from workbench.store import bulk_writes, transaction

BULK_TRANSACTION_SECONDS = 0.05


def _bulk_writer(db, stop: threading.Event, started: threading.Event) -> None:
    with bulk_writes(db):
        n = 0
        while not stop.is_set():
            with transaction(db):
                n += 1
                db.execute("INSERT INTO review_positions (annotator, queue, paper_id, at) VALUES (?, 'todo', 'p', ?)",
                           [f"bulk{n}", f"{time.monotonic():.6f}"])
                started.set()
                time.sleep(BULK_TRANSACTION_SECONDS)  # a transaction under way, as a collect's 100 rows


def _committed_bulk(db) -> int:
    return db.execute("SELECT COUNT(*) FROM review_positions WHERE annotator LIKE 'bulk%'").fetchone()[0]


def test_a_reviewer_waits_for_the_bulk_transaction_under_way_and_never_for_the_next(db_path):
    bulk, review = open_db(db_path), open_db(db_path, interactive=True)
    stop, started = threading.Event(), threading.Event()
    writer = threading.Thread(target=_bulk_writer, args=(bulk, stop, started))
    writer.start()
    try:
        assert started.wait(10)
        waits = []
        for n in range(5):
            time.sleep(0.02)
            before = _committed_bulk(review)
            asked = time.monotonic()
            with transaction(review):
                waits.append(time.monotonic() - asked)
                # Only the transaction that was under way when the reviewer asked has committed since.
                assert _committed_bulk(review) - before <= 1
                review.execute("INSERT INTO review_positions (annotator, queue, paper_id, at) VALUES (?, 'todo', 'p', "
                               "'x')", [f"reviewer{n}"])
    finally:
        stop.set()
        writer.join()
        close_db(review)
        close_db(bulk)
    # Without turns the reviewer sleeps on SQLite's ladder and the bulk writer, beginning again at once,
    # wins nearly every try: each of these waits would run to the busy timeout.
    assert max(waits) < 20 * BULK_TRANSACTION_SECONDS, waits


def test_the_bulk_writer_waits_while_a_reviewer_holds_its_turn(db_path):
    bulk, review = open_db(db_path), open_db(db_path, interactive=True)
    stop, started = threading.Event(), threading.Event()
    try:
        with transaction(review):  # the reviewer writes (or waits to) first
            writer = threading.Thread(target=_bulk_writer, args=(bulk, stop, started))
            writer.start()
            assert not started.wait(0.3)  # no bulk transaction begins meanwhile
        assert started.wait(10)  # and one does once the reviewer is done
    finally:
        stop.set()
        writer.join()
        close_db(review)
        close_db(bulk)


def test_without_a_turn_file_the_writers_fall_back_to_the_write_lock(db_path, tmp_path):
    """A folder where the lock file cannot be made: no turns, and writing still works (SQLite's own wait)."""
    review = open_db(db_path, interactive=True)
    try:
        review.turns.path = str(tmp_path / "no-such-folder" / "store.db-turns")
        with transaction(review):
            review.execute("INSERT INTO review_positions (annotator, queue, paper_id, at) VALUES ('r', 'todo', 'p', 'x')")
        assert review.turns.holding is False
        assert review.execute("SELECT COUNT(*) FROM review_positions").fetchone()[0] == 1
    finally:
        close_db(review)
