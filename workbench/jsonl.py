"""The JSONL contract: annotation export/import and suggestion export.

Key order and line order are stable (paper order, then annotator), so
export -> import into a fresh store -> export is byte-identical. Lines are
UTF-8 JSON with every character a terminal could act on escaped (\\u001b,
\\u009b, BIDI overrides), so `workbench export` on a terminal is safe and the
JSON still reads back to the same text.

Import checks the whole file before anything is written, and rejects what the
export never produces: duplicate records, NaN, impossible times, unknown keys,
names with blanks around them, text no UTF-8 file can hold, oversized values,
missing fields, times not in export's form, decisions the review never makes.
"""

from __future__ import annotations

import json
import os
import re
import stat
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import IO, Iterable, Iterator

from workbench.corpus import paper_id as title_to_id
from workbench.db import is_store_file
from workbench.errors import InputError, WorkbenchError
from workbench.json_text import UnreadableJson, json_problem, read_json
from workbench.records import AnnotationRow, TitledAnnotation, annotator_problem, status_problem
from workbench.store import (
    Handle, get_annotation, import_annotation, iter_annotations, iter_suggestions, known_paper_ids, transaction,
)
from workbench.vocab import (
    FIELDS, MAX_DECISION_VALUE_CHARS, MAX_NOTES_CHARS, NUL_STORED_AS, STATUSES, parse_utc_time, utc_now,
)

# Limits on what an import may carry (an export never comes near them).
MAX_LINE_CHARS = 1_000_000
MAX_VALUE_CHARS = MAX_DECISION_VALUE_CHARS
MAX_NAME_CHARS = 100
MAX_SECONDS = 10 * 365 * 24 * 3600.0

# Characters json.dumps(ensure_ascii=False) leaves raw but a terminal may act on.
_ESCAPE = re.compile("[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]")


def dumps(record: dict) -> str:
    text = json.dumps(record, ensure_ascii=False)
    return _ESCAPE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def annotation_record(item: TitledAnnotation) -> dict:
    row = item.annotation
    record = {
        "paper_id": row.paper_id,
        "title": item.title,
        "annotator": row.annotator,
        "status": row.status,
        "flagged": bool(row.flagged),
        "annotation": {f: row.values.get(f) for f in FIELDS},
        "edited_fields": row.edited_fields(),
        "notes": row.notes,
        "suggestion": None if row.suggested is None else {"id": row.suggestion_id, **row.suggested},
    }
    if row.field_sources:
        record["field_sources"] = row.field_sources
    if row.decided_on:
        record["decided_on"] = row.decided_on
    record.update(seconds_spent=row.seconds_spent, created_at=row.created_at, updated_at=row.updated_at)
    return record


def export_annotation_lines(db: Handle, **filters) -> Iterator[str]:
    for item in iter_annotations(db, **filters):
        yield dumps(annotation_record(item)) + "\n"


def suggestion_record(title: str, row) -> dict:
    return {
        "paper_id": row.paper_id,
        "title": title,
        "prompt": row.prompt_name,
        "prompt_hash": row.prompt_id,
        "model": row.model,
        "outcome": row.outcome,
        "error": row.error,
        "fields": {f: row.values.get(f) for f in FIELDS},
        "evidence": {f: (span.as_dict() if span else None) for f, span in row.evidence.items()},
        "warnings": row.warnings,  # as stored: the checks' changes (what was dropped) and grounding's marks
        "usage": {"input_tokens": row.input_tokens, "output_tokens": row.output_tokens},
        "latency_ms": row.latency_ms,
        "created_at": row.created_at,
    }


def export_suggestion_lines(db: Handle, *, prompt_ids: list[str] | None = None, model: str | None = None) -> Iterator[str]:
    for title, row in iter_suggestions(db, prompt_ids=prompt_ids, model=model):
        yield dumps(suggestion_record(title, row)) + "\n"


# --------------------------------------------------------------------------- writing a file


def _cannot_write(path: Path, exc: OSError) -> WorkbenchError:
    return WorkbenchError(f"{path}: cannot write ({exc.strerror or exc})")


@contextmanager
def output_file(path: Path | None, stdout: IO[str]) -> Iterator[IO[str]]:
    """Where an export goes, without replacing what the path is.

    A regular file (or a symlink to one) is written to a temporary file beside
    the real target and renamed over it, so a failed export never leaves half a
    file; it keeps the old file's permissions (a new one gets the umask's). A
    FIFO, a device or /dev/stdout is written directly.
    """
    if path is None:
        try:
            yield stdout
            stdout.flush()  # a full disk shows here, not at exit
        except BrokenPipeError:
            raise  # the reader left (`| head`): the command line stops quietly
        except OSError as exc:  # `> /dev/full`: one line, and nothing left to flush at exit
            _drop_output(stdout)
            raise WorkbenchError(f"standard output: cannot write ({exc.strerror or exc})") from None
        return
    path = Path(path)
    if is_store_file(path):
        raise InputError(f"{path}: is a store (a SQLite database) or a file beside one; not replaced by an export. "
                         "Name another file")
    try:
        info = os.stat(path)  # follows symlinks
    except FileNotFoundError:
        info = None
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    if info is not None and not stat.S_ISREG(info.st_mode):
        try:
            with open(path, "w", encoding="utf-8", newline="\n") as handle:
                yield handle
        except OSError as exc:
            raise _cannot_write(path, exc) from None
        return
    target = Path(os.path.realpath(path))
    mode = stat.S_IMODE(info.st_mode) if info is not None else 0o666 & ~_umask()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise _cannot_write(path, exc) from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            yield handle
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise _cannot_write(path, exc) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _drop_output(stream: IO[str]) -> None:
    """Point `stream` at /dev/null, so the exit's flush of what is still buffered cannot fail again."""
    try:
        os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (a test's buffer): nothing is flushed at exit


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_lines(lines: Iterable[str], path: Path | None, stdout: IO[str]) -> int:
    count = 0
    with output_file(path, stdout) as out:
        for line in lines:
            out.write(line)
            count += 1
    return count


# --------------------------------------------------------------------------- import

_RECORD_KEYS = ("paper_id", "title", "annotator", "status", "flagged", "annotation", "edited_fields", "notes",
                "suggestion", "field_sources", "decided_on", "seconds_spent", "created_at", "updated_at")
_SUGGESTION_KEYS = ("id", "prompt", "prompt_hash", "model", "fields")


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def _text(value, where: str, key: str, limit: int, *, nullable: bool = True) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise InputError(f"{where}: '{key}' must be a string{' or null' if nullable else ''}")
    if len(value) > limit:
        raise InputError(f"{where}: '{key}' is longer than {limit:,} characters")
    return value


def _annotator(value, where: str) -> str:
    problem = annotator_problem(value)
    if problem:
        shown = f" {value[:MAX_NAME_CHARS]!r}" if isinstance(value, str) and value.strip() else ""
        raise InputError(f"{where}: 'annotator'{shown} {problem}")
    return value


def _instant(text: str) -> datetime:
    """A stored ISO 8601 time; one without a zone is taken as UTC (an import before the form was checked
    may have stored any ISO 8601 text)."""
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


CLOCK_SKEW = timedelta(days=1)  # a colleague's clock may run ahead; a day is the most believed


def _timestamp(value, where: str, key: str) -> str | None:
    if value is None:
        return None
    # Only the form export writes: the store compares and sorts these times as text.
    when = parse_utc_time(value) if isinstance(value, str) else None
    if when is None:
        shown = repr(value) if len(repr(value)) <= 40 else f"{repr(value)[:40]}…"
        raise InputError(f"{where}: '{key}' must be a UTC time to the second as export writes it, "
                         f"such as 2026-11-23T12:00:00Z, got {shown}")
    if when > datetime.now(timezone.utc) + CLOCK_SKEW:
        # A time to come would win every `--on-conflict newer` against any decision made before it.
        raise InputError(f"{where}: '{key}' {value} is in the future; no decision was made then")
    return value


def _times(record: dict, where: str) -> tuple[str, str]:
    """created_at and updated_at, in order; one the record lacks is the other (or now), so never out of order."""
    created = _timestamp(record.get("created_at"), where, "created_at")
    updated = _timestamp(record.get("updated_at"), where, "updated_at")
    if created and updated and created > updated:  # text compares as time in this one form
        raise InputError(f"{where}: 'created_at' {created} is later than 'updated_at' {updated}")
    # A missing time is the other one, not the import's: `--on-conflict newer` must not see an old record
    # without updated_at as the newest decision there is.
    now = utc_now()
    return created or updated or now, updated or created or now


def _unknown(keys: Iterable[str], known: tuple[str, ...], where: str, what: str) -> None:
    unknown = sorted(set(keys) - set(known))
    if unknown:
        raise InputError(f"{where}: unknown {what} {unknown[0]!r} (expected {', '.join(known)})")


def _parse_record(record, where: str, default_annotator: str | None, known_ids: set[str]) -> AnnotationRow:
    if not isinstance(record, dict):
        raise InputError(f"{where}: expected a JSON object")
    _unknown(record, _RECORD_KEYS, where, "key")
    pid = record.get("paper_id")
    title = record.get("title")
    if not isinstance(pid, str) or not pid:
        if not isinstance(title, str) or not title.strip():
            raise InputError(f"{where}: a record needs 'paper_id' or 'title'")
        pid = title_to_id(title)
    if pid not in known_ids:
        label = record.get("paper_id") or title
        raise InputError(f"{where}: unknown paper {str(label)[:80]!r} (ingest its abstract first)")
    if title is not None and (not isinstance(title, str) or not title.strip()):
        raise InputError(f"{where}: 'title' must be the paper's title (text) or left out")
    if isinstance(title, str) and title_to_id(title) != pid:  # export writes the paper's own
        raise InputError(f"{where}: 'title' names another paper than 'paper_id' {pid[:40]!r}")
    status = record.get("status")
    if status not in STATUSES:
        raise InputError(f"{where}: 'status' must be one of {', '.join(STATUSES)}, got {str(status)[:40]!r}")
    annotation = record.get("annotation")
    if not isinstance(annotation, dict):
        raise InputError(f"{where}: 'annotation' must be an object with {', '.join(FIELDS)}")
    _unknown(annotation, FIELDS, where, "annotation field")
    missing = [f for f in FIELDS if f not in annotation]
    if missing:  # a field left out is not a field stated as null: export writes all three
        raise InputError(f"{where}: 'annotation' lacks '{missing[0]}'; every field ({', '.join(FIELDS)}) must be "
                         "there, null when not stated")
    flagged = record.get("flagged", False)
    if not isinstance(flagged, bool):
        raise InputError(f"{where}: 'flagged' must be true or false")
    seconds = record.get("seconds_spent", 0.0)
    # The range first: a JSON integer of 400 digits has no float (math.isfinite would raise), and NaN
    # and the infinities fail the comparison anyway.
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds <= MAX_SECONDS:
        raise InputError(f"{where}: 'seconds_spent' must be a number of seconds from 0 to {MAX_SECONDS:,.0f}")
    if "annotator" not in record and default_annotator is None:
        raise InputError(f"{where}: the record names no 'annotator'; say whose decisions these are with "
                         "--annotator NAME")
    created, updated = _times(record, where)
    row = AnnotationRow(
        paper_id=pid, annotator=_annotator(record.get("annotator", default_annotator), where),
        status=status, flagged=flagged,
        values={f: _text(annotation[f], where, f, MAX_VALUE_CHARS) for f in FIELDS},
        notes=_notes(_text(record.get("notes"), where, "notes", MAX_NOTES_CHARS)),
        seconds_spent=float(seconds),
        created_at=created, updated_at=updated,
        field_sources=_field_sources(record.get("field_sources"), where),
        decided_on=_content_hash(record.get("decided_on"), where),
    )
    suggestion = record.get("suggestion")
    if suggestion is not None:
        row.suggestion_id, row.suggested = _parse_suggestion(suggestion, where)
    problem = status_problem(status, row.values, row.suggested_values())
    if problem:  # the review never stores these: `export --final` and the reports would take them at their word
        raise InputError(f"{where}: {problem}")
    if "edited_fields" in record and record["edited_fields"] != row.edited_fields():  # worked out, never taken
        shown = repr(record["edited_fields"])
        raise InputError(f"{where}: 'edited_fields' must list the fields whose value differs from the suggestion, "
                         f"{row.edited_fields()}, or be left out; got {shown[:60]}{'…' * (len(shown) > 60)}")
    return row


def _field_sources(value, where: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InputError(f"{where}: 'field_sources' must be an object or null")
    _unknown(value, FIELDS, where, "field in 'field_sources'")
    return {f: _text(v, where, f"field_sources.{f}", MAX_NAME_CHARS * 2, nullable=False) for f, v in value.items()}


def _notes(text: str | None) -> str | None:
    """Notes of only white space are none, as the review keeps them."""
    return text if text and text.strip() else None


def _content_hash(value, where: str) -> str | None:
    """`decided_on`: the content hash of the text decided on, as the store writes it (16 hex digits)."""
    if value is None:
        return None
    if not isinstance(value, str) or re.fullmatch(r"[0-9a-f]{16}", value) is None:
        raise InputError(f"{where}: 'decided_on' must be the content hash of the text decided on (16 hex digits)")
    return value


def _parse_suggestion(suggestion, where: str) -> tuple[str, dict]:
    if not isinstance(suggestion, dict):
        raise InputError(f"{where}: 'suggestion' must be an object or null")
    _unknown(suggestion, _SUGGESTION_KEYS, where, "key in 'suggestion'")
    for key in ("id", "prompt", "prompt_hash", "model"):
        _text(suggestion.get(key), where, f"suggestion.{key}", MAX_NAME_CHARS * 2, nullable=False)
    fields = suggestion.get("fields")
    if not isinstance(fields, dict):
        raise InputError(f"{where}: 'suggestion.fields' must be an object")
    _unknown(fields, FIELDS, where, "field in 'suggestion.fields'")
    missing = [f for f in FIELDS if f not in fields]
    if missing:
        raise InputError(f"{where}: 'suggestion.fields' lacks '{missing[0]}'; every field must be there, null when none")
    snapshot = {
        "prompt": suggestion["prompt"],
        "prompt_hash": suggestion["prompt_hash"],
        "model": suggestion["model"],
        "fields": {f: _text(fields.get(f), where, f"suggestion.fields.{f}", MAX_VALUE_CHARS) for f in FIELDS},
    }
    return suggestion["id"], snapshot


def _loads(text: str, where: str):
    try:
        return read_json(text, parse_constant=_reject_constant)  # NaN / Infinity are refused
    except UnreadableJson as exc:
        raise InputError(f"{where}: {json_problem(exc)}") from None


def read_annotation_file(path: Path, default_annotator: str | None,
                         known_ids: set[str]) -> list[tuple[int, AnnotationRow]]:
    """Every record of the file with its line number, checked; InputError naming the first bad line.
    A record without an annotator takes `default_annotator`; without one, it is an error."""
    try:
        handle = open(path, encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    rows: list[tuple[int, AnnotationRow]] = []
    first_line: dict[tuple[str, str], int] = {}
    with handle:
        try:
            for number, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                where = f"{path}:{number}"
                if len(text) > MAX_LINE_CHARS:
                    raise InputError(f"{where}: line longer than {MAX_LINE_CHARS:,} characters")
                record = _loads(text, where)
                row = _parse_record(record, where, default_annotator, known_ids)
                key = (row.paper_id, row.annotator)
                if key in first_line:
                    raise InputError(f"{where}: a second record for paper {row.paper_id} by {row.annotator!r} "
                                     f"(the first is on line {first_line[key]})")
                first_line[key] = number
                rows.append((number, row))
        except UnicodeDecodeError:
            raise InputError(f"{path}: not UTF-8 text") from None
    if not rows:
        raise InputError(f"{path}: no annotations found")
    return rows


# What an import does with a record that would change a stored decision to something else.
REFUSE, SKIP, NEWER, REPLACE = "refuse", "skip", "newer", "replace"
ON_CONFLICT = (REFUSE, SKIP, NEWER, REPLACE)


@dataclass
class ImportReport:
    written: int = 0
    unchanged: int = 0  # identical to the stored decision: nothing written, no event
    skipped: int = 0  # conflicts the policy kept the stored decision for

    def summary(self, path: Path) -> str:
        text = f"imported {self.written} annotation{'s' * (self.written != 1)} from {path}"
        notes = [f"{self.unchanged} unchanged"] if self.unchanged else []
        if self.skipped:
            notes.append(f"{self.skipped} conflict{'s' * (self.skipped != 1)} skipped")
        return text + (f" ({', '.join(notes)})" if notes else "")


def _decision(row: AnnotationRow) -> str:
    """What a decision says (its times and time spent aside): two records saying the same are identical. A NUL
    says what the U+FFFD PostgreSQL stores for it says, so a record imported twice there is unchanged."""
    said = [row.status, bool(row.flagged), [row.values.get(f) for f in FIELDS], row.notes, row.suggestion_id,
            row.suggested, row.field_sources]
    return json.dumps(_nul_as_stored(said), sort_keys=True)


def _nul_as_stored(value):
    if isinstance(value, str):
        return value.replace("\x00", NUL_STORED_AS)
    if isinstance(value, dict):
        return {key: _nul_as_stored(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_nul_as_stored(item) for item in value]
    return value




def _incoming_wins(stored: AnnotationRow, incoming: AnnotationRow, policy: str) -> bool:
    if policy == REPLACE:
        return True
    if policy == NEWER:
        return _instant(incoming.updated_at) > _instant(stored.updated_at)
    return False


def import_annotations(db: Handle, path: Path, default_annotator: str | None,
                       on_conflict: str = REFUSE) -> ImportReport:
    """Import one JSONL file in one transaction: every line is checked before any is written.

    A record that would change a stored decision to a different one is a conflict: `refuse`
    (the default) writes nothing and raises InputError listing each; `skip` keeps the stored
    decision; `newer` takes the record when its updated_at is later; `replace` takes it.
    A record identical to the stored decision is left alone (no event)."""
    if on_conflict not in ON_CONFLICT:
        raise ValueError(f"unknown conflict policy {on_conflict!r}")
    rows = read_annotation_file(Path(path), default_annotator, known_paper_ids(db))
    report, conflicts = ImportReport(), []
    with transaction(db):
        for number, row in rows:
            stored = get_annotation(db, row.paper_id, row.annotator)
            if stored is not None and stored.decided:
                if _decision(stored) == _decision(row):
                    report.unchanged += 1
                    continue
                if on_conflict == REFUSE:
                    conflicts.append(f"{path}:{number}: paper {row.paper_id} by {row.annotator!r}: stored updated_at "
                                     f"{stored.updated_at}, incoming {row.updated_at}")
                    continue
                if not _incoming_wins(stored, row, on_conflict):
                    report.skipped += 1
                    continue
            if stored is not None and stored.flagged and not stored.decided:
                row = replace(row, flagged=True)  # a flag set in the review is not the record's to clear
            import_annotation(db, row, stored.version if stored else None)
            report.written += 1
        if conflicts:
            count = f"{len(conflicts)} conflict{'s' * (len(conflicts) != 1)}"
            raise InputError("\n".join(conflicts) + f"\n{count} with decisions in the store: nothing was imported "
                             "(--on-conflict skip|newer|replace chooses otherwise)")
    return report
