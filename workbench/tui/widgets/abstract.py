"""The left pane's text: title, metadata and the abstract with each field's evidence highlighted."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from workbench.review import PaperRow, Span
from workbench.safe_text import clean, one_line, plain
from workbench.tui.widgets.style import HIGHLIGHTS
from workbench.vocab import FIELDS, field_name


def metadata_line(paper: PaperRow) -> str:
    parts = [f"#{paper.seq}"]  # the paper's own number: search, go-to and compare use it too
    if paper.authors_count:
        parts.append(f"{paper.authors_count} authors")
    if paper.organization:
        parts.append(one_line(paper.organization, 80))
    if paper.published:
        parts.append(one_line(paper.published_iso or paper.published, 40))
    if paper.upvotes is not None:
        parts.append(f"▲ {paper.upvotes}")
    parts.append(f"id {paper.id}")
    return "  ·  ".join(parts)


def highlighted_abstract(abstract: str, evidence: dict[str, Span | None]) -> Text:
    text = Text(clean(abstract))  # clean() keeps the length: the spans still fit
    for field in FIELDS:
        span = evidence.get(field)
        if span is not None and span.located:
            text.stylize(HIGHLIGHTS[field], span.start, span.end)
    return text


TITLE_LINES = 3  # a longer title is cut with "…" (the whole one is a key away)


def clamped(text: Text, width: int, console: Console, lines: int = TITLE_LINES) -> Text:
    """`text` as at most `lines` lines of `width` cells, the last one ending in "…" when cut."""
    wrapped = text.wrap(console, max(2, width), overflow="fold")
    if len(wrapped) <= lines:
        return text
    last = wrapped[lines - 1]
    last.rstrip()
    last.truncate(max(1, width - 1))
    last.append("…", style="bold")
    return Text("\n").join(wrapped[:lines])


def paper_text(paper: PaperRow, evidence: dict[str, Span | None], width: int | None = None,
               console: Console | None = None) -> Text:
    """Title (at most 3 lines at `width`), metadata, which fields are highlighted, the abstract."""
    # Styles go on spans, never on the Text itself: a base style leaks into
    # every wrapped line when the panel renders them one by one.
    text = Text()
    title = plain(paper.title, style="bold")
    text.append_text(title if width is None or console is None else clamped(title, width, console))
    text.append("\n")
    text.append_text(plain(metadata_line(paper), style="dim"))
    text.append("\n\n")
    for field in FIELDS:
        span = evidence.get(field)
        text.append(f" {field_name(field)} ", style=HIGHLIGHTS[field] if span is not None and span.located else "dim")
        text.append("  ")
    text.append("\n\n")
    text.append_text(highlighted_abstract(paper.abstract, evidence))
    return text


def message_text(title: str, body: str) -> Text:
    return Text.assemble((title, "bold"), "\n\n", body)


def title_page(paper: PaperRow) -> Text:
    """The whole title and the paper's details (the title key's page)."""
    text = plain(paper.title, style="bold")
    text.append("\n\n")
    text.append_text(plain(metadata_line(paper), style="dim"))
    return text
