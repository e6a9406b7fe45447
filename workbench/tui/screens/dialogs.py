"""Modal dialogs: go to a paper, search, help, a yes/no question, and a decision that met a conflict."""

from __future__ import annotations

import asyncio
from typing import Callable, TypeVar

from rich.table import Table
from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from workbench.review import AnnotationRow, SearchHit
from workbench.safe_text import one_line, plain
from workbench.vocab import FIELDS, STATUS_MARKS, STATUS_STYLES, field_label


Answer = TypeVar("Answer")


class Dialog(ModalScreen[Answer]):
    """A modal screen on the ordered key path (tui/keys.py): opened with `app.open_dialog`, which
    sets `answered` once the opener has had the answer; the key that dismisses it makes the next
    key wait for that. Its keys are priority bindings, run as each key is routed."""

    def __init__(self) -> None:
        super().__init__()
        self.answered = asyncio.Event()

    def dismiss(self, result: Answer | None = None):
        keys = getattr(self.app, "keys", None)
        if keys is not None:
            keys.wait_for(self.answered.wait())
        return super().dismiss(result)


class ReadingScreen(Dialog[None]):
    """A scrollable page to read, closed by escape, q, or the keys that opened it (as remapped)."""

    def __init__(self, dialog_id: str, open_keys: tuple[str, ...], widgets: Callable[[], list[Widget]]) -> None:
        super().__init__()
        self.dialog_id, self.close_keys, self.widgets = dialog_id, ("escape", "q", *open_keys), widgets

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog wide", id=self.dialog_id):
            yield from self.widgets()

    def on_key(self, event: events.Key) -> None:
        if event.key in self.close_keys:
            event.stop()
            self.dismiss(None)


class GotoScreen(Dialog[bool | None]):
    """Enter moves (`go` returns None) and closes; a number or id that names no paper is said here and the
    dialog stays open, so the Backspace that corrects it edits the number (it was the review's undo)."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Close", priority=True),
                Binding("enter", "go", "Go", priority=True)]

    def __init__(self, papers: int, go: Callable[[str], str | None]) -> None:
        super().__init__()
        self.papers, self.go = papers, go

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text("Go to a paper", style="bold"))
            yield Static(Text(f"A paper number (#1-#{self.papers}: the number beside its title and in search) "
                              "or a paper id (or its start).", style="dim"))
            yield Input(placeholder="number or id", id="goto-input")
            yield Static(id="goto-problem")

    @on(Input.Changed)
    def changed(self) -> None:
        self.query_one("#goto-problem", Static).update("")  # said of what was typed before

    def action_go(self) -> None:
        target = self.query_one(Input).value.strip()
        if not target:
            self.dismiss(None)
            return
        problem = self.go(target)
        if problem is None:
            self.dismiss(True)
        else:
            self.query_one("#goto-problem", Static).update(Text(problem, style="yellow"))


def hit_label(hit: SearchHit) -> Text:
    """One search result: position, decision mark, title (as plain text: a title is never markup)."""
    label = Text(f"#{hit.seq:<6} ", style="dim")
    if hit.status:
        label.append(f"{STATUS_MARKS[hit.status]} ", style=STATUS_STYLES[hit.status])
    else:
        label.append("  ")
    label.append(one_line(hit.title, 300))
    return label


class PickDialog(Dialog[Answer]):
    """An input over a list: typing narrows the list as each key is typed, and Enter (or a click) takes the
    highlighted entry of what is typed then (the list is brought up to date first: the message that
    refreshes it may not have arrived yet). Down moves from the input into the list."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Close", priority=True),
                Binding("enter", "pick", "Open", priority=True),
                Binding("down", "focus_list", show=False, priority=True)]

    def __init__(self) -> None:
        super().__init__()
        self.listed_for: str | None = None  # the query the list shows
        self.answers: list[Answer] = []  # what each entry of the list dismisses with

    def entries_for(self, query: str) -> list[tuple[Text, Answer]]:
        raise NotImplementedError

    def listed(self, query: str) -> None:
        """After the list changed (a status line, say)."""

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        if action == "focus_list":  # in the list, down moves the highlight
            return isinstance(self.focused, Input)
        return True

    @on(Input.Changed)
    def changed(self, event: Input.Changed) -> None:
        self.list_for(event.value)

    def list_for(self, query: str) -> None:
        if query == self.listed_for:
            return
        self.listed_for = query
        entries = self.entries_for(query)
        self.answers = [answer for _, answer in entries]
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options([Option(label) for label, _ in entries])
        if entries:
            options.highlighted = 0
        self.listed(query)

    def action_pick(self) -> None:
        self.list_for(self.query_one(Input).value)
        highlighted = self.query_one(OptionList).highlighted
        if highlighted is not None and highlighted < len(self.answers):
            self.dismiss(self.answers[highlighted])

    @on(OptionList.OptionSelected)
    def selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.answers[event.option_index])

    def action_focus_list(self) -> None:
        self.query_one(OptionList).focus()


class SearchScreen(PickDialog[str | None]):
    """Type to search; Enter or a click opens the highlighted paper."""

    def __init__(self, find: Callable[[str], tuple[list[SearchHit], str | None]]) -> None:
        super().__init__()
        self.find = find
        self.problem: str | None = None  # what the query had that search did not understand
        self.hits = 0

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog wide"):
            yield Static(Text("Search titles and abstracts", style="bold"))
            yield Input(placeholder='words, "a phrase", status:todo, flagged, gain:none, grounding:ungrounded, id:…',
                        id="search-input")
            yield Static(id="search-status", classes="dim")
            yield OptionList(id="search-results")

    def entries_for(self, query: str) -> list[tuple[Text, str]]:
        hits, self.problem = self.find(query)
        self.hits = len(hits)
        return [(hit_label(hit), hit.id) for hit in hits]

    def listed(self, query: str) -> None:
        if not query.strip():
            status = ""
        elif not self.hits:
            status = "No paper matches."
        else:
            status = f"{self.hits} paper{'s' * (self.hits != 1)}" + (" (the first 50)" if self.hits >= 50 else "") + \
                " · ✓ accepted ✎ edited ✗ rejected by you"
        status_text = Text(status, style="dim")
        if self.problem:
            status_text.append_text(plain(f"  {self.problem}", style="yellow"))
        self.query_one("#search-status", Static).update(status_text)


def help_screen(keys: list[tuple[str, str]], open_keys: tuple[str, ...]) -> ReadingScreen:
    def widgets() -> list[Widget]:
        table = Table(box=None, show_header=False, padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for key, description in keys:
            table.add_row(Text(key), Text(description))
        return [Static(Text("Keys", style="bold")), Static(table), Static(Text(HELP_NOTES, style="dim"))]

    return ReadingScreen("help", open_keys, widgets)


HELP_NOTES = (
    "\na confirms what the pane shows: on a paper you accepted or edited, your values stay; "
    "a suggestion replaces them only when you pick it (1-9 or c).\n"
    "While a form field has focus, letters and digits go into the field: ctrl+s saves, "
    "escape leaves the form (asking first if you changed something), Tab and Enter move between "
    "fields, ctrl+a selects a whole field so typing replaces it.\n"
    "Highlights in the abstract: technique (blue), claimed gain (green), compute (underlined violet).\n"
    "Keys can be remapped in the config file's [keys] table (binding id = \"keys\")."
)


class ConfirmScreen(Dialog[bool]):
    """A yes/no question: y answers yes; n or escape answers no."""

    BINDINGS = [Binding("y", "dismiss(True)", "Yes", priority=True),
                Binding("n,escape", "dismiss(False)", "No", priority=True)]

    def __init__(self, question: str, hint: str) -> None:
        super().__init__()
        self.question, self.hint = question, hint

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(Text(self.question, style="bold"))
            yield Static(Text(self.hint, style="dim"))


# What the conflict dialog answers: write yours again, keep the stored one, or open the form with yours.
KEEP_YOURS, TAKE_STORED, COMPOSE = "yours", "stored", "compose"


def _decision_cells(row: AnnotationRow | None) -> list[Text]:
    if row is None or row.status is None:
        return [Text("no decision", style="dim"), *(Text("") for _ in FIELDS), Text("")]
    status = Text(f"{STATUS_MARKS[row.status]} {row.status}", style=STATUS_STYLES[row.status])
    return [status, *(plain(one_line(row.values.get(f), 300) if row.values.get(f) else "—") for f in FIELDS),
            plain(one_line(row.notes, 300) if row.notes else "—")]


def conflict_table(stored: AnnotationRow | None, yours: AnnotationRow) -> Table:
    """Both decisions side by side, every value as plain text (never markup)."""
    table = Table(box=None, padding=(0, 2), expand=True)
    table.add_column(style="dim", no_wrap=True)
    table.add_column(Text("Stored now", style="bold"), ratio=1)
    table.add_column(Text("Yours (not saved)", style="bold"), ratio=1)
    labels = ["Decision", *(field_label(f) for f in FIELDS), "Notes"]
    for label, theirs, mine in zip(labels, _decision_cells(stored), _decision_cells(yours)):
        table.add_row(Text(label), theirs, mine)
    when = stored.updated_at.replace("T", " ").rstrip("Z") if stored is not None else ""
    table.add_row(Text("Saved at"), Text(when, style="dim"), Text(""))
    return table


class ConflictScreen(Dialog[str]):
    """A decision based on a version that is no longer stored (another window, an import): show both,
    and let the reviewer keep theirs (y), take the stored one (s or escape: nothing written) or
    compose (e: the form, prefilled with theirs)."""

    BINDINGS = [Binding("y", f"dismiss('{KEEP_YOURS}')", "Keep yours", priority=True),
                Binding("s,escape", f"dismiss('{TAKE_STORED}')", "Take the stored one", priority=True),
                Binding("e", f"dismiss('{COMPOSE}')", "Compose", priority=True)]

    def __init__(self, stored: AnnotationRow | None, yours: AnnotationRow) -> None:
        super().__init__()
        self.stored, self.yours = stored, yours

    def compose(self) -> ComposeResult:
        # Scrolls (↓, PgDn): at 80x24 the notes and times rows fall below the screen, and a reviewer must be
        # able to read every row before choosing.
        with VerticalScroll(classes="dialog wide", id="conflict"):
            yield Static(Text("This paper changed since it was shown", style="bold yellow"))
            # The keys before the table: long values must never push them off an 80x24 screen.
            yield Static(Text("y keeps yours · s or esc takes the stored one · e opens the form with yours",
                              style="bold"))
            yield Static(Text("Another window or an import saved a decision meanwhile; yours was not saved.",
                              style="dim"))
            yield Static(conflict_table(self.stored, self.yours))
