"""Parse paper-listing dumps and JSONL files into `Paper` records.

Three dump layouts occur in the seeds, and one parser reads them all because it
looks at non-blank lines only:

1. title / abstract paragraphs separated by blank lines;
2. the same pairs with no blank lines at all, the first title glued to a
   "Subscribe" page header;
3. pairs followed by a metadata block: "• N authors" (or an organisation line),
   a lone "·", and a date line such as "Jul 31, 2024 5" (date, then upvotes).

Page headers ("Get trending papers…", "byAK…", the page date) are skipped.
Stdlib only: the store decides what to do with the records.
"""

from __future__ import annotations

import codecs
import hashlib
import itertools
import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Iterator

from workbench.errors import InputError
from workbench.json_text import UnreadableJson, json_problem, read_json
from workbench.vocab import NUL_STORED_AS, collapse_whitespace

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTH = "|".join(MONTHS)

_HEADER_RE = re.compile(
    r"^(new|Subscribe|Daily Papers|Get trending papers\b.*|byAK\b.*)$", re.IGNORECASE
)
_PAGE_DATE_RE = re.compile(rf"^({_MONTH}) \d{{1,2}}(, \d{{4}})?$")
_AUTHORS_RE = re.compile(r"^•\s*(\d+)\s+authors?$")
_SEPARATOR = "·"
_DATE_RE = re.compile(rf"^(?P<date>(?P<mon>{_MONTH}) (?P<day>\d{{1,2}})(?:, (?P<year>\d{{4}}))?)(?: (?P<up>\d+))?$")
_GLUED_SUBSCRIBE_RE = re.compile(r"^Subscribe(?=\S)")

# Input limits: an entry over them is rejected with a line naming file:line.
MAX_TITLE_CHARS = 1_000
MAX_ABSTRACT_CHARS = 100_000
MAX_META_CHARS = 300  # organisation, date as written
MAX_AUTHORS = 100_000
MAX_COUNT = 1_000_000_000  # upvotes
# In a dump, a "title" longer than this is almost certainly an abstract whose title is missing.
DUMP_TITLE_CHARS = 400
_BINARY_SNIFF_BYTES = 8192


@dataclass(slots=True)
class Paper:
    title: str
    abstract: str
    source: str
    position: int  # 1-based order of the paper within its source file
    line: int  # line number of the title in the source file
    authors_count: int | None = None
    published: str | None = None  # as written, e.g. "Jul 31, 2024" or "Apr 1"
    published_iso: str | None = None  # only when the year is given
    upvotes: int | None = None
    organization: str | None = None

    @property
    def id(self) -> str:
        return paper_id(self.title)

    def keys(self) -> tuple[str, str]:
        """(id, content hash), normalising the title once."""
        normal = normalise_title(self.title)
        return _digest(normal), _digest(normal + "\n" + self.abstract)


def normalise_title(title: str) -> str:
    """Unicode-, case- and white-space-insensitive form of a title; a NUL is the U+FFFD every store keeps for it."""
    return collapse_whitespace(unicodedata.normalize("NFKC", title).casefold()).replace("\x00", NUL_STORED_AS)


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def paper_id(title: str) -> str:
    """Stable id of a paper: a hash of its normalised title."""
    return _digest(normalise_title(title))


def clean_text(text: str) -> str:
    """Collapse the white space of one field (tabs, runs of spaces, NBSP)."""
    text = text.strip()
    # Most lines are clean: two C-speed scans instead of a split/join (or a
    # regex, which cost two thirds of parse time). Any white space other than
    # a single space (tab, NBSP, thin space) is not printable.
    if "  " in text or not text.isprintable():
        text = collapse_whitespace(text)
        # NUL as U+FFFD on every store (PostgreSQL text cannot hold it): one title, one id, one export, either way
        text = text.replace("\x00", NUL_STORED_AS)
    return text


# --------------------------------------------------------------------------- reading


@dataclass(slots=True)
class Decoded:
    lines: Iterator[tuple[int, str]]
    digest: str  # of the file's bytes: the same file seen again (by any path) is known
    warning: str | None = None


def _sniff(path: Path) -> bytes:
    try:
        with open(path, "rb") as handle:
            head = handle.read(_BINARY_SNIFF_BYTES)
    except IsADirectoryError:
        raise InputError(f"{path}: is a directory, not a file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})") from None
    nul = head.find(b"\x00")
    if nul >= 0:
        raise InputError(
            f"{path}: looks binary (NUL byte at offset {nul}); expected a text dump or a JSONL file"
        )
    return head


def _read_lines(path: Path) -> Decoded:
    """Yield (line number, text) with BOM and line endings removed.

    UTF-8 is read lazily, line by line, so memory stays flat on large files. A
    file that is not UTF-8 but decodes as cp1252 without control characters is
    accepted with a warning; anything else is rejected naming the line.
    """
    _sniff(path)
    try:
        return _utf8_lines(path)
    except _NotUtf8 as exc:
        data = path.read_bytes()
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            raise InputError(f"{path}:{exc.line}: not UTF-8 text ({exc.reason})") from None
        bad = next((c for c in text if ord(c) < 32 and c not in "\t\r\n"), None)
        if bad is not None:
            raise InputError(f"{path}:{exc.line}: not UTF-8 text ({exc.reason})") from None
        lines = enumerate(text.splitlines(), start=1)
        return Decoded(iter(lines), _digest_bytes(data), f"{path}: not UTF-8 (line {exc.line}); read it as cp1252")


class _NotUtf8(Exception):
    def __init__(self, line: int, reason: str):
        self.line, self.reason = line, reason


def _digest_bytes(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()[:20]


def _utf8_lines(path: Path) -> Decoded:
    # Validate the whole file first (in 1 MB chunks): a decode error half-way
    # through must not surface after papers were already handed to the store.
    decoder = codecs.getincrementaldecoder("utf-8")()
    digest = hashlib.sha1()
    newlines = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                line = newlines + chunk.count(b"\n", 0, exc.start) + 1
                column = exc.start - (chunk.rfind(b"\n", 0, exc.start) + 1) + 1
                raise _NotUtf8(line, f"byte 0x{chunk[exc.start]:02x} at column {column}")
            newlines += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            raise _NotUtf8(newlines + 1, "the file ends inside a character")
    return Decoded(_iter_text(path), digest.hexdigest()[:20])


def _iter_text(path: Path) -> Iterator[tuple[int, str]]:
    with open(path, encoding="utf-8-sig", newline=None) as handle:
        yield from enumerate(handle, start=1)


# --------------------------------------------------------------------------- dumps


def _nonblank(lines: Iterator[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    # Runs once per line of a 100,000-paper corpus: clean_text inlined.
    for number, raw in lines:
        if text := raw.strip():
            if "  " in text or not text.isprintable():
                text = collapse_whitespace(text).replace("\x00", NUL_STORED_AS)
            yield number, text


def parse_dump(path: Path, lines: Iterator[tuple[int, str]]) -> Iterator[Paper]:
    """Parse a paper-listing dump (any of the three layouts).

    A paper is handed on only once its metadata block (if any) has been read:
    at the next title or at the end of the file.
    """
    source = str(path)
    stream = _nonblank(lines)
    paper: Paper | None = None  # the latest paper, still collecting its metadata
    title: tuple[int, str] | None = None  # a title waiting for its abstract
    after_separator = False
    count = 0

    following = next(stream, None)  # one line of lookahead: an organisation line is followed by "·"
    while following is not None:
        number, text = following
        following = next(stream, None)
        if title is not None:
            # The line after a title is its abstract, whatever it looks like,
            # unless it is plainly metadata (then the abstract is missing).
            if text == _SEPARATOR or _AUTHORS_RE.match(text):
                raise InputError(f"{path}:{title[0]}: title has no abstract: {title[1][:60]!r}")
            if len(text) > MAX_ABSTRACT_CHARS:
                raise InputError(f"{path}:{number}: abstract of {len(text):,} characters "
                                 f"(the limit is {MAX_ABSTRACT_CHARS:,})")
            if paper is not None:
                yield paper
            count += 1
            paper = Paper(title[1], text, source, count, title[0])
            title = None
            continue

        if paper is None:
            if _HEADER_RE.match(text) or _PAGE_DATE_RE.match(text):
                continue  # page header above the first paper
            if _GLUED_SUBSCRIBE_RE.match(text):
                text = text[len("Subscribe"):]
        else:
            if m := _AUTHORS_RE.match(text):
                paper.authors_count = _bounded(path, number, "authors", int(m.group(1)), MAX_AUTHORS)
                continue
            if text == _SEPARATOR:
                after_separator = True
                continue
            if after_separator and (m := _DATE_RE.match(text)):
                after_separator = False
                _apply_date(path, number, paper, m)
                continue
            after_separator = False
            if following is not None and following[1] == _SEPARATOR:
                paper.organization = _organisation(text)[:MAX_META_CHARS]
                continue

        if len(text) > DUMP_TITLE_CHARS:
            raise InputError(
                f"{path}:{number}: expected a title, found a {len(text):,}-character paragraph "
                "(is a title missing above it?)"
            )
        title = (number, text)

    if title is not None:
        raise InputError(f"{path}:{title[0]}: title has no abstract: {title[1][:60]!r}")
    if paper is not None:
        yield paper


def _bounded(path: Path, number: int, what: str, value: int, limit: int) -> int:
    if not 0 <= value <= limit:
        raise InputError(f"{path}:{number}: {what} {value} is out of range (0 to {limit:,})")
    return value


def _apply_date(path: Path, number: int, paper: Paper, m: re.Match) -> None:
    paper.published = m.group("date")
    if m.group("year"):
        try:
            paper.published_iso = date(
                int(m.group("year")), MONTHS.index(m.group("mon")) + 1, int(m.group("day"))
            ).isoformat()
        except ValueError:
            paper.published_iso = None
    if m.group("up"):
        paper.upvotes = _bounded(path, number, "upvotes", int(m.group("up")), MAX_COUNT)


def _organisation(line: str) -> str:
    # The listing shows "<handle> <Display Name>" ("nvidia NVIDIA"): keep the name.
    parts = line.split(" ", 1)
    return parts[1] if len(parts) == 2 else line


# --------------------------------------------------------------------------- JSONL

_JSONL_META = {  # key -> (type, limit: the largest whole number or the longest string)
    "authors_count": (int, MAX_AUTHORS),
    "published": (str, MAX_META_CHARS),
    "published_iso": (str, MAX_META_CHARS),
    "upvotes": (int, MAX_COUNT),
    "organization": (str, MAX_META_CHARS),
}
_TEXT_LIMITS = {"title": MAX_TITLE_CHARS, "abstract": MAX_ABSTRACT_CHARS}


def _loads_line(path: Path, number: int, text: str):
    try:
        return read_json(text)
    except UnreadableJson as exc:
        raise InputError(f"{path}:{number}: {json_problem(exc)}") from None


def _string(path: Path, number: int, key: str, value: str, limit: int) -> str:
    if len(value) > limit:
        raise InputError(f"{path}:{number}: '{key}' has {len(value):,} characters (the limit is {limit:,})")
    return value


def parse_jsonl(path: Path, lines: Iterator[tuple[int, str]]) -> Iterator[Paper]:
    """One {"title", "abstract", ...} object a line; blank lines are ignored."""
    count = 0
    for number, text in lines:
        if not text.strip():
            continue
        record = _loads_line(path, number, text)
        if not isinstance(record, dict):
            raise InputError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}")
        values = {}
        for key, limit in _TEXT_LIMITS.items():
            value = record.get(key)
            if not isinstance(value, str) or not value.strip():
                raise InputError(f"{path}:{number}: '{key}' must be a non-empty string")
            values[key] = clean_text(_string(path, number, key, value, limit))
        count += 1
        paper = Paper(values["title"], values["abstract"], str(path), count, number)
        for key, (kind, limit) in _JSONL_META.items():
            value = record.get(key)
            if value is None:
                continue
            if kind is int:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise InputError(f"{path}:{number}: '{key}' must be a whole number")
                value = _bounded(path, number, f"'{key}'", value, limit)
            elif not isinstance(value, str):
                raise InputError(f"{path}:{number}: '{key}' must be a string")
            else:
                value = _string(path, number, key, value, limit)
            setattr(paper, key, value)
        yield paper


# --------------------------------------------------------------------------- entry points


@dataclass(slots=True)
class Source:
    path: Path
    papers: Iterator[Paper]
    digest: str
    warning: str | None


def read_source(path: Path) -> Source:
    """Open one input file. Errors on reading or parsing raise InputError.

    The content decides the format, not the extension: lines that are JSON
    objects are JSONL (whatever the file is called), a JSON array is an error,
    anything else is a dump.
    """
    decoded = _read_lines(path)
    first, lines = _peek_first_nonblank(decoded.lines)
    parse = parse_jsonl if _looks_like_jsonl(path, first) else parse_dump
    return Source(path, _require_papers(path, parse(path, lines)), decoded.digest, decoded.warning)


def _peek_first_nonblank(lines: Iterator[tuple[int, str]]) -> tuple[tuple[int, str] | None, Iterator[tuple[int, str]]]:
    seen: list[tuple[int, str]] = []
    for item in lines:
        seen.append(item)
        if item[1].strip():
            return item, itertools.chain(seen, lines)
    return None, iter(seen)


def _looks_like_jsonl(path: Path, first: tuple[int, str] | None) -> bool:
    if path.suffix.lower() == ".jsonl":
        return True
    if first is None:
        return False
    number, text = first
    text = text.strip()
    if text.startswith("["):
        try:
            read_json(text)
        except UnreadableJson:
            pass
        else:
            raise InputError(f"{path}:{number}: a JSON array; expected one JSON object a line (JSONL) or a text dump")
        if text == "[" or text.startswith("[{"):
            raise InputError(f"{path}:{number}: looks like a JSON array; expected one JSON object a line (JSONL)")
    # A line that starts like a JSON object makes the file JSONL: a malformed one is then an error
    # naming its line, not the title of a paper in a dump.
    return text.startswith("{")


def _require_papers(path: Path, papers: Iterator[Paper]) -> Iterator[Paper]:
    found = False
    for paper in papers:
        found = True
        yield paper
    if not found:
        if path.stat().st_size == 0 or not path.read_bytes().strip():
            raise InputError(f"{path}: file is empty")
        raise InputError(f"{path}: no papers found (expected title/abstract paragraphs or JSONL objects)")


def expand_paths(paths: list[Path]) -> list[Path]:
    """A folder means every *.txt and *.jsonl in it, sorted by name."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in (".txt", ".jsonl") and p.is_file())
            if not found:
                raise InputError(f"{path}: folder has no .txt or .jsonl files")
            files.extend(found)
        elif path.exists():
            files.append(path)
        else:
            raise InputError(f"{path}: no such file or folder")
    return files
