"""The right pane's lines about a paper, as text: where the suggestion came from, your decision, and (when
adjudicating) the others' decisions. Pure functions of what the session gives the screen."""

from __future__ import annotations

from rich.text import Text

from workbench.review import PaperView, SuggestionFeed, same_value
from workbench.safe_text import one_line, plain
from workbench.vocab import FIELDS, STATUS_MARKS, STATUS_STYLES, field_name


def source_line(view: PaperView, feed: SuggestionFeed) -> Text:
    """Where the suggestion on screen came from, and its outcome."""
    text = Text()
    suggestion = view.suggestion
    if suggestion is None:
        if feed.stopped:
            text.append_text(plain(f"{feed.label} · unavailable: {one_line(feed.stopped, 200)}", style="bold red"))
            text.append("\nWrite the fields by hand (e) or reject (r).", style="dim")
        elif view.paper.id in feed.gave_up:
            text.append_text(plain(f"{feed.label} · failed: {one_line(feed.gave_up[view.paper.id], 200)}",
                                   style="bold red"))
            text.append("\nWrite the fields by hand (e), reject (r) or retry (ctrl+r).", style="dim")
        else:
            text.append_text(plain(f"{feed.label} · suggesting…", style="italic"))
        return text
    text.append_text(plain(suggestion.label, style="bold"))
    if suggestion.ok:
        text.append(" · ok", style="green")
    else:
        text.append(f" · {suggestion.outcome}", style="bold red")
        if suggestion.error:
            text.append_text(plain(f": {one_line(suggestion.error, 200)}", style="red"))
        text.append("\nWrite the fields by hand (e), reject (r) or retry (ctrl+r).", style="dim")
    if len(view.suggestions) > 1:  # the legend: 1-9 mean the same sources on every paper this session
        for number, other in sorted(zip(view.numbers, view.suggestions), key=lambda pair: pair[0]):
            text.append(f"\n{number} ", style="bold" if other is suggestion else "dim")
            text.append_text(plain(one_line(other.label, 40), style="" if other is suggestion else "dim"))
        text.append("  (c compares)", style="dim")
    if view.pending:
        text.append_text(plain(f"\n{feed.label} · suggesting…", style="italic"))
    return text


def decision_line(view: PaperView, doubt: str | None) -> Text:
    """Your decision on the paper (or none), with what `a` does now, the doubt queue's reason and the text's state."""
    text = Text()
    if doubt:
        text.append_text(plain(doubt + "\n", style="yellow"))
    annotation = view.annotation
    if view.decided:
        status = annotation.status
        text.append(f"{STATUS_MARKS[status]} Your decision: {status}", style=f"bold {STATUS_STYLES[status]}")
        text.append(f" · {annotation.updated_at.replace('T', ' ').rstrip('Z')}", style="dim")
        if view.picked:
            text.append("\nShowing a picked suggestion: a accepts it in place of your decision.", style="yellow")
        elif view.shows_decision:
            text.append("\nShowing your values: a keeps them.", style="dim")
    else:
        text.append("Not decided yet", style="dim")
    if view.text_changed:
        text.append("\n⚠ Text changed since decided: the abstract has a newer revision.", style="bold yellow")
        if not view.picked:
            text.append(f"\na: your {annotation.status} decision stands on this text · e changes it"
                        + (" · 1-9 picks a suggestion to accept" if not view.shows_decision else ""), style="dim")
    if annotation and annotation.flagged:
        text.append("   ⚑ flagged", style="bold magenta")
    return text


def others_text(view: PaperView) -> Text:
    """--queue disagreements: the decisions to adjudicate, with what differs from the pane."""
    text = Text()
    shown = view.values()
    for other in view.others:
        text.append("\n")
        text.append_text(plain(f"{one_line(other.annotator, 40)}: ", style="bold"))
        text.append(other.status, style=STATUS_STYLES[other.status])
        if other.status == "rejected":
            continue
        differing = [f for f in FIELDS if not same_value(other.values[f], shown.get(f))]
        if not differing:
            text.append(" (as shown above)", style="dim")
        for name in differing:  # only what differs from the pane
            text.append(f"\n  {field_name(name)}: ", style="dim")
            text.append_text(plain(other.values[name] or "—"))
    return text
