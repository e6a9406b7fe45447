"""Agreement between two annotators on the papers both decided."""

from __future__ import annotations

from typing import NamedTuple

from workbench.errors import InputError
from workbench.metrics import FieldScore, cohen_kappa, exact
from workbench.records import no_decisions
from workbench.store import Decided, Handle, annotators, decision_pairs
from workbench.vocab import FIELDS, REJECTED


def choose_pair(db: Handle, pair: str | None, *, exclude: str | None = None) -> tuple[str, str]:
    """The two annotators to compare: `pair` ("A,B"), else the only two in the store."""
    if pair:
        names = [p.strip() for p in pair.split(",") if p.strip()]
        if len(names) != 2 or names[0] == names[1]:
            raise InputError("--annotators takes two different names, e.g. --annotators ana,ben")
        known = annotators(db)
        for name in names:
            if name not in known:
                raise InputError(no_decisions("--annotators", name, known))
        return names[0], names[1]
    candidates = [a for a in annotators(db) if a != exclude]
    if len(candidates) != 2:
        raise InputError(f"this store has {len(candidates)} annotator{'s' * (len(candidates) != 1)} with decisions"
                         f"{' besides ' + exclude if exclude else ''} ({', '.join(candidates) or 'none'}); "
                         "name two with --annotators A,B")
    return candidates[0], candidates[1]


class PairedDecision(NamedTuple):
    """One paper both annotators decided."""

    paper_id: str
    title: str
    first: Decided
    second: Decided

    @property
    def disagree(self) -> bool:
        return self.first.status != self.second.status or any(
            not exact(self.first.values[f], self.second.values[f]) for f in FIELDS)

    @property
    def both_kept(self) -> bool:
        """Fields mean something only when neither rejected the paper."""
        return REJECTED not in (self.first.status, self.second.status)


def _pairs(db: Handle, a: str, b: str) -> list[PairedDecision]:
    return [PairedDecision(*pair) for pair in decision_pairs(db, a, b)]


def agreement(db: Handle, a: str, b: str) -> dict:
    pairs = _pairs(db, a, b)
    statuses = [(p.first.status, p.second.status) for p in pairs]
    scores = {f: FieldScore() for f in FIELDS}
    for pair in pairs:
        if pair.both_kept:
            for f in FIELDS:
                scores[f].add(pair.first.values[f], pair.second.values[f])
    disagreements = [{
        "paper_id": p.paper_id, "title": p.title,
        a: {"status": p.first.status, **p.first.values},
        b: {"status": p.second.status, **p.second.values},
    } for p in pairs if p.disagree]
    return {
        "annotators": [a, b],
        "papers": len(pairs),
        "status_agreement": round(sum(x == y for x, y in statuses) / len(statuses), 4) if statuses else None,
        "kappa": None if not statuses else round(cohen_kappa(statuses), 4),
        "fields": {f: {k: v for k, v in scores[f].as_dict(False).items() if k in ("exact", "token_f1")}
                   for f in FIELDS},
        "disagreements": disagreements,
    }

