"""The user's config file (TOML): endpoint settings, prices, key bindings.

Location: $WORKBENCH_CONFIG, else $XDG_CONFIG_HOME/workbench/config.toml
(~/.config/workbench/config.toml). Missing file = empty config.

    [openai]
    base_url = "http://localhost:11434/v1"   # OPENAI_BASE_URL wins over this
    api_key = "..."                          # OPENAI_API_KEY wins over this
    timeout = 60
    response_format = "auto"                 # or json_schema, json_object_schema, json_object, text

    [prices."gpt-4o-mini"]                   # USD per million tokens
    input = 0.15
    output = 0.60

    [keys]                                   # binding id = "keys"
    accept = "a,enter"

    [review]
    guidelines = "docs/guidelines.md"        # default: guidelines.md beside the prompts
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.errors import InputError
from workbench.vocab import MAX_PRICE, MAX_TIMEOUT_SECONDS

OFFICIAL_BASE_URL = "https://api.openai.com/v1"
DEFAULT_TIMEOUT = 60.0
DEFAULT_RESPONSE_FORMAT = "auto"


def config_path() -> Path:
    env = os.environ.get("WORKBENCH_CONFIG")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "workbench" / "config.toml"


# Every key the file may hold: a mistyped one (`base_ur`) is an error, never silently the default
# (which, for base_url, would send the abstracts to the public API). [keys] holds binding ids,
# checked by the review app against its bindings (see `unknown_key`).
KNOWN_KEYS = {
    "openai": ("base_url", "api_key", "timeout", "response_format"),
    "review": ("guidelines",),
    "keys": None,
    "prices": None,
}
PRICE_KEYS = ("input", "output")


# Plain frozen dataclasses, not pydantic: `workbench review` reads the config before its first frame,
# and pydantic's import is ~70 ms of a 0.5 s launch. Nothing here needs coercion: every value is
# `Any` and checked where it is used; unknown keys and non-table sections are refused by `_check_keys`.
@dataclass(frozen=True)
class OpenAITable:
    """[openai]; values are checked when used (a bad timeout does not stop an offline review)."""

    base_url: Any = None
    api_key: Any = field(default=None, repr=False)  # never in a repr, a log or a traceback
    timeout: Any = None
    response_format: Any = None


@dataclass(frozen=True)
class ReviewTable:
    guidelines: Any = None


@dataclass(frozen=True)
class Config:
    """The config file, read and checked once (`load_config`) and passed down. Unknown keys were
    refused on load, with the nearest known one."""

    path: Path | None = None  # None: there is no file (an empty config)
    openai: OpenAITable = OpenAITable()
    review: ReviewTable = ReviewTable()
    keys: dict[str, Any] = field(default_factory=dict)  # binding id -> keys; ids are checked by the review app
    prices: dict[str, dict[str, Any]] = field(default_factory=dict)  # model -> {"input", "output"}: USD/M tokens


def load_config() -> Config:
    path = config_path()
    if not path.is_file():
        return Config()
    try:
        config = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML ({exc})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read config ({exc})") from None
    _check_keys(config)
    return Config(path=path, openai=OpenAITable(**section(config, "openai")),
                  review=ReviewTable(**section(config, "review")), keys=dict(section(config, "keys")),
                  prices={model: dict(table) for model, table in section(config, "prices").items()})


def unknown_key(where: str, key: str, known) -> str:
    """The error for a key the config file may not hold, with the nearest known one."""
    near = difflib.get_close_matches(key, list(known), n=1)
    hint = f"; did you mean '{near[0]}'?" if near else f" (known: {', '.join(sorted(known)) or 'none'})"
    return f"{config_path()}: unknown key '{key}' in {where}{hint}"


def _check_keys(config: dict) -> None:
    for name, value in config.items():
        if name not in KNOWN_KEYS:
            raise InputError(unknown_key("the config file", name, KNOWN_KEYS))
        table = section(config, name)
        if KNOWN_KEYS[name] is not None:
            for key in table:
                if key not in KNOWN_KEYS[name]:
                    raise InputError(unknown_key(f"[{name}]", key, KNOWN_KEYS[name]))
    for model, table in section(config, "prices").items():
        if not isinstance(table, dict):
            raise InputError(f"{config_path()}: [prices.\"{model}\"] must be a table with 'input' and 'output'")
        for key in table:
            if key not in PRICE_KEYS:
                raise InputError(unknown_key(f'[prices."{model}"]', key, PRICE_KEYS))


def section(config: dict, name: str) -> dict:
    """A table of the raw file, checked to be one (before the typed Config is built)."""
    value = config.get(name, {})
    if not isinstance(value, dict):
        raise InputError(f"{config_path()}: [{name}] must be a table")
    return value


def prices(config: Config) -> dict[str, tuple[float, float]]:
    """model -> (input, output) USD per million tokens; the offline model costs nothing."""
    result = {"offline": (0.0, 0.0)}
    for model, table in config.prices.items():
        try:
            result[model] = float(table["input"]), float(table["output"])
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{config_path()}: [prices.\"{model}\"] needs numbers 'input' and 'output'") from None
        if not all(0 <= price <= MAX_PRICE for price in result[model]):  # NaN and infinity fail this too
            raise InputError(f"{config_path()}: [prices.\"{model}\"] 'input' and 'output' must be USD per million "
                             f"tokens from 0 to {MAX_PRICE:,}")
    return result


@dataclass(frozen=True)
class EndpointSettings:
    """Where and how to reach an OpenAI-compatible endpoint: the one place env and config meet."""

    base_url: str
    api_key: str | None = field(default=None, repr=False)  # never printed
    timeout: float = DEFAULT_TIMEOUT
    response_format: str = DEFAULT_RESPONSE_FORMAT


def endpoint_settings(config: Config, *, timeout: float | None = None,
                      response_format: str | None = None) -> EndpointSettings:
    """Command-line option, else environment (OPENAI_BASE_URL, OPENAI_API_KEY), else [openai] in the
    config file, else the default."""
    table = config.openai
    if timeout is None:
        timeout = table.timeout if table.timeout is not None else DEFAULT_TIMEOUT
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not 1 <= timeout <= MAX_TIMEOUT_SECONDS:
        raise InputError(f"{config_path()}: [openai] timeout must be a number of seconds from 1 to {MAX_TIMEOUT_SECONDS:,}")
    for name in ("base_url", "api_key", "response_format"):
        if getattr(table, name) is not None and not isinstance(getattr(table, name), str):
            raise InputError(f"{config_path()}: [openai] {name} must be a string")
    base_url = os.environ.get("OPENAI_BASE_URL") or table.base_url or OFFICIAL_BASE_URL
    if not base_url.startswith(("http://", "https://")):
        where = "OPENAI_BASE_URL" if os.environ.get("OPENAI_BASE_URL") else f"{config_path()}: [openai] base_url"
        raise InputError(f"{where} must be an http:// or https:// URL")
    return EndpointSettings(
        base_url=base_url,
        api_key=os.environ.get("OPENAI_API_KEY") or table.api_key or None,
        timeout=float(timeout),
        response_format=response_format or table.response_format or DEFAULT_RESPONSE_FORMAT,
    )


MAX_GUIDELINES_BYTES = 200_000


@dataclass(frozen=True)
class Guidelines:
    path: Path
    text: str


def guidelines(config: Config, prompts_folder: Path) -> Guidelines | None:
    """The annotation guidelines shown beside the task: [review] guidelines in the config,
    else guidelines.md in the prompts folder; None when there are none."""
    configured = config.review.guidelines
    if configured is not None and not isinstance(configured, str):
        raise InputError(f"{config_path()}: [review] guidelines must be a path")
    path = Path(configured).expanduser() if configured else prompts_folder / "guidelines.md"
    if not path.is_file():
        if configured:
            raise InputError(f"{config_path()}: [review] guidelines: no such file {path}")
        return None
    try:
        with open(path, "rb") as handle:  # only what is shown is read: a 1 GB file costs 200 KB
            data = handle.read(MAX_GUIDELINES_BYTES + 1)
            size = os.fstat(handle.fileno()).st_size
        text = data[:MAX_GUIDELINES_BYTES].decode("utf-8", errors="replace")
        if len(data) > MAX_GUIDELINES_BYTES:
            text += (f"\n\n… (the guidelines file has {size:,} bytes; the first {MAX_GUIDELINES_BYTES:,} "
                     "are shown)\n")
        return Guidelines(path, text)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the guidelines ({exc.strerror})") from None
