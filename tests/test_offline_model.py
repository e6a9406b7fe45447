"""The offline model: deterministic rules that read the abstract, measured on hand-annotated samples."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests import offline_quality
from tests.conftest import FIXTURES, SEEDS, fixture_path
from workbench.corpus import expand_paths, read_source
from workbench.grounding import align
from workbench.models.offline import OfflineModel, extract, split_sentences
from workbench.prompts import resolve_prompt


@pytest.fixture(scope="module")
def seed_papers():
    papers = {}
    for path in expand_paths([SEEDS]):
        for paper in read_source(path).papers:
            papers.setdefault(paper.id, (paper.title, paper.abstract))
    return papers


def _paper(title_start: str):
    for path in (fixture_path("layout_blank_lines.txt"), fixture_path("layout_metadata.txt")):
        for paper in read_source(path).papers:
            if paper.title.startswith(title_start):
                return paper
    raise KeyError(title_start)


def test_multigrid_summary_reads_the_abstract():
    paper = _paper("A Multigrid Method")
    summary = extract(paper.title, paper.abstract)
    assert summary.technique == "variable mini-batch shapes with different spatial-temporal resolutions"
    assert "4.5x faster" in summary.claimed_gain and "+0.8% absolute" in summary.claimed_gain
    assert summary.compute == "128 GPUs; 1 GPU"
    for quote in summary.quotes().values():
        assert align(quote, paper.abstract).status == "exact"


def test_moma_gains_and_compute():
    paper = _paper("MoMa")
    summary = extract(paper.title, paper.abstract)
    assert summary.technique.startswith("MoMa, a novel modality-aware mixture-of-experts (MoE) architecture")
    for figure in ("3.7x", "2.6x", "5.2x", "4.2x"):
        assert figure in summary.claimed_gain
    assert "1-trillion-token" in summary.compute and "1.4B model" in summary.compute


def test_no_quantified_gain_gives_null_with_null_evidence():
    paper = _paper("BIOptimus")
    summary = extract(paper.title, paper.abstract)
    assert summary.claimed_gain is None and summary.evidence.claimed_gain is None


def test_sentence_split_keeps_abbreviations_and_decimals():
    text = "We use e.g. BERT and GPT vs. T5 with 2.5x gains. Next sentence here. (3) A third one."
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "We use e.g. BERT and GPT vs. T5 with 2.5x gains.", "Next sentence here.", "(3) A third one."]


def test_offline_model_is_deterministic_and_async():
    paper = _paper("MoMa")
    model = OfflineModel()
    first = asyncio.run(model.summarise(paper.title, paper.abstract, resolve_prompt("summary")))
    second = asyncio.run(model.summarise(paper.title, paper.abstract, resolve_prompt("gains")))
    assert first.outcome == "ok" and first.summary == second.summary
    assert json.loads(first.raw)["claimed_gain"] == first.summary.claimed_gain


@pytest.mark.parametrize("sample", ["offline_gold_heldout.jsonl", "offline_gold_blind.jsonl"])
def test_quality_on_hand_annotated_samples(seed_papers, monkeypatch, sample):
    monkeypatch.setattr(offline_quality, "GOLD", FIXTURES / sample)
    quality = offline_quality.measure(seed_papers, [])
    assert quality.figures >= 30 and quality.no_gain >= 30  # the samples are what the note says
    assert quality.figure_recall >= 0.80, quality.misses
    assert quality.null_rate >= 0.70, quality.misses


def test_every_offline_quote_on_the_seeds_grounds_exactly(seed_papers):
    quality = offline_quality.measure({}, list(seed_papers.values()))
    assert quality.quotes > 600 and quality.exact_quotes == quality.quotes
