"""Terminal rendering (rich) of the compare, stats, agreement and log reports.

Every value that came from data (titles, annotator, prompt and model names,
field values, error messages) enters a table as `safe_text.plain(...)`: a Rich
Text, never a markup string, with control characters made visible.
"""

from __future__ import annotations

from rich.console import Group as RenderGroup
from rich.table import Table
from rich.text import Text

from workbench.safe_text import one_line, plain
from workbench.vocab import FIELDS, STATUSES, field_name

DASH = "—"


def _pct(value) -> str:
    return DASH if value is None else f"{value * 100:.1f}%"


def _num(value, digits=0) -> str:
    return DASH if value is None else f"{value:,.{digits}f}"


def bar(share: float | None, width: int = 20) -> Text:
    if share is None:
        return Text(DASH, style="dim")
    filled = round(share * width)
    return Text("█" * filled + "░" * (width - filled) + f" {share * 100:5.1f}%")


def _or_dash(value: str | None) -> Text:
    return plain(value) if value else Text(DASH, style="dim")


# --------------------------------------------------------------------------- compare

def _compare_rows(results: list[dict]):
    """(label, values, formatter, best) per row; best is 'max', 'min' or None."""
    get = lambda *path: [_dig(r, path) for r in results]  # noqa: E731
    yield "papers with suggestions", get("papers"), _num, None
    yield "coverage of decided papers", get("coverage"), _pct, "max"
    yield "accept rate (as is)", get("accept_rate"), _pct, "max"
    for field in FIELDS:
        name = field_name(field)
        yield f"{name}: exact", get("fields", field, "exact"), _pct, "max"
        yield f"{name}: token F1", get("fields", field, "token_f1"), lambda v: _num(v, 3), "max"
        if field != "technique":
            yield f"{name}: number recall", get("fields", field, "number_recall"), _pct, "max"
        yield f"{name}: null agreement", get("fields", field, "null_agreement"), _pct, "max"
    yield from _effort_rows(results, "decided from it")
    yield "quotes exact", get("grounding", "exact"), _pct, "max"
    yield "quotes fuzzy", get("grounding", "fuzzy"), _pct, None
    yield "quotes ungrounded", get("grounding", "ungrounded"), _pct, "min"
    yield "numbers not in abstract", get("grounding", "numbers_not_in_abstract"), _num, "min"
    yield "failed suggestions", get("failed"), _num, "min"
    yield "rejected papers (suggested)", get("rejected"), _num, None
    yield "median latency (ms)", get("median_latency_ms"), _num, "min"
    yield "tokens in / out", [f"{r['input_tokens']:,} / {r['output_tokens']:,}" for r in results], str, None
    if any(r.get("batch_input_tokens") or r.get("batch_output_tokens") for r in results):
        yield "of which in batches", [f"{r['batch_input_tokens']:,} / {r['batch_output_tokens']:,}" for r in results], \
            str, None
    yield "estimated cost (USD)", get("cost"), lambda v: DASH if v is None else f"${v:.4f}", "min"


def _effort_rows(results: list[dict], counted: str):
    """Edit effort's rows of a compare table (`workbench.effort`)."""
    get = lambda *path: [_dig(r, ("effort", *path)) for r in results]  # noqa: E731
    yield counted, get("decisions"), _num, None
    yield "accepted as is", get("accepted_as_is"), _pct, "max"
    yield "effort saved", get("saved"), _pct, "max"
    for field in FIELDS:
        yield f"{field_name(field)}: effort saved", get("fields", field), _pct, "max"


def _against_rows(results: list[dict]):
    get = lambda *path: [_dig(r, path) for r in results]  # noqa: E731
    yield "papers with suggestions", get("papers"), _num, None
    yield "coverage of the gold papers", get("coverage"), _pct, "max"
    yield "gain-figure recall", get("figure_recall"), lambda v: _num(v, 2), "max"
    yield "null on no-gain abstracts", get("null_rate"), lambda v: _num(v, 2), "max"
    yield "gain-figure precision", get("figure_precision"), lambda v: _num(v, 2), "max"
    yield "compute recall", get("compute_recall"), lambda v: _num(v, 2), "max"
    yield "technique token-F1", get("technique_f1"), lambda v: _num(v, 2), "max"
    yield "technique: the title alone", get("title_f1"), lambda v: _num(v, 2), None
    yield "gain length (median chars)", get("gain_length"), _num, None
    yield from _effort_rows(results, "papers measured")


def _best_table(title: str | Text, results: list[dict], rows) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("metric", style="bold")
    for r in results:
        table.add_column(plain(r["label"].replace(" · ", "\n", 1)), justify="right")
    for label, values, fmt, best in rows:
        numeric = [v for v in values if isinstance(v, (int, float))]
        target = (max(numeric) if best == "max" else min(numeric)) if best and len(numeric) > 1 and \
            len(set(numeric)) > 1 else None
        cells = []
        for value in values:
            text = fmt(value)
            cells.append(Text(f"★ {text}", style="bold green") if target is not None and value == target else Text(text))
        table.add_row(label, *cells)
    return table


def against_table(results: list[dict], against: str) -> Table:
    """`compare --against`: the gold measures and the effort to reach the gold values."""
    first = results[0]
    table = _best_table(plain(f"Suggestions against {one_line(against, 200)}: {first['gold_papers']:,} papers"),
                        results, _against_rows(results))
    gold_length = first.get("gold_gain_length")
    table.caption = ("★ best in the row · effort: characters inserted plus deleted to reach the gold values, "
                     "against typing them" + (f" · gold gain length {gold_length:.0f} chars" if gold_length else ""))
    return table


def _dig(record: dict, path: tuple):
    value = record
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value


def compare_table(results: list[dict]) -> Table:
    decided = results[0]["decided"] if results else 0
    table = _best_table(f"Suggestions against {decided:,} human decisions (accepted + edited)", results,
                        _compare_rows(results))
    table.caption = ("★ best in the row · accept rate: human fields equal the suggestion's after normalising · "
                     "effort: of the decisions that started from its suggestion")
    if any(r.get("batch_input_tokens") or r.get("batch_output_tokens") for r in results):
        table.caption += " · cost: suggestions made in batches at the batch price (half the live one)"
    return table


def diff_tables(papers: list[dict]) -> list[Table]:
    tables = []
    for paper in papers:
        title = plain(one_line(paper["title"], 200))
        title.append(f"  ({paper['paper_id']}, distance {paper['distance']:.2f})", style="dim")
        table = Table(title=title, title_justify="left", show_lines=True)
        table.add_column("field", style="bold")
        labels = list(paper["suggestions"])
        for label in labels:
            table.add_column(plain(label))
        human = paper["human"]
        table.add_column(plain(f"human: {human['annotator']} ({human['status']})") if human else "human: none")
        for field in FIELDS:
            table.add_row(field_name(field), *[_or_dash((paper["suggestions"][label] or {}).get(field)) for label in labels],
                          _or_dash((human or {}).get(field)))
        tables.append(table)
    return tables


# --------------------------------------------------------------------------- stats

def stats_report(report: dict) -> RenderGroup:
    parts = []
    progress = report["progress"]
    head = Text()
    head.append(f"papers: {report['papers']} ({report['sightings']} sightings in {report['sources']} files)\n")
    head.append(f"decided: {progress['decided_papers']} papers  ")
    head.append_text(bar(progress["share"]))
    parts.append(head)
    if report["annotations"]:
        table = Table(title="Decisions by annotator", title_justify="left")
        for column in ("annotator", "accepted", "edited", "rejected", "flagged only", "per hour", "median s/paper"):
            table.add_column(column, justify="right" if column != "annotator" else "left")
        for who, counts in report["annotations"].items():
            t = report["throughput"]["by_annotator"][who]
            table.add_row(plain(who), *[str(counts.get(k, 0)) for k in ("accepted", "edited", "rejected", "flagged only")],
                          _num(t["decisions_per_hour"], 1), _num(t["median_seconds_per_paper"], 1))
        parts.append(table)
        overall = report["throughput"]["overall"]
        parts.append(Text(f"overall: {overall['decisions']} decisions, {_num(overall['decisions_per_hour'], 1)} per hour, "
                          f"median {_num(overall['median_seconds_per_paper'], 1)} s per paper"))
    if report["rates"]:
        parts.append(rates_table(report["rates"]))
        parts.append(effort_table(report["rates"]))
    if report["suggestions"]:
        table = Table(title="Suggestions by prompt, model and outcome", title_justify="left")
        for column in ("prompt", "model", "outcome", "count"):
            table.add_column(column, justify="right" if column == "count" else "left")
        for row in report["suggestions"]:
            table.add_row(plain(row["prompt"]), plain(row["model"]), plain(row["outcome"]), str(row["count"]))
        parts.append(table)
    else:
        parts.append(Text("suggestions: none yet", style="dim"))
    return RenderGroup(*parts)


def rates_table(rates: list[dict], width: int = 120) -> Table:
    """Decisions by the suggestion they started from. Below 100 columns the bar and the
    per-field column go, so the numbers keep their full width."""
    narrow = width < 100
    table = Table(title="Decisions by the suggestion they started from", title_justify="left")
    table.add_column("prompt · model", overflow="fold")
    table.add_column("n", justify="right", no_wrap=True)
    table.add_column("accepted", justify="right", no_wrap=True)
    table.add_column("edited", justify="right", no_wrap=True)
    table.add_column("rejected", justify="right", no_wrap=True)
    if not narrow:
        table.add_column("fields edited\ntech / gain / comp", justify="right", no_wrap=True)
    for row in rates:
        edits = row["field_edit_rates"]
        cells = [plain(f"{row['prompt']}\n{row['model']}"), str(row["decided"]),
                 _pct(row["accepted_rate"]) if narrow else bar(row["accepted_rate"], 8),
                 _pct(row["edited_rate"]), _pct(row["rejected_rate"])]
        if not narrow:
            cells.append(" / ".join(_pct0(edits[f]) for f in FIELDS))
        table.add_row(*cells)
    return table


def effort_table(rates: list[dict], width: int = 120) -> Table:
    """Edit effort by the suggestion the decisions started from (`workbench.effort`): the share taken
    as is, the mean effort saved against typing from scratch, and per field. Below 100 columns the
    bar and the per-field column go."""
    narrow = width < 100
    table = Table(title="Edit effort by the suggestion it started from", title_justify="left",
                  caption="saved: characters not typed, against typing the decision from scratch", caption_justify="left")
    table.add_column("prompt · model", overflow="fold")
    table.add_column("n", justify="right", no_wrap=True)
    table.add_column("as is", justify="right", no_wrap=True)
    table.add_column("saved", justify="right", no_wrap=True)
    if not narrow:
        table.add_column("saved per field\ntech / gain / comp", justify="right", no_wrap=True)
    for row in rates:
        effort = row["effort"]
        cells = [plain(f"{row['prompt']}\n{row['model']}"), str(effort["decisions"]), _pct(effort["accepted_as_is"]),
                 _pct(effort["saved"]) if narrow else bar(effort["saved"], 8)]
        if not narrow:
            cells.append(" / ".join(_pct0(effort["fields"][f]) for f in FIELDS))
        table.add_row(*cells)
    return table


def _pct0(value) -> str:
    return DASH if value is None else f"{value * 100:.0f}%"


# --------------------------------------------------------------------------- agreement

def agreement_report(result: dict, limit: int = 50) -> RenderGroup:
    a, b = result["annotators"]
    head = Text()
    head.append_text(plain(f"{a} and {b} both decided {result['papers']} papers\n", style="bold"))
    head.append(f"status agreement {_pct(result['status_agreement'])}, Cohen's kappa {_num(result['kappa'], 3)}\n")
    for field in FIELDS:
        scores = result["fields"][field]
        head.append(f"{field_name(field)}: exact {_pct(scores['exact'])}, token F1 {_num(scores['token_f1'], 3)}\n")
    parts = [head]
    disagreements = result["disagreements"]
    if disagreements:
        title = f"{len(disagreements):,} disagreements" if len(disagreements) <= limit else \
            f"{len(disagreements):,} disagreements (first {limit:,})"
        table = Table(title=title, title_justify="left", show_lines=True)
        table.add_column("paper")
        table.add_column(plain(a))
        table.add_column(plain(b))
        for item in disagreements[:limit]:
            cells = []
            for who in (a, b):
                decision = item[who]
                cells.append(plain("\n".join([decision["status"]] + [f"{field_name(f)}: {decision[f] or DASH}"
                                                                      for f in FIELDS])))
            table.add_row(plain(f"{item['title']}\n{item['paper_id']}"), *cells)
        parts.append(table)
    else:
        parts.append(Text("no disagreements", style="green"))
    return RenderGroup(*parts)


def _coefficient(c: dict) -> str:
    if c["value"] is None:
        return "—"
    return f"{c['value']:.3f}" + (f" [{c['ci95'][0]:.2f}, {c['ci95'][1]:.2f}]" if c["ci95"] else "")


def team_agreement_report(result: dict) -> RenderGroup:
    """`workbench agreement` for any number of annotators: per field, then each annotator."""
    head = plain(f"{len(result['annotators'])} annotators ({', '.join(result['annotators'])}); "
                 f"{result['papers']:,} papers decided by two or more\n", style="bold")
    fields = Table(title="Per field", title_justify="left")
    for column in ("field", "presence α", "presence AC1 [95% CI]", "papers with 2+ values", "value token F1",
                   "value exact", "same numbers"):
        fields.add_column(column, justify="left" if column == "field" else "right")
    for field in FIELDS:
        score = result["fields"][field]
        value = score["value"]
        fields.add_row(field_name(field), _coefficient(score["presence"]["alpha"]), _coefficient(score["presence"]["ac1"]),
                       f"{value['papers']:,}", _num(value["token_f1"], 3), _pct(value["exact"]),
                       _pct(value.get("same_numbers")) if "same_numbers" in value else DASH)
    people = Table(title=("Each annotator: exact / token F1 against the others' consensus · against the adjudicated "
                          "decision" if result["adjudicated_papers"] else
                          "Each annotator: exact / token F1 against the others' consensus"), title_justify="left")
    people.add_column("annotator")
    for field in FIELDS:
        people.add_column(field_name(field), justify="right")
    for who in result["annotators"]:
        cells = []
        for field in FIELDS:
            c, a = result["against_consensus"][who][field], result["against_adjudicated"][who][field]
            text = f"{_pct(c['exact'])} / {_num(c['token_f1'], 2)} (n={c['papers']})"
            if a["papers"]:
                text += f" · {_pct(a['exact'])} (n={a['papers']})"
            cells.append(text)
        people.add_row(plain(who), *cells)
    return RenderGroup(head, fields, people)


def team_status_table(report: dict) -> Table:
    """`workbench team status`: one row per annotator."""
    table = Table(title="Team", title_justify="left")
    for column in ("annotator", "decisions", "active", "per hour", "accepted", "edited", "rejected",
                   "agreement with consensus", "live leases"):
        table.add_column(column, justify="left" if column == "annotator" else "right")
    for a in report["annotators"]:
        table.add_row(plain(a["annotator"]), f"{a['decisions']:,}", f"{a['active_seconds'] / 60:.0f} min",
                      _num(a["decisions_per_hour"]), *(_pct(a["rates"][s]) for s in STATUSES),
                      _pct(a["agreement_with_consensus"]), str(a["live_leases"]))
    return table


# --------------------------------------------------------------------------- log

LOG_TABLE_WIDTH = 120  # narrower than this, `workbench log` prints two lines a call instead of a table


def _log_parts(a) -> dict[str, str]:
    tokens = DASH if a.input_tokens is None and a.output_tokens is None else \
        f"{a.input_tokens or 0}/{a.output_tokens or 0}"
    detail = a.error or a.raw
    return {"time": a.at.replace("T", " ").rstrip("Z"), "call": f"ask {a.ask:d}.{a.attempt:d}"
            f"{' (batch)' if a.batch_id else ''}", "http": DASH if a.http_status is None else str(a.http_status),
            "tokens": tokens, "ms": _num(a.latency_ms), "detail": one_line(detail, 120) if detail else DASH}


def log_table(attempts: list, width: int = LOG_TABLE_WIDTH) -> Table | RenderGroup:
    """`workbench log`: the attempts log, newest first. Below LOG_TABLE_WIDTH columns each call is
    two lines cut to the width with "…" (when, which call, outcome, numbers; then paper and reply)."""
    title = f"{len(attempts)} model call{'s' * (len(attempts) != 1)}, newest first"
    if width < LOG_TABLE_WIDTH:
        lines = [Text(title, style="bold")]
        for a in attempts:
            p = _log_parts(a)
            first = plain(f"{p['time']}  {p['call']}  ")
            first.append_text(plain(a.outcome, style="bold"))
            first.append_text(plain(f"  http {p['http']}  {p['tokens']} tokens  {p['ms']} ms  "
                                    f"{a.prompt_label} · {a.model}", style="dim"))
            second = plain(f"  {a.paper_id[:8]}  {one_line(a.title, 200)}  ")
            second.append_text(plain(p["detail"], style="dim"))
            for line in (first, second):
                line.truncate(width, overflow="ellipsis")
                line.no_wrap = True
            lines += [first, second]
        return RenderGroup(*lines)
    table = Table(title=title, title_justify="left")
    for column in ("time", "paper", "prompt · model", "call", "outcome", "http", "tokens", "ms", "error or reply"):
        table.add_column(column, justify="right" if column in ("http", "tokens", "ms") else "left",
                         overflow="fold", no_wrap=column in ("time", "call"))
    for a in attempts:
        p = _log_parts(a)
        table.add_row(plain(p["time"]), plain(f"{one_line(a.title, 40)}\n{a.paper_id}"),
                      plain(f"{a.prompt_label}\n{a.model}"), plain(p["call"]), plain(a.outcome), plain(p["http"]),
                      plain(p["tokens"]), plain(p["ms"]), _or_dash(p["detail"] if p["detail"] != DASH else None))
    return table
