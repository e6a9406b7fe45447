"""Agreement between two annotators on the papers both decided."""

from __future__ import annotations

from sqlite_utils import Database

from workbench.errors import InputError
from workbench.metrics import FieldScore, cohen_kappa, exact
from workbench.schema import FIELDS


def annotators(db: Database) -> list[str]:
    return [r[0] for r in db.execute(
        "SELECT DISTINCT annotator FROM annotations WHERE status IS NOT NULL ORDER BY annotator")]


def choose_pair(db: Database, pair: str | None, *, exclude: str | None = None) -> tuple[str, str]:
    """The two annotators to compare: `pair` ("A,B"), else the only two in the store."""
    if pair:
        names = [p.strip() for p in pair.split(",") if p.strip()]
        if len(names) != 2 or names[0] == names[1]:
            raise InputError("--annotators takes two different names, e.g. --annotators ana,ben")
        known = annotators(db)
        for name in names:
            if name not in known:
                raise InputError(f"--annotators: '{name}' has no decisions in this store (known: {', '.join(known) or 'none'})")
        return names[0], names[1]
    candidates = [a for a in annotators(db) if a != exclude]
    if len(candidates) != 2:
        raise InputError(f"this store has {len(candidates)} annotators with decisions"
                         f"{' besides ' + exclude if exclude else ''} ({', '.join(candidates) or 'none'}); "
                         "name two with --annotators A,B")
    return candidates[0], candidates[1]


def _pairs(db: Database, a: str, b: str) -> list[tuple]:
    return db.execute(
        "SELECT x.paper_id, p.title, p.seq, x.status, x.technique, x.claimed_gain, x.compute, "
        "y.status, y.technique, y.claimed_gain, y.compute FROM annotations x "
        "JOIN annotations y ON y.paper_id = x.paper_id AND y.annotator = ? "
        "JOIN papers p ON p.id = x.paper_id "
        "WHERE x.annotator = ? AND x.status IS NOT NULL AND y.status IS NOT NULL ORDER BY p.seq", [b, a]).fetchall()


def _disagree(row: tuple) -> bool:
    return row[3] != row[7] or any(not exact(row[4 + i], row[8 + i]) for i in range(3))


def agreement(db: Database, a: str, b: str) -> dict:
    rows = _pairs(db, a, b)
    statuses = [(r[3], r[7]) for r in rows]
    scores = {f: FieldScore() for f in FIELDS}
    for r in rows:
        if r[3] != "rejected" and r[7] != "rejected":  # fields mean something only when both kept them
            for i, f in enumerate(FIELDS):
                scores[f].add(r[4 + i], r[8 + i])
    disagreements = [{
        "paper_id": r[0], "title": r[1],
        a: {"status": r[3], **dict(zip(FIELDS, r[4:7]))},
        b: {"status": r[7], **dict(zip(FIELDS, r[8:11]))},
    } for r in rows if _disagree(r)]
    return {
        "annotators": [a, b],
        "papers": len(rows),
        "status_agreement": round(sum(x == y for x, y in statuses) / len(statuses), 4) if statuses else None,
        "kappa": None if not statuses else round(cohen_kappa(statuses), 4),
        "fields": {f: {k: v for k, v in scores[f].as_dict(False).items() if k in ("exact", "token_f1")}
                   for f in FIELDS},
        "disagreements": disagreements,
    }


def disagreement_ids(db: Database, a: str, b: str) -> list[str]:
    return [r[0] for r in _pairs(db, a, b) if _disagree(r)]
