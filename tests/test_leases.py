"""The team's distribution and leases (workbench/store/leases.py): a paper never gets more decisions
than it needs, whatever the interleaving of claims, decisions, expiries and quits; once everyone
works until nothing is left, every paper has exactly what it needs."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from workbench.db import open_db
from workbench.errors import SlotTaken
from workbench.ingest import ingest
from workbench.store import (
    DECIDED, FULL, HELD, Decision, claim, decide, decide_in_slot, decision_counts, get_annotation, get_distribution,
    live_leases, open_papers, paper_order, release, set_distribution, share_of,
)
from workbench.vocab import ACCEPTED, adjudicator_role

EXAMPLES = int(os.environ.get("WORKBENCH_PROPERTY_EXAMPLES", "40"))
VALUES = {"technique": "t", "claimed_gain": None, "compute": None}


# Leases and claims are store operations: these tests run on SQLite and on PostgreSQL (the stateful
# property test below drives its own SQLite store: it explores the claim logic, not the backend).
BOTH_BACKENDS = True


def papers_file(folder: Path, count: int) -> Path:
    path = folder / "papers.jsonl"
    path.write_text("".join(json.dumps({"title": f"Paper number {i}", "abstract": f"We train {i} times faster."}) + "\n"
                            for i in range(count)))
    return path


def _ids(db) -> list[str]:
    return [pid for _, pid in paper_order(db)]


def _decide(db, pid: str, who: str, now: float):
    stored = get_annotation(db, pid, who)
    return decide_in_slot(db, Decision(pid, who, ACCEPTED, dict(VALUES), based_on=stored.version if stored else None),
                          now=now)


@pytest.fixture
def team(db, tmp_path):
    ingest(db, [papers_file(tmp_path, 3)])
    set_distribution(db, 2, None, lease_seconds=60)
    return db, _ids(db)


def test_without_a_distribution_every_undecided_paper_is_open_and_nothing_is_leased(db, tmp_path):
    ingest(db, [papers_file(tmp_path, 3)])
    ids = _ids(db)
    assert get_distribution(db) is None and open_papers(db, "ana", ids) == set(ids)
    assert claim(db, ids[0], "ana", "s1") == HELD and live_leases(db) == []


def test_the_last_slot_goes_to_one_annotator_and_comes_back_when_the_lease_expires(team):
    db, ids = team
    pid = ids[0]
    assert claim(db, pid, "ana", "s1", now=100) == HELD
    assert claim(db, pid, "ben", "s2", now=100) == HELD
    assert claim(db, pid, "cleo", "s3", now=100) == FULL  # two slots, both held
    assert pid not in open_papers(db, "cleo", ids, now=100) and pid in open_papers(db, "ana", ids, now=100)
    with pytest.raises(SlotTaken):
        _decide(db, pid, "cleo", now=100)
    assert get_annotation(db, pid, "cleo") is None  # nothing written
    assert claim(db, pid, "cleo", "s3", now=161) == HELD  # ana's and ben's leases expired: back in the pool
    _decide(db, pid, "cleo", now=161)
    assert claim(db, pid, "ana", "s1", now=162) == HELD  # one slot left, ana takes it again
    assert claim(db, pid, "ben", "s2", now=162) == FULL
    with pytest.raises(SlotTaken):  # ben's lease lapsed and the last slot is ana's now
        _decide(db, pid, "ben", now=162)
    _decide(db, pid, "ana", now=163)
    assert decision_counts(db)[pid] == 2 and live_leases(db, now=163) == []  # deciding gave the lease back
    assert claim(db, pid, "ana", "s1", now=164) == DECIDED
    _decide(db, pid, "ana", now=165)  # changing one's own decision always may
    assert decision_counts(db)[pid] == 2


def test_quitting_releases_and_a_renewal_keeps_the_slot(team):
    db, ids = team
    claim(db, ids[0], "ana", "s1", now=100)
    claim(db, ids[1], "ana", "s1", now=100)
    assert claim(db, ids[0], "ana", "s1", now=150) == HELD  # renewed: now it runs to 210
    assert [lease.paper_id for lease in live_leases(db, now=200)] == [ids[0]]
    release(db, "ana")
    assert live_leases(db, now=100) == []


def test_adjudicated_decisions_are_not_among_a_papers_decisions(team):
    db, ids = team
    decide(db, Decision(ids[0], adjudicator_role("cleo"), ACCEPTED, dict(VALUES)))
    assert decision_counts(db) == {} and ids[0] in open_papers(db, "ana", ids)


def test_overlap_picks_a_stable_share_by_the_paper_id(db, tmp_path):
    ingest(db, [papers_file(tmp_path, 40)])
    dist = set_distribution(db, 3, 0.25)
    ids = _ids(db)
    needs = {pid: dist.needs(pid) for pid in ids}
    assert set(needs.values()) == {1, 3}
    assert all((needs[pid] == 3) == (share_of(pid) < 0.25) for pid in ids)
    (tmp_path / "more").mkdir()
    ingest(db, [papers_file(tmp_path / "more", 45)])
    assert {pid: get_distribution(db).needs(pid) for pid in ids} == needs  # adding papers moves nothing


class Team(RuleBasedStateMachine):
    """Up to 8 annotators claim, decide, quit and let leases expire, in any order, on a real store."""

    @initialize(per_paper=st.integers(1, 3), extra=st.integers(0, 5), papers=st.integers(1, 4),
                overlap=st.sampled_from([None, 0.5]))
    def setup(self, per_paper, extra, papers, overlap):
        self.folder = Path(tempfile.mkdtemp(prefix="wb-team-"))
        self.db = open_db(self.folder / "team.db")
        ingest(self.db, [papers_file(self.folder, papers)])
        self.dist = set_distribution(self.db, per_paper, overlap, lease_seconds=60)
        self.ids = _ids(self.db)
        self.names = [f"a{i}" for i in range(per_paper + extra)]
        self.now = 1000.0

    def _who(self, i: int) -> str:
        return self.names[i % len(self.names)]

    def _paper(self, j: int) -> str:
        return self.ids[j % len(self.ids)]

    @rule(i=st.integers(0, 7), j=st.integers(0, 3))
    def take(self, i, j):
        claim(self.db, self._paper(j), self._who(i), f"s-{self._who(i)}", now=self.now)

    @rule(i=st.integers(0, 7), j=st.integers(0, 3))
    def decide(self, i, j):
        try:
            _decide(self.db, self._paper(j), self._who(i), self.now)
        except SlotTaken:
            pass

    @rule(i=st.integers(0, 7))
    def quit(self, i):
        release(self.db, self._who(i))

    @rule(seconds=st.sampled_from([1.0, 30.0, 61.0]))
    def wait(self, seconds):
        self.now += seconds  # 61 s: every lease taken before has expired

    @invariant()
    def never_more_than_needed(self):
        if not hasattr(self, "db"):
            return
        counts = decision_counts(self.db)
        held: dict[str, int] = {}
        for lease in live_leases(self.db, now=self.now):
            if get_annotation(self.db, lease.paper_id, lease.annotator) is None:
                held[lease.paper_id] = held.get(lease.paper_id, 0) + 1
        for pid in self.ids:
            assert counts.get(pid, 0) <= self.dist.needs(pid)
            assert counts.get(pid, 0) + held.get(pid, 0) <= self.dist.needs(pid)

    def teardown(self):
        if not hasattr(self, "db"):
            return
        try:
            for name in self.names:  # everyone stops: quits, then works until nothing is open to anyone
                release(self.db, name)
            progress = True
            while progress:
                progress = False
                for name in self.names:
                    for pid in sorted(open_papers(self.db, name, self.ids, now=self.now)):
                        if claim(self.db, pid, name, f"s-{name}", now=self.now) == HELD:
                            _decide(self.db, pid, name, self.now)
                            progress = True
            counts = decision_counts(self.db)
            assert {pid: counts.get(pid, 0) for pid in self.ids} == {pid: self.dist.needs(pid) for pid in self.ids}
        finally:
            self.db.close()
            shutil.rmtree(self.folder, ignore_errors=True)


Team.TestCase.settings = settings(max_examples=EXAMPLES, stateful_step_count=30, deadline=None,
                                  suppress_health_check=[HealthCheck.too_slow])
TestTeamClaims = Team.TestCase


def test_three_review_processes_at_once_never_give_a_paper_more_than_two_decisions(db_path, tmp_path):
    """The issue's bar: `per-paper 2`, three review sessions in three processes deciding at the same time."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    db = open_db(db_path)
    ingest(db, [papers_file(tmp_path, 90)])
    set_distribution(db, 2, None)
    ids = _ids(db)
    db.close()
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    env = dict(os.environ, TEAM_BARRIER=str(barrier), TEAM_WORKERS="3")
    workers = [subprocess.Popen([sys.executable, "-m", "tests.team_worker", str(db_path), name], cwd=ROOT, env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for name in ("ana", "ben", "cleo")]
    results = [worker.communicate(timeout=300) for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0, 0], [err for _, err in results]
    decided = [int(out.split()[0]) for out, _ in results]
    db = open_db(db_path)
    counts = decision_counts(db)
    assert {pid: counts.get(pid, 0) for pid in ids} == {pid: 2 for pid in ids}  # never 3; all done once they stop
    assert sum(decided) == 2 * len(ids) and live_leases(db) == []  # every lease given back on quitting
    assert min(decided) > 0, decided  # all three were at work at once
    db.close()


def test_a_review_session_holds_the_paper_on_screen_and_gives_it_back(team, db_path):
    from workbench.models import get_model
    from workbench.prompts import resolve_prompt
    from workbench.review import ReviewSession, SuggestionFeed

    db, ids = team
    claim(db, ids[0], "ben", "s2")
    claim(db, ids[0], "cleo", "s3")  # the first paper's two slots are held: not in dora's todo
    own = open_db(db_path)
    session = ReviewSession(own, "dora", SuggestionFeed(own, resolve_prompt("summary"), get_model("offline")))
    assert session.current_id == ids[1] and len(session) == 2
    assert {(lease.paper_id, lease.annotator) for lease in live_leases(db)} >= {(ids[1], "dora")}
    assert session.move(1) and session.keep_lease()
    assert [lease.paper_id for lease in live_leases(db) if lease.annotator == "dora"] == [ids[2]]  # moved with her
    session.reject(None)
    assert [lease for lease in live_leases(db) if lease.annotator == "dora"] == []  # deciding gave it back
    session.move(-1)
    session.close()
    assert [lease for lease in live_leases(db) if lease.annotator == "dora"] == []  # quitting too


def test_a_busy_store_never_ends_a_team_review_and_a_hold_is_taken_once_it_can(team, db_path):
    """Another writer (an ingest, a copy) holds the store: moving and quitting go on at once, without a
    hold; the screen's renewal takes it afterwards, and quitting gives it back."""
    import time

    from workbench.db import WriteUnit
    from workbench.models import get_model
    from workbench.prompts import resolve_prompt
    from workbench.review import ReviewSession, SuggestionFeed

    db, ids = team
    own = open_db(db_path)
    session = ReviewSession(own, "dora", SuggestionFeed(own, resolve_prompt("summary"), get_model("offline")))
    blocker = open_db(db_path)
    WriteUnit(blocker).begin()
    started = time.monotonic()
    assert session.move(1)  # no StoreBusy out of a move
    assert time.monotonic() - started < 1.0
    WriteUnit(blocker).rollback()
    blocker.close()
    assert [lease.paper_id for lease in live_leases(db) if lease.annotator == "dora"] == [ids[0]]  # the old hold
    assert session.keep_lease()  # the renewal takes the hold on the paper on screen
    assert [lease.paper_id for lease in live_leases(db) if lease.annotator == "dora"] == [session.current_id]
    session.close()
    assert [lease for lease in live_leases(db) if lease.annotator == "dora"] == []


def test_on_postgresql_holds_are_timed_by_the_servers_clock_not_an_annotators(team, backend, monkeypatch):
    """A laptop whose clock runs 31 minutes ahead must not see others' live holds as expired."""

    from workbench.store import leases as lease_module

    db, ids = team
    set_distribution(db, 1, None, lease_seconds=1800)
    assert claim(db, ids[0], "ana", "s1") == HELD
    monkeypatch.setattr(lease_module.time, "time", lambda: 10.0**10)  # this machine's clock: far ahead
    taken = claim(db, ids[0], "eve", "s2")
    assert taken == (FULL if backend == "postgresql" else HELD)  # SQLite's writers share the host's clock


def test_a_failed_step_back_over_taken_papers_leaves_the_paper_on_screen_where_it_was(team, db_path):
    """Others took the earlier paper's slots: stepping back finds nothing, and the next decision must
    still land on the paper on screen (it once landed on the one after it)."""
    from workbench.models import get_model
    from workbench.prompts import resolve_prompt
    from workbench.review import ReviewSession, SuggestionFeed

    db, ids = team
    own = open_db(db_path)
    session = ReviewSession(own, "dora", SuggestionFeed(own, resolve_prompt("summary"), get_model("offline")))
    assert session.move(1) and session.current_id == ids[1]
    claim(db, ids[0], "ben", "s2")
    claim(db, ids[0], "cleo", "s3")  # the paper behind dora is full now
    assert not session.move(-1)
    assert session.current_id == ids[1]
    session.reject(None)
    assert get_annotation(db, ids[1], "dora").status == "rejected" and get_annotation(db, ids[2], "dora") is None
    session.close()


def test_browsing_a_full_paper_outside_todo_is_not_a_lapsed_hold(team, db_path):
    from workbench.models import get_model
    from workbench.prompts import resolve_prompt
    from workbench.review import ReviewSession, SuggestionFeed

    db, ids = team
    claim(db, ids[0], "ben", "s2")
    claim(db, ids[0], "cleo", "s3")
    own = open_db(db_path)
    session = ReviewSession(own, "dora", SuggestionFeed(own, resolve_prompt("summary"), get_model("offline")),
                            queue="all")
    assert session.current_id == ids[0] and session.keep_lease()  # shown, never held: nothing lapsed
    session.close()
