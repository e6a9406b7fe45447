"""What the prompt's checks changed in a suggestion: the badge beside a field, and the `m` page that shows
what the model said beside what was stored."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget
from textual.widgets import Static

from workbench.review import ModelSaid
from workbench.safe_text import plain
from workbench.vocab import FIELDS, FIGURE_NOT_IN_ABSTRACT, GAIN_WITHOUT_FIGURE, REPEATED_ITEM, field_label

MAX_SHOWN_CHARS = 2_000  # of a raw reply that cannot be read


def check_badge(warnings) -> Text:
    """`✂ dropped 99 (not in abstract)`, `✂ dropped 2 repeats`, `✂ no figure from the abstract`."""
    badge = Text()
    numbers = [str(n) for w in warnings if w.get("kind") == FIGURE_NOT_IN_ABSTRACT for n in w.get("numbers", ())]
    if numbers:
        badge.append_text(plain(f"  ✂ dropped {', '.join(numbers)} (not in abstract)", style="magenta"))
    repeats = sum(1 for w in warnings if w.get("kind") == REPEATED_ITEM)
    if repeats:
        badge.append(f"  ✂ dropped {repeats} repeat{'s' if repeats > 1 else ''}", style="magenta")
    if any(w.get("kind") == GAIN_WITHOUT_FIGURE for w in warnings):
        badge.append("  ✂ no figure from the abstract", style="magenta")
    return badge


def _value(value: str | None) -> Text:
    return plain(value) if value else Text("— not stated", style="dim")


def said_widgets(said: ModelSaid, close_keys: str) -> list[Widget]:
    """The page: the reply's fields (with their quotes) beside the stored ones, then each change."""
    head = Text("What the model said, and what was stored after the prompt's checks", style="bold")
    head.append_text(plain(f"\n{said.label}", style="dim"))
    widgets: list[Widget] = [Static(head)]
    if said.said is None:
        page = Text("The raw reply cannot be read back", style="bold red")
        page.append_text(plain(f" ({said.problem})\n\n"))
        page.append_text(plain((said.raw or "")[:MAX_SHOWN_CHARS]))
        widgets.append(Static(page))
    for name in FIELDS:
        page = Text(f"\n{field_label(name)}", style="bold")
        if said.said is not None:
            changed = name in said.changed_fields
            page.append("  changed by the checks" if changed else "  as the model said", style="magenta" if changed
                        else "green")
            page.append("\n  model:  ", style="dim")
            page.append_text(_value(said.said.get(name)))
            quote = said.quotes.get(name) if said.quotes else None
            if quote:
                page.append("\n  quote:  ", style="dim")
                page.append_text(plain(quote, style="italic"))
        page.append("\n  stored: ", style="dim")
        page.append_text(_value(said.stored.get(name)))
        widgets.append(Static(page))
    if said.changes:
        page = Text("\nWhat the checks dropped", style="bold")
        for warning in said.changes:
            page.append(f"\n  {field_label(str(warning.get('field')))}: ", style="dim")
            page.append_text(plain(str(warning.get("dropped", ""))))
            page.append_text(plain(f"  ({_why(warning)})", style="magenta"))
        widgets.append(Static(page))
    widgets.append(Static(Text(f"\n{close_keys} close", style="dim")))
    return widgets


def _why(warning: dict) -> str:
    kind = warning.get("kind")
    if kind == FIGURE_NOT_IN_ABSTRACT:
        return f"{', '.join(str(n) for n in warning.get('numbers', ()))} not in the abstract"
    if kind == REPEATED_ITEM:
        return "a repeat"
    return "a gain with no figure from the abstract"
