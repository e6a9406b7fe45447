"""Helpers for the TUI tests: an app on a seeded store, and models that misbehave."""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager

from workbench.errors import AbortedRun
from workbench.models.base import ModelDefaults, Reply
from workbench.models.offline import OfflineModel
from workbench.prompts import resolve_prompt
from workbench.tui.app import create_app


def make_app(db_path, *, model=None, annotator="ana", queue="todo", prompt="summary", keymap=None, others=None,
             guidelines=None):
    return create_app(db_path, prompt=resolve_prompt(prompt), model=model or OfflineModel(), annotator=annotator,
                      queue=queue, keymap=keymap, others=others, guidelines=guidelines)


SIZE = (100, 30)


@asynccontextmanager
async def running(db_path, *, size=SIZE, **options):
    """The review app on the store, its first suggestions arrived: `async with running(db_path) as (app, pilot):`."""
    app = make_app(db_path, **options)
    async with app.run_test(size=size, notifications=True) as pilot:
        await settle(app, pilot)
        yield app, pilot


async def settle(app, pilot) -> None:
    """Let background suggestions finish and their messages be handled."""
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


class FailingModel(ModelDefaults):
    name = "flaky-model"
    instant = False

    def params(self, prompt):
        return {"endpoint": "http://127.0.0.1:9/v1"}

    async def summarise(self, title, abstract, prompt):
        return Reply(outcome="error", error="HTTP 500: upstream exploded", attempts=3)

    async def aclose(self):
        pass


class DeadKeyModel(FailingModel):
    name = "needs-a-key"

    async def summarise(self, title, abstract, prompt):
        raise AbortedRun("the endpoint http://127.0.0.1:9/v1 rejected the API key (401 Unauthorized); "
                         "check OPENAI_API_KEY")


class SlowModel(OfflineModel):
    name = "slow-model"
    instant = False  # answers through the background path, like a remote model

    def __init__(self, delay: float):
        self.delay = delay
        self.calls = 0

    def params(self, prompt):
        return {"slow": self.delay}

    async def summarise(self, title, abstract, prompt):
        self.calls += 1
        await asyncio.sleep(self.delay)
        return await super().summarise(title, abstract, prompt)
