"""Result lines of a batch read into the rows to store: every step of collecting but the writing.

Each line goes through the live path's steps (interpret -> validate -> ground), and the suggestion
and its attempt are encoded into the exact rows the store writes (`store.encode_batch_suggestion`).
Nothing here writes: `batch.ResultStore` runs `LineReader.read` in worker processes
(`workers.ordered_map`), each with its own handle for reading papers, and writes what comes back.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from workbench.batch_files import split_custom_id
from workbench.json_text import UnreadableJson, decode, read_json_mended
from workbench.models.replies import reply_from_result, unreadable_reply
from workbench.models.transport import redact_key
from workbench.store import EncodedSuggestion, Handle, encode_batch_suggestion, get_papers, open_reader
from workbench.suggest import record_from_reply


@dataclass(slots=True)
class ReadChunk:
    """What a chunk of result lines holds, read and grounded, before anything is written."""

    lines: int = 0
    unreadable: list[int] = field(default_factory=list)
    foreign: list[int] = field(default_factory=list)  # an unknown key, or a paper the store does not have
    items: list[tuple[int, str, EncodedSuggestion]] = field(default_factory=list)  # (line, custom_id, rows)


class LineReader:
    """Result lines to encoded suggestions: every step but the writing (interpret -> validate -> ground ->
    encode), reading papers from its own handle. It runs in worker processes (see workbench/workers.py)."""

    def __init__(self, db: Handle, batch_id: str, keys: dict, redact=redact_key):
        self.db, self.batch_id, self.keys, self.redact = db, batch_id, keys, redact

    def read(self, chunk: list[tuple[int, str | bytes]]) -> ReadChunk:
        out, parsed = ReadChunk(), []
        for number, data in chunk:
            text, problem = decode(data)  # not UTF-8, or a lone surrogate: that item fails, not the collect
            if not text.strip():
                continue
            out.lines += 1
            try:
                line, surrogate = read_json_mended(text)
            except UnreadableJson:
                out.unreadable.append(number)
                continue
            cid = line.get("custom_id") if isinstance(line, dict) else None
            ids = split_custom_id(cid)
            asked = self.keys.get(ids[1]) if ids else None
            if asked is None:
                out.foreign.append(number)
                continue
            parsed.append((number, ids[0], asked, line, cid, problem or surrogate))
        papers = get_papers(self.db, list({p[1] for p in parsed})) if parsed else {}
        for number, paper_id, (key, prompt), line, cid, problem in parsed:
            paper = papers.get(paper_id)
            if paper is None:
                out.foreign.append(number)
                continue
            if problem:
                reply = unreadable_reply(f"the result line is not valid text: {problem}")
            else:
                try:
                    reply = reply_from_result(line, prompt, self.redact)
                except Exception as exc:  # a shape no reader foresaw: that paper's invalid outcome, as live
                    reply = unreadable_reply(f"the result line cannot be read: {type(exc).__name__}: {exc}")
            new = record_from_reply(paper, prompt, key.model, reply, key.params, batch_id=self.batch_id)
            out.items.append((number, cid, encode_batch_suggestion(new.suggestion, new.calls)))
        out.foreign.sort()
        return out


_worker_reader: LineReader | None = None


def start_reader(location: str, batch_id: str, keys: dict, redact) -> None:
    global _worker_reader
    _worker_reader = LineReader(open_reader(location), batch_id, keys, redact)


def read_in_worker(chunk: list[tuple[int, str | bytes]]) -> ReadChunk:
    return _worker_reader.read(chunk)


def chunked(iterable: Iterable, size: int) -> Iterator[list]:
    iterator = iter(iterable)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk
