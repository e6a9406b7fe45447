"""The left pane: title, metadata and the abstract with each field's evidence highlighted."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from workbench.tui.widgets.style import FIELD_COLOURS, HIGHLIGHTS


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


class AbstractPane(VerticalScroll, can_focus=False):
    """Scrolled with the screen's up/down/page keys, so it never takes the arrow keys."""

    def compose(self) -> ComposeResult:
        yield Static(id="title")
        yield Static(id="meta")
        yield Static(id="legend")
        yield Static(id="abstract")

    def show(self, paper: dict, evidence: dict | None) -> None:
        self.query_one("#title", Static).update(Text(paper["title"], style="bold"))
        self.query_one("#meta", Static).update(Text(metadata_line(paper), style="dim"))
        legend = Text()
        for field, label in (("technique", "technique"), ("claimed_gain", "claimed gain"), ("compute", "compute")):
            style = HIGHLIGHTS[field] if (evidence or {}).get(field) else "dim"
            legend.append(f" {label} ", style=style)
            legend.append("  ")
        self.query_one("#legend", Static).update(legend)
        self.query_one("#abstract", Static).update(highlighted_abstract(paper["abstract"], evidence))
        self.scroll_home(animate=False)

    def show_message(self, title: str, body: str) -> None:
        self.query_one("#title", Static).update(Text(title, style="bold"))
        self.query_one("#meta", Static).update("")
        self.query_one("#legend", Static).update("")
        self.query_one("#abstract", Static).update(body)


__all__ = ["AbstractPane", "FIELD_COLOURS", "highlighted_abstract", "metadata_line"]
