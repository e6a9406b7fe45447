"""The main screen: one paper at a time, its suggestion as a form, one key per decision.

The screen renders what the session says and runs the session's background
fetches in workers; it never touches the store. The accept rule: `a` confirms
what the pane shows. On a paper you already accepted or edited, that is your
decision (`a` keeps it and moves on); the model's suggestion replaces your
values only when you pick it explicitly (1-9 or the compare screen).
"""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer

from workbench.errors import Conflict, StoreBusy, UndoBlocked, WorkbenchError
from workbench.review import Composition, FeedResult, PaperView, ReviewSession, SuggestionRow
from workbench.safe_text import one_line, plain
from workbench.tui.notices import show, tell
from workbench.tui.screens.paper_keys import BINDINGS, FOOTER_ORDER, key_help, keys_of
from workbench.tui.screens.said import ModelSaidAction
from workbench.tui.widgets.abstract import message_text, paper_text
from workbench.tui.widgets.decision_lines import decision_line, others_text, source_line
from workbench.tui.widgets.form import FORM_ACTIONS, SuggestionForm
from workbench.tui.widgets.panel import TextPanel
from workbench.tui.widgets.top_line import Progress, top_line
from workbench.vocab import FIELDS, NOTES


OUTSIDE_LOOK_SECONDS = 5.0


class SuggestionDone(Message):
    def __init__(self, result: FeedResult) -> None:
        super().__init__()
        self.result = result


SIDE_GUIDELINES_WIDTH = 120  # from this many columns the guidelines open beside the task


class ReviewScreen(ModelSaidAction, Screen):
    BINDINGS = BINDINGS
    CSS_PATH = "paper.tcss"
    AUTO_FOCUS = ""  # nothing focused (None would mean "the app's", i.e. "*"): keys are decisions until `e`

    def __init__(self, session: ReviewSession) -> None:
        super().__init__()
        self.session = session
        self.view: PaperView | None = None
        self.stale = False  # the current paper changed while a dialog covered the screen
        self.composition: Composition | None = None  # the compare screen's result, while it is being edited
        self.composing_from: SuggestionRow | None = None  # the conflict dialog's `e`: the suggestion yours came from
        self._spans: dict = {}  # the evidence highlighted in the paper pane

    def compose(self) -> ComposeResult:
        yield TextPanel(id="progress")
        with Horizontal(id="main"):
            yield TextPanel(id="paper")
            yield SuggestionForm(id="right")
            yield VerticalScroll(id="guidelines-side", can_focus=False)  # `h` from 120 columns
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self.show_current(first=True)
        for notice in self.session.notices_at_start:
            show(self, notice, timeout=8)
        self.set_interval(OUTSIDE_LOOK_SECONDS, self.look_outside)

    def look_outside(self) -> None:
        """Counts and queue as stored now, without a key: another writer's papers or decisions (keys look too)."""
        try:
            if not self.session.catch_up():
                return
            if self.view is None and len(self.session):  # an empty queue that papers joined: show the first
                self.show_current()
            else:
                self._render_progress()
        except StoreBusy:
            pass  # the next look, or the next key

    @property
    def active_bindings(self):
        """Textual's, in the order of BINDINGS (a [keys] remap re-adds its keys at the end): the footer's order."""
        bindings = super().active_bindings
        return dict(sorted(bindings.items(), key=lambda item: FOOTER_ORDER.get(item[1].binding.action, len(FOOTER_ORDER))))

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """In the form only save and leave-form work (every other key is the field's);
        outside it, those two are hidden from the footer."""
        return self.editing if action in FORM_ACTIONS else not self.editing

    # ------------------------------------------------------------------ showing

    @property
    def form(self) -> SuggestionForm:
        return self.query_one(SuggestionForm)

    @property
    def editing(self) -> bool:
        return self.form.editing

    def show_current(self, *, first: bool = False) -> None:
        """Render the current paper from the session and keep suggestions coming."""
        self.composition = self.composing_from = None
        if self.editing:
            self.call_after_refresh(self.refresh_bindings)  # ctrl+s / esc leave the footer
        for paper in self.session.prefetch():  # first, so the view knows what is under way
            self.fetch(paper)
        self.view = view = self.session.view(fill=not (deferred := first and self.session.feed.instant))
        # After this paper is drawn, not before (call_after_refresh could run before the frame): the offline
        # rules on a long abstract cost a frame or two; at launch, the first paper's own suggestion waits too.
        then = self.app.keys_wait_for_call(self.show_current) if deferred else self.session.fill_ahead
        self.query_one("#paper", TextPanel).after_next_draw(then)
        self.set_focus(None)
        self._render_progress()
        paper_panel = self.query_one("#paper", TextPanel)
        if view is None:
            paper_panel.set_text(message_text(
                f"Nothing to review in the '{self.session.queue_name}' queue",
                "Every paper here is decided. Start with --queue all to revisit, or press q to quit."))
            self.form.fill(Text(""), Text(""), {}, None, Text(""))
            return
        fields = view.fields()
        self._spans = {f: v.span for f, v in fields.items()}
        self._render_paper()
        self.form.fill(decision_line(view, self.session.doubt_text(view.paper.id)), source_line(view, self.session.feed),
                       fields, view.annotation.notes if view.annotation else None, others_text(view), view.field_view)

    def _render_progress(self) -> None:
        s = self.session
        progress = Progress(s.decided, s.total_papers, dict(s.counts), s.index + 1 if len(s) else None, len(s),
                            s.queue_name, s.undecided_left(), s.annotator, s.read_only)
        panel = self.query_one("#progress", TextPanel)
        panel.set_text(top_line(progress, panel.content_size.width or self.app.size.width))

    def _render_paper(self) -> None:
        panel = self.query_one("#paper", TextPanel)
        width = panel.content_size.width or max(20, self.app.size.width * 3 // 5 - 3)  # before the first layout
        panel.set_text(paper_text(self.view.paper, self._spans, width, self.app.console))

    def on_resize(self) -> None:
        if self.app.size.width < SIDE_GUIDELINES_WIDTH:
            self.remove_class("-guidelines")  # too narrow to read beside the task: `h` opens them over it
        self._render_progress()
        if self.view is not None:
            self._render_paper()

    # ------------------------------------------------------------------ suggestions in the background

    @work(group="suggest", exit_on_error=False)
    async def fetch(self, paper) -> None:
        """Ask the model in the background; the result is stored by the message handler (app thread)."""
        self.post_message(SuggestionDone(await self.session.feed.fetch(paper)))

    def on_suggestion_done(self, message: SuggestionDone) -> None:
        notice = self.session.feed.receive(message.result)
        show(self, notice)
        if message.result.fatal:
            self.workers.cancel_group(self, "suggest")
        if message.result.paper_id == self.session.current_id and self.editing:  # the form stays as typed
            arrived = "arrived" if message.result.new is not None else "failed"
            self.form.source_news(plain(f"{self.session.feed.label} · {arrived} while you typed: it shows when "
                                        "the form closes (ctrl+s saves yours, esc leaves)", style="italic"))
        # The paper on screen, or every paper once suggestions stopped (its own request was cancelled: say so).
        if (message.result.paper_id == self.session.current_id or message.result.fatal) and not self.editing:
            if self.app.screen is self:
                self.show_current()
            else:  # behind a dialog: re-reading now would base its answer on a version it never showed
                self.stale = True

    def on_screen_resume(self) -> None:
        if self.stale and not self.editing:
            self.show_current()
        self.stale = False

    # ------------------------------------------------------------------ decisions

    def _commit(self, action, decision: bool = False) -> bool:
        """Run a store write; on a locked or failing store say so and stay on this paper. A conflict (the
        paper changed since it was shown): for a `decision`, the dialog; else say so and show it as stored."""
        try:
            action()
            return True
        except Conflict as exc:
            if decision and exc.attempted is not None:
                self._resolve(exc)
            else:
                self.show_current()
                tell(self, f"Not saved: {exc}.", title="Changed elsewhere", severity="warning", timeout=8)
        except StoreBusy as exc:
            tell(self, f"The store is busy or unwritable ({exc}); nothing was saved. Try again.",
                 title="Not saved", severity="error", timeout=8)
        except WorkbenchError as exc:  # read-only store
            tell(self, f"Not saved: {exc}.", severity="error", timeout=6)
        return False

    def _resolve(self, conflict: Conflict) -> None:
        """Both decisions in a dialog; the session has reloaded the paper already."""
        from workbench.tui.screens.dialogs import COMPOSE, KEEP_YOURS, ConflictScreen

        def done(choice: str | None) -> None:
            self.show_current()
            if choice == KEEP_YOURS:
                if self._commit(lambda: self.session.keep_mine(conflict), decision=True):
                    self._advance()
            elif choice == COMPOSE:  # yours in the form, notes too, saved on the version the dialog showed
                self.session.rebase_on(conflict)  # and measured against the suggestion as it was shown
                self.composing_from = self.session.suggestion_as_shown(conflict.attempted)
                self.form.begin_edit(values={**conflict.attempted.values, NOTES: conflict.attempted.notes})
                self.refresh_bindings()
            else:
                tell(self, "Kept the stored decision; yours was not saved.", timeout=4)

        self.show_current()
        self.app.open_dialog(ConflictScreen(conflict.stored, conflict.attempted), done)

    def _advance(self) -> None:
        if not self.session.advance():
            tell(self, self.session.end_of_queue_text(), timeout=5)
        self.show_current()

    def action_accept(self) -> None:
        view = self.view
        if view is None:
            return
        if view.keeps_decision:  # `a` confirms your decision: it stays as it is (changed since: the dialog)
            if self._commit(lambda: self.session.confirm(view.annotation), decision=True):
                self._advance()
            return
        suggestion = view.suggestion
        if (suggestion is None or not suggestion.ok) and self.session.feed.pending(view.paper.id):
            tell(self, "The suggestion for this paper is still coming: press a again when it shows, "
                       "or e to write the fields, r to reject, s to skip.", severity="warning")
            return
        if suggestion is None or not suggestion.ok:
            tell(self, "No usable suggestion to accept: press e to write the fields, or r to reject.",
                 severity="warning")
            return
        if self._commit(lambda: self.session.accept(suggestion, notes=self._notes()), decision=True):
            self._advance()

    def action_edit(self) -> None:
        if self.view is not None and not self.editing:
            self.form.begin_edit()
            self.refresh_bindings()

    def action_save(self) -> None:
        if self.view is None:
            return
        values = self.form.values()
        fields = {f: values[f] for f in FIELDS}
        composition = self.composition
        if composition is not None:  # started in the compare screen: keep where each field came from
            save = lambda: self.session.save_fields(fields, composition.suggestion, values[NOTES],  # noqa: E731
                                                    composition.typed_over(fields))
        else:
            started_from = self.composing_from or self.view.suggestion
            save = lambda: self.session.save_fields(fields, started_from, values[NOTES])  # noqa: E731
        if self._commit(save, decision=True):
            self._advance()

    def action_cancel_edit(self) -> None:
        if not self.editing:
            return
        if not self.form.changed():
            self.show_current()
            return
        from workbench.tui.screens.dialogs import ConfirmScreen

        def done(discard: bool | None) -> None:
            if discard:
                self.show_current()

        self.app.open_dialog(ConfirmScreen("Discard your changes to this paper?",
                                           "y discards them · n or esc goes back to the form"), done)

    def action_reject(self) -> None:
        if self.view is not None and self._commit(lambda: self.session.reject(self.view.suggestion, self._notes()),
                                                  decision=True):
            self._advance()

    def action_skip(self) -> None:
        if self.session.move(1):
            self.show_current()
        else:
            tell(self, self.session.end_of_queue_text(), timeout=5)

    def action_next(self) -> None:
        if self.session.move(1):
            self.show_current()

    def action_previous(self) -> None:
        if self.session.move(-1):
            self.show_current()

    def action_undo(self) -> None:
        result: list[str | UndoBlocked | None] = []

        def undo() -> None:
            try:
                result.append(self.session.undo())
            except UndoBlocked as blocked:  # the session is on that paper now
                result.append(blocked)

        if not self._commit(undo):
            return
        if result[0] is None:
            tell(self, "Nothing to undo.")
            return
        self.show_current()
        if isinstance(result[0], UndoBlocked):
            tell(self, f"{result[0]}.", title="Not undone", severity="warning", timeout=8)
        else:
            tell(self, "Undone: the paper is back as it was before.", timeout=3)

    def action_flag(self) -> None:
        if self.view is None:
            return
        result: list[bool] = []
        if self._commit(lambda: result.append(self.session.toggle_flag())):
            self.show_current()
            tell(self, "Flagged." if result[0] else "Flag removed.", timeout=2)

    def action_pick(self, number: int) -> None:
        if self.view is None:
            return
        if self.session.pick(number):
            self.show_current()
        else:
            tell(self, f"This paper has {len(self.view.suggestions)} suggestion(s); there is no number {number}.",
                 severity="warning", timeout=3)

    def action_resuggest(self) -> None:
        notice = self._resuggest()
        show(self, notice, timeout=3)

    def _resuggest(self):
        if self.session.current_id is None:
            return None
        notice = self.session.resuggest()
        self.show_current()
        return notice

    def action_scroll(self, lines: int) -> None:
        self.query_one("#paper", TextPanel).scroll_lines(lines)

    def action_scroll_summary(self, lines: int) -> None:
        self.query_one("#summary", TextPanel).scroll_lines(lines)

    def action_goto(self) -> None:
        from workbench.tui.screens.dialogs import GotoScreen

        def go(target: str) -> str | None:
            """Move to the paper; or why not, shown in the dialog, which stays open for a correction."""
            number = target.removeprefix("#")
            if number.isascii() and number.isdecimal():  # not isdigit(): '²' is a digit int() refuses
                if int(number) <= self.session.total_papers and self.session.go_to_number(int(number)):
                    return None
                if target.startswith("#"):
                    return f"No paper {target[:40]} (the numbers run from #1 to #{self.session.total_papers})."
            ids = self.session.go_to_id(target)  # "8237" may be the start of an id too
            if ids == 1:
                return None
            if ids > 1:
                return f"Several paper ids start with '{one_line(target, 40)}': type more of the id."
            return (f"No paper '{one_line(target, 40)}' (a paper number from #1 to #{self.session.total_papers}, "
                    "or a paper id or its start).")

        def done(moved: bool | None) -> None:
            if moved:
                self.show_current()

        self.app.open_dialog(GotoScreen(self.session.total_papers, go), done)

    def action_search(self) -> None:
        from workbench.tui.screens.dialogs import SearchScreen

        def done(paper_id: str | None) -> None:
            if paper_id and self.session.go_to_paper(paper_id):
                self.show_current()

        self.app.open_dialog(SearchScreen(self.session.find), done)

    def action_help(self) -> None:
        from workbench.tui.screens.dialogs import help_screen

        self.app.open_dialog(help_screen(key_help(self.app), keys_of(self.app, "help")))

    def action_title(self) -> None:
        from textual.widgets import Static

        from workbench.tui.screens.dialogs import ReadingScreen
        from workbench.tui.widgets.abstract import title_page

        if self.view is not None:
            page = [Static(title_page(self.view.paper)), Static(Text("esc close", style="dim"))]
            self.app.open_dialog(ReadingScreen("title", keys_of(self.app, "title"), lambda: page))

    def action_guidelines(self) -> None:
        from workbench.tui.screens.guidelines import guidelines_screen, guidelines_widgets

        guidelines = getattr(self.app, "guidelines", None)
        if guidelines is None:
            tell(self, "No guidelines: write guidelines.md beside the prompts, or set [review] guidelines "
                       "in the config file.", severity="warning", timeout=6)
            return
        if self.app.size.width < SIDE_GUIDELINES_WIDTH:
            self.app.open_dialog(guidelines_screen(guidelines, keys_of(self.app, "guidelines")))
            return
        side = self.query_one("#guidelines-side", VerticalScroll)
        if not side.children:
            side.mount_all(guidelines_widgets(guidelines))
        self.toggle_class("-guidelines")  # beside the task: it stays while the reviewer works
        if self.view is not None:
            self.call_after_refresh(self._render_paper)  # the paper pane's width changed

    def action_compare(self) -> None:
        from workbench.tui.screens.sources import CompareScreen

        view = self.view
        if view is None or not (view.suggestions or view.others):
            tell(self, "This paper has no suggestions to compare yet.", severity="warning")
            return

        def done(choice: tuple[str, Composition] | None) -> None:
            if not choice:
                return
            what, composition = choice
            if what == "accept":
                if self._commit(lambda: self.session.save_composition(composition, self._notes()),
                                decision=True):
                    self._advance()
            else:
                self.composition = composition
                self.form.begin_edit(values=composition.values)
                self.refresh_bindings()

        self.app.open_dialog(CompareScreen(view), done)

    def action_stats(self) -> None:
        from workbench.tui.screens.stats import stats_screen

        self.app.open_dialog(stats_screen(self.session, self.app.size.width, keys_of(self.app, "stats")))

    def action_quit(self) -> None:
        self.app.exit()

    def _notes(self) -> str | None:
        return self.form.values()[NOTES]
