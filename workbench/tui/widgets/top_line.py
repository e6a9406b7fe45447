"""The review screen's top line: progress, position in the queue, who is reviewing.

It is always one line. When it is wider than the screen its parts are shortened
in this fixed order, one step at a time, until it fits (80 columns is the
smallest supported terminal; every step is kept at narrower widths too):
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text

from workbench.safe_text import one_line, plain
from workbench.vocab import STATUS_MARKS, STATUS_STYLES

SHORTENINGS = (
    "the word 'decided' goes",
    "the annotator's name is cut to 12 characters with '…'",
    "the status counts lose their inner spaces (✓12 ✎3 ✗1)",
    "the queue's name is cut to 16 characters with '…'",
    "the 'workbench' badge goes",
    "the position loses its words ('13/492' for '13 of 492 in')",
    "the annotator's name goes",
    "the status counts go",
    "the queue's name goes ('13/492 · 479 to do')",
)
__doc__ += "".join(f"\n{n}. {step}" for n, step in enumerate(SHORTENINGS, start=1)) + (
    "\n\nThe count to do and `read-only` are never dropped; past the last step the line is cut with '…'.")

WIDE_NAME, SHORT_NAME, SHORT_QUEUE = 40, 12, 16


@dataclass(frozen=True)
class Progress:
    decided: int
    total: int
    counts: dict[str, int]  # accepted / edited / rejected -> how many
    position: int | None  # 1-based position in the queue; None when it is empty
    length: int
    queue: str
    to_do: int  # papers of this queue not decided yet
    annotator: str
    read_only: bool = False


def _line(p: Progress, level: int) -> Text:
    """The line with the first `level` shortenings applied."""
    text = Text()
    if level < 5:
        text.append(" workbench ", style="bold reverse")
    text.append(" ")
    text.append(f"{p.decided}/{p.total}" + (" decided" if level < 1 else ""))
    if level < 8:
        text.append(" ")
        for status in ("accepted", "edited", "rejected"):
            text.append(f" {STATUS_MARKS[status]} {p.counts.get(status, 0)}" if level < 3 else
                        f"{'' if status == 'accepted' else ' '}{STATUS_MARKS[status]}{p.counts.get(status, 0)}",
                        style=STATUS_STYLES[status])
    queue = one_line(p.queue, SHORT_QUEUE if level >= 4 else None)
    if p.position is None:
        text.append_text(plain(f"  '{queue}' is empty"))
    else:
        # The position in the queue, never written '#N': '#N' is a paper's own number (the paper pane,
        # search, go-to and compare show it).
        where = f"{p.position} of {p.length} in '{queue}'" if level < 6 else f"{p.position}/{p.length}" + (
            f" '{queue}'" if level < 9 else "")
        text.append_text(plain(f"  {where} · {p.to_do} to do"))
    if level < 7:
        text.append("  ")
        text.append_text(plain(one_line(p.annotator, WIDE_NAME if level < 2 else SHORT_NAME), style="dim"))
    if p.read_only:
        text.append("  read-only", style="bold red")
    return text


def top_line(progress: Progress, width: int) -> Text:
    """The widest form of the line that fits in `width` cells (never more than one line)."""
    for level in range(len(SHORTENINGS) + 1):
        text = _line(progress, level)
        if text.cell_len <= width:
            return text
    text.truncate(max(1, width), overflow="ellipsis")
    return text
