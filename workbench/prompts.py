"""Prompt files: load, validate, hash, render.

A prompt is a TOML file in `prompts/` (or any path): name, description,
system, user (a template with {title} and {abstract}, and optionally {figures}: the abstract's
numbers with the words around them, listed by `models/figures.py`), optional few-shot
examples, temperature and max_tokens, an optional `[offline]` table that
configures the built-in offline model (`models/offline_settings.py` reads it), an optional
`[checks]` table (the checks every reply goes through, `checks.py`) and `latex_as_text` (the
abstract is sent as it prints, `plain_text.py`). Its identity is
a hash of its content, so editing a file makes a new version; old versions stay
in the store.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from workbench.checks import WITHOUT_TABLE, Checks, parse_checks_table
from workbench.errors import InputError
from workbench.models.offline_settings import OfflineSettings, parse_offline_table
from workbench.plain_text import as_printed
from workbench.vocab import FIELDS, MAX_QUOTE_CHARS, MAX_VALUE_CHARS, NULL_WORDS, collapse_whitespace, prompt_label

DEFAULT_PROMPT = "summary"
_REQUIRED = {"name": str, "description": str, "system": str, "user": str}
_OPTIONAL = {"examples": list, "temperature": (int, float), "max_tokens": int, "offline": dict, "checks": dict,
             "latex_as_text": bool, "evidence_first": bool}
_PROJECT_PROMPTS = Path(__file__).resolve().parent.parent / "prompts"


# --------------------------------------------------------------------------- prompts


@dataclass(frozen=True)
class Prompt:
    name: str
    description: str
    system: str
    user: str
    examples: tuple = ()
    temperature: float = 0.0
    max_tokens: int = 600
    offline: OfflineSettings | None = None  # the [offline] table; None: the offline model ignores this prompt
    checks_table: Checks | None = None  # the [checks] table; None: the file has none (see `checks`)
    latex_as_text: bool = False  # the title and abstract are sent as they print (LaTeX escapes, inline math)
    evidence_first: bool = False  # the reply's shape puts `evidence` before the values (quote, then summarise)
    body: str = field(default="", repr=False)  # the file's text, stored with the version
    path: Path | None = None

    @cached_property
    def id(self) -> str:
        """Content hash of everything that shapes the request (not comments or layout); computed once."""
        content = {
            "name": self.name, "system": self.system, "user": self.user, "examples": list(self.examples),
            "temperature": self.temperature, "max_tokens": self.max_tokens,
        }
        if self.offline is not None:  # only when present: prompts without the table keep their versions
            content["offline"] = self.offline.as_dict()
        if self.checks_table is not None:  # the same: what a reply keeps is part of the version
            content["checks"] = self.checks_table.as_dict()
        for flag in ("latex_as_text", "evidence_first"):  # only when set: other prompts keep their versions
            if getattr(self, flag):
                content[flag] = True
        return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()

    @property
    def checks(self) -> Checks:
        """The checks every reply to this prompt goes through."""
        return self.checks_table if self.checks_table is not None else WITHOUT_TABLE

    @property
    def label(self) -> str:
        return prompt_label(self.name, self.id)

    def render(self, title: str, abstract: str, *, schema_in_prompt: bool = False,
               figures: Callable[[str], str] | None = None) -> list[dict]:
        """Chat messages for one paper. The abstract is data: it is only ever substituted
        into the user message, never into the instructions. `figures` lists an abstract's
        candidate figures (`models.figures.list_figures`); a prompt with {figures} needs it."""
        system = self.system
        if schema_in_prompt:  # a server without constrained decoding: spell out the shape
            from workbench.schema import summary_json_schema  # pydantic: only when a request needs it

            shape = EVIDENCE_FIRST_SHAPE if self.evidence_first else JSON_SHAPE
            system += "\n\n" + JSON_SHAPE_INSTRUCTIONS.format(shape=shape) + json.dumps(
                summary_json_schema(self.evidence_first))
        messages = [{"role": "system", "content": system}]
        for example in self.examples:
            output = example["output"]
            if self.evidence_first:
                output = {"evidence": output["evidence"], **{k: v for k, v in output.items() if k != "evidence"}}
            content = _fill(self.user, example["title"], example["abstract"], figures)
            messages.append({"role": "user", "content": content})
            messages.append({"role": "assistant", "content": json.dumps(output)})
        messages.append({"role": "user", "content": self.user_message(title, abstract, figures)})
        return messages

    def user_message(self, title: str, abstract: str, figures: Callable[[str], str] | None = None) -> str:
        """The last message of `render`: the only one that holds the paper (as it prints, with latex_as_text)."""
        if self.latex_as_text:
            title, abstract = as_printed(title), as_printed(abstract)
        return _fill(self.user, title, abstract, figures)


_VALUES_SHAPE = '"technique": <string or null>, "claimed_gain": <string or null>, "compute": <string or null>'
_EVIDENCE_SHAPE = '"evidence": {"technique": <quote or null>, "claimed_gain": <quote or null>, "compute": <quote or null>}'
JSON_SHAPE = "{" + _VALUES_SHAPE + ", " + _EVIDENCE_SHAPE + "}"
EVIDENCE_FIRST_SHAPE = "{" + _EVIDENCE_SHAPE + ", " + _VALUES_SHAPE + "}"
JSON_SHAPE_INSTRUCTIONS = (
    "Reply with one JSON object and nothing else, with exactly these keys:\n"
    "{shape}\n"
    "Every quote is copied character for character from the abstract. The object must match this JSON Schema:\n"
)


FIGURES = "{figures}"
_PLACEHOLDER = re.compile(r"\{(?:title|abstract|figures)\}")


def _fill(template: str, title: str, abstract: str, figures: Callable[[str], str] | None = None) -> str:
    # One pass over the template, not str.format: braces in a title or an abstract are never read as fields.
    if FIGURES in template and figures is None:
        raise ValueError("this prompt lists {figures}: render it with figures=models.figures.list_figures")
    values = {"{title}": title, "{abstract}": abstract}
    if FIGURES in template:
        values[FIGURES] = figures(abstract)
    return _PLACEHOLDER.sub(lambda m: values[m.group()], template)


def is_prompt_path(ref: str) -> bool:
    """A prompt reference that names a file rather than a prompt in prompts/."""
    return ref.endswith(".toml") or os.sep in ref


def prompts_dir() -> Path:
    env = os.environ.get("WORKBENCH_PROMPTS")
    if env:
        return Path(env)
    local = Path("prompts")
    return local if local.is_dir() or not _PROJECT_PROMPTS.is_dir() else _PROJECT_PROMPTS


def load_prompt_file(path: Path) -> Prompt:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read prompt file ({getattr(exc, 'strerror', None) or exc})") from None
    return prompt_from_text(text, path)


def prompt_from_text(text: str, origin: Path | str) -> Prompt:
    """A prompt from a prompt file's text (a file, or the copy the store keeps with each version)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{origin}: not valid TOML ({exc})") from None
    return _validate(Path(origin), data, text)


def _validate(path: Path, data: dict, text: str) -> Prompt:
    for key in data:
        if key not in _REQUIRED and key not in _OPTIONAL:
            raise InputError(f"{path}: unknown key '{key}' (expected {', '.join([*_REQUIRED, *_OPTIONAL])})")
    for key, kind in _REQUIRED.items():
        if key not in data:
            raise InputError(f"{path}: missing key '{key}'")
        if not isinstance(data[key], kind) or not data[key].strip():
            raise InputError(f"{path}: key '{key}' must be a non-empty string")
    for placeholder in ("{title}", "{abstract}"):
        if placeholder not in data["user"]:
            raise InputError(f"{path}: key 'user' must contain {placeholder}")
    temperature = data.get("temperature", 0.0)
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or not 0 <= temperature <= 2:
        raise InputError(f"{path}: key 'temperature' must be a number from 0 to 2")
    max_tokens = data.get("max_tokens", 600)
    if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or not 1 <= max_tokens <= 32768:
        raise InputError(f"{path}: key 'max_tokens' must be a whole number from 1 to 32768")
    examples = data.get("examples", [])
    if not isinstance(examples, list):
        raise InputError(f"{path}: key 'examples' must be an array of tables")
    for number, example in enumerate(examples, start=1):
        _check_example(path, number, example)
    offline = parse_offline_table(path, data["offline"]) if "offline" in data else None
    checks = parse_checks_table(path, data["checks"]) if "checks" in data else None
    latex_as_text = data.get("latex_as_text", False)
    for flag in ("latex_as_text", "evidence_first"):
        if not isinstance(data.get(flag, False), bool):
            raise InputError(f"{path}: key '{flag}' must be true or false")
    return Prompt(
        name=data["name"].strip(), description=data["description"].strip(), system=data["system"].strip(),
        user=data["user"], examples=tuple(examples), temperature=float(temperature), max_tokens=max_tokens,
        offline=offline, checks_table=checks, latex_as_text=latex_as_text,
        evidence_first=data.get("evidence_first", False), body=text, path=path,
    )


def _check_example(path: Path, number: int, example) -> None:
    where = f"{path}: key 'examples' [{number}]"
    if not isinstance(example, dict) or not {"title", "abstract", "output"} <= set(example):
        raise InputError(f"{where} needs 'title', 'abstract' and 'output'")
    output = example["output"]
    if not isinstance(output, dict):
        raise InputError(f"{where}: 'output' must be a table")
    evidence = output.get("evidence", {})
    if not isinstance(evidence, dict):
        raise InputError(f"{where}: 'output' does not match the summary schema (evidence: must be a table)")
    # TOML has no null: a missing field in an example's output means "not stated".
    output = {f: output.get(f) for f in FIELDS} | {"evidence": {f: evidence.get(f) for f in FIELDS}}
    problem = summary_problem(output)
    if problem:
        raise InputError(f"{where}: 'output' does not match the summary schema ({problem})")
    example["output"] = output


def summary_problem(output: dict) -> str | None:
    """The first reason `schema.Summary` would refuse this dict of the summary's shape, in its words;
    None when it would take it. Checked here without pydantic: every `workbench review` loads the
    prompt before its first frame, and pydantic's import is ~70 ms of it (tests/test_prompts_schema.py
    holds the two to the same answers)."""
    pairs = [(f, output.get(f), MAX_VALUE_CHARS) for f in FIELDS]
    pairs += [(f"evidence.{f}", output["evidence"].get(f), MAX_QUOTE_CHARS) for f in FIELDS]
    for where, value, limit in pairs:
        if value is None:
            continue
        if not isinstance(value, str):
            return f"{where}: Input should be a valid string"
        value = collapse_whitespace(value)
        if value and value.lower() not in NULL_WORDS and len(value) > limit:
            return f"{where}: Value error, longer than {limit} characters"
    return None


def list_prompts(folder: Path | None = None) -> list[Prompt]:
    folder = folder or prompts_dir()
    if not folder.is_dir():
        return []
    return [load_prompt_file(p) for p in sorted(folder.glob("*.toml"))]


def scan_prompts(folder: Path | None = None) -> tuple[list[Prompt], list[str]]:
    """Every prompt file that loads, and a one-line problem for each that does not (`workbench prompts`
    lists the good ones and names the bad ones, rather than hiding all behind the first bad file)."""
    folder = folder or prompts_dir()
    prompts, problems = [], []
    for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
        try:
            prompts.append(load_prompt_file(path))
        except InputError as exc:
            problems.append(str(exc))
    return prompts, problems


OLDER_VERSION = "(older version)"
FROM_A_PATH = "(not in prompts/: from a path, or an edit since undone)"
NO_FILE = "(not in prompts/: from a path, or its file was removed)"


def stored_version_notes(current: list[Prompt], stored: list) -> dict[str, str]:
    """What `workbench prompts` says of each stored version (`.id`, `.name`, `.created_at`: when it was
    first used) that is no prompt file in prompts/ now, by id. The store keeps no path, so this says only
    what it can know: a version whose name no file in prompts/ has came from a path (or its file was
    removed); one with a file's name, first used after that file's current version was, came from a
    path too (a copy, edited, with the same name) or from an edit since undone; one first used before
    it (or when the current version was never used) is an older version of the file."""
    current_ids = {prompt.id for prompt in current}
    names = {prompt.name for prompt in current}
    first_used: dict[str, str] = {}  # name -> when its current version (the earliest, if several) was first used
    for version in stored:
        if version.id in current_ids:
            first_used[version.name] = min(first_used.get(version.name, version.created_at), version.created_at)
    notes = {}
    for version in stored:
        if version.id in current_ids:
            continue
        if version.name not in names:
            notes[version.id] = NO_FILE
        elif version.name in first_used and version.created_at > first_used[version.name]:
            notes[version.id] = FROM_A_PATH
        else:
            notes[version.id] = OLDER_VERSION
    return notes


def resolve_prompt(ref: str | None) -> Prompt:
    """A prompt by name (a file in prompts/) or by path."""
    ref = ref or DEFAULT_PROMPT
    candidate = Path(ref)
    if is_prompt_path(ref):
        if not candidate.is_file():
            raise InputError(f"{ref}: no such prompt file")
        return load_prompt_file(candidate)
    path = prompts_dir() / f"{ref}.toml"
    if path.is_file():
        return load_prompt_file(path)
    for prompt in list_prompts():
        if prompt.name == ref:
            return prompt
    known = ", ".join(p.name for p in list_prompts()) or "none"
    raise InputError(f"unknown prompt '{ref}' (prompts in {prompts_dir()}: {known})")
