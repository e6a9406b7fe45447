"""The review shows what the checks changed (a badge beside the field) and, on `m`, what the model said beside
what was stored; driven by Textual's Pilot against a live model (the fake OpenAI server)."""

from __future__ import annotations

import json

import pytest
from textual.widgets import Static

from tests.fake_openai import FakeOpenAI
from tests.test_checks import HOSTILE_LATEX_REPLY, LATEX, NO_GAIN, NO_GAIN_REPLY, _corpus
from tests.tui_helpers import running
from workbench.models.openai_compat import OpenAICompatibleModel
from workbench.tui.screens.dialogs import ReadingScreen
from workbench.tui.widgets.panel import TextPanel


@pytest.fixture
def fake():
    server = FakeOpenAI().start()
    yield server
    server.stop()


def _page(app) -> str:
    return "\n".join(str(static.render()) for static in app.screen.query(Static))


def _right(app) -> str:
    return app.screen.query_one("#summary", TextPanel).plain


async def test_the_review_shows_each_check_and_m_shows_what_the_model_said(run_cli, tmp_path, fake, db_path):
    assert run_cli("ingest", str(_corpus(tmp_path))).exit_code == 0
    fake.script = {LATEX[0]: ["reply:" + json.dumps(HOSTILE_LATEX_REPLY)],
                   NO_GAIN[0]: ["reply:" + json.dumps(NO_GAIN_REPLY)]}
    model = OpenAICompatibleModel("gpt-test", base_url=fake.base_url, api_key="sk-test-key-0123456789")
    async with running(db_path, model=model) as (app, pilot):
        right = _right(app)
        assert "12.5% lower perplexity than the dense baseline" in right and "99%" not in right
        assert "✂ dropped 99 (not in abstract)  ✂ dropped 1 repeat" in right
        assert "✂ dropped 4096 (not in abstract)  ✂ dropped 1 repeat" in right
        gain = app.screen.view.fields()["claimed_gain"].span  # highlighted on the stored text, exactly
        assert app.screen.view.paper.abstract[gain.start:gain.end].startswith("reaches 12.5\\% lower perplexity")

        await pilot.press("m")
        await pilot.pause()
        assert isinstance(app.screen, ReadingScreen) and app.screen.dialog_id == "model-said"
        page = _page(app)
        assert "12.5% lower perplexity than the dense baseline; 99% less memory␛[2J␇; 12.5% lower" in page
        assert "\x1b" not in page and "\x07" not in page  # control characters never reach the terminal: shown as ␛ ␇
        assert "changed by the checks" in page and "as the model said" in page  # technique kept as it was
        assert "99% less memory␛[2J␇  (99 not in the abstract)" in page and "4096 TPUs  (4096 not in the abstract)" in page
        await pilot.press("m")  # the same key closes it
        await pilot.pause()
        assert not isinstance(app.screen, ReadingScreen)

        await pilot.press("s")  # the next paper: a gain with no figure became none, and says so
        await app.workers.wait_for_complete()
        await pilot.pause()
        right = _right(app)
        assert "— not stated  ✂ no figure from the abstract" in right
        await pilot.press("m")
        await pilot.pause()
        page = _page(app)
        assert "impressive performance across diverse benchmark tasks  (a gain with no figure from the abstract)" in page
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ReadingScreen)
    await model.aclose()
