"""Batch request files: one line per paper, `{"custom_id", "method", "url", "body"}`, the body exactly
what the live path sends, written in numbered files within the engine's limits (50,000 requests,
200 MB). A file is written under a temporary name and renamed when whole."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from workbench.errors import InputError, WorkbenchError
from workbench.models.figures import list_figures
from workbench.models.openai_batch import CHAT_COMPLETIONS
from workbench.models.openai_compat import OpenAICompatibleModel
from workbench.prompts import Prompt
from workbench.records import custom_id

# The OpenAI Batch API's limits on one input file.
MAX_REQUESTS_PER_FILE = 50_000
MAX_BYTES_PER_FILE = 200_000_000
_PLACEHOLDER = "@@workbench-user-message@@"


def split_custom_id(value) -> tuple[str, str] | None:
    """(paper id, key) from a custom_id we wrote, or None for anything else."""
    if not isinstance(value, str):
        return None
    paper_id, sep, key = value.rpartition(":")
    return (paper_id, key) if sep and paper_id and len(key) == 16 else None


class RequestLines:
    """Request lines for one key: `{"custom_id", "method", "url", "body"}`, the body exactly what the live
    path sends. The body is serialised once with a placeholder for the one message that holds the
    paper, so a line costs one small json.dumps, not one of the whole ~4 KB body."""

    def __init__(self, model: OpenAICompatibleModel, prompt: Prompt):
        self.model, self.prompt = model, prompt
        messages = model.messages(prompt, "", "")
        messages[-1] = {**messages[-1], "content": _PLACEHOLDER}
        body = json.dumps(model.request_body(prompt, messages))
        head, found, tail = body.partition(json.dumps(_PLACEHOLDER))
        self._template = (head, tail) if found and _PLACEHOLDER not in head + tail else None
        self._start = f', "method": "POST", "url": "{CHAT_COMPLETIONS}", "body": '

    def line(self, paper_id: str, title: str, abstract: str, key: str) -> str:
        """One line, newline included; ASCII only (json.dumps escapes the rest), so its length is its size."""
        start = '{"custom_id": ' + json.dumps(custom_id(paper_id, key)) + self._start
        if self._template is None:  # the prompt itself holds the placeholder text: build the body in full
            body = self.model.request_body(self.prompt, self.model.messages(self.prompt, title, abstract))
            return start + json.dumps(body) + "}\n"
        head, tail = self._template
        return start + head + json.dumps(self.prompt.user_message(title, abstract, list_figures)) + tail + "}\n"


@dataclass
class RequestFile:
    path: Path
    papers: list[str] = field(default_factory=list)  # in file order; emptied once the file is on record
    requests: int = 0
    bytes: int = 0


def write_request_files(papers: Iterable[tuple[str, str, str]], lines: RequestLines, key: str,
                        path_for: Callable[[int], Path], *, max_requests: int = MAX_REQUESTS_PER_FILE,
                        max_bytes: int = MAX_BYTES_PER_FILE) -> Iterator[RequestFile]:
    """Write request lines for (id, title, abstract) into numbered files within the limits, yielding
    each file when it is complete (so its papers can go on record and leave memory). A file is
    written under a temporary name and renamed when complete: a file that exists is whole."""
    current: RequestFile | None = None
    out = None
    number = 0
    try:
        for paper_id, title, abstract in papers:
            line = lines.line(paper_id, title, abstract, key)
            if len(line) > max_bytes:
                raise InputError(f"paper {paper_id}: its request alone is larger than {max_bytes:,} bytes")
            if current is None or current.requests >= max_requests or current.bytes + len(line) > max_bytes:
                if current is not None:
                    _finish(out, current)
                    out = None
                    yield current
                number += 1
                current = RequestFile(path_for(number))
                current.path.parent.mkdir(parents=True, exist_ok=True)
                out = _DiskWriter(_part(current.path))
            out.write(line)
            current.papers.append(paper_id)
            current.requests += 1
            current.bytes += len(line)
        if current is not None:
            _finish(out, current)
            out = None
            yield current
    except OSError as exc:
        raise WorkbenchError(f"{current.path if current else 'request file'}: cannot write ({exc.strerror or exc})") \
            from None
    finally:
        if out is not None:  # stopped half-way (an error, Ctrl-C): no half file is left
            try:
                out.close()
            except OSError:
                pass  # the error that stopped it, raised already
            Path(out.name).unlink(missing_ok=True)
        if hasattr(papers, "close"):  # a store query left half-read: closed now, while the store is open
            papers.close()


class _DiskWriter:
    """A request file written on a thread of its own, so encoding the next lines overlaps the disk: at
    1,000,000 papers (6.5 GB) the page cache fills and each write waits for the disk. Lines are handed
    over in chunks of CHUNK_CHARS, at most QUEUED_CHUNKS waiting (memory stays flat); an error writing
    is raised by the next `write` or by `close`."""

    CHUNK_CHARS = 1 << 20
    QUEUED_CHUNKS = 16

    def __init__(self, path: Path):
        import queue
        import threading

        self.name, self._lines, self._size, self._error = str(path), [], 0, None
        self._file = open(path, "w", encoding="ascii", newline="\n", buffering=1 << 20)
        self._chunks: queue.Queue = queue.Queue(self.QUEUED_CHUNKS)
        self._thread = threading.Thread(target=self._run, name="request-file", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._chunks.get()) is not None:
            if self._error is None:
                try:
                    self._file.write(chunk)
                except BaseException as exc:  # kept for the producing thread to raise; the queue still drains
                    self._error = exc

    def write(self, line: str) -> None:
        self._lines.append(line)
        self._size += len(line)
        if self._size >= self.CHUNK_CHARS:
            self._hand_over()

    def _hand_over(self) -> None:
        if self._error is not None:
            raise self._error
        self._chunks.put("".join(self._lines))
        self._lines, self._size = [], 0

    def close(self) -> None:
        """Everything written and the file closed (or the writing error raised, the file closed all the same)."""
        try:
            if self._lines and self._error is None:
                self._chunks.put("".join(self._lines))
            self._lines = []
        finally:
            self._chunks.put(None)
            self._thread.join()
            self._file.close()
        if self._error is not None:
            raise self._error


def _part(path: Path) -> Path:
    return path.with_name(path.name + ".part")


def _finish(out, request_file: RequestFile) -> None:
    out.close()
    Path(out.name).replace(request_file.path)
