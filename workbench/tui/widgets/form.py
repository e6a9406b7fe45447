"""The right pane: the suggestion as an editable form, with grounding status per field."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static, TextArea

from workbench.schema import FIELDS
from workbench.tui.widgets.style import FIELD_COLOURS, FIELD_LABELS

FORM_FIELDS = (*FIELDS, "notes")


class FieldArea(TextArea):
    """A wrapped single-value field: Enter moves to the next field instead of a newline,
    ctrl+a selects the whole value (so typing replaces it; Home still goes to the line start)."""

    BINDINGS = [Binding("ctrl+a", "select_all", "Select all", show=False)]
    BLINK = True  # tests turn this off for stable snapshots

    def on_mount(self) -> None:
        self.cursor_blink = self.BLINK

    async def _on_key(self, event: events.Key) -> None:
        if event.key == "enter":
            event.stop()
            event.prevent_default()
            self.screen.focus_next()
            return
        await super()._on_key(event)

    @property
    def value(self) -> str | None:
        text = " ".join(self.text.split())
        return text or None


def grounding_badge(field: str, suggestion: dict | None) -> Text:
    if suggestion is None or suggestion["outcome"] != "ok":
        return Text("")
    if suggestion.get(field) is None:
        return Text("— not stated", style="dim")
    badge = Text()
    span = (suggestion.get("evidence") or {}).get(field)
    status = span["status"] if span else "ungrounded"
    if status == "exact":
        badge.append("✓ exact", style="green")
    elif status == "fuzzy":
        badge.append("≈ fuzzy", style="yellow")
    else:
        badge.append("✗ ungrounded", style="bold red")
    missing = [w["number"] for w in suggestion.get("warnings") or []
               if w.get("field") == field and w.get("kind") == "number_not_in_abstract"]
    if missing:
        badge.append(f"  ! {', '.join(missing)} not in abstract", style="bold red")
    return badge


class SuggestionForm(Vertical):
    def compose(self) -> ComposeResult:
        yield Static(id="source")
        for field in FORM_FIELDS:
            yield Static(id=f"label-{field}", classes="field-label")
            yield FieldArea(id=f"field-{field}", soft_wrap=True, tab_behavior="focus", compact=True,
                            show_line_numbers=False, classes="field")
        yield Static(id="decision")

    def field(self, name: str) -> FieldArea:
        return self.query_one(f"#field-{name}", FieldArea)

    def fill(self, values: dict[str, str | None], suggestion: dict | None) -> None:
        for name in FORM_FIELDS:
            label = Text(FIELD_LABELS.get(name, "Notes"), style=f"bold {FIELD_COLOURS.get(name, '')}".strip())
            if name in FIELDS:
                label.append("  ")
                label.append_text(grounding_badge(name, suggestion))
            self.query_one(f"#label-{name}", Static).update(label)
            area = self.field(name)
            text = values.get(name) or ""
            if area.text != text:
                area.load_text(text)

    def values(self) -> dict[str, str | None]:
        return {name: self.field(name).value for name in FORM_FIELDS}

    def set_source(self, text: Text) -> None:
        self.query_one("#source", Static).update(text)

    def set_decision(self, text: Text) -> None:
        self.query_one("#decision", Static).update(text)
