"""The main screen: one paper at a time, its suggestion as a form, one key per decision."""

from __future__ import annotations

import sqlite3

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer

from workbench.errors import AbortedRun
from workbench.metrics import exact
from workbench.review import PaperView, ReviewSession
from workbench.schema import FIELDS
from workbench.store import get_paper, save_suggestion
from workbench.suggest import suggest_paper
from workbench.tui.widgets.abstract import message_text, paper_text
from workbench.tui.widgets.form import FORM_FIELDS, SuggestionForm
from workbench.tui.widgets.panel import TextPanel

PREFETCH = 5  # the current paper and the next four always have a suggestion under way


class SuggestionReady(Message):
    def __init__(self, record: dict) -> None:
        super().__init__()
        self.record = record


class SuggestionFailed(Message):
    def __init__(self, paper_id: str, error: str, fatal: bool) -> None:
        super().__init__()
        self.paper_id, self.error, self.fatal = paper_id, error, fatal


BINDINGS = [
    Binding("a", "accept", "Accept", id="accept"),
    Binding("e", "edit", "Edit", id="edit"),
    Binding("ctrl+s", "save", "Save edit", id="save", priority=True),
    Binding("escape", "cancel_edit", "Leave form", id="cancel_edit"),
    Binding("r", "reject", "Reject", id="reject"),
    Binding("s,space", "skip", "Skip", id="skip"),
    Binding("n,right", "next", "Next", id="next", show=False),
    Binding("p,left", "previous", "Previous", id="previous", show=False),
    Binding("u,backspace", "undo", "Undo", id="undo"),
    Binding("f", "flag", "Flag", id="flag"),
    Binding("g", "goto", "Go to", id="goto", show=False),
    Binding("slash", "search", "Search", id="search", show=False),
    Binding("ctrl+r", "resuggest", "Re-suggest", id="resuggest", show=False, priority=True),
    Binding("c", "compare", "Compare", id="compare"),
    Binding("t", "stats", "Stats", id="stats"),
    Binding("question_mark", "help", "Help", id="help"),
    Binding("q", "quit", "Quit", id="quit"),
    Binding("up", "scroll(-1)", "Scroll up", show=False),
    Binding("down", "scroll(1)", "Scroll down", show=False),
    Binding("pageup", "scroll(-10)", "Page up", show=False),
    Binding("pagedown", "scroll(10)", "Page down", show=False),
    Binding("shift+up", "scroll_summary(-1)", "Scroll summary up", show=False),
    Binding("shift+down", "scroll_summary(1)", "Scroll summary down", show=False),
    *[Binding(str(n), f"pick({n})", f"Suggestion {n}", id=f"pick_{n}", show=False) for n in range(1, 10)],
]


class ReviewScreen(Screen):
    BINDINGS = BINDINGS
    CSS_PATH = "review.tcss"
    AUTO_FOCUS = ""  # nothing focused (None would mean "the app's", i.e. "*"): keys are decisions until `e`

    def __init__(self, session: ReviewSession) -> None:
        super().__init__()
        self.session = session
        self.in_flight: set[str] = set()
        self.gave_up: set[str] = set()  # requests that raised (not model faults, which are stored)
        self.model_error: str | None = None  # a run-stopping fault: no more requests this session
        self.view: PaperView | None = None
        self.form_from_suggestion = True

    def compose(self) -> ComposeResult:
        yield TextPanel(id="progress")
        with Horizontal(id="main"):
            yield TextPanel(id="paper")
            yield SuggestionForm(id="right")
        yield Footer()

    def on_mount(self) -> None:
        self.show_current()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """Save and leave-form exist only in edit mode (hidden from the footer otherwise)."""
        if action in ("save", "cancel_edit"):
            return self.editing
        return True

    # ------------------------------------------------------------------ showing

    @property
    def editing(self) -> bool:
        return self.query_one(SuggestionForm).editing

    def show_current(self, *, from_suggestion: bool | None = None) -> None:
        """Render the current paper from the store and keep suggestions coming."""
        self.view = self.session.view()
        view = self.view
        if self.editing:
            self.call_after_refresh(self.refresh_bindings)  # ctrl+s / esc leave the footer
        self.set_focus(None)
        self._render_progress()
        form = self.query_one(SuggestionForm)
        paper_panel = self.query_one("#paper", TextPanel)
        if view is None:
            paper_panel.set_text(message_text(
                f"Nothing to review in the '{self.session.queue_name}' queue",
                "Every paper here is decided. Start with --queue all to revisit, or press q to quit."))
            form.fill({}, None, Text(""), Text(""))
            return
        suggestion = view.suggestion
        paper_panel.set_text(paper_text(view.paper, suggestion.get("evidence") if suggestion else None))
        decided = view.annotation is not None and view.annotation["status"] is not None
        self.form_from_suggestion = not decided if from_suggestion is None else from_suggestion
        if self.form_from_suggestion:
            values = {f: suggestion.get(f) for f in FIELDS} if suggestion and suggestion["outcome"] == "ok" else {}
            values["notes"] = (view.annotation or {}).get("notes")
        else:
            values = {f: view.annotation.get(f) for f in FORM_FIELDS}
        form.fill(values, suggestion, self._source_line(view), self._decision_line(view))
        self._prefetch()

    def _render_progress(self) -> None:
        s = self.session
        c = s.counts
        position = f"#{s.index + 1} of {len(s)} in '{s.queue_name}'" if len(s) else f"'{s.queue_name}' is empty"
        text = Text()
        text.append(" workbench ", style="bold reverse")
        text.append(f"  {s.decided}/{s.total_papers} decided  ")
        text.append(f"✓ {c['accepted']}", style="green")
        text.append(f"  ✎ {c['edited']}", style="yellow")
        text.append(f"  ✗ {c['rejected']}", style="red")
        text.append(f"   {position}   ")
        text.append(f"{s.annotator}", style="dim")
        self.query_one("#progress", TextPanel).set_text(text)

    def _source_line(self, view: PaperView) -> Text:
        app = self.app
        text = Text()
        suggestion = view.suggestion
        active_pending = view.paper["id"] in self.in_flight
        if suggestion is None:
            if self.model_error:
                text.append(f"{app.prompt.label} · {app.model.name} · unavailable: {self.model_error}", style="bold red")
                text.append("\nWrite the fields by hand (e) or reject (r).", style="dim")
            else:
                text.append(f"{app.prompt.label} · {app.model.name} · suggesting…", style="italic")
            return text
        label = f"{suggestion['prompt_name']}@{suggestion['prompt_id'][:8]} · {suggestion['model']}"
        text.append(label, style="bold")
        outcome = suggestion["outcome"]
        if outcome == "ok":
            text.append(" · ok", style="green")
        else:
            text.append(f" · {outcome}", style="bold red")
            if suggestion.get("error"):
                text.append(f": {suggestion['error']}", style="red")
            text.append("\nWrite the fields by hand (e), reject (r) or retry (ctrl+r).", style="dim")
        if len(view.suggestions) > 1:
            text.append(f"   [{view.shown + 1}/{len(view.suggestions)}: keys 1-{min(9, len(view.suggestions))}]",
                        style="dim")
        if active_pending:
            text.append(f"\n{app.prompt.label} · {app.model.name} · suggesting…", style="italic")
        return text

    def _decision_line(self, view: PaperView) -> Text:
        text = Text()
        annotation = view.annotation
        if annotation and annotation["status"]:
            style = {"accepted": "green", "edited": "yellow", "rejected": "red"}[annotation["status"]]
            text.append(f"Your decision: {annotation['status']}", style=f"bold {style}")
            text.append(f" · {annotation['updated_at']}", style="dim")
        else:
            text.append("Not decided yet", style="dim")
        if annotation and annotation["flagged"]:
            text.append("   ⚑ flagged", style="bold magenta")
        shown = view.suggestion if view.suggestion and view.suggestion["outcome"] == "ok" else None
        for other in view.others:  # --queue disagreements: the decisions to adjudicate
            style = {"accepted": "green", "edited": "yellow", "rejected": "red"}[other["status"]]
            text.append(f"\n\n{other['annotator']}: ", style="bold")
            text.append(other["status"], style=style)
            if other["status"] == "rejected":
                continue
            differing = [f for f in FIELDS if shown is None or not exact(other[f], shown.get(f))]
            if not differing:
                text.append(" (as suggested above)", style="dim")
            for name in differing:  # only what differs from the suggestion on screen
                text.append(f"\n  {name.replace('_', ' ')}: ", style="dim")
                text.append(other[name] or "—")
        return text

    # ------------------------------------------------------------------ suggestions in the background

    def _prefetch(self) -> None:
        if self.model_error:
            return
        for pid in self.session.upcoming(PREFETCH):
            if pid not in self.in_flight and pid not in self.gave_up and not self.session.has_active_suggestion(pid):
                self._request(pid)

    def _request(self, pid: str) -> None:
        self.in_flight.add(pid)
        self.gave_up.discard(pid)
        self.suggest(get_paper(self.session.db, pid))

    @work(group="suggest", exit_on_error=False)
    async def suggest(self, paper: dict) -> None:
        """Ask the model in the background; the result is stored by the message handler (app thread)."""
        try:
            record = await suggest_paper(paper, self.app.prompt, self.app.model)
        except AbortedRun as exc:
            self.post_message(SuggestionFailed(paper["id"], str(exc), fatal=True))
        except Exception as exc:  # a bug or an unexpected fault: report it, keep reviewing
            self.post_message(SuggestionFailed(paper["id"], f"{type(exc).__name__}: {exc}", fatal=False))
        else:
            self.post_message(SuggestionReady(record))

    def on_suggestion_ready(self, message: SuggestionReady) -> None:
        record = message.record
        self.in_flight.discard(record["paper_id"])
        try:
            save_suggestion(self.session.db, record)
        except sqlite3.OperationalError as exc:
            self.notify(f"Could not store a suggestion ({exc}); it will be requested again.", severity="warning")
            return
        if record["paper_id"] == self.session.current_id and not self.editing:
            self.show_current(from_suggestion=self.form_from_suggestion)

    def on_suggestion_failed(self, message: SuggestionFailed) -> None:
        self.in_flight.discard(message.paper_id)
        if message.fatal:
            if self.model_error is None:
                self.notify(message.error, title="Suggestions stopped", severity="error", timeout=10)
            self.model_error = message.error
            self.workers.cancel_group(self, "suggest")
            self.in_flight.clear()
        else:
            # Nothing was stored, so prefetching would ask again at once: wait for ctrl+r.
            self.gave_up.add(message.paper_id)
            self.notify(f"Suggestion failed: {message.error} (ctrl+r retries)", severity="warning")
        if message.paper_id == self.session.current_id and not self.editing:
            self.show_current(from_suggestion=self.form_from_suggestion)

    # ------------------------------------------------------------------ decisions

    def _commit(self, action) -> bool:
        """Run a store write; on a locked or failing store say so and stay on this paper."""
        try:
            action()
            return True
        except sqlite3.OperationalError as exc:
            self.notify(f"The store is busy or unwritable ({exc}); nothing was saved. Try again.",
                        title="Not saved", severity="error", timeout=8)
            return False

    def _advance(self) -> None:
        if not self.session.move(1):
            self.notify("End of the queue. Press g or / to go elsewhere, q to quit.", timeout=4)
        self.show_current()

    def action_accept(self) -> None:
        view = self.view
        if view is None:
            return
        suggestion = view.suggestion
        if suggestion is None or suggestion["outcome"] != "ok":
            self.notify("No usable suggestion to accept: press e to write the fields, or r to reject.",
                        severity="warning")
            return
        if self._commit(lambda: self.session.accept(suggestion, notes=self._notes())):
            self._advance()

    def action_edit(self) -> None:
        if self.view is not None and not self.editing:
            self.query_one(SuggestionForm).begin_edit()
            self.refresh_bindings()

    def action_save(self) -> None:
        if self.view is None:
            return
        values = self.query_one(SuggestionForm).values()
        fields = {f: values[f] for f in FIELDS}
        if self._commit(lambda: self.session.save_fields(fields, self.view.suggestion, values["notes"])):
            self._advance()

    def action_cancel_edit(self) -> None:
        if self.editing:
            self.show_current(from_suggestion=self.form_from_suggestion)  # throws the unsaved edits away

    def action_reject(self) -> None:
        if self.view is not None and self._commit(lambda: self.session.reject(self.view.suggestion, self._notes())):
            self._advance()

    def action_skip(self) -> None:
        self._advance()

    def action_next(self) -> None:
        if self.session.move(1):
            self.show_current()

    def action_previous(self) -> None:
        if self.session.move(-1):
            self.show_current()

    def action_undo(self) -> None:
        result: list[str | None] = []
        if not self._commit(lambda: result.append(self.session.undo())):
            return
        if result[0] is None:
            self.notify("Nothing to undo.")
            return
        self.show_current()
        self.notify("Undone: the paper is back as it was before.", timeout=3)

    def action_flag(self) -> None:
        if self.view is None:
            return
        result: list[bool] = []
        if self._commit(lambda: result.append(self.session.toggle_flag())):
            self.show_current(from_suggestion=self.form_from_suggestion)
            self.notify("Flagged." if result[0] else "Flag removed.", timeout=2)

    def action_pick(self, number: int) -> None:
        if self.view is not None and self.session.pick(number):
            self.show_current(from_suggestion=True)

    def action_resuggest(self) -> None:
        pid = self.session.current_id
        if pid is None:
            return
        if self.model_error:
            self.notify(f"Suggestions are stopped: {self.model_error}", severity="error")
            return
        self.session.preferred.pop(pid, None)
        self._request(pid)
        self.show_current(from_suggestion=True)

    def action_scroll(self, lines: int) -> None:
        self.query_one("#paper", TextPanel).scroll_lines(lines)

    def action_scroll_summary(self, lines: int) -> None:
        self.query_one("#summary", TextPanel).scroll_lines(lines)

    def action_goto(self) -> None:
        from workbench.tui.screens.dialogs import GotoScreen

        def done(target: str | None) -> None:
            if not target:
                return
            target = target.strip()
            moved = self.session.go_to_position(int(target)) if target.isdigit() else self._go_to_id(target)
            if moved:
                self.show_current()
            else:
                self.notify(f"No paper at '{target}' (a position from 1 to {len(self.session)}, or a paper id).",
                            severity="warning")

        self.app.push_screen(GotoScreen(len(self.session)), done)

    def _go_to_id(self, text: str) -> bool:
        matches = [r for r in self.session.find(text, limit=2) if r["id"].startswith(text.lower())]
        return len(matches) == 1 and self.session.go_to_paper(matches[0]["id"])

    def action_search(self) -> None:
        from workbench.tui.screens.dialogs import SearchScreen

        def done(paper_id: str | None) -> None:
            if paper_id and self.session.go_to_paper(paper_id):
                self.show_current()

        self.app.push_screen(SearchScreen(self.session.find), done)

    def action_help(self) -> None:
        from workbench.tui.screens.dialogs import HelpScreen

        self.app.push_screen(HelpScreen(self.app.key_help()))

    def action_compare(self) -> None:
        from workbench.tui.screens.compare import CompareScreen

        view = self.view
        if view is None or not view.suggestions:
            self.notify("This paper has no suggestions to compare yet.", severity="warning")
            return

        def done(choice: tuple[str, int] | None) -> None:
            if not choice or not self.session.pick(choice[1]):
                return
            self.show_current(from_suggestion=True)
            if choice[0] == "accept":
                self.action_accept()
            else:
                self.action_edit()

        self.app.push_screen(CompareScreen(view), done)

    def action_stats(self) -> None:
        from workbench.tui.screens.stats import StatsScreen

        self.app.push_screen(StatsScreen(self.session))

    def action_quit(self) -> None:
        self.app.exit()

    def _notes(self) -> str | None:
        return self.query_one(SuggestionForm).field("notes").value
