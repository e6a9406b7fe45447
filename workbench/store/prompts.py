"""Prompt versions (by content hash) and what each endpoint and model is known to support."""

from __future__ import annotations

import json
from typing import NamedTuple

from workbench.errors import InputError
from workbench.store._base import Handle, guarded, transaction
from workbench.vocab import prompt_label, utc_now


class StoredPrompt(NamedTuple):
    id: str
    name: str
    description: str | None
    created_at: str = ""  # when the version was first used (`workbench prompts` tells older ones apart)

    @property
    def label(self) -> str:
        return prompt_label(self.name, self.id)


@guarded
def ensure_prompt(db: Handle, prompt_id: str, name: str, description: str | None, body: str | None) -> None:
    """Store a prompt version the first time it is used (content-hash id)."""
    db.execute(
        "INSERT INTO prompts (id, name, description, body, created_at) VALUES (?, ?, ?, ?, ?) "
        "ON CONFLICT(id) DO UPDATE SET body = coalesce(prompts.body, excluded.body), "
        "description = coalesce(prompts.description, excluded.description)",
        [prompt_id, name, description, body, utc_now()],
    )


@guarded
def stored_prompts(db: Handle) -> list[StoredPrompt]:
    return [StoredPrompt(*r) for r in db.execute("SELECT id, name, description, created_at FROM prompts "
                                                 "ORDER BY name, created_at, id")]


@guarded
def suggestion_counts_by_prompt(db: Handle) -> dict[str, dict[str, int]]:
    """prompt id -> outcome -> stored suggestions."""
    counts: dict[str, dict[str, int]] = {}
    for pid, outcome, count in db.execute("SELECT prompt_id, outcome, count(*) FROM suggestions GROUP BY 1, 2"):
        counts.setdefault(pid, {})[outcome] = count
    return counts


@guarded
def prompt_versions(db: Handle, name: str, hash_prefix: str = "") -> list[str]:
    """Stored prompt ids with this name (and hash prefix)."""
    rows = db.execute("SELECT id FROM prompts WHERE name = ? AND id LIKE ? ORDER BY created_at",
                      [name, hash_prefix + "%"])
    return [r[0] for r in rows]


@guarded
def prompt_body(db: Handle, prompt_id: str) -> str | None:
    row = db.execute("SELECT body FROM prompts WHERE id = ?", [prompt_id]).fetchone()
    return row[0] if row else None


class EndpointFormat(NamedTuple):
    endpoint: str
    model: str
    response_format: str
    concurrency: int | None
    source: str
    detail: dict | None
    learned_at: str


@guarded
def remembered_format(db: Handle, endpoint: str, model: str) -> EndpointFormat | None:
    row = db.execute("SELECT endpoint, model, response_format, concurrency, source, detail, learned_at "
                     "FROM endpoint_formats WHERE endpoint = ? AND model = ?", [endpoint, model]).fetchone()
    if row is None:
        return None
    return EndpointFormat(*row[:5], json.loads(row[5]) if row[5] else None, row[6])


@guarded
def remember_format(db: Handle, endpoint: str, model: str, response_format: str, *, source: str,
                    concurrency: int | None = None, detail: dict | None = None) -> None:
    with transaction(db):  # a fallback learned later keeps what a probe found about slots
        db.execute(
            "INSERT INTO endpoint_formats (endpoint, model, response_format, concurrency, source, detail, learned_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(endpoint, model) DO UPDATE SET "
            "response_format = excluded.response_format, source = excluded.source, learned_at = excluded.learned_at, "
            "concurrency = coalesce(excluded.concurrency, endpoint_formats.concurrency), "
            "detail = coalesce(excluded.detail, endpoint_formats.detail)",
            [endpoint, model, response_format, concurrency, source,
             json.dumps(detail, ensure_ascii=False) if detail is not None else None, utc_now()])


@guarded
def resolve_prompt_versions(db: Handle, ref: str) -> list[str]:
    """Stored prompt ids matching `ref`: a name (every version), name@hash prefix, or a prompt file path."""
    from workbench.prompts import is_prompt_path, resolve_prompt

    if "@" in ref:
        name, prefix = ref.split("@", 1)
        found = prompt_versions(db, name, prefix)
    elif is_prompt_path(ref):
        return [resolve_prompt(ref).id]
    else:
        found = prompt_versions(db, ref)
    if not found:
        raise InputError(f"no stored suggestions come from a prompt '{ref}'")
    return found

