"""The review app and its factory (called by `workbench review` and by the tests)."""

from __future__ import annotations

import asyncio

import gc
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.filter import LineFilter
from textual.keys import KEY_ALIASES, KEY_NAME_REPLACEMENTS, KEY_TO_UNICODE_NAME, Keys, key_to_character
from textual.screen import Screen

from workbench.config import Guidelines, unknown_key
from workbench.errors import InputError, StoreBusy
from workbench.models.base import Model
from workbench.prompts import Prompt
from workbench.review import ReviewSession, open_session
from workbench.tui.filters import DropControlCharacters
from workbench.tui.notices import tell
from workbench.tui.keys import KeyPath, handled_by
from workbench.tui.screens.commands import CommandsScreen
from workbench.tui.screens.dialogs import Dialog
from workbench.tui.screens.paper import ReviewScreen
from workbench.tui.screens.paper_keys import BINDINGS, key_help, palette_entries

# A paper on screen renews its lease this often (leases last 30 min by default).
LEASE_RENEWAL_SECONDS = 20.0  # well inside the shortest hold a team may set (1 minute)


class ReviewApp(App):
    TITLE = "workbench review"
    CSS_PATH = "app.tcss"

    def __init__(self, session: ReviewSession | None, keymap: dict[str, str] | None = None,
                 guidelines: Guidelines | None = None):
        super().__init__()
        self.session = session
        self.keymap_overrides = dict(keymap or {})
        self.guidelines = guidelines
        self._guard = DropControlCharacters()
        self.keys = KeyPath(self._route_key, lambda: self.focused or self.screen, self._key_failed)

    def get_driver_class(self):
        """Textual's driver for this platform; on Linux and macOS one whose input loop drops bytes
        that are not UTF-8 and keeps Esc a key of its own (see workbench/tui/driver.py)."""
        driver = super().get_driver_class()
        if driver.__name__ == "LinuxDriver":  # by name: its module needs termios (not on Windows)
            from workbench.tui.driver import OrderedInputLinuxDriver

            return OrderedInputLinuxDriver
        return driver

    def get_line_filters(self) -> Sequence[LineFilter]:
        return [*super().get_line_filters(), self._guard]

    def on_mount(self) -> None:
        if self.keymap_overrides:
            self.set_keymap(self.keymap_overrides)
        self._push_then_wait(self.first_screen())  # keys typed during start-up wait for it
        self.call_after_refresh(self._freeze_startup_objects)
        # Working as a team, the paper on screen keeps its slot. (A served app has no session until
        # someone signs in, so whether there is a team is asked at each renewal.)
        self.set_interval(LEASE_RENEWAL_SECONDS, self._keep_lease)

    def _keep_lease(self) -> None:
        if self.session is None or self.session.team is None:
            return
        try:
            kept = self.session.keep_lease()
        except StoreBusy:
            return  # the next renewal tries again, long before the lease runs out
        if not kept:
            tell(self.screen, "Your hold on this paper lapsed and others took its slots: a decision on it "
                 "will not be saved. n moves on.", title="Paper taken", severity="warning", timeout=10)

    def first_screen(self) -> Screen:
        return ReviewScreen(self.session)

    def _freeze_startup_objects(self) -> None:
        """Move everything alive after start-up out of the garbage collector's sight.

        A full collection scans every tracked object - Textual's widgets, pydantic's
        schemas, every imported module's functions - and took 50-60 ms, landing in
        one frame in twenty (measured). Frozen objects are never scanned again;
        what the review loop allocates is still collected as usual. (`workbench
        review` turns the collector off while starting; it is back on from here.)
        """
        gc.collect()
        gc.freeze()
        gc.enable()

    async def on_event(self, event: events.Event) -> None:
        """Every key as it arrives goes to the one ordered key path (see tui/keys.py)."""
        if isinstance(event, (events.Key, events.Paste)) and not event.is_forwarded:
            self.keys.receive(event)  # a paste too: it belongs between the keys typed around it
            return
        await super().on_event(event)

    async def _route_key(self, event: events.Key | events.Paste) -> None:
        await super().on_event(event)  # Textual's routing: priority bindings, else the focused widget

    def _key_failed(self, exc: BaseException) -> None:
        def reraise() -> None:
            raise exc  # in a handler, so Textual's error path runs (a crash exits 1)

        self.call_later(reraise)

    def open_dialog(self, screen: Dialog, done: Callable[[Any], None] | None = None) -> None:
        """Push a dialog; the next key waits until it has mounted and focused, and, once it is
        dismissed, until `done` has had its answer."""
        def answered(result: Any) -> None:
            try:
                if done is not None:
                    done(result)
            finally:
                screen.answered.set()

        self._push_then_wait(screen, answered)

    def keys_wait_for_call(self, call: Callable[[], object]) -> Callable[[], None]:
        """`call`, wrapped: keys typed from now wait until it has run (the first paper's instant
        suggestion, made after the paper is drawn: an `a` accepts what the reviewer sees)."""
        done = asyncio.get_running_loop().create_future()
        self.keys.wait_for(done)

        def run() -> None:
            try:
                call()
            finally:
                if not done.done():
                    done.set_result(None)

        return run

    def _push_then_wait(self, screen: Screen, callback: Callable[[Any], None] | None = None) -> None:
        mounted = self.push_screen(screen, callback)

        async def ready() -> None:
            await mounted
            await handled_by(screen)  # its ScreenResume: what it focuses has focus

        self.keys.wait_for(ready())

    async def on_unmount(self) -> None:
        if self.session is not None:  # None: a served app nobody signed in to
            await self.session.feed.model.aclose()
            self.session.close()

    def key_help(self) -> list[tuple[str, str]]:
        """(keys, description) of the review screen's bindings as they are now (remapped keys included)."""
        return key_help(self)

    def action_command_palette(self) -> None:
        """ctrl+p: on the review screen, its commands (tui/screens/commands.py: on the ordered key path);
        elsewhere Textual's palette."""
        screen = self.screen
        if not isinstance(screen, ReviewScreen):
            return super().action_command_palette()

        def run(action: Callable[[], object] | None) -> None:
            if action is not None:
                action()

        self.open_dialog(CommandsScreen(palette_entries(screen)), run)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Textual's own commands, less its Quit (the review screen's "Quit" is the same thing).
        for command in super().get_system_commands(screen):
            if command.title != "Quit":
                yield command


MODIFIERS = ("ctrl", "alt", "shift", "meta", "super", "hyper")


def _key_names() -> frozenset[str]:
    """Every key name Textual gives a key event (the last part of e.g. `ctrl+shift+up`)."""
    named = {key.value.rpartition("+")[2] for key in Keys if not key.value.startswith("<")}
    return frozenset(named | set(KEY_TO_UNICODE_NAME) | set(KEY_NAME_REPLACEMENTS.values()) | set(KEY_ALIASES))


def _key_problem(key: str, names: frozenset[str]) -> str | None:
    """Why no keyboard can send `key` (a Textual key name), or None when one can."""
    *modifiers, base = key.split("+")
    if any(m not in MODIFIERS for m in modifiers) or len(set(modifiers)) != len(modifiers):
        return f"modifiers are {', '.join(MODIFIERS)}, each at most once"
    if "alt" in modifiers:  # see tui/keys.py: a terminal sends alt+x as Esc and x, read as those two keys
        return "the review reads alt+<key> as Esc then <key>; choose a key without alt"
    if len(base) == 1:
        if not base.isprintable() or base.isspace():
            return "not a printable character"
        if modifiers == ["shift"]:
            return f"a terminal sends shift+{base} as the character itself (write '{base.upper()}')"
        return None
    if base in names or (not modifiers and key_to_character(base) is not None):
        return None
    return "not a key name (a character, or a name such as enter, space, f1, pageup, question_mark)"


def validate_keymap(keymap: dict) -> dict[str, str]:
    """The config's [keys], checked: known binding ids, and keys a keyboard can send (in Textual's
    names; a single character such as `?` is written as Textual names it, `question_mark`)."""
    ids = {b.id for b in BINDINGS if b.id}
    names = _key_names()
    checked = {}
    for binding_id, value in keymap.items():
        if binding_id not in ids:
            raise InputError(unknown_key("[keys]", binding_id, ids))
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"config [keys]: '{binding_id}' must be a string of keys such as \"a,enter\"")
        keys = []
        for key in (part.strip() for part in value.split(",")):
            problem = _key_problem(key, names) if key else "an empty key"
            if problem:
                raise InputError(f"config [keys]: {binding_id} = '{value}': '{key}' is a key no keyboard can type "
                                 f"({problem})")
            keys.append(key if len(key) != 1 or key.isalnum() else _character_key(key))
        checked[binding_id] = ",".join(keys)
    _refuse_shared_keys(checked)
    return checked


def _refuse_shared_keys(remapped: dict[str, str]) -> None:
    """One key, one action: a key bound to two (`quit = "x"` beside `reject = "x"`) would do one of
    them while the help promises both."""
    owner: dict[str, str] = {}
    for binding in BINDINGS:
        for key in remapped.get(binding.id, binding.key).split(",") if binding.id else binding.key.split(","):
            other = owner.setdefault(key, binding.id or binding.action)
            if other != (binding.id or binding.action):
                raise InputError(f"config [keys]: '{key}' is bound to both {other} and {binding.id or binding.action}; "
                                 "give each action its own key")


def _character_key(character: str) -> str:
    """Textual's name for a punctuation key (`?` is `question_mark`), as its key events carry it."""
    return next(iter(Binding.make_bindings([Binding(character, "")]))).key


def create_app(db_path: str | Path, *, prompt: Prompt, model: Model, annotator: str, queue: str = "todo",
               keymap: dict | None = None, others: tuple[str, ...] | None = None,
               guidelines: Guidelines | None = None) -> ReviewApp:
    keymap = validate_keymap(keymap or {})  # a config error should not wait for the store
    session = open_session(db_path, prompt=prompt, model=model, annotator=annotator, queue=queue, others=others)
    return ReviewApp(session, keymap, guidelines)
