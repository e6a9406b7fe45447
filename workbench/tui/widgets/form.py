"""The right pane: the suggestion as an editable form, with grounding status per field."""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Static, TextArea

from workbench.schema import FIELDS
from workbench.tui.widgets.panel import TextPanel
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


def summary_text(values: dict[str, str | None], suggestion: dict | None, source: Text, decision: Text) -> Text:
    """The right pane while reviewing: where the suggestion came from, each field, the decision."""
    text = Text()
    text.append_text(source)
    for name in FORM_FIELDS:
        text.append("\n\n")
        text.append(FIELD_LABELS.get(name, "Notes"), style=f"bold {FIELD_COLOURS.get(name, '')}".strip())
        if name in FIELDS:
            text.append("  ")
            text.append_text(grounding_badge(name, suggestion))
        value = values.get(name)
        text.append("\n")
        text.append(value if value else "—", style="" if value else "dim")
    text.append("\n\n")
    text.append_text(decision)
    return text


class SuggestionForm(Vertical):
    """A fixed-size summary while reviewing; editable areas only in edit mode.

    The summary is a TextPanel, so a new paper is a repaint; the TextAreas live
    in #editor, shown only after `e` (they size themselves a layout pass late).
    """

    def compose(self) -> ComposeResult:
        yield TextPanel(id="summary")
        with Vertical(id="editor"):
            yield Static(id="editor-source")
            for field in FORM_FIELDS:
                yield Static(id=f"label-{field}", classes="field-label")
                yield FieldArea(id=f"field-{field}", soft_wrap=True, tab_behavior="focus", compact=True,
                                show_line_numbers=False, classes="field")

    def on_mount(self) -> None:
        self._values: dict[str, str | None] = {}
        self._suggestion: dict | None = None
        self._source = Text()

    @property
    def editing(self) -> bool:
        return self.has_class("-editing")

    def field(self, name: str) -> FieldArea:
        return self.query_one(f"#field-{name}", FieldArea)

    def fill(self, values: dict[str, str | None], suggestion: dict | None, source: Text, decision: Text) -> None:
        self.end_edit()
        self._values = {name: values.get(name) for name in FORM_FIELDS}
        self._suggestion, self._source = suggestion, source
        self.query_one("#summary", TextPanel).set_text(summary_text(self._values, suggestion, source, decision))

    def begin_edit(self, first: str = "technique") -> FieldArea:
        """Load the shown values into the editable areas and focus `first`."""
        self.query_one("#editor-source", Static).update(self._source)
        for name in FORM_FIELDS:
            label = Text(FIELD_LABELS.get(name, "Notes"), style=f"bold {FIELD_COLOURS.get(name, '')}".strip())
            if name in FIELDS:
                label.append("  ")
                label.append_text(grounding_badge(name, self._suggestion))
            self.query_one(f"#label-{name}", Static).update(label)
            self.field(name).load_text(self._values.get(name) or "")
        self.add_class("-editing")
        area = self.field(first)
        area.focus()
        area.move_cursor(area.document.end)  # edits usually extend or fix the end
        return area

    def end_edit(self) -> None:
        if self.editing:
            self.remove_class("-editing")

    def values(self) -> dict[str, str | None]:
        if self.editing:
            return {name: self.field(name).value for name in FORM_FIELDS}
        return dict(self._values)
