"""Property-based tests (Hypothesis): arbitrary input never raises anything but the project's
input error, spans always index the abstract, and a valid export always imports back unchanged."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.factories import add_suggestion
from workbench.corpus import read_source
from workbench.db import open_db
from workbench.errors import InputError
from workbench.grounding import align, ground_summary
from workbench.ingest import ingest
from workbench.jsonl import export_annotation_lines, import_annotations, read_annotation_file
from workbench.records import annotator_problem
from workbench.store import Decision, decide, get_annotation, paper_order

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
DB_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Text with the characters that break parsers: line breaks of every kind, controls, BIDI, surrogates' neighbours.
_PIECES = st.text(alphabet=st.characters(exclude_categories=["Cs"]) | st.sampled_from(
    ["\n", "\r", "\x00", "\x1b", "·", "{", "[", '"', "\u2028", "\ufeff"]), max_size=40)
NASTY = st.lists(_PIECES | st.sampled_from(["\r\n", "  • 3 authors", "Mar 1, 2024 5", "Subscribe", "\n\n"]),
                 max_size=8).map("".join)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


def _read_all(name: str, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / name
        path.write_bytes(data)
        try:
            for _ in read_source(path).papers:
                pass
        except InputError:
            pass


@SETTINGS
@given(st.lists(NASTY, max_size=30))
def test_the_dump_parser_raises_only_input_errors(lines):
    _read_all("dump.txt", "\n".join(lines).encode("utf-8", "surrogatepass"))


@SETTINGS
@given(st.binary(max_size=2000))
def test_any_bytes_raise_only_input_errors(data):
    _read_all("dump.txt", data)
    _read_all("papers.jsonl", data)


@SETTINGS
@given(st.lists(JSON_VALUES | st.fixed_dictionaries({"title": NASTY, "abstract": NASTY}, optional={
    "authors_count": JSON_VALUES, "upvotes": st.integers(), "organization": JSON_VALUES}), max_size=10))
def test_the_jsonl_reader_raises_only_input_errors(records):
    _read_all("papers.jsonl", "\n".join(json.dumps(r) for r in records).encode())


@SETTINGS
@given(NASTY, NASTY)
def test_alignment_never_raises_and_spans_index_the_abstract(quote, abstract):
    span = align(quote, abstract)
    if span.start is not None:
        assert 0 <= span.start < span.end <= len(abstract)
    if span.status == "exact":
        assert abstract[span.start:span.end] == quote.strip()
    evidence, warnings = ground_summary({"technique": quote, "claimed_gain": None, "compute": abstract[:20] or None},
                                        {"technique": quote, "claimed_gain": None, "compute": None}, abstract)
    assert set(evidence) == {"technique", "claimed_gain", "compute"}


_TEMPLATE: list[bytes] = []


def _seeded(folder: Path):
    """A small store (5 papers), copied from one built once: ingesting per example is slow."""
    from tests.conftest import FIXTURES

    folder.mkdir(parents=True, exist_ok=True)
    if not _TEMPLATE:
        with tempfile.TemporaryDirectory() as build:
            db = open_db(Path(build) / "t.db")
            ingest(db, [FIXTURES / "layout_metadata.txt"])
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            db.close()
            _TEMPLATE.append((Path(build) / "t.db").read_bytes())
    (folder / "store.db").write_bytes(_TEMPLATE[0])
    return open_db(folder / "store.db")


@DB_SETTINGS
@given(st.lists(JSON_VALUES, max_size=6))
def test_the_import_validator_raises_only_input_errors(records):
    with tempfile.TemporaryDirectory() as folder:
        db = _seeded(Path(folder))
        known = {pid for _, pid in paper_order(db)}
        path = Path(folder) / "in.jsonl"
        path.write_text("\n".join(json.dumps(r) for r in records), encoding="utf-8")
        try:
            read_annotation_file(path, "ana", known)
        except InputError:
            pass
        db.close()


VALUE = st.none() | st.text(min_size=1, max_size=80).filter(lambda v: v.strip() and v == " ".join(v.split()))
DECISION = st.tuples(st.sampled_from(["accepted", "edited", "rejected"]), VALUE, VALUE, VALUE,
                     st.text(min_size=1, max_size=12).filter(lambda name: annotator_problem(name) is None))



@DB_SETTINGS
@given(st.lists(DECISION, min_size=1, max_size=5))
def test_a_valid_export_always_imports_back_unchanged(decisions):
    with tempfile.TemporaryDirectory() as folder:
        db = _seeded(Path(folder))
        ids = [pid for _, pid in paper_order(db)]
        for i, (status, technique, gain, compute, annotator) in enumerate(decisions):
            pid = ids[i % len(ids)]
            values = {"technique": technique, "claimed_gain": gain, "compute": compute}
            # as the review decides: accepted takes a suggestion's values as is; a rejection states none
            suggestion = add_suggestion(db, pid, "p" * 64, "summary", "offline", values) if status == "accepted" else None
            current = get_annotation(db, pid, annotator)
            decide(db, Decision(pid, annotator, status, {} if status == "rejected" else values, suggestion,
                                based_on=current.version if current else None))
        first = "".join(export_annotation_lines(db))
        path = Path(folder) / "export.jsonl"
        path.write_text(first, encoding="utf-8")
        fresh = _seeded(Path(folder) / "fresh")
        import_annotations(fresh, path, "nobody")
        assert "".join(export_annotation_lines(fresh)) == first
        db.close()
        fresh.close()
