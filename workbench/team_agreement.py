"""Agreement of any number of annotators, per field (technique, claimed gain, compute), and the team's
progress (`workbench team status`).

- Presence: each annotator's value stated or not ("none": empty, or the paper rejected) is a nominal
  judgement; Krippendorff's alpha and Gwet's AC1 (with its 95% interval) over the papers that two or
  more annotators decided (`workbench.reliability`).
- Value: on the papers where two or more annotators stated a value, over every pair of them: mean
  token F1 and exact match after normalisation (`metrics.normalise_for_comparison`: case, punctuation,
  white space); for the claimed gain also the share of pairs with the same set of numbers.
- Each annotator against the consensus: on every paper they and at least one other annotator decided,
  the value a strict majority of the *others* gave (normalised; "none" is a value), when there is
  one; and against the adjudicated decision (the `@adjudicated` role) where one exists.
Adjudications are never among the annotators whose agreement is measured.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from itertools import combinations
from typing import Iterable

from workbench.errors import InputError
from workbench.metrics import normalise_for_comparison, number_set, token_f1
from workbench.records import AnnotationRow, no_decisions
from workbench.reliability import gwet_ac1, krippendorff_alpha
from workbench.store import Handle, decision_seconds, get_distribution, iter_annotations, live_leases, paper_order
from workbench.vocab import (
    AWAITING_ADJUDICATION, COMPLETE, FIELDS, IN_PROGRESS, NOT_STARTED, REJECTED, STATUSES, is_adjudication,
)

STATED, NONE = "stated", "none"


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def decision_values(row: AnnotationRow) -> dict:
    """A decision as agreement compares it: its status and each field (all None when rejected)."""
    values = {f: None if row.status == REJECTED else row.values.get(f) for f in FIELDS}
    values["status"] = row.status
    return values


def decided_by_paper(db: Handle) -> tuple[dict[str, dict[str, dict]], dict[str, dict[str, dict]], dict[str, str]]:
    """(paper -> annotator -> fields, paper -> adjudicator role -> fields, paper -> title), in paper order.
    A rejected paper's fields are all "none"."""
    people: dict[str, dict[str, dict]] = defaultdict(dict)
    adjudicated: dict[str, dict[str, dict]] = defaultdict(dict)
    titles: dict[str, str] = {}
    for item in iter_annotations(db):
        row = item.annotation
        values = decision_values(row)
        titles[row.paper_id] = item.title
        (adjudicated if is_adjudication(row.annotator) else people)[row.paper_id][row.annotator] = values
    return people, adjudicated, titles


def _field_agreement(papers: list[dict[str, dict]], field: str) -> dict:
    units = [[STATED if values[field] is not None else NONE for values in decided.values()] for decided in papers]
    pairs = f1 = exact = same_numbers = 0.0
    stated_papers = 0
    for decided in papers:
        stated = [values[field] for values in decided.values() if values[field] is not None]
        if len(stated) < 2:
            continue
        stated_papers += 1
        for x, y in combinations(stated, 2):
            pairs += 1
            f1 += token_f1(x, y)
            exact += normalise_for_comparison(x) == normalise_for_comparison(y)
            same_numbers += number_set(x) == number_set(y)
    value = {"papers": stated_papers, "pairs": int(pairs), "token_f1": _ratio(f1, pairs), "exact": _ratio(exact, pairs)}
    if field == "claimed_gain":
        value["same_numbers"] = _ratio(same_numbers, pairs)
    return {"presence": {"alpha": krippendorff_alpha(units).as_dict(),
                         "ac1": gwet_ac1(units, categories=(STATED, NONE)).as_dict()},
            "value": value}


def _majority(values: list) -> tuple[bool, object]:
    """(found, the normalised value a strict majority gave)."""
    if not values:
        return False, None
    value, count = Counter(normalise_for_comparison(v) for v in values).most_common(1)[0]
    return count * 2 > len(values), value


def _against(mine: dict, reference_of) -> dict:
    """Per field: papers compared, exact share, mean token F1 of one annotator against a reference."""
    result = {}
    for field in FIELDS:
        papers = exact = f1 = 0.0
        for pid, values in mine.items():
            found, reference = reference_of(pid, field)
            if not found:
                continue
            papers += 1
            exact += normalise_for_comparison(values[field]) == reference
            f1 += token_f1(values[field], reference)
        result[field] = {"papers": int(papers), "exact": _ratio(exact, papers), "token_f1": _ratio(f1, papers)}
    return result


def team_agreement(db: Handle, names: list[str] | None = None) -> dict:
    """The report `workbench agreement` prints (every annotator unless `names`)."""
    people, adjudicated, _ = decided_by_paper(db)
    known = sorted({who for decided in people.values() for who in decided})
    if names is not None and len(set(names)) < 2:  # the store may have many; one was named
        raise InputError(f"--annotators names {len(set(names))}; agreement is between two or more (--annotators A,B)")
    names = names or known
    if len(names) < 2:
        raise InputError(f"this store has {len(known)} annotator{'s' * (len(known) != 1)} with decisions "
                         f"({', '.join(known) or 'none'}); agreement needs two or more "
                         "(name two with --annotators A,B)")
    for name in names:  # a name with no decisions is a typo, not a silent empty row
        if name not in known:
            raise InputError(no_decisions("--annotators", name, known))
    chosen = {pid: {who: v for who, v in decided.items() if who in names} for pid, decided in people.items()}
    shared = [decided for decided in chosen.values() if len(decided) >= 2]
    by_annotator: dict[str, dict[str, dict]] = {who: {} for who in names}
    for pid, decided in chosen.items():
        for who, values in decided.items():
            by_annotator[who][pid] = values

    def consensus_for(who: str):
        def reference(pid: str, field: str):
            others = [v[field] for w, v in chosen[pid].items() if w != who]
            return _majority(others)
        return reference

    def adjudicated_for(pid: str, field: str):
        decisions = adjudicated.get(pid)
        if not decisions:
            return False, None
        return True, normalise_for_comparison(next(iter(decisions.values()))[field])

    return {
        "annotators": names,
        "papers": len(shared),
        "fields": {f: _field_agreement(shared, f) for f in FIELDS},
        "against_consensus": {who: _against(by_annotator[who], consensus_for(who)) for who in names},
        "against_adjudicated": {who: _against(by_annotator[who], adjudicated_for) for who in names},
        "adjudicated_papers": len(adjudicated),
    }


def consensus_agreement(report: dict, who: str) -> float | None:
    """One figure per annotator for `team status`: the exact share against the consensus, over the fields."""
    scores = report["against_consensus"].get(who) or {}
    papers = sum(s["papers"] for s in scores.values())
    return _ratio(sum((s["exact"] or 0) * s["papers"] for s in scores.values()), papers)



# --------------------------------------------------------------------------- team progress


def decision_key(values: dict) -> tuple:
    """What two decisions must share to agree: rejected or not, and every field after normalisation.
    `accepted` and `edited` with the same values agree: the status says how a value came about (taken
    from the suggestion or typed), not what it is."""
    return (values["status"] == REJECTED, *(normalise_for_comparison(values[f]) for f in FIELDS))


def _differ(decided: dict[str, dict]) -> bool:
    """Whether the decisions differ: one rejected and another not, or any field (normalised)."""
    return len({decision_key(v) for v in decided.values()}) > 1


def disagreeing_papers(db: Handle, names: Iterable[str] | None = None) -> list[str]:
    """The papers (in paper order) that two or more of these annotators (default: every one) decided, and
    on which their decisions differ. Adjudicated decisions are never among them."""
    people, _, _ = decided_by_paper(db)
    chosen = set(names) if names else None
    found = []
    for pid, decided in people.items():
        if chosen is not None:
            decided = {who: values for who, values in decided.items() if who in chosen}
        if len(decided) >= 2 and _differ(decided):
            found.append(pid)
    return found


def paper_states(db: Handle, people: dict[str, dict[str, dict]], adjudicated: dict[str, dict[str, dict]]) -> dict[str, str]:
    """paper id -> complete / in_progress / not_started / awaiting_adjudication."""
    dist = get_distribution(db)
    leased = {lease.paper_id for lease in live_leases(db)}
    states = {}
    for _, pid in paper_order(db):
        decided = people.get(pid, {})
        needs = dist.needs(pid) if dist else 1
        if len(decided) >= needs:
            waiting = len(decided) >= 2 and _differ(decided) and pid not in adjudicated
            states[pid] = AWAITING_ADJUDICATION if waiting else COMPLETE
        else:
            states[pid] = IN_PROGRESS if decided or pid in leased else NOT_STARTED
    return states


def team_status(db: Handle, report: dict | None = None) -> dict:
    """`workbench team status`: each annotator's work and the papers' progress (`report`: the
    `team_agreement` of every annotator, when the caller has it already)."""
    people, adjudicated, _ = decided_by_paper(db)
    deciders = {who for decided in people.values() for who in decided}
    if report is None and len(deciders) >= 2:
        report = team_agreement(db)
    leases = Counter(lease.annotator for lease in live_leases(db))
    names = sorted(deciders | set(leases))  # someone on their first paper holds a lease, no decision yet
    annotators = []
    for who in names:
        statuses = Counter(decided[who]["status"] for decided in people.values() if who in decided)
        total = sum(statuses.values())
        seconds = sum(decision_seconds(db, annotator=who))
        annotators.append({
            "annotator": who, "decisions": total, "active_seconds": round(seconds, 1),
            "decisions_per_hour": round(total / seconds * 3600, 1) if seconds else None,
            "rates": {s: _ratio(statuses[s], total) for s in STATUSES},
            "agreement_with_consensus": consensus_agreement(report, who) if report else None,
            "live_leases": leases.get(who, 0),
        })
    states = Counter(paper_states(db, people, adjudicated).values())
    dist = get_distribution(db)
    return {
        "distribution": None if dist is None else {"per_paper": dist.per_paper, "overlap": dist.overlap,
                                                   "lease_seconds": dist.lease_seconds},
        "annotators": annotators,
        "papers": {state: states.get(state, 0) for state in (COMPLETE, IN_PROGRESS, NOT_STARTED, AWAITING_ADJUDICATION)},
    }
