"""Parsing the three dump layouts, JSONL, and bad input."""

from __future__ import annotations

import pytest

from tests.conftest import fixture_path, write
from workbench.corpus import paper_id, read_source
from workbench.errors import InputError


def parse(path):
    source = read_source(path)
    return list(source.papers), source.warning


def test_blank_line_layout_skips_page_headers():
    papers, warning = parse(fixture_path("layout_blank_lines.txt"))
    assert warning is None
    assert [p.title for p in papers] == [
        "A Multigrid Method for Efficiently Training Video Models",
        "BIOptimus: Pre-training an Optimal Biomedical Language Model with Curriculum Learning "
        "for Named Entity Recognition",
    ]
    assert papers[0].abstract.startswith("Training competitive deep video models")
    assert papers[0].abstract.endswith("Code is available online.")
    assert papers[0].line == 11 and papers[0].position == 1 and papers[1].position == 2
    assert papers[0].authors_count is None and papers[0].published is None


def test_layout_without_blank_lines_unglues_the_first_title():
    papers, _ = parse(fixture_path("layout_no_blank_lines.txt"))
    assert [p.title[:20] for p in papers] == ["BLSP: Bootstrapping ", "On Pre-training of M", "Evolution of Concept"]
    assert papers[0].line == 3
    assert all(len(p.abstract) > 300 for p in papers)


def test_metadata_layout_keeps_authors_date_upvotes_and_organisation():
    papers, _ = parse(fixture_path("layout_metadata.txt"))
    by_title = {p.title.split(":")[0]: p for p in papers}
    assert len(papers) == 5
    spdf = by_title["SPDF"]
    assert (spdf.authors_count, spdf.published, spdf.published_iso, spdf.upvotes) == (8, "Mar 18, 2023", "2023-03-18", None)
    moma = by_title["MoMa"]
    assert (moma.published, moma.published_iso, moma.upvotes) == ("Jul 31, 2024", "2024-07-31", 5)
    refinex = by_title["RefineX"]  # a paper with no metadata block at all
    assert (refinex.authors_count, refinex.published, refinex.organization) == (None, None, None)
    pixel = by_title["Advancing End-to-End Pixel Space Generative Modeling via Self-supervised Pre-training"]
    assert (pixel.organization, pixel.authors_count, pixel.published, pixel.published_iso, pixel.upvotes) == (
        "AMAP-ML", None, "Oct 14", None, 3)


def test_crlf_bom_and_trailing_space_give_the_same_papers(tmp_path):
    original = fixture_path("layout_metadata.txt").read_text(encoding="utf-8")
    mangled = "\ufeff" + "\r\n".join(line + "  \t" for line in original.split("\n"))
    papers, _ = parse(write(tmp_path / "mangled.txt", mangled.encode("utf-8")))
    expected, _ = parse(fixture_path("layout_metadata.txt"))
    assert [(p.id, p.abstract, p.published) for p in papers] == [(p.id, p.abstract, p.published) for p in expected]


def test_paper_id_ignores_case_unicode_form_and_white_space():
    assert paper_id("GaLore:  Memory-Efficient LLM Training ") == paper_id("galore: memory-efficient llm training")
    assert paper_id("Caf\u00e9") == paper_id("Cafe\u0301")
    assert paper_id("One paper") != paper_id("Another paper")


def test_jsonl_records_with_metadata(tmp_path):
    path = write(tmp_path / "mine.jsonl",
                 '{"title": "My  paper", "abstract": "We train 2x faster.", "upvotes": 3}\n\n'
                 '{"title": "Second", "abstract": "Another abstract.", "organization": "ACME"}\n')
    papers, _ = parse(path)
    assert [(p.title, p.upvotes, p.organization, p.line) for p in papers] == [
        ("My paper", 3, None, 1), ("Second", None, "ACME", 3)]


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("bin.txt", b"Title\n\x00\x01\x02binary", "bin.txt: looks binary (NUL byte at offset 6)"),
        ("empty.txt", b"", "empty.txt: file is empty"),
        ("blank.txt", b"\n \n\t\n", "blank.txt: file is empty"),
        ("headers.txt", b"new\n\nSubscribe\n\nbyAK and the research community\n\nMar 13\n", "headers.txt: no papers found"),
        ("latin.txt", b"A \x81 title\n\nAbstract.\n", "latin.txt:1: not UTF-8 text (byte 0x81 at column 3)"),
        ("orphan.txt", b"Title A\n\nAbstract A.\n\nTitle B\n", "orphan.txt:5: title has no abstract: 'Title B'"),
        ("meta.txt", b"Title A\n\n  \xe2\x80\xa2 3 authors\n\xc2\xb7\nMar 1\n", "meta.txt:1: title has no abstract"),
        ("long.txt", ("T\n\nA.\n\n" + "x" * 500 + "\n\nB.\n").encode(), "long.txt:5: expected a title, found a 500-character"),
        ("bad.jsonl", b'{"title": "A", "abstract": "B"}\n{"title": "C",\n', "bad.jsonl:2: not valid JSON"),
        ("list.jsonl", b'[1, 2]\n', "list.jsonl:1: expected a JSON object, got list"),
        ("missing.jsonl", b'{"title": "A"}\n', "missing.jsonl:1: 'abstract' must be a non-empty string"),
        ("types.jsonl", b'{"title": "A", "abstract": "B", "upvotes": "many"}\n', "types.jsonl:1: 'upvotes' must be a whole number"),
    ],
)
def test_bad_input_names_the_file_and_line(tmp_path, name, data, message):
    path = write(tmp_path / name, data)
    with pytest.raises(InputError) as caught:
        parse(path)
    text = str(caught.value)
    assert message in text
    assert "\n" not in text


def test_cp1252_file_is_read_with_a_warning(tmp_path):
    path = write(tmp_path / "cafe.txt", "Caf\u00e9 models\n\nWe study caf\u00e9 \u201cdata\u201d.\n".encode("cp1252"))
    papers, warning = parse(path)
    assert papers[0].title == "Caf\u00e9 models"
    assert papers[0].abstract == "We study caf\u00e9 \u201cdata\u201d."
    assert warning == f"{path}: not UTF-8 (line 1); read it as cp1252"
