"""Knowing an endpoint: which models it serves, which response formats work, how many
requests it serves at once (`workbench models`).

Each response format is tried with one tiny request (a two-sentence abstract); the best
one that works is remembered per (endpoint, model) in the store, so `--response-format
auto` asks the right way from the first request. llama.cpp's server also says how many
slots it has (GET /props): that becomes the default concurrency for the endpoint.

A cold server is slow: llama.cpp's server answers 503 while it loads the model (waited for,
up to the timeout), and its first replies evaluate the whole prompt. So a probe waits
PROBE_TIMEOUT_SECONDS for each reply unless told otherwise, and a probe that timed out says
to raise --timeout. After two formats in a row time out the rest are not tried.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import openai

from workbench.config import EndpointSettings
from workbench.models.openai_compat import RESPONSE_FORMATS, OpenAICompatibleModel, RetryPolicy
from workbench.prompts import Prompt
from workbench.vocab import MAX_CONCURRENCY, OK

PROBE_TITLE = "SparseProbe: Sparse Attention for Faster Pre-training"
PROBE_ABSTRACT = ("We propose SparseProbe, a sparse attention scheme for pre-training language models. "
                  "It trains 2.1x faster than dense attention on 8 GPUs with the same accuracy.")
_ONE_TRY = RetryPolicy(max_attempts=1, max_total_seconds=600)
PROBE_TIMEOUT_SECONDS = 300.0  # a 1.5B model on 2 cores took up to 81 s a format when cold; 60 s was not enough
_LOADING_POLL_SECONDS = 1.0
# A cold server's first reply can time out and the next ones answer (its prompt cache is warm then); two
# in a row that time out mean a server that is not answering: the other formats are not tried (a probe
# of a hung server took 4 x 300 s).
GIVE_UP_AFTER_TIMEOUTS = 2
NOT_TRIED = "not tried"


@dataclass
class ModeResult:
    mode: str
    works: bool
    outcome: str
    seconds: float
    evidence: bool  # the reply carried its quotes
    error: str | None = None

    @property
    def timed_out(self) -> bool:
        return not self.works and (self.error or "").startswith("timed out")


@dataclass
class Probe:
    endpoint: str
    model: str | None
    models: list[str] | None = None  # what the endpoint lists (None: it would not say)
    list_error: str | None = None
    results: list[ModeResult] = field(default_factory=list)
    slots: int | None = None
    loading_seconds: float = 0.0  # how long the server said it was still loading its model
    timeout: float = PROBE_TIMEOUT_SECONDS

    @property
    def timed_out(self) -> list[str]:
        return [r.mode for r in self.results if r.timed_out]

    @property
    def best(self) -> str | None:
        """The first mode (best first) that worked with its evidence, else the first that worked at all."""
        working = [r for r in self.results if r.works]
        preferred = [r for r in working if r.evidence] or working
        return preferred[0].mode if preferred else None

    def detail(self) -> dict:
        return {r.mode: {"works": r.works, "outcome": r.outcome, "seconds": round(r.seconds, 2),
                         "evidence": r.evidence, "error": r.error} for r in self.results}


async def list_models(settings: EndpointSettings) -> tuple[list[str] | None, str | None]:
    client = openai.AsyncOpenAI(base_url=settings.base_url, api_key=settings.api_key or "no-key",
                                max_retries=0, timeout=min(settings.timeout, 30))
    try:
        page = await client.models.list()
        return sorted(m.id for m in page.data), None
    except openai.APIStatusError as exc:
        return None, f"HTTP {exc.status_code}"
    except openai.APIConnectionError:
        return None, "cannot connect"
    finally:
        await client.close()


def wait_while_loading(base_url: str, timeout: float) -> float:
    """Seconds spent waiting while the server answered GET /health with 503 (llama.cpp's server
    loading its model), at most `timeout`; any other answer, or none, ends the wait at once."""
    parts = urlsplit(base_url)
    started = time.monotonic()
    while True:
        try:
            with urllib.request.urlopen(f"{parts.scheme}://{parts.netloc}/health", timeout=5):
                break
        except urllib.error.HTTPError as exc:
            if exc.code != 503:
                break
        except (OSError, ValueError):
            break
        if time.monotonic() - started + _LOADING_POLL_SECONDS > timeout:
            break
        time.sleep(_LOADING_POLL_SECONDS)
    return time.monotonic() - started


def server_slots(base_url: str, timeout: float = 3.0) -> int | None:
    """llama.cpp's llama-server says how many requests it works on at once (GET /props)."""
    parts = urlsplit(base_url)
    try:
        with urllib.request.urlopen(f"{parts.scheme}://{parts.netloc}/props", timeout=timeout) as response:
            slots = json.loads(response.read(65536)).get("total_slots")
    except (OSError, ValueError, AttributeError):
        return None
    # A count from outside: a server's word is believed only within what --concurrency allows.
    return slots if isinstance(slots, int) and not isinstance(slots, bool) and 0 < slots <= MAX_CONCURRENCY else None


async def probe_mode(settings: EndpointSettings, name: str, mode: str, prompt: Prompt) -> ModeResult:
    model = OpenAICompatibleModel(name, base_url=settings.base_url, api_key=settings.api_key,
                                  timeout=settings.timeout, response_format=mode, retry=_ONE_TRY)
    started = time.perf_counter()
    try:
        reply = await model.summarise(PROBE_TITLE, PROBE_ABSTRACT, prompt)
    finally:
        await model.aclose()
    seconds = time.perf_counter() - started
    return ModeResult(mode, reply.outcome == OK, reply.outcome, seconds, reply.evidence_given, reply.error)


async def probe(settings: EndpointSettings, name: str | None, prompt: Prompt) -> Probe:
    """List the endpoint's models; with a model, try every response format, one request each."""
    from workbench.models.transport import public_url

    result = Probe(public_url(settings.base_url), name, timeout=settings.timeout)
    result.loading_seconds = await asyncio.to_thread(wait_while_loading, settings.base_url, settings.timeout)
    result.models, result.list_error = await list_models(settings)
    if name is None and result.models is not None and len(result.models) == 1:
        result.model = name = result.models[0]  # the endpoint serves one model: probe it
    if name is not None:
        in_a_row = 0  # formats that timed out, one after the other
        for mode in RESPONSE_FORMATS:
            if in_a_row >= GIVE_UP_AFTER_TIMEOUTS:
                result.results.append(ModeResult(mode, False, NOT_TRIED, 0.0, False,
                                                 f"{in_a_row} formats in a row timed out: the server is not answering"))
                continue
            result.results.append(await probe_mode(settings, name, mode, prompt))
            in_a_row = in_a_row + 1 if result.results[-1].timed_out else 0
        result.slots = await asyncio.to_thread(server_slots, settings.base_url)
    return result
