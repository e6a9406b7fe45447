"""The Batch API of an OpenAI-compatible endpoint: upload request files, create, follow, cancel batches,
read their output and error files.

Calls go through the blocking client (the same base URL, key and timeout as the live path) with
the live path's retry rule: tenacity alone retries (408/409/429, 5xx, timeouts, connection
errors, honouring Retry-After); 401, 403 and an exhausted quota stop the command with one line.
Every message that reaches the user or the store is redacted of the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterator, TypeVar

import openai
from tenacity import Retrying

from workbench.errors import WorkbenchError
from workbench.models.openai_compat import OpenAICompatibleModel

CHAT_COMPLETIONS = "/v1/chat/completions"
COMPLETION_WINDOW = "24h"
# A request file of up to 200 MB, or an output file of as much, needs longer than one live request.
TRANSFER_TIMEOUT_SECONDS = 600.0
# Batches looked through to find one created by a run that was killed before it could record it.
FIND_LOOKBACK = 100
REF_KEY = "workbench_ref"  # metadata on each batch: the row that asked for it

T = TypeVar("T")


class BatchAPI:
    def __init__(self, model: OpenAICompatibleModel):
        self.model = model
        self.endpoint = model.endpoint
        self.client = model.sync_client(timeout=max(model.timeout, TRANSFER_TIMEOUT_SECONDS))

    def close(self) -> None:
        self.client.close()

    # ------------------------------------------------------------------ files

    def upload(self, path: Path) -> str:
        """Upload a request file (purpose "batch"); returns its file id."""
        def send():
            with open(path, "rb") as handle:  # reopened on each attempt: a retry sends the whole file again
                return self.client.files.create(file=(path.name, handle, "application/jsonl"), purpose="batch")
        return self._call(f"upload {path.name}", send, new_batch=True).id

    def lines(self, file_id: str) -> Iterator[str]:
        """The lines of an output or error file, streamed (a 200 MB file is never held in memory)."""
        what = f"download file {file_id}"

        def open_stream():
            manager = self.client.files.with_streaming_response.content(file_id)
            return manager, manager.__enter__()  # the request is sent here, so it is retried here

        manager, response = self._call(what, open_stream)
        try:
            yield from response.iter_lines()
        except (openai.APIError, OSError) as exc:  # the connection broke mid-file
            raise WorkbenchError(self._say(what, exc)) from None
        finally:
            manager.__exit__(None, None, None)

    # ------------------------------------------------------------------ batches

    def create(self, input_file_id: str, ref: str):
        return self._call("create the batch", lambda: self.client.batches.create(
            input_file_id=input_file_id, endpoint=CHAT_COMPLETIONS, completion_window=COMPLETION_WINDOW,
            metadata={REF_KEY: ref}), new_batch=True)

    def retrieve(self, batch_id: str):
        return self._call(f"look up batch {batch_id}", lambda: self.client.batches.retrieve(batch_id))

    def cancel(self, batch_id: str):
        return self._call(f"cancel batch {batch_id}", lambda: self.client.batches.cancel(batch_id))

    def find(self, ref: str):
        """The batch created with this ref among the latest ones (a run killed after creating it), or None."""
        page = self._call("list batches", lambda: self.client.batches.list(limit=FIND_LOOKBACK))
        for batch in page.data:
            if (batch.metadata or {}).get(REF_KEY) == ref:
                return batch
        return None

    # ------------------------------------------------------------------ one call

    def _call(self, what: str, send: Callable[[], T], *, new_batch: bool = False) -> T:
        try:
            for attempt in Retrying(**self.model.retry_options()):
                with attempt:
                    return send()
        except openai.APIStatusError as exc:
            if exc.status_code != 404:
                self.model.stop_if_fatal(exc)  # 401, 403, no quota: one clear line, exit 1
            raise WorkbenchError(self._say(what, exc, new_batch)) from None
        except openai.APIError as exc:
            raise WorkbenchError(self._say(what, exc)) from None
        raise AssertionError("unreachable: tenacity re-raises the last failure")

    def _say(self, what: str, exc: Exception, new_batch: bool = False) -> str:
        detail = self.model.describe(exc)
        if new_batch and isinstance(exc, openai.NotFoundError):
            detail += " (does this endpoint have the Batch API? vLLM's server does not: use --batch-file and " \
                      "`vllm run-batch`)"
        return f"cannot {what} at {self.endpoint}: {detail}"
