"""The review as `workbench serve` runs it for one browser: the sign-in screen first, then the review
screen as the annotator who signed in, who cannot be changed from inside. Every decision names them
(the session is opened for that name only). Nobody signed in after `SIGN_IN_SECONDS`: the app ends
(a browser tab left open holds no process). The account is checked again every `RECHECK_SECONDS`:
once revoked, the session ends."""

from __future__ import annotations

from typing import Callable

from textual.screen import Screen

from workbench.config import Guidelines
from workbench.review import ReviewSession
from workbench.tui.app import ReviewApp, validate_keymap
from workbench.tui.screens.paper import ReviewScreen
from workbench.tui.screens.signin import Answer, SignInScreen

SIGN_IN_SECONDS = 600
RECHECK_SECONDS = 60


class ServedReviewApp(ReviewApp):
    TITLE = "workbench review"

    def __init__(self, start: Callable[[str], ReviewSession], check: Callable[[str, str], Answer],
                 still_active: Callable[[str, str], bool], keymap: dict[str, str] | None = None,
                 guidelines: Guidelines | None = None):
        super().__init__(None, keymap, guidelines)
        self._start, self._check, self._still_active = start, check, still_active
        self.annotator: str | None = None
        self._token: str | None = None  # what this connection signed in with (in memory only), checked again

    def _checked(self, name: str, token: str) -> Answer:
        answer = self._check(name, token)
        if answer.annotator is not None and self.session is None:
            self._token = token
        return answer

    def first_screen(self) -> Screen:
        self.set_timer(SIGN_IN_SECONDS, self._nobody_signed_in)
        return SignInScreen(self._checked, self.signed_in)

    def signed_in(self, annotator: str) -> None:
        if self.session is not None:
            return  # once per connection: the name cannot change
        self.annotator = annotator
        self.session = self._start(annotator)
        self.sub_title = f"signed in as {annotator}"
        self.pop_screen()
        self._push_then_wait(ReviewScreen(self.session))
        self.set_interval(RECHECK_SECONDS, self._recheck)

    def _nobody_signed_in(self) -> None:
        if self.session is None:
            self.exit(message="nobody signed in")

    def _recheck(self) -> None:
        self.run_worker(self._check_account, thread=True, exclusive=True, group="recheck", exit_on_error=False)

    def _check_account(self) -> None:
        try:
            active = self._still_active(self.annotator, self._token or "")
        except Exception:  # the store busy for a moment: ask again next time
            return
        if not active:
            self.call_from_thread(self.exit, None, 0, "this annotator account was revoked")


def create_served_app(start: Callable[[str], ReviewSession], check: Callable[[str, str], Answer],
                      still_active: Callable[[str, str], bool], *, keymap: dict | None = None,
                      guidelines: Guidelines | None = None) -> ServedReviewApp:
    return ServedReviewApp(start, check, still_active, validate_keymap(keymap or {}), guidelines)
