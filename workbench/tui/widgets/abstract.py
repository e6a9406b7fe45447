"""The left pane's text: title, metadata and the abstract with each field's evidence highlighted."""

from __future__ import annotations

from rich.text import Text

from workbench.tui.widgets.style import HIGHLIGHTS

LEGEND = (("technique", "technique"), ("claimed_gain", "claimed gain"), ("compute", "compute"))


def metadata_line(paper: dict) -> str:
    parts = []
    if paper.get("authors_count"):
        parts.append(f"{paper['authors_count']} authors")
    if paper.get("organization"):
        parts.append(paper["organization"])
    if paper.get("published"):
        parts.append(paper["published_iso"] or paper["published"])
    if paper.get("upvotes") is not None:
        parts.append(f"▲ {paper['upvotes']}")
    parts.append(f"id {paper['id']}")
    return "  ·  ".join(parts)


def highlighted_abstract(abstract: str, evidence: dict | None) -> Text:
    text = Text(abstract)
    for field in ("technique", "claimed_gain", "compute"):
        span = (evidence or {}).get(field)
        if span and span.get("start") is not None:
            text.stylize(HIGHLIGHTS[field], span["start"], span["end"])
    return text


def paper_text(paper: dict, evidence: dict | None) -> Text:
    # Styles go on spans, never on the Text itself: a base style leaks into
    # every wrapped line when the panel renders them one by one.
    text = Text()
    text.append(paper["title"], style="bold")
    text.append("\n" + metadata_line(paper), style="dim")
    text.append("\n\n")
    for field, label in LEGEND:
        text.append(f" {label} ", style=HIGHLIGHTS[field] if (evidence or {}).get(field) else "dim")
        text.append("  ")
    text.append("\n\n")
    text.append_text(highlighted_abstract(paper["abstract"], evidence))
    return text


def message_text(title: str, body: str) -> Text:
    return Text.assemble((title, "bold"), "\n\n", body)
