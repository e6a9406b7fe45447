"""The right pane: the decision, the suggestion's source, and each field with its grounding.

While reviewing it is one fixed-size text panel (a new paper is a repaint);
`e` shows editable areas whose badges follow what the reviewer types.
"""

from __future__ import annotations

from typing import Callable

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static, TextArea

from workbench.review import FieldView
from workbench.safe_text import clean, is_clean, plain
from workbench.tui.widgets.checked import check_badge
from workbench.tui.widgets.panel import TextPanel
from workbench.tui.widgets.style import FIELD_COLOURS
from workbench.vocab import (
    EVIDENCE_MISSING, EXACT, FIELDS, FUZZY, INSTRUCTION_IN_TEXT, NOTES, NUMBER_NOT_IN_ABSTRACT, UNGROUNDED_QUOTE,
    VALUE_NOT_IN_QUOTE, collapse_whitespace, field_label,
)

FORM_FIELDS = (*FIELDS, NOTES)
FORM_ACTIONS = ("save", "cancel_edit")  # the screen's actions that work while the form is open


class FieldArea(TextArea):
    """A wrapped single-value field: Enter (or Tab) moves to the next field instead of a newline, with the
    cursor at its end; ctrl+a selects the whole value (so typing replaces it; Home still goes to the line start).

    Both are handled here, in the field's own key handler, as the key arrives in its turn on the
    ordered key path. Textual calls this handler before TextArea's own (subclass first), and
    `prevent_default()` keeps TextArea from inserting the key; any other key goes on to TextArea."""

    # Off in tests and snapshots: a blinking cursor makes two renders of one state differ.
    blink_cursor: bool = True

    def on_mount(self) -> None:
        self.cursor_blink = self.blink_cursor

    async def on_key(self, event: events.Key) -> None:
        if not self.query_ancestor(SuggestionForm).editing:
            event.prevent_default()  # a closed form takes no text
            return
        if event.key in ("enter", "tab", "shift+tab", "ctrl+a"):
            event.stop()
            event.prevent_default()
            if event.key == "ctrl+a":
                self.select_all()
                return
            # The next field's cursor goes to its end, as `e` puts the first one's, here in the key's turn:
            # a key typed right after lands there (it went to the start of the next field, at the end of the first).
            moved_to = self.screen.focus_previous() if event.key == "shift+tab" else self.screen.focus_next()
            if isinstance(moved_to, FieldArea):
                moved_to.move_cursor(moved_to.document.end)

    @on(TextArea.Changed)
    def _keep_clean(self) -> None:
        """Pasted text goes through the same cleaning as everything shown (same length, so the
        cursor stays where it was)."""
        if not is_clean(self.text):
            cursor = self.cursor_location
            self.load_text(clean(self.text))
            self.move_cursor(cursor)

    @property
    def value(self) -> str | None:
        return collapse_whitespace(clean(self.text)) or None


def grounding_badge(view: FieldView | None) -> Text:
    """`✓ exact`, `≈ fuzzy`, `✗ ungrounded`, `— not stated`, with warnings. A reviewer's own value
    is grounded by itself: `✓ in abstract`, `≈ close to abstract`, or `✎ own words` (not an error)."""
    if view is None or view.absent:
        return Text("")
    if view.value is None:  # a gain the checks set to none says so
        return Text("— not stated", style="dim").append_text(check_badge(view.warnings))
    badge = Text()
    status = view.span.status if view.span is not None else None
    if view.own:
        label = {EXACT: "✓ in abstract", FUZZY: "≈ close to abstract"}.get(status, "✎ own words")
        badge.append(label, style="green" if status == EXACT else "yellow")
    elif status == EXACT:
        badge.append("✓ exact", style="green")
    elif status == FUZZY:
        badge.append("≈ fuzzy", style="yellow")
    else:
        badge.append("✗ ungrounded", style="bold red")
    kinds = {w.get("kind") for w in view.warnings}
    if EVIDENCE_MISSING in kinds:
        badge.append("  no quote", style="yellow")
    if VALUE_NOT_IN_QUOTE in kinds and UNGROUNDED_QUOTE not in kinds:
        badge.append("  ! not in its quote", style="bold red")
    missing = [str(w.get("number")) for w in view.warnings if w.get("kind") == NUMBER_NOT_IN_ABSTRACT]
    if missing:
        badge.append_text(plain(f"  ! {', '.join(missing)} not in abstract", style="bold red"))
    if INSTRUCTION_IN_TEXT in kinds:
        badge.append("  ⚠ reads as an instruction to the model", style="bold red")
    return badge.append_text(check_badge(view.warnings))


def field_heading(name: str, view: FieldView | None) -> Text:
    heading = Text(field_label(name), style=f"bold {FIELD_COLOURS.get(name, '')}".strip())
    if name in FIELDS:
        heading.append("  ")
        heading.append_text(grounding_badge(view))
    return heading


def summary_text(decision: Text, source: Text, fields: dict[str, FieldView], notes: str | None,
                 others: Text) -> Text:
    """The right pane while reviewing: the decision first (visible without scrolling), the
    suggestion's source, each field, the notes, then any decisions being adjudicated."""
    text = Text()
    text.append_text(decision)
    text.append("\n")
    text.append_text(source)
    for name in FORM_FIELDS:
        view = fields.get(name)
        value = view.value if view is not None else notes if name == NOTES else None
        text.append("\n\n")
        text.append_text(field_heading(name, view))
        text.append("\n")
        text.append_text(plain(value) if value else Text("—", style="dim"))
    if others.plain:
        text.append("\n")
        text.append_text(others)
    return text


class SuggestionForm(Vertical):
    """A fixed-size summary while reviewing; editable areas only in edit mode.

    The summary is a TextPanel, so a new paper is a repaint; the TextAreas live
    in #editor, shown only after `e` (they size themselves a layout pass late).
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._fields: dict[str, FieldView] = {}
        self._notes: str | None = None
        self._source = Text()
        self._ground: Callable[[str, str | None], FieldView] | None = None
        self._loaded: dict[str, str | None] = {}

    def compose(self) -> ComposeResult:
        yield TextPanel(id="summary")
        with Vertical(id="editor"):
            yield Static(id="editor-source")
            for field in FORM_FIELDS:
                yield Static(id=f"label-{field}", classes="field-label")
                yield FieldArea(id=f"field-{field}", soft_wrap=True, tab_behavior="focus", compact=True,
                                show_line_numbers=False, classes="field")

    @property
    def editing(self) -> bool:
        return self.has_class("-editing")

    def field(self, name: str) -> FieldArea:
        return self.query_one(f"#field-{name}", FieldArea)

    def fill(self, decision: Text, source: Text, fields: dict[str, FieldView], notes: str | None, others: Text,
             ground: Callable[[str, str | None], FieldView] | None = None) -> None:
        self.end_edit()
        self._fields, self._notes, self._source, self._ground = fields, notes, source, ground
        self.query_one("#summary", TextPanel).set_text(summary_text(decision, source, fields, notes, others))

    def source_news(self, news: Text) -> None:
        """While the form is open: a line under where its values came from (a suggestion that arrived since)."""
        self.query_one("#editor-source", Static).update(Text.assemble(self._source, "\n", news))

    def begin_edit(self, first: str = "technique", values: dict[str, str | None] | None = None) -> FieldArea:
        """Load the shown values (or `values`, e.g. composed in the compare screen) into the editable
        areas and focus `first` at once, so keys typed right after `e` land in the field."""
        self.query_one("#editor-source", Static).update(self._source)
        self._loaded = {}
        self._originals: dict[str, str | None] = {}  # the values before cleaning, for fields left as they were
        for name in FORM_FIELDS:
            if name == NOTES:
                value = values[NOTES] if values is not None and NOTES in values else self._notes
            elif values is not None:
                value = values.get(name)
            else:
                value = self._fields.get(name).value if self._fields.get(name) else None
            view = self._ground(name, value) if values is not None and self._ground and name != NOTES else \
                self._fields.get(name)
            # The same cleaned text as the panes (ESC as ␛, U+202E and U+200B as �): what is saved
            # is what the reviewer sees, never characters the terminal would act on or hide.
            self._originals[name] = value
            value = clean(value) or None
            self._loaded[name] = value
            self.query_one(f"#label-{name}", Static).update(field_heading(name, view))
            self.field(name).load_text(value or "")
        self.add_class("-editing")
        area = self.field(first)
        self.screen.set_focus(area)
        area.move_cursor(area.document.end)  # edits usually extend or fix the end
        return area

    @on(TextArea.Changed)
    def _regrounded(self, event: TextArea.Changed) -> None:
        """Badges describe what is typed, not what was suggested."""
        name = (event.text_area.id or "").removeprefix("field-")
        if self.editing and name in FIELDS and self._ground is not None:
            view = self._ground(name, event.text_area.value if isinstance(event.text_area, FieldArea) else None)
            self.query_one(f"#label-{name}", Static).update(field_heading(name, view))

    def end_edit(self) -> None:
        if self.editing:
            self.remove_class("-editing")

    def changed(self) -> bool:
        """Has the reviewer changed anything in the form since `e`?"""
        return self.editing and any(self._touched(n) for n in FORM_FIELDS)

    def _touched(self, name: str) -> bool:
        return collapse_whitespace(self.field(name).text) != collapse_whitespace(self._loaded.get(name) or "")

    def values(self) -> dict[str, str | None]:
        if self.editing:  # a field the reviewer did not touch keeps its value exactly (an untouched save is no edit)
            return {name: self._originals.get(name) if not self._touched(name) else self.field(name).value
                    for name in FORM_FIELDS}
        return {**{f: (v.value if v else None) for f, v in self._fields.items()}, NOTES: self._notes}
