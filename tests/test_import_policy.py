"""Import never replaces a decision silently: conflicts are refused unless --on-conflict says otherwise."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import write
from workbench.db import open_db
from workbench.store import Decision, decide, get_annotation, paper_order

OLD = "2020-01-01T00:00:00Z"
# Later than any decision the tests make, and not in the future (an import refuses those).
FUTURE = (datetime.now(timezone.utc) + timedelta(hours=6)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def store(run_cli, seeds_copy, db_path):
    """Ana's edit on the first paper (made in the review), a decision by ben on the second."""
    run_cli("ingest")
    db = open_db(db_path)
    ids = [pid for _, pid in paper_order(db)]
    decide(db, Decision(ids[0], "ana", "edited", {"technique": "ana's careful edit"}))
    decide(db, Decision(ids[1], "ben", "rejected", {}))
    yield db, ids
    db.close()


def _line(pid, annotator="ana", status="accepted", technique="suggested technique", updated_at=OLD, **extra):
    record = {"paper_id": pid, "annotator": annotator, "status": status,
              "annotation": {"technique": technique, "claimed_gain": None, "compute": None},
              "created_at": OLD, "updated_at": updated_at, **extra}
    if status == "accepted":  # taken as suggested: it names the suggestion with these values
        record["suggestion"] = {"id": "s-1", "prompt": "summary", "prompt_hash": "p" * 64, "model": "offline",
                                "fields": dict(record["annotation"])}
    if annotator is None:
        del record["annotator"]
    return json.dumps(record)


def _events(db) -> int:
    return db.execute("SELECT count(*) FROM events").fetchone()[0]


def test_default_refuses_a_record_that_would_replace_a_newer_edit(store, run_cli, tmp_path):
    db, ids = store
    path = write(tmp_path / "old.jsonl", "\n".join([_line(ids[2]), _line(ids[0]),
                                                    _line(ids[1], "ben", "accepted")]) + "\n")
    result = run_cli("import", str(path))
    assert result.exit_code == 2 and result.stdout == ""
    stored = get_annotation(db, ids[0], "ana")
    lines = result.stderr.splitlines()
    assert lines[0] == f"workbench: {path}:2: paper {ids[0]} by 'ana': stored updated_at {stored.updated_at}, " \
                       f"incoming {OLD}"
    assert lines[1] == f"{path}:3: paper {ids[1]} by 'ben': stored updated_at " \
                       f"{get_annotation(db, ids[1], 'ben').updated_at}, incoming {OLD}"
    assert "2 conflicts" in lines[2] and "--on-conflict" in lines[2] and "nothing was imported" in lines[2]
    assert stored.values["technique"] == "ana's careful edit"
    assert get_annotation(db, ids[2], "ana") is None  # nothing written, not even the record without a conflict
    assert _events(db) == 2


def test_skip_keeps_the_stored_decisions_and_imports_the_rest(store, run_cli, tmp_path):
    db, ids = store
    path = write(tmp_path / "old.jsonl", "\n".join([_line(ids[2]), _line(ids[0])]) + "\n")
    result = run_cli("import", str(path), "--on-conflict", "skip")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"imported 1 annotation from {path} (1 conflict skipped)\n"
    assert get_annotation(db, ids[0], "ana").values["technique"] == "ana's careful edit"
    assert get_annotation(db, ids[2], "ana").status == "accepted"


def test_newer_takes_the_record_only_when_its_updated_at_is_later(store, run_cli, tmp_path):
    db, ids = store
    path = write(tmp_path / "mixed.jsonl", "\n".join([_line(ids[0], updated_at=OLD),
                                                      _line(ids[1], "ben", "edited", "ben later", FUTURE)]) + "\n")
    result = run_cli("import", str(path), "--on-conflict", "newer")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"imported 1 annotation from {path} (1 conflict skipped)\n"
    assert get_annotation(db, ids[0], "ana").values["technique"] == "ana's careful edit"
    ben = get_annotation(db, ids[1], "ben")
    assert (ben.status, ben.values["technique"], ben.updated_at) == ("edited", "ben later", FUTURE)


def test_replace_takes_every_record(store, run_cli, tmp_path):
    db, ids = store
    path = write(tmp_path / "old.jsonl", _line(ids[0]) + "\n")
    result = run_cli("import", str(path), "--on-conflict", "replace")
    assert result.exit_code == 0, result.stderr
    row = get_annotation(db, ids[0], "ana")
    assert (row.status, row.values["technique"]) == ("accepted", "suggested technique")
    before = json.loads(db.execute("SELECT before FROM events ORDER BY id DESC LIMIT 1").fetchone()[0])
    assert before["technique"] == "ana's careful edit"  # the replaced edit stays in the history


def test_identical_records_are_no_ops(store, run_cli, tmp_path):
    db, ids = store
    exported = run_cli("export").stdout
    events = _events(db)
    path = write(tmp_path / "same.jsonl", exported)
    result = run_cli("import", str(path))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"imported 0 annotations from {path} (2 unchanged)\n"
    assert _events(db) == events and run_cli("export").stdout == exported


def test_records_without_an_annotator_need_annotator(store, run_cli, tmp_path):
    db, ids = store
    path = write(tmp_path / "anon.jsonl", _line(ids[3], annotator="cleo") + "\n" + _line(ids[2], annotator=None) + "\n")
    result = run_cli("import", str(path))
    assert result.exit_code == 2
    assert result.stderr == (f"workbench: {path}:2: the record names no 'annotator'; say whose decisions "
                             "these are with --annotator NAME\n")
    assert get_annotation(db, ids[3], "cleo") is None
    result = run_cli("import", str(path), "--annotator", "zoe")
    assert result.exit_code == 0, result.stderr
    assert get_annotation(db, ids[2], "zoe").status == "accepted"
    assert get_annotation(db, ids[3], "cleo").status == "accepted"


def test_a_time_in_the_future_is_refused_it_would_win_every_newer_conflict(store, run_cli, tmp_path):
    db, ids = store
    path = write(tmp_path / "future.jsonl", _line(ids[0], updated_at="2099-01-01T00:00:00Z") + "\n")
    result = run_cli("import", str(path), "--on-conflict", "newer")
    assert result.exit_code == 2
    assert result.stderr == (f"workbench: {path}:1: 'updated_at' 2099-01-01T00:00:00Z is in the future; "
                             "no decision was made then\n")
    assert get_annotation(db, ids[0], "ana").values["technique"] == "ana's careful edit"


def test_an_import_keeps_a_flag_set_in_the_review(store, run_cli, tmp_path):
    """A paper only flagged (no decision yet) is no conflict, but the record must not clear the flag."""
    from workbench.store import set_flag

    db, ids = store
    set_flag(db, ids[2], "ana", True, based_on=None)
    path = write(tmp_path / "decided.jsonl", _line(ids[2]) + "\n")
    assert run_cli("import", str(path)).exit_code == 0
    row = get_annotation(db, ids[2], "ana")
    assert (row.status, row.flagged) == ("accepted", True)


def test_newer_compares_a_stored_time_without_a_zone_as_utc(store, run_cli, tmp_path):
    """An import now refuses such a time, but a store may hold one from an import made before it did."""
    db, ids = store
    db.execute("UPDATE annotations SET updated_at = '2020-01-01T00:00:00' WHERE paper_id = ?", [ids[0]])
    db.conn.commit()
    path = write(tmp_path / "later.jsonl", _line(ids[0], updated_at="2020-01-01T00:00:01Z") + "\n")
    result = run_cli("import", str(path), "--on-conflict", "newer")
    assert result.exit_code == 0, result.stderr  # was an internal error comparing naive and aware times
    assert result.stdout == f"imported 1 annotation from {path}\n"
    assert get_annotation(db, ids[0], "ana").values["technique"] == "suggested technique"
