"""Working as a team: how many decisions each paper needs (the distribution), and leases: a paper
shown to an annotator holds one of its open slots until the lease expires, so two annotators never
get the same last slot. A claim counts and writes in one write transaction (BEGIN IMMEDIATE on
SQLite), so claims from several processes are serialised. Times are unix seconds (`now` may be
given: the tests drive a clock).

A paper's decisions are the decided annotations of annotators; an adjudicated decision (the
`@adjudicated` role) is not one of them."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Iterable

from workbench.errors import SlotTaken
from workbench.records import AnnotationRow
from workbench import pg
from workbench.store._base import Handle, guarded, one, transaction
from workbench.store.annotations import Decision, decide, get_annotation
from workbench.vocab import ADJUDICATED_SUFFIX, LEASE_SECONDS, is_adjudication, utc_now

_ANNOTATORS_ONLY = f"annotator NOT LIKE '%{ADJUDICATED_SUFFIX}'"
HELD, DECIDED, FULL = "held", "decided", "full"  # what a claim found


def share_of(paper_id: str) -> float:
    """Where a paper falls in [0, 1): a hash of its id, so it never moves when papers are added."""
    return int(hashlib.sha256(paper_id.encode()).hexdigest()[:15], 16) / 16 ** 15


@dataclass(frozen=True)
class Distribution:
    per_paper: int
    overlap: float | None  # None: every paper needs per_paper; else this share does and the rest 1
    lease_seconds: int = LEASE_SECONDS

    def needs(self, paper_id: str) -> int:
        if self.overlap is None or share_of(paper_id) < self.overlap:
            return self.per_paper
        return 1


@dataclass(frozen=True)
class Lease:
    paper_id: str
    annotator: str
    session: str
    expires_at: float


@guarded
def get_distribution(db: Handle) -> Distribution | None:
    row = one(db, "SELECT per_paper, overlap, lease_seconds FROM team_distribution WHERE id = 1")
    return Distribution(row["per_paper"], row["overlap"], row["lease_seconds"]) if row else None


@guarded
def set_distribution(db: Handle, per_paper: int, overlap: float | None,
                     lease_seconds: int = LEASE_SECONDS) -> Distribution:
    with transaction(db):
        db.execute("INSERT INTO team_distribution (id, per_paper, overlap, lease_seconds, updated_at) "
                   "VALUES (1, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET per_paper = excluded.per_paper, "
                   "overlap = excluded.overlap, lease_seconds = excluded.lease_seconds, "
                   "updated_at = excluded.updated_at", [per_paper, overlap, lease_seconds, utc_now()])
    return Distribution(per_paper, overlap, lease_seconds)


@guarded
def clear_distribution(db: Handle) -> None:
    """No split any more: every annotator's todo holds every paper again, and no paper is held."""
    with transaction(db):
        db.execute("DELETE FROM team_distribution")
        db.execute("DELETE FROM leases")


def _now(db: Handle, now: float | None) -> float:
    """The time leases are measured by: the server's clock on PostgreSQL, where every annotator's
    machine has its own (one running 31 minutes ahead took others' live holds); the host's on SQLite,
    which every writer shares."""
    if now is not None:
        return now
    if pg.is_handle(db):
        return float(db.execute("SELECT extract(epoch FROM clock_timestamp())::float8").fetchone()[0])
    return time.time()


@guarded
def decision_counts(db: Handle) -> dict[str, int]:
    """paper id -> its decisions (annotators', not adjudications)."""
    return dict(db.execute(f"SELECT paper_id, count(*) FROM annotations WHERE status IS NOT NULL "
                           f"AND {_ANNOTATORS_ONLY} GROUP BY paper_id").fetchall())


@guarded
def live_leases(db: Handle, now: float | None = None) -> list[Lease]:
    rows = db.execute("SELECT paper_id, annotator, session, expires_at FROM leases WHERE expires_at > ? "
                      "ORDER BY paper_id, annotator", [_now(db, now)]).fetchall()
    return [Lease(*row) for row in rows]


@guarded
def open_papers(db: Handle, annotator: str, paper_ids: Iterable[str], now: float | None = None) -> set[str]:
    """Of `paper_ids`, those this annotator may take: not decided by them, and with a slot that neither
    a decision nor another annotator's live lease fills (or with a live lease of their own)."""
    dist = get_distribution(db)
    decided_by_them = {r[0] for r in db.execute(
        "SELECT paper_id FROM annotations WHERE annotator = ? AND status IS NOT NULL", [annotator])}
    if dist is None:
        return {pid for pid in paper_ids if pid not in decided_by_them}
    counts = decision_counts(db)
    held, mine = {}, set()
    for lease in live_leases(db, now):
        if lease.annotator == annotator:
            mine.add(lease.paper_id)
        else:
            held[lease.paper_id] = held.get(lease.paper_id, 0) + 1
    return {pid for pid in paper_ids if pid not in decided_by_them
            and (pid in mine or counts.get(pid, 0) + held.get(pid, 0) < dist.needs(pid))}


def _slot_state(db: Handle, dist: Distribution, paper_id: str, annotator: str, now: float) -> str:
    """HELD: the annotator holds a live lease or a slot is open; DECIDED; FULL (caller holds the transaction)."""
    mine = get_annotation(db, paper_id, annotator)
    if mine is not None and mine.decided:
        return DECIDED
    if one(db, "SELECT 1 AS x FROM leases WHERE paper_id = ? AND annotator = ? AND expires_at > ?",
           [paper_id, annotator, now]):
        return HELD
    decisions = db.execute(f"SELECT count(*) FROM annotations WHERE paper_id = ? AND status IS NOT NULL "
                           f"AND {_ANNOTATORS_ONLY}", [paper_id]).fetchone()[0]
    others = db.execute("SELECT count(*) FROM leases WHERE paper_id = ? AND annotator != ? AND expires_at > ?",
                        [paper_id, annotator, now]).fetchone()[0]
    return HELD if decisions + others < dist.needs(paper_id) else FULL


@guarded
def claim(db: Handle, paper_id: str, annotator: str, session: str, now: float | None = None, *,
          wait: bool = True) -> str:
    """Take (or renew) a lease on one of the paper's open slots: HELD, DECIDED (the annotator decided it:
    no lease needed) or FULL (its decisions and others' live leases fill every slot: no lease).
    Without a distribution every paper is open and nothing is written."""
    with transaction(db, wait=wait):  # the setting and the time read once the lock is held
        dist = get_distribution(db)
        if dist is None:
            return HELD
        now = _now(db, now)
        state = _slot_state(db, dist, paper_id, annotator, now)
        if state == HELD:
            db.execute("INSERT INTO leases (paper_id, annotator, session, expires_at, taken_at) VALUES (?, ?, ?, ?, ?) "
                       "ON CONFLICT (paper_id, annotator) DO UPDATE SET session = excluded.session, "
                       "expires_at = excluded.expires_at, taken_at = excluded.taken_at",
                       [paper_id, annotator, session, now + dist.lease_seconds, utc_now()])
        db.execute("DELETE FROM leases WHERE paper_id = ? AND expires_at <= ?", [paper_id, now])
    return state


@guarded
def release(db: Handle, annotator: str, paper_id: str | None = None, *, wait: bool = True) -> None:
    """Give back the annotator's lease on a paper (every lease of theirs without `paper_id`)."""
    with transaction(db, wait=wait):
        if paper_id is None:
            db.execute("DELETE FROM leases WHERE annotator = ?", [annotator])
        else:
            db.execute("DELETE FROM leases WHERE paper_id = ? AND annotator = ?", [paper_id, annotator])


@guarded
def decide_in_slot(db: Handle, decision: Decision, now: float | None = None) -> AnnotationRow:
    """`decide`, when the team's distribution leaves room: a first decision on a paper needs the
    annotator's live lease or an open slot (else SlotTaken, nothing written); a change of their own
    decision always may. The lease is given back with the decision, in one transaction. An adjudicated
    decision takes no slot: it is not one of the paper's decisions."""
    with transaction(db):  # the setting and the time read once the lock is held
        dist = get_distribution(db)
        if dist is None or is_adjudication(decision.annotator):
            return decide(db, decision)
        now = _now(db, now)
        if _slot_state(db, dist, decision.paper_id, decision.annotator, now) == FULL:
            raise SlotTaken(f"paper {decision.paper_id} already has the {dist.needs(decision.paper_id)} "
                            f"decision{'s' * (dist.needs(decision.paper_id) != 1)} it needs (others' "
                            "decisions and holds fill its slots); nothing was saved")
        row = decide(db, decision)
        db.execute("DELETE FROM leases WHERE paper_id = ? AND annotator = ?", [decision.paper_id, decision.annotator])
    return row
