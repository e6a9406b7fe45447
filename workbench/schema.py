"""The structured summary a model returns, and its strict JSON Schema.

Strict-schema rules (OpenAI structured outputs): every key is required, optional
values are nullable, no extra keys. Length limits live in validators, not in the
schema, because some servers reject `maxLength` in strict mode.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict

from workbench.vocab import FIELDS, MAX_QUOTE_CHARS, MAX_VALUE_CHARS, NULL_WORDS, collapse_whitespace

__all__ = ["MAX_QUOTE_CHARS", "MAX_VALUE_CHARS", "NULL_WORDS", "Evidence", "Summary", "summary_json_schema"]


def _tidy(limit: int):
    def check(value: str | None) -> str | None:
        if value is None:
            return None
        value = collapse_whitespace(value)
        if not value or value.lower() in NULL_WORDS:
            return None
        if len(value) > limit:
            raise ValueError(f"longer than {limit} characters")
        return value

    return AfterValidator(check)


Value = Annotated[str | None, _tidy(MAX_VALUE_CHARS)]
Quote = Annotated[str | None, _tidy(MAX_QUOTE_CHARS)]


class Evidence(BaseModel):
    """A verbatim quote from the abstract for each field (null when the field is null)."""

    model_config = ConfigDict(extra="forbid")
    technique: Quote
    claimed_gain: Quote
    compute: Quote


class Summary(BaseModel):
    """What the paper proposes, the gain it claims (with figures), the compute it reports."""

    model_config = ConfigDict(extra="forbid")
    technique: Value
    claimed_gain: Value
    compute: Value
    evidence: Evidence

    def fields(self) -> dict[str, str | None]:
        return {f: getattr(self, f) for f in FIELDS}

    def quotes(self) -> dict[str, str | None]:
        return {f: getattr(self.evidence, f) for f in FIELDS}


@cache
def summary_json_schema(evidence_first: bool = False) -> dict:
    """Built once: pydantic takes ~2 ms per call, and every request sends it. Do not mutate.
    `evidence_first`: the same schema with `evidence` as the first property (a model that decodes in
    the schema's order then quotes before it summarises; a prompt's `evidence_first` asks for it)."""
    schema = Summary.model_json_schema()
    if evidence_first:
        schema["properties"] = {"evidence": schema["properties"]["evidence"],
                                **{k: v for k, v in schema["properties"].items() if k != "evidence"}}
        schema["required"] = ["evidence", *[k for k in schema["required"] if k != "evidence"]]
    return schema
