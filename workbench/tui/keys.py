"""One ordered path for every key the review app receives.

Textual routes a key the moment it arrives: a priority binding runs at once, any other key is
posted to the focused widget's queue and handled later, bubbling up through every ancestor's
queue to the app, where ordinary bindings (an Input's Backspace, a widget's arrows) run last.
In a burst the next key was routed before the one ahead of it had finished: before a dialog
had mounted and focused its input, before the form had closed, before a dismissed dialog's
answer had moved the session. The key went to the wrong screen or field.

`KeyPath` is the single owner of the order. The app hands it every key as it arrives; it routes
one key at a time through Textual's own routing, then waits until that key has done all it
does before it routes the next:

- the key has been handled by its target and by each ancestor it bubbles through;
- a dialog it opened has mounted and focused what it focuses;
- a dialog it closed has delivered its answer (the opener's callback has run).

So a burst leaves the same state as the same keys typed one at a time. Everything that decides
(decisions, moves, opening and closing dialogs, the form's save and leave) is a priority binding
or a handler of the focused widget, run inside that wait: never a message left to arrive later.

A paste takes the same path, in its place between the keys typed around it. `alt+<key>` is
Esc followed by `<key>` (a terminal sends both in one read and the parser joins
them); no binding uses alt.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Awaitable, Callable

from textual import events
from textual.message_pump import MessagePump

# A wait that takes longer than this is given up (the key goes on): a bug must not freeze input.
STEP_TIMEOUT_SECONDS = 2.0


def split_alt(event: events.Key) -> list[events.Key]:
    """Esc+key read together arrives as alt+key: give back the two keys that were typed."""
    if not event.key.startswith("alt+"):
        return [event]
    rest = event.key[len("alt+"):]
    if rest.startswith("shift+") and event.character and len(event.character) == 1:
        rest = event.character  # alt+shift+a was Esc then "A"
    return [events.Key("escape", "\x1b"), events.Key(rest, event.character)]


def handled_by(pump: MessagePump) -> asyncio.Future:
    """A future done once `pump` has handled every message already in its queue."""
    done = asyncio.get_running_loop().create_future()

    def finish() -> None:
        if not done.done():
            done.set_result(None)

    if not pump.call_later(finish):  # closed or closing: nothing more will be handled there
        finish()
    return done


class KeyPath:
    """Routes keys one at a time through `route`, each after the previous one has settled."""

    def __init__(self, route: Callable[[events.Key], Awaitable[None]], target: Callable[[], MessagePump],
                 on_error: Callable[[BaseException], None]) -> None:
        self.route = route  # Textual's routing of one key (the app's own on_event)
        self.target = target  # where an unbound key goes: the focused widget, else the screen
        self.on_error = on_error
        self.queue: deque[events.Key] = deque()
        self.waits: list[Awaitable] = []
        self.task: asyncio.Task | None = None

    def receive(self, event: events.Key | events.Paste) -> None:
        self.queue.extend(split_alt(event) if isinstance(event, events.Key) else [event])
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._drain())

    def wait_for(self, awaitable: Awaitable) -> None:
        """The next key waits for this (a dialog mounting, a dismissed dialog's answer)."""
        self.waits.append(awaitable)

    async def _drain(self) -> None:
        try:
            while self.queue:
                await self._settle()
                event = self.queue.popleft()
                await self._route_one(event)
            await self._settle()
        except Exception as exc:  # an action that raised: the app's error path, as for any handler
            self.queue.clear()
            self.on_error(exc)

    async def _route_one(self, event: events.Key) -> None:
        target = self.target()
        await self.route(event)
        # Handled by the target and, as it bubbles, by each ancestor up to the app (where
        # ordinary bindings run): wait on each queue in turn, nearest first.
        node: MessagePump | None = target
        while node is not None:
            await self._bounded(handled_by(node))
            node = node.parent

    async def _settle(self) -> None:
        while self.waits:
            waits, self.waits = self.waits, []
            for awaitable in waits:
                await self._bounded(awaitable)

    @staticmethod
    async def _bounded(awaitable: Awaitable) -> None:
        try:
            await asyncio.wait_for(awaitable, STEP_TIMEOUT_SECONDS)
        except TimeoutError:
            pass
