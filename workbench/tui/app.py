"""The review app and its factory (called by `workbench review` and by the tests)."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Iterable, Sequence

from textual import events
from textual.app import App, SystemCommand
from textual.filter import LineFilter
from textual.screen import Screen

from workbench.config import Guidelines, unknown_key
from workbench.errors import InputError
from workbench.models.base import Model
from workbench.prompts import Prompt
from workbench.review import ReviewSession, open_session
from workbench.tui.filters import DropControlCharacters
from workbench.tui.screens.review import BINDINGS, ReviewScreen, key_help


class ReviewApp(App):
    TITLE = "workbench review"
    CSS_PATH = "app.tcss"

    def __init__(self, session: ReviewSession, keymap: dict[str, str] | None = None,
                 guidelines: Guidelines | None = None):
        super().__init__()
        self.session = session
        self.keymap_overrides = dict(keymap or {})
        self.guidelines = guidelines
        self._guard = DropControlCharacters()

    def get_line_filters(self) -> Sequence[LineFilter]:
        return [*super().get_line_filters(), self._guard]

    def on_mount(self) -> None:
        if self.keymap_overrides:
            self.set_keymap(self.keymap_overrides)
        self.push_screen(ReviewScreen(self.session))
        self.call_after_refresh(self._freeze_startup_objects)

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

    async def on_key(self, event: events.Key) -> None:
        """A key that came back up unhandled. In a burst, keys behind one that closed a dialog
        or the form were already handed to that dialog or field; by the time they come back
        the screen's own keys apply again, and they were checked only on arrival: run them
        here, in order, so none is lost."""
        if not event.is_forwarded:
            return
        active = self.screen.active_bindings.get(event.key)
        if active is not None and active.binding.priority and active.enabled:
            event.stop()
            await self.run_action(active.binding.action, active.node)

    async def on_unmount(self) -> None:
        await self.session.feed.model.aclose()
        self.session.close()

    def key_help(self) -> list[tuple[str, str]]:
        """(keys, description) of the review screen's bindings as they are now (remapped keys included)."""
        return key_help(self)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Textual's own commands, less its Quit (the review screen's "Quit" is the same thing).
        for command in super().get_system_commands(screen):
            if command.title != "Quit":
                yield command
        if isinstance(screen, ReviewScreen):
            for keys, description, action in screen.palette_entries():
                yield SystemCommand(description, f"Review: {description} ({keys})", action)


def validate_keymap(keymap: dict) -> dict[str, str]:
    ids = {b.id for b in BINDINGS if b.id}
    for key, value in keymap.items():
        if key not in ids:
            raise InputError(unknown_key("[keys]", key, ids))
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"config [keys]: '{key}' must be a string of keys such as \"a,enter\"")
    return dict(keymap)


def create_app(db_path: str | Path, *, prompt: Prompt, model: Model, annotator: str, queue: str = "todo",
               keymap: dict | None = None, others: tuple[str, str] | None = None,
               guidelines: Guidelines | None = None) -> ReviewApp:
    keymap = validate_keymap(keymap or {})  # a config error should not wait for the store
    session = open_session(db_path, prompt=prompt, model=model, annotator=annotator, queue=queue, others=others)
    return ReviewApp(session, keymap, guidelines)
