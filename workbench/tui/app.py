"""The review app and its factory (called by `workbench review` and by the tests)."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Iterable

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen

from workbench.db import open_db
from workbench.errors import InputError
from workbench.models.base import Model
from workbench.prompts import Prompt
from workbench.review import ActiveKey, ReviewSession
from workbench.suggest import canonical_params, remember_prompt
from workbench.tui.screens.review import BINDINGS, ReviewScreen

# The TUI waits at most this long for a store lock, then says so instead of freezing.
TUI_BUSY_TIMEOUT = 3.0


class ReviewApp(App):
    TITLE = "workbench review"
    CSS_PATH = "app.tcss"

    def __init__(self, session: ReviewSession, prompt: Prompt, model: Model, keymap: dict[str, str] | None = None):
        super().__init__()
        self.session = session
        self.prompt = prompt
        self.model = model
        self.keymap_overrides = dict(keymap or {})

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
        what the review loop allocates is still collected as usual.
        """
        gc.collect()
        gc.freeze()

    async def on_unmount(self) -> None:
        await self.model.aclose()

    def key_help(self) -> list[tuple[str, str]]:
        """(keys, description) of every review binding, as remapped by the config."""
        rows = []
        for binding in BINDINGS:
            if binding.id and not binding.id.startswith("pick_"):
                keys = self.keymap_overrides.get(binding.id, binding.key)
                shown = ", ".join(self.get_key_display(Binding(k.strip(), "")) for k in keys.split(","))
                rows.append((shown, binding.description))
        rows.append(("1-9", "Show this paper's suggestion from another prompt or model"))
        rows.append(("↑ ↓, pgup, pgdn", "Scroll the abstract"))
        rows.append(("shift+↑ shift+↓", "Scroll the suggestion pane"))
        rows.append(("^p", "Command palette"))
        return rows

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        if isinstance(screen, ReviewScreen):
            for binding in BINDINGS:
                if binding.id and not binding.id.startswith("pick_"):
                    action = getattr(screen, f"action_{binding.action}", None)
                    if action is not None:
                        yield SystemCommand(binding.description, f"Review: {binding.description} ({binding.key})",
                                            action)


def validate_keymap(keymap: dict) -> dict[str, str]:
    ids = {b.id for b in BINDINGS if b.id}
    for key, value in keymap.items():
        if key not in ids:
            raise InputError(f"config [keys]: unknown binding id '{key}' (known: {', '.join(sorted(ids))})")
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"config [keys]: '{key}' must be a string of keys such as \"a,enter\"")
    return dict(keymap)


def create_app(db_path: str | Path, *, prompt: Prompt, model: Model, annotator: str, queue: str = "todo",
               keymap: dict | None = None, others: tuple[str, str] | None = None) -> ReviewApp:
    keymap = validate_keymap(keymap or {})  # a config error should not wait for the store
    db = open_db(db_path, busy_timeout=TUI_BUSY_TIMEOUT)
    remember_prompt(db, prompt)
    active = ActiveKey(prompt.id, model.name, canonical_params(model, prompt))
    session = ReviewSession(db, annotator, active, queue, others=others)
    return ReviewApp(session, prompt, model, keymap)
