"""A reviewer's write goes before a bulk writer's next transaction (workbench/writer_turns.py): two real
connections to one SQLite file, the bulk one writing back to back as `batch collect` does."""

from __future__ import annotations

import os
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


def test_a_turn_held_by_a_stopped_process_costs_a_bulk_writer_one_short_wait(db_path):
    """A reviewer suspended (ctrl+z) while holding the turn: the collect waits TURN_WAIT once, then goes on
    at its own pace; a reviewer's writes likewise."""
    import fcntl

    from workbench.writer_turns import TURN_WAIT

    bulk, review = open_db(db_path), open_db(db_path, interactive=True)
    stuck = os.open(f"{db_path}-turns", os.O_RDWR | os.O_CREAT)
    fcntl.flock(stuck, fcntl.LOCK_EX)  # held, as by a process that will not run again for a while
    try:
        started = time.monotonic()
        with bulk_writes(bulk):
            for n in range(20):
                with transaction(bulk):
                    bulk.execute("INSERT INTO review_positions (annotator, queue, paper_id, at) VALUES (?, 'todo', "
                                 "'p', 'x')", [f"bulk{n}"])
        bulk_seconds = time.monotonic() - started
        started = time.monotonic()
        for n in range(5):
            with transaction(review):
                review.execute("INSERT INTO review_positions (annotator, queue, paper_id, at) VALUES (?, 'todo', "
                               "'p', 'x')", [f"reviewer{n}"])
        review_seconds = time.monotonic() - started
    finally:
        os.close(stuck)
        close_db(review)
        close_db(bulk)
    assert TURN_WAIT <= bulk_seconds < 3 * TURN_WAIT
    assert TURN_WAIT <= review_seconds < 3 * TURN_WAIT
    db = open_db(db_path)
    try:
        assert db.execute("SELECT COUNT(*) FROM review_positions").fetchone()[0] == 25
    finally:
        close_db(db)


def test_a_turns_path_planted_as_a_link_or_a_folder_is_never_followed(db_path, tmp_path):
    """Someone made `<store>-turns` a link to a file of theirs, a folder or a FIFO: it is not used (no turns),
    the linked file is untouched, and decisions are written as before."""
    target = tmp_path / "victim.txt"
    target.write_text("keep me\n")
    review = open_db(db_path, interactive=True)
    try:
        for planted in ("link", "folder", "fifo"):
            turns = f"{db_path}-turns"
            if planted == "link":
                os.symlink(target, turns)
            elif planted == "fifo":
                os.mkfifo(turns)  # opened for reading, a FIFO would wait for a writer forever
            else:
                os.mkdir(turns)
            review.turns.close()  # opened again on the next write
            with transaction(review):
                review.execute("INSERT INTO review_positions (annotator, queue, paper_id, at) VALUES (?, 'todo', "
                               "'p', 'x')", [planted])
            assert review.turns.holding is False and review.turns.fd() == -1
            if planted == "folder":
                os.rmdir(turns)
            else:
                os.unlink(turns)
        assert target.read_text() == "keep me\n"
        assert review.execute("SELECT COUNT(*) FROM review_positions").fetchone()[0] == 3
    finally:
        close_db(review)


def test_a_store_named_through_a_link_takes_turns_on_one_file(tmp_path):
    """The review was given `link.db`, the collect resolved it to `real/store.db`: both lock the same file."""
    real = tmp_path / "real" / "store.db"
    review = open_db(real, interactive=True)
    link = tmp_path / "link.db"
    link.symlink_to(real)
    bulk = open_db(link)
    try:
        linked_review = open_db(link, interactive=True)
        with bulk_writes(bulk):
            assert bulk.turns.path == linked_review.turns.path == review.turns.path == f"{real}-turns"
        close_db(linked_review)
    finally:
        close_db(bulk)
        close_db(review)


def test_a_write_that_is_never_waited_for_does_not_wait_for_the_turn(db_path):
    """The review's position is saved with wait=False: another window holding the turn makes it give up at
    once (StoreBusy, swallowed by the caller), not after TURN_WAIT, and the next write still waits its turn."""
    import fcntl

    from workbench.errors import StoreBusy

    review = open_db(db_path, interactive=True)
    other = os.open(f"{db_path}-turns", os.O_RDONLY | os.O_CREAT)
    bulk = open_db(db_path)
    try:
        fcntl.flock(other, fcntl.LOCK_EX)
        bulk.execute("BEGIN IMMEDIATE")  # and the write lock is taken too
        started = time.monotonic()
        try:
            with transaction(review, wait=False):
                pass
        except StoreBusy:
            pass
        assert time.monotonic() - started < 0.2
        assert review.turns.stuck is False
    finally:
        bulk.execute("ROLLBACK")
        os.close(other)
        close_db(bulk)
        close_db(review)
