"""The store: migrations, decisions with events, flag, undo, concurrent writers."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from sqlite_utils import Database

from workbench.db import open_db
from workbench.migrations import migrations
from workbench.store import Decision, decide, get_annotation, paper_order, set_flag, undo_last

ALL_MIGRATIONS = [m.name for m in migrations.pending(Database(memory=True))]


def test_migrations_create_every_table_on_an_empty_store(db_path):
    db = open_db(db_path)
    assert {"papers", "sightings", "prompts", "suggestions", "annotations", "events"} <= set(db.table_names())
    applied = [m.name for m in migrations.applied(db)]
    assert applied == ALL_MIGRATIONS
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    db.close()
    again = open_db(db_path)  # reopening applies nothing twice
    assert [m.name for m in migrations.applied(again)] == applied
    again.close()


def _first_paper(db) -> str:
    return paper_order(db)[0][1]


def test_a_decision_writes_the_annotation_and_an_event(seeded_db):
    pid = _first_paper(seeded_db)
    decide(seeded_db, Decision(pid, "ana", "edited", {"technique": "  multigrid\n schedule ", "claimed_gain": "",
                                                      "compute": None}, seconds=4.25))
    row = get_annotation(seeded_db, pid, "ana")
    assert (row.status, row.values["technique"], row.values["claimed_gain"], row.seconds_spent) == (
        "edited", "multigrid schedule", None, 4.2)
    assert row.created_at.endswith("Z") and row.created_at == row.updated_at
    event = next(seeded_db.query("SELECT * FROM events"))
    assert (event["action"], event["before"], json.loads(event["after"])["technique"]) == ("edited", None, "multigrid schedule")


def test_seconds_accumulate_and_created_at_is_kept(seeded_db):
    pid = _first_paper(seeded_db)
    first = decide(seeded_db, Decision(pid, "ana", "accepted", {}, seconds=2.0))
    second = decide(seeded_db, Decision(pid, "ana", "rejected", {}, seconds=3.0, based_on=first.version))
    assert second.seconds_spent == 5.0
    assert second.created_at == first.created_at


def test_undo_restores_what_was_there_before_step_by_step(seeded_db):
    pid = _first_paper(seeded_db)
    row = decide(seeded_db, Decision(pid, "ana", "accepted", {"technique": "A"}))
    row = set_flag(seeded_db, pid, "ana", True, based_on=row.version)
    decide(seeded_db, Decision(pid, "ana", "rejected", {}, based_on=row.version))
    assert undo_last(seeded_db, "ana") == pid
    row = get_annotation(seeded_db, pid, "ana")
    assert (row.status, row.flagged, row.values["technique"]) == ("accepted", True, "A")
    assert undo_last(seeded_db, "ana") == pid
    assert get_annotation(seeded_db, pid, "ana").flagged is False
    assert undo_last(seeded_db, "ana") == pid
    assert get_annotation(seeded_db, pid, "ana") is None
    assert undo_last(seeded_db, "ana") is None  # nothing left to undo
    actions = [r[0] for r in seeded_db.execute("SELECT action FROM events ORDER BY id")]
    assert actions == ["accepted", "flag", "rejected", "undo", "undo", "undo"]


def test_undo_only_touches_the_annotators_own_decisions(seeded_db):
    pid = _first_paper(seeded_db)
    decide(seeded_db, Decision(pid, "ana", "accepted", {}))
    decide(seeded_db, Decision(pid, "ben", "rejected", {}))
    undo_last(seeded_db, "ana")
    assert get_annotation(seeded_db, pid, "ana") is None
    assert get_annotation(seeded_db, pid, "ben").status == "rejected"


WRITER = textwrap.dedent(
    """
    import sys
    from workbench.db import open_db
    from workbench.store import Decision, decide, paper_order
    db = open_db(sys.argv[1], busy_timeout=30)
    ids = [pid for _, pid in paper_order(db)]
    for pid in ids[:150]:
        decide(db, Decision(pid, sys.argv[2], "accepted", {"technique": "x" * 200}))
    print("done")
    """
)


def test_two_processes_write_at_once_without_a_locked_error(seeded_db, db_path):
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(db_path), name], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for name in ("ana", "ben")
    ]
    results = [p.communicate(timeout=120) for p in procs]
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0, err
        assert "locked" not in err and out.strip() == "done"
    counts = dict(seeded_db.execute("SELECT annotator, count(*) FROM annotations GROUP BY annotator").fetchall())
    assert counts == {"ana": 150, "ben": 150}
    assert seeded_db["events"].count == 300


def test_a_store_from_an_older_version_is_upgraded_in_place(db_path):
    import sqlite3

    db_path.parent.mkdir(parents=True, exist_ok=True)
    old = Database(sqlite3.connect(db_path))
    migrations.apply(old, stop_before="m002_paper_order_index")  # the store as the first release left it
    assert [m.name for m in migrations.applied(old)] == ["m001_initial"]
    old.execute("INSERT INTO papers (id, seq, title, abstract, content_hash, added_at) "
                "VALUES ('p1', 1, 'A paper', 'Its abstract.', 'h1', '2026-01-01T00:00:00Z')")
    old.execute("INSERT INTO sightings (paper_id, source, position, line, content_hash) "
                "VALUES ('p1', 'papers.jsonl', 1, 1, 'h1')")
    old.conn.commit()
    old.close()
    upgraded = open_db(db_path)
    assert [m.name for m in migrations.applied(upgraded)] == ALL_MIGRATIONS
    assert upgraded["papers"].count == 1
    sighting = next(upgraded.query("SELECT source, source_hash, position FROM sightings"))
    assert sighting == {"source": "papers.jsonl", "source_hash": "name:papers.jsonl", "position": 1}
    assert {"attempts"} <= set(upgraded.table_names())
    plan = " ".join(str(r) for r in upgraded.execute("EXPLAIN QUERY PLAN SELECT seq, id FROM papers ORDER BY seq"))
    assert "COVERING INDEX papers_order" in plan


def test_shipped_migrations_hold_literal_ddl():
    """A shipped migration must build the same tables forever: its SQL is literal text, not built
    from names that live elsewhere (a new status would otherwise change old migrations silently)."""
    import ast
    import inspect

    from workbench import migrations as module

    tree = ast.parse(inspect.getsource(module))
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) for alias in node.names}
    assert imported <= {"Database", "Migrations"}
    assert not any(isinstance(node, ast.JoinedStr) for node in ast.walk(tree))
    for function in (n for n in tree.body if isinstance(n, ast.FunctionDef)):
        for call in (n for n in ast.walk(function) if isinstance(n, ast.Call)):
            assert all(isinstance(arg, ast.Constant) for arg in call.args), function.name


def test_a_reviews_commits_never_fold_the_log_in_a_thread_of_its_own_does(tmp_path):
    """A review's connection (`interactive`) leaves checkpoints to a background thread: its commits do
    not pay for copying and syncing what another writer (a batch collect) put in the log."""
    import sqlite3
    import time

    from workbench.db import close_db

    path = tmp_path / "s.db"
    review = open_db(path, interactive=True)
    assert review.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
    other = sqlite3.connect(path)
    other.execute("PRAGMA wal_autocheckpoint=0")  # the other writer leaves its pages in the log
    with other:
        other.execute("CREATE TABLE filler (x BLOB)")
        other.executemany("INSERT INTO filler VALUES (?)", [(b"x" * 4000,) for _ in range(2000)])
    before = path.stat().st_size
    with review.conn:  # the review commits: no checkpoint in its commit
        review.execute("INSERT INTO review_positions (annotator, queue, paper_id, at) VALUES ('a', 'todo', 'p', 'now')")
    assert path.stat().st_size == before
    deadline = time.monotonic() + 10
    while path.stat().st_size == before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert path.stat().st_size > before + 2000 * 4000  # folded in by the thread
    thread = review.checkpoints.thread
    close_db(review)
    other.close()
    assert not thread.is_alive()


def test_a_commit_that_fails_is_rolled_back_and_the_next_write_stands_alone(db_path):
    """A COMMIT can fail (a full disk; here a deferred foreign key): the transaction is rolled back, not left
    open, so the next decision commits on its own instead of nesting in it and vanishing at close."""
    import sqlite3

    from workbench.db import close_db, write_transaction

    db = open_db(db_path)
    try:
        with pytest.raises(sqlite3.IntegrityError):
            with write_transaction(db):
                db.execute("PRAGMA defer_foreign_keys = ON")
                db.execute("INSERT INTO leases (paper_id, annotator, session, expires_at, taken_at) "
                           "VALUES ('no-such-paper', 'ana', 's', 1, 'x')")
        assert not db.conn.in_transaction
        with write_transaction(db):
            db.execute("INSERT INTO review_positions (annotator, queue, paper_id, at) VALUES ('ana', 'todo', 'p', 'x')")
    finally:
        db.conn.close()  # no checkpoint, no rollback at close: what is committed is what another reader sees
    other = open_db(db_path)
    try:
        assert other.execute("SELECT COUNT(*) FROM review_positions").fetchone()[0] == 1
        assert other.execute("SELECT COUNT(*) FROM leases").fetchone()[0] == 0
    finally:
        close_db(other)
