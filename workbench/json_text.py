"""JSON read from untrusted text (a file's line, a results line, a model's reply).

Every way `json.loads` can fail on such text becomes one `UnreadableJson` whose message is
the reason in words: a syntax error, nesting too deep for the parser (RecursionError), an
integer of more than 4,300 digits (Python refuses to convert it: ValueError), or what a
`parse_constant` hook rejects. Callers then name the file and line, or record the outcome.
"""

from __future__ import annotations

import json
from typing import Any


class UnreadableJson(ValueError):
    pass


def read_json(text: str, **options: Any) -> Any:
    try:
        return json.loads(text, **options)
    except json.JSONDecodeError as exc:
        raise UnreadableJson(f"{exc.msg} at column {exc.colno}") from None
    except RecursionError:
        raise UnreadableJson("nested too deeply") from None
    except ValueError as exc:
        raise UnreadableJson("a number of more than 4,300 digits" if "digits" in str(exc) else str(exc)) from None
