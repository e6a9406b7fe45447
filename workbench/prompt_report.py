"""`workbench compare`: every (prompt version, model) measured against the human decisions.

The reference is each `accepted` or `edited` annotation (its final fields);
`rejected` papers are counted apart. Per group:
- coverage: decided papers with an `ok` suggestion from the group / decided papers;
- accept rate: of those, the share whose human fields equal the suggestion's
  (all three, after normalising) - "would have been accepted as is";
- per field: exact, token F1, number recall (claimed_gain, compute), null agreement;
- grounding of its quotes, numbers not in the abstract, outcomes, median latency,
  tokens and estimated cost;
- edit effort (`workbench.effort`) of the decisions that started from one of its suggestions.
Aggregates over all suggestions run in SQL; only decided pairs come to Python.

`against()` (`compare --against`): every group scored against gold - a gold file, or one
reviewer's accepted and edited decisions (`workbench.gold`) - with the effort a reviewer
would spend turning its suggestion into the gold values.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass

from workbench.effort import EffortTally, decision_effort
from workbench.gold import Gold, Quality, gold_from_decision
from workbench.metrics import FieldScore, exact, median_or_none, token_f1
from workbench.records import SuggestionKey
from workbench.store import Handle, KeyedPrompt, decided_values, decisions_started_from, first_decision, key_totals
from workbench.store import ok_values, paper_title, suggestion_keys, unknown_paper_ids
from workbench.vocab import FIELDS, NUMBER_FIELDS, REJECTED, batch_price, estimated_cost, source_label


@dataclass(frozen=True)
class Measured:
    """A suggestion key as the report names it: its prompt's name, and the parameters that set it apart
    from its siblings (same prompt version and model), if any."""

    key: SuggestionKey
    prompt: str
    distinct: str = ""

    @property
    def label(self) -> str:
        return source_label(self.prompt, self.key.prompt_id, self.key.model) + \
            (f" [{self.distinct}]" if self.distinct else "")


def _distinct_params(keys: list[SuggestionKey]) -> dict[SuggestionKey, str]:
    """For keys sharing a prompt version and model: the parameter values that differ, as k=v."""
    by_pair: dict[tuple[str, str], list[dict]] = {}
    for key in keys:
        by_pair.setdefault((key.prompt_id, key.model), []).append(json.loads(key.params))
    labels = {}
    for key in keys:
        siblings = by_pair[(key.prompt_id, key.model)]
        if len(siblings) < 2:
            continue
        mine = json.loads(key.params)
        differing = sorted(k for k in set().union(*siblings) if len({json.dumps(s.get(k)) for s in siblings}) > 1)
        labels[key] = ", ".join(f"{k}={mine.get(k)}" for k in differing)
    return labels


def measured(db: Handle, prompt_ids: list[str] | None = None, models: list[str] | None = None) -> list[Measured]:
    """Every suggestion key with stored suggestions (of these prompt versions and models)."""
    found: list[KeyedPrompt] = suggestion_keys(db, prompt_ids, models)
    distinct = _distinct_params([k.key for k in found])
    return [Measured(k.key, k.prompt, distinct.get(k.key, "")) for k in found]


def _decided(db: Handle, annotator: str | None) -> tuple[dict, int]:
    """(paper id -> list of reference field dicts, rejected count) for the annotator(s) in scope."""
    references: dict[str, list[dict]] = {}
    rejected = 0
    for pid, status, values in decided_values(db, annotator):
        if status == REJECTED:
            rejected += 1
        else:
            references.setdefault(pid, []).append(values)
    return references, rejected


def compare(db: Handle, *, prompt_ids: list[str] | None = None, models: list[str] | None = None,
            annotator: str | None = None, prices: dict[str, tuple[float, float]] | None = None) -> list[dict]:
    references, rejected_total = _decided(db, annotator)
    decided_total = sum(len(v) for v in references.values())
    started: dict[tuple, list] = {}  # (prompt version, model) of the snapshot -> decisions
    for decision in decisions_started_from(db, annotator):
        if decision.suggestion_id is not None:
            started.setdefault((decision.prompt_id, decision.model), []).append(decision)
    results = []
    for group in measured(db, prompt_ids, models):
        result = _measure(db, group, references, decided_total, rejected_total, annotator, prices or {})
        result["effort"] = _effort_started_from(group.key, started.get((group.key.prompt_id, group.key.model), []))
        results.append(result)
    return results


def _effort_started_from(key: SuggestionKey, started: list) -> dict:
    """The edit effort of the decisions (rejections included) that started from this key's suggestion
    (its id names the parameters too, which the snapshot does not)."""
    tally = EffortTally()
    for decision in started:
        if decision.suggestion_id == key.suggestion_id(decision.paper_id):
            tally.add(decision_effort(decision.suggested, decision.values, decision.status))
    return tally.as_dict()


# --------------------------------------------------------------------------- --against


_COUNTED_BY = {"figure_recall": "figures", "figure_precision": "suggested_figures", "null_rate": "no_gain",
               "compute_recall": "compute_numbers"}


def reviewer_gold(db: Handle, annotator: str) -> list[Gold]:
    """Each paper the annotator accepted or edited, as gold; a rejection is no gold value."""
    return [gold_from_decision(d.paper_id, d.title, d.values)
            for d in decisions_started_from(db, annotator) if d.status != REJECTED]


def against(db: Handle, gold: list[Gold], *, prompt_ids: list[str] | None = None,
            models: list[str] | None = None) -> list[dict]:
    """Every group (of these prompt versions and models) scored against the gold papers it has an
    `ok` suggestion for on the paper's current text; the others count against coverage only."""
    not_here = len(unknown_paper_ids(db, [paper.paper_id for paper in gold]))
    results = []
    for group in measured(db, prompt_ids, models):
        ok = ok_values(db, group.key)
        quality, tally = Quality(), EffortTally()
        for paper in gold:
            suggestion = ok.get(paper.paper_id)
            if suggestion is None:
                continue
            quality.add(paper, paper.title, suggestion)
            tally.add(decision_effort(suggestion, paper.values))
        suggested_length, gold_length = quality.median_lengths
        measures = {k: (v if quality.papers else None) for k, v in quality.as_dict().items()
                    if k not in ("papers", "median_lengths")}
        for measure, counted in _COUNTED_BY.items():  # a share of nothing is no figure (gold.py's 1.0 is for tests)
            if not measures[counted]:
                measures[measure] = None
        results.append({
            "prompt": group.prompt, "prompt_hash": group.key.prompt_id, "label": group.label,
            "model": group.key.model, "params": json.loads(group.key.params),
            "gold_papers": len(gold), "gold_not_in_store": not_here, "papers": quality.papers,
            "coverage": round(quality.papers / len(gold), 4) if gold else None,
            **measures,
            "gain_length": suggested_length, "gold_gain_length": gold_length,
            "effort": tally.as_dict(),
        })
    return results


def _measure(db: Handle, group: Measured, references: dict, decided_total: int, rejected_total: int,
             annotator: str | None, prices: dict) -> dict:
    key = group.key
    ok = ok_values(db, key)
    scores = {f: FieldScore() for f in FIELDS}
    paired = accepted_as_is = 0
    for pid, refs in references.items():
        suggestion = ok.get(pid)
        if suggestion is None:
            continue
        for ref in refs:
            paired += 1
            accepted_as_is += all(exact(suggestion[f], ref[f]) for f in FIELDS)
            for f in FIELDS:
                scores[f].add(suggestion[f], ref[f])
    totals = key_totals(db, key, annotator)
    outcomes = totals.outcomes
    tokens_in, tokens_out = totals.input_tokens, totals.output_tokens
    batch_in, batch_out = totals.batch_input_tokens, totals.batch_output_tokens
    # Suggestions a batch made cost the batch price (half the live one).
    price = prices.get(key.model)
    cost = estimated_cost(tokens_in - batch_in, tokens_out - batch_out, price)
    if cost is not None:
        cost += estimated_cost(batch_in, batch_out, batch_price(price))
    ratio = lambda a, b: round(a / b, 4) if b else None  # noqa: E731
    return {
        "prompt": group.prompt,
        "prompt_hash": key.prompt_id,
        "label": group.label,
        "model": key.model,
        "params": json.loads(key.params),
        "papers": totals.papers,
        "decided": decided_total,
        "coverage": ratio(paired, decided_total),
        "accept_rate": ratio(accepted_as_is, paired),
        "rejected": totals.rejected,
        "rejected_total": rejected_total,
        "fields": {f: scores[f].as_dict(f in NUMBER_FIELDS) for f in FIELDS},
        "grounding": _grounding(totals),
        "outcomes": outcomes,
        "failed": sum(v for k, v in outcomes.items() if k != "ok"),
        "median_latency_ms": median_or_none(totals.latencies),
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "batch_input_tokens": batch_in,
        "batch_output_tokens": batch_out,
        "cost": None if cost is None else round(cost, 4),
    }


def _grounding(totals) -> dict:
    """Share of quotes exact / fuzzy / ungrounded, and numbers not in the abstract."""
    share = lambda n: round(n / totals.quotes, 4) if totals.quotes else None  # noqa: E731
    return {"quotes": totals.quotes, "exact": share(totals.exact), "fuzzy": share(totals.fuzzy),
            "ungrounded": share(totals.ungrounded), "numbers_not_in_abstract": totals.numbers_not_in_abstract}


# --------------------------------------------------------------------------- --diff


def differing_papers(db: Handle, chosen: list[Measured], n: int, annotator: str | None = None) -> list[dict]:
    """The n papers where the chosen keys' ok suggestions differ most (mean 1 - token F1)."""
    if len(chosen) < 2 or n <= 0:
        return []
    values: dict[str, dict[Measured, dict]] = {}
    for group in chosen:
        for pid, fields in ok_values(db, group.key).items():
            values.setdefault(pid, {})[group] = fields
    scored = []
    for pid, by_group in values.items():
        if len(by_group) < 2:
            continue
        pairs = list(itertools.combinations(by_group.values(), 2))
        distance = sum(1 - token_f1(a[f], b[f]) for a, b in pairs for f in FIELDS) / (len(pairs) * len(FIELDS))
        if distance > 0:
            scored.append((distance, pid))
    scored.sort(key=lambda item: (-item[0], item[1]))
    result = []
    for distance, pid in scored[:n]:
        human = first_decision(db, pid, annotator)
        result.append({
            "paper_id": pid, "title": paper_title(db, pid), "distance": round(distance, 4),
            "suggestions": {g.label: values[pid].get(g) for g in chosen},
            "human": None if human is None else {"annotator": human.annotator, "status": human.status,
                                                 **human.values},
        })
    return result
