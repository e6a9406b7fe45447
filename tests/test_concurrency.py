"""Real concurrency: annotator sessions in separate processes on one store, PostgreSQL (8) and SQLite (4).
No decision is lost, no lock error reaches a user, the events log replays to the annotations, and two
sessions of one annotator on the same papers meet as conflicts, never as overwrites - alike on both."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest

from tests.conftest import ROOT, SEEDS
from workbench.db import open_db
from workbench.ingest import ingest

PAPERS = 200


def _run_sessions(url: str, annotators: list[str]) -> list[dict]:
    procs = [subprocess.Popen([sys.executable, str(ROOT / "tests" / "session_worker.py"), url, who, str(PAPERS),
                               f" in window {n}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for n, who in enumerate(annotators)]
    reports = []
    for proc in procs:
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-2000:]
        reports.append(json.loads(out))
    return reports


def _replayed(db) -> dict[tuple[str, str], dict | None]:
    """The annotations as the events log says they are: each row's latest event's `after`."""
    state: dict[tuple[str, str], dict | None] = {}
    for paper_id, annotator, after in db.execute("SELECT paper_id, annotator, after FROM events ORDER BY id"):
        state[(paper_id, annotator)] = json.loads(after) if after else None
    return state


@pytest.mark.parametrize("backend, sessions", [("postgresql", 8), ("sqlite", 4)])
def test_sessions_in_parallel_lose_nothing_and_meet_as_conflicts(backend, sessions, request, tmp_path):
    url = request.getfixturevalue("pg_url") if backend == "postgresql" else str(tmp_path / "team.db")
    db = open_db(url)
    ingest(db, [SEEDS])
    # All but two decide as themselves; the last two are one annotator in two windows, on the same papers.
    annotators = [f"annotator{n}" for n in range(sessions - 2)] + ["shared", "shared"]
    reports = _run_sessions(url, annotators)

    assert sum(r["busy"] for r in reports) == 0  # no lock error reached anyone
    assert all(r["written"] == PAPERS for r in reports)
    counts = Counter(r[0] for r in db.execute("SELECT annotator FROM annotations WHERE status IS NOT NULL"))
    assert counts == {a: PAPERS for a in annotators}
    events = Counter(r[0] for r in db.execute("SELECT annotator FROM events"))
    # Every write is in the log. The shared annotator's two windows write each paper twice, except where the
    # second met the first's identical accept or reject as a conflict: nothing to choose, nothing written.
    shared_conflicts = sum(r["conflicts"] for r in reports if r["annotator"] == "shared")
    assert PAPERS + shared_conflicts <= events.pop("shared") <= 2 * PAPERS
    assert events == {a: PAPERS for a in annotators if a != "shared"}
    versions = dict(((pid, who), version) for pid, who, version in
                    db.execute("SELECT paper_id, annotator, version FROM annotations"))
    assert {key: after["version"] for key, after in _replayed(db).items()} == versions  # the log replays
    # No write was based on a version other than the one stored: each event's `before` is exactly the
    # previous event's `after` for that paper and annotator (a lost update would break the chain).
    last: dict[tuple[str, str], int | None] = {}
    for pid, who, before, after in db.execute("SELECT paper_id, annotator, before, after FROM events ORDER BY id"):
        assert (json.loads(before)["version"] if before else None) == last.get((pid, who))
        last[(pid, who)] = json.loads(after)["version"] if after else None
    db.close()
