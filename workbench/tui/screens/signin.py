"""The first screen of a served review (`workbench serve`): a name and a token, checked against the
store's annotator accounts by the function the app was given; the review then runs as that name.

What the browser sends reaches the app only as keys, so the identity is established here. Each failed
attempt in this connection makes the next answer wait longer (on top of the store's lock-out of a
name after repeated failures)."""

from __future__ import annotations

import time
from typing import Callable, Protocol

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Button, Input, Static

from workbench.safe_text import plain

MAX_NAME_CHARS = 100
MAX_TOKEN_CHARS = 200
SLOWER_EACH_FAILURE = 1.0  # seconds added to every answer after each failed attempt here
MAX_SLOWDOWN = 8.0

RELOAD_NOTE = ("Signed in, a reload or a dropped connection asks for the token again and comes back to the "
               "paper you were on, with every decision you saved. An edit you had not saved yet (the form "
               "still open) is lost.")


class Answer(Protocol):
    annotator: str | None
    message: str


class SignInScreen(Screen):
    DEFAULT_CSS = """
    SignInScreen { align: center middle; }
    SignInScreen > Vertical { width: 72; height: auto; border: round $primary; padding: 1 2; }
    SignInScreen Input { margin-bottom: 1; }
    SignInScreen #sign-in-message { color: $error; height: auto; min-height: 1; }
    SignInScreen #sign-in-note { color: $text-muted; margin-top: 1; }
    """

    def __init__(self, check: Callable[[str, str], Answer], signed_in: Callable[[str], None]):
        super().__init__()
        self._check, self._signed_in = check, signed_in
        self._failures = 0
        self._busy = False

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text("workbench review: sign in", style="bold"), id="sign-in-title")
            yield Input(placeholder="your annotator name", max_length=MAX_NAME_CHARS, id="sign-in-name")
            yield Input(placeholder="your token", password=True, max_length=MAX_TOKEN_CHARS, id="sign-in-token")
            yield Button("Sign in", id="sign-in-button", variant="primary")
            yield Static("", id="sign-in-message")
            yield Static(RELOAD_NOTE, id="sign-in-note")

    def on_mount(self) -> None:
        self.query_one("#sign-in-name", Input).focus()

    @on(Input.Submitted, "#sign-in-name")
    def _to_token(self) -> None:
        self.query_one("#sign-in-token", Input).focus()

    @on(Input.Submitted, "#sign-in-token")
    @on(Button.Pressed, "#sign-in-button")
    def _attempt(self) -> None:
        if self._busy:
            return
        name = self.query_one("#sign-in-name", Input).value
        token = self.query_one("#sign-in-token", Input).value
        self._busy = True
        self._say("Checking...")
        self._run_check(name, token, min(self._failures * SLOWER_EACH_FAILURE, MAX_SLOWDOWN))

    @work(thread=True, exclusive=True, exit_on_error=False)
    def _run_check(self, name: str, token: str, slowdown: float) -> None:
        started = time.monotonic()
        try:
            answer = self._check(name, token)
            annotator, message = answer.annotator, answer.message
        except Exception as exc:  # the store busy or unreachable: say so, stay here
            annotator, message = None, f"The sign-in could not be checked ({type(exc).__name__}); try again."
        if annotator is None:
            time.sleep(max(0.0, slowdown - (time.monotonic() - started)))
        self.app.call_from_thread(self._answered, annotator, message)

    def _answered(self, annotator: str | None, message: str) -> None:
        self._busy = False
        if annotator is not None:
            self._signed_in(annotator)
            return
        self._failures += 1
        token = self.query_one("#sign-in-token", Input)
        token.value = ""
        token.focus()
        self._say(message)

    def _say(self, message: str) -> None:
        self.query_one("#sign-in-message", Static).update(plain(message))
