"""`workbench compare`: every (prompt version, model) measured against the human decisions.

The reference is each `accepted` or `edited` annotation (its final fields);
`rejected` papers are counted apart. Per group:
- coverage: decided papers with an `ok` suggestion from the group / decided papers;
- accept rate: of those, the share whose human fields equal the suggestion's
  (all three, after normalising) - "would have been accepted as is";
- per field: exact, token F1, number recall (claimed_gain, compute), null agreement;
- grounding of its quotes, numbers not in the abstract, outcomes, median latency,
  tokens and estimated cost.
Aggregates over all suggestions run in SQL; only decided pairs come to Python.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass

from sqlite_utils import Database

from workbench.metrics import FieldScore, exact, median_or_none, token_f1
from workbench.vocab import FIELDS, NUMBER_FIELDS, NUMBER_NOT_IN_ABSTRACT, batch_price, estimated_cost, source_label


@dataclass(frozen=True)
class Group:
    """Suggestions of one prompt version and model made with one set of request parameters."""

    prompt_id: str
    prompt: str
    model: str
    params: str
    distinct: str = ""  # the parameters that set it apart from its siblings (same prompt and model), if any

    @property
    def label(self) -> str:
        return source_label(self.prompt, self.prompt_id, self.model) + (f" [{self.distinct}]" if self.distinct else "")

    @property
    def key(self) -> list[str]:
        return [self.prompt_id, self.model, self.params]


def _distinct_params(rows: list[tuple[str, str, str, str]]) -> dict[tuple, str]:
    """For groups sharing a prompt version and model: the parameter values that differ, as k=v."""
    by_pair: dict[tuple[str, str], list[dict]] = {}
    for prompt_id, _, model, params in rows:
        by_pair.setdefault((prompt_id, model), []).append(json.loads(params))
    labels = {}
    for prompt_id, _, model, params in rows:
        siblings = by_pair[(prompt_id, model)]
        if len(siblings) < 2:
            continue
        mine = json.loads(params)
        differing = sorted(k for k in set().union(*siblings) if len({json.dumps(s.get(k)) for s in siblings}) > 1)
        labels[(prompt_id, model, params)] = ", ".join(f"{k}={mine.get(k)}" for k in differing)
    return labels


def groups(db: Database, prompt_ids: list[str] | None = None, models: list[str] | None = None) -> list[Group]:
    where, params = [], []
    if prompt_ids:
        where.append(f"s.prompt_id IN ({', '.join('?' for _ in prompt_ids)})")
        params += prompt_ids
    if models:
        where.append(f"s.model IN ({', '.join('?' for _ in models)})")
        params += models
    rows = db.execute(
        "SELECT DISTINCT s.prompt_id, p.name, s.model, s.params FROM suggestions s JOIN prompts p ON p.id = s.prompt_id "
        + (f"WHERE {' AND '.join(where)} " if where else "")
        + "ORDER BY p.name, p.created_at, s.model, s.params", params).fetchall()
    distinct = _distinct_params(rows)
    return [Group(*row, distinct=distinct.get(tuple((row[0], row[2], row[3])), "")) for row in rows]


def _decided(db: Database, annotator: str | None) -> tuple[dict, int]:
    """(paper id -> list of reference field dicts, rejected count) for the annotator(s) in scope."""
    where, params = "", []
    if annotator:
        where, params = " AND annotator = ?", [annotator]
    references: dict[str, list[dict]] = {}
    rejected = 0
    for pid, status, *values in db.execute(
            f"SELECT paper_id, status, technique, claimed_gain, compute FROM annotations "
            f"WHERE status IS NOT NULL{where}", params):
        if status == "rejected":
            rejected += 1
        else:
            references.setdefault(pid, []).append(dict(zip(FIELDS, values)))
    return references, rejected


def compare(db: Database, *, prompt_ids: list[str] | None = None, models: list[str] | None = None,
            annotator: str | None = None, prices: dict[str, tuple[float, float]] | None = None) -> list[dict]:
    references, rejected_total = _decided(db, annotator)
    decided_total = sum(len(v) for v in references.values())
    results = []
    for group in groups(db, prompt_ids, models):
        results.append(_measure(db, group, references, decided_total, rejected_total, annotator, prices or {}))
    return results


def _measure(db: Database, group: Group, references: dict, decided_total: int, rejected_total: int,
             annotator: str | None, prices: dict) -> dict:
    key = group.key
    ok = {}
    for pid, *values in db.execute(
            f"SELECT paper_id, technique, claimed_gain, compute FROM suggestions WHERE {_IN_GROUP} AND outcome = 'ok'",
            key):
        ok[pid] = dict(zip(FIELDS, values))
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
    rejected = _rejected_with_suggestion(db, key, annotator)
    outcomes = dict(db.execute(f"SELECT outcome, count(*) FROM suggestions WHERE {_IN_GROUP} GROUP BY outcome",
                               key).fetchall())
    papers, tokens_in, tokens_out, batch_in, batch_out = db.execute(
        "SELECT count(DISTINCT paper_id), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0), "
        "coalesce(sum(input_tokens) FILTER (WHERE batch_id IS NOT NULL), 0), "
        "coalesce(sum(output_tokens) FILTER (WHERE batch_id IS NOT NULL), 0) "
        f"FROM suggestions WHERE {_IN_GROUP}", key).fetchone()
    latencies = [r[0] for r in db.execute(
        f"SELECT latency_ms FROM suggestions WHERE {_IN_GROUP} AND outcome = 'ok' AND latency_ms IS NOT NULL", key)]
    # Suggestions a batch made cost the batch price (half the live one).
    price = prices.get(group.model)
    cost = estimated_cost(tokens_in - batch_in, tokens_out - batch_out, price)
    if cost is not None:
        cost += estimated_cost(batch_in, batch_out, batch_price(price))
    ratio = lambda a, b: round(a / b, 4) if b else None  # noqa: E731
    return {
        "prompt": group.prompt,
        "prompt_hash": group.prompt_id,
        "label": group.label,
        "model": group.model,
        "params": json.loads(group.params),
        "papers": papers,
        "decided": decided_total,
        "coverage": ratio(paired, decided_total),
        "accept_rate": ratio(accepted_as_is, paired),
        "rejected": rejected,
        "rejected_total": rejected_total,
        "fields": {f: scores[f].as_dict(f in NUMBER_FIELDS) for f in FIELDS},
        "grounding": _grounding(db, key),
        "outcomes": outcomes,
        "failed": sum(v for k, v in outcomes.items() if k != "ok"),
        "median_latency_ms": median_or_none(latencies),
        "input_tokens": tokens_in,
        "output_tokens": tokens_out,
        "batch_input_tokens": batch_in,
        "batch_output_tokens": batch_out,
        "cost": None if cost is None else round(cost, 4),
    }


_IN_GROUP = "prompt_id = ? AND model = ? AND params = ?"


def _rejected_with_suggestion(db: Database, key: list, annotator: str | None) -> int:
    """Rejected decisions on papers this group has an ok suggestion for."""
    where, params = "", list(key)
    if annotator:
        where, params = " AND a.annotator = ?", params + [annotator]
    return db.execute(
        "SELECT count(*) FROM annotations a WHERE a.status = 'rejected' AND EXISTS (SELECT 1 FROM suggestions s "
        f"WHERE s.paper_id = a.paper_id AND s.prompt_id = ? AND s.model = ? AND s.params = ? AND s.outcome = 'ok')"
        f"{where}",
        params).fetchone()[0]


_WARNING = NUMBER_NOT_IN_ABSTRACT


def _grounding(db: Database, key: list) -> dict:
    """Share of quotes exact / fuzzy / ungrounded, and numbers not in the abstract: one scan in SQL.

    Warnings are counted by substring (length arithmetic) rather than json_each:
    the kind name cannot occur in a warning any other way, and it is 5x faster.
    """
    statuses = ", ".join(f"json_extract(evidence, '$.{f}.status') AS s{i}" for i, f in enumerate(FIELDS))
    count = lambda status: " + ".join(f"coalesce(sum(s{i} = '{status}'), 0)" for i in range(3))  # noqa: E731
    exact_n, fuzzy_n, ungrounded_n, total, numbers = db.execute(
        f"SELECT {count('exact')}, {count('fuzzy')}, {count('ungrounded')}, count(s0) + count(s1) + count(s2), "
        f"coalesce(sum((length(warnings) - length(replace(warnings, '{_WARNING}', ''))) / {len(_WARNING)}), 0) "
        f"FROM (SELECT {statuses}, warnings FROM suggestions WHERE {_IN_GROUP} AND outcome = 'ok')",
        key).fetchone()
    share = lambda n: round(n / total, 4) if total else None  # noqa: E731
    return {"quotes": total, "exact": share(exact_n), "fuzzy": share(fuzzy_n), "ungrounded": share(ungrounded_n),
            "numbers_not_in_abstract": numbers}


# --------------------------------------------------------------------------- --diff


def differing_papers(db: Database, chosen: list[Group], n: int, annotator: str | None = None) -> list[dict]:
    """The n papers where the chosen groups' ok suggestions differ most (mean 1 - token F1)."""
    if len(chosen) < 2 or n <= 0:
        return []
    values: dict[str, dict[Group, dict]] = {}
    for group in chosen:
        for pid, *fields in db.execute(
                f"SELECT paper_id, technique, claimed_gain, compute FROM suggestions WHERE {_IN_GROUP} "
                "AND outcome = 'ok'", group.key):
            values.setdefault(pid, {})[group] = dict(zip(FIELDS, fields))
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
        title = db.execute("SELECT title FROM papers WHERE id = ?", [pid]).fetchone()[0]
        human = db.execute(
            "SELECT annotator, status, technique, claimed_gain, compute FROM annotations "
            "WHERE paper_id = ? AND status IS NOT NULL" + (" AND annotator = ?" if annotator else "")
            + " ORDER BY annotator", [pid] + ([annotator] if annotator else [])).fetchone()
        result.append({
            "paper_id": pid, "title": title, "distance": round(distance, 4),
            "suggestions": {g.label: values[pid].get(g) for g in chosen},
            "human": None if human is None else {"annotator": human[0], "status": human[1],
                                                 **dict(zip(FIELDS, human[2:]))},
        })
    return result
