"""Text and JSON from outside (a file's line, a results line, a model's reply, a server's error body).

The one decoder for such text. `decode()` turns bytes or a string into text that can be stored
and shown, and says what was wrong with it: bytes that are not UTF-8 and lone surrogates (a
`"\\ud800"` JSON escape, or a string an HTTP client decoded from one) become U+FFFD, and the
reason goes back to the caller, who fails that one item (a line, a paper) with it. SQLite
cannot store a lone surrogate at all (UnicodeEncodeError), so nothing holding one may reach it.

`read_json()`: every way `json.loads` can fail on such text becomes one `UnreadableJson` whose
message is the reason in words: a syntax error, nesting too deep for the parser
(RecursionError), an integer of more than 4,300 digits (Python refuses to convert it:
ValueError), what a `parse_constant` hook rejects, a key given twice in one object (JSON allows
it and Python keeps the last; nothing we write does it, so it is refused), and a lone surrogate
in any string. `read_json_mended()` reads the same but mends lone surrogates and returns the
reason instead, for a caller that still needs the rest (a results line's custom_id).
Callers then name the file and line, or record the outcome.
"""

from __future__ import annotations

import json
import re
from typing import Any

REPLACEMENT = "\ufffd"
LONE_SURROGATE = "an invalid Unicode character (a lone surrogate)"
_SURROGATE = re.compile("[\ud800-\udfff]")
# A surrogate in JSON text: a \uD800-\uDFFF escape (a valid pair too: the walk tells them apart) or one as is.
_SURROGATE_HINT = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}|[\ud800-\udfff]")


class UnreadableJson(ValueError):
    pass


class NotUnicode(UnreadableJson):
    """Valid JSON whose strings hold a lone surrogate."""


class _DuplicateKey(ValueError):
    pass


def json_problem(exc: UnreadableJson) -> str:
    """The reason for a file's line: "not valid JSON (...)", or what else is wrong with it."""
    return str(exc) if isinstance(exc, NotUnicode) else f"not valid JSON ({exc})"


def decode(data: bytes | str | None) -> tuple[str | None, str | None]:
    """(text safe to store, the reason it had to be mended or None)."""
    if data is None:
        return None, None
    if isinstance(data, bytes):
        try:
            return data.decode("utf-8"), None
        except UnicodeDecodeError as exc:
            return data.decode("utf-8", errors="replace"), f"not UTF-8 text (byte {exc.start + 1})"
    if _SURROGATE.search(data) is None:
        return data, None
    return _SURROGATE.sub(REPLACEMENT, data), LONE_SURROGATE


def has_lone_surrogate(text: str) -> bool:
    return _SURROGATE.search(text) is not None


def mend(text: str | None) -> str | None:
    """`decode()` without the reason: for text that is kept whatever it holds (an error message)."""
    return decode(text)[0]


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(f"the key {json.dumps(key)[:80]} appears twice in one object")
            seen.add(key)
    return result


def _mended(value: Any) -> tuple[Any, bool]:
    """`value` with every lone surrogate in its strings (keys too) replaced, and whether there was one."""
    if isinstance(value, str):
        if _SURROGATE.search(value) is None:
            return value, False
        return _SURROGATE.sub(REPLACEMENT, value), True
    if isinstance(value, list):
        items = [_mended(v) for v in value]
        return [v for v, _ in items], any(found for _, found in items)
    if isinstance(value, dict):
        found = False
        result = {}
        for key, item in value.items():
            key, key_found = _mended(key)
            result[key], item_found = _mended(item)
            found = found or key_found or item_found
        return result, found
    return value, False


def read_json_mended(text: str, **options: Any) -> tuple[Any, str | None]:
    """(value, LONE_SURROGATE or None): lone surrogates mended, every other fault an UnreadableJson."""
    options.setdefault("object_pairs_hook", _unique_keys)
    try:
        value = json.loads(text, **options)
    except json.JSONDecodeError as exc:  # some of Python's messages end in "at" already ("Invalid control character at")
        raise UnreadableJson(f"{exc.msg.removesuffix(' at')} at column {exc.colno}") from None
    except RecursionError:
        raise UnreadableJson("nested too deeply") from None
    except _DuplicateKey as exc:
        raise UnreadableJson(str(exc)) from None
    except ValueError as exc:
        raise UnreadableJson("a number of more than 4,300 digits" if "digits" in str(exc) else str(exc)) from None
    if _SURROGATE_HINT.search(text) is None:  # the common case: one C-speed scan, no walk
        return value, None
    value, found = _mended(value)
    return value, LONE_SURROGATE if found else None


def read_json(text: str, **options: Any) -> Any:
    value, problem = read_json_mended(text, **options)
    if problem:
        raise NotUnicode(f"contains {problem}")
    return value
