"""Read-only reports over the store: `workbench stats`."""

from __future__ import annotations

from sqlite_utils import Database


def store_stats(db: Database) -> dict:
    one = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
    by_status: dict[str, dict[str, int]] = {}
    for annotator, status, count in db.execute(
        "SELECT annotator, coalesce(status, 'flagged only'), count(*) FROM annotations "
        "GROUP BY 1, 2 ORDER BY 1, 2"
    ):
        by_status.setdefault(annotator, {})[status] = count
    suggestions = [
        {"prompt": f"{name}@{pid[:8]}", "model": model, "outcome": outcome, "count": count}
        for name, pid, model, outcome, count in db.execute(
            "SELECT p.name, s.prompt_id, s.model, s.outcome, count(*) FROM suggestions s "
            "JOIN prompts p ON p.id = s.prompt_id GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
        )
    ]
    return {
        "papers": one("SELECT count(*) FROM papers"),
        "sightings": one("SELECT count(*) FROM sightings"),
        "sources": one("SELECT count(DISTINCT source) FROM sightings"),
        "annotations": by_status,
        "flagged": one("SELECT count(*) FROM annotations WHERE flagged"),
        "suggestions": suggestions,
    }


def format_stats(report: dict) -> str:
    lines = [
        f"papers: {report['papers']} ({report['sightings']} sightings in {report['sources']} files)",
    ]
    if report["annotations"]:
        lines.append("annotations:")
        for annotator, counts in report["annotations"].items():
            total = sum(v for k, v in counts.items() if k != "flagged only")
            parts = ", ".join(f"{k} {v}" for k, v in counts.items())
            lines.append(f"  {annotator}: {total} decided ({parts})")
        lines.append(f"  flagged: {report['flagged']}")
    else:
        lines.append("annotations: none yet")
    if report["suggestions"]:
        lines.append("suggestions:")
        for row in report["suggestions"]:
            lines.append(f"  {row['prompt']} · {row['model']} · {row['outcome']}: {row['count']}")
    else:
        lines.append("suggestions: none yet")
    return "\n".join(lines)
