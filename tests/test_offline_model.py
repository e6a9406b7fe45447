"""The offline model: deterministic rules that read the abstract, worded by the prompt's [offline] table,
measured on hand-annotated samples, and safe on hostile text."""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import FIXTURES, ROOT, SEEDS, fixture_path, write
from workbench.corpus import read_source
from benchmarks.evaluation import carries, figures_in, load_gold, quote_grounding, read_abstracts, score
from workbench.grounding import align, ground_summary
from workbench.models.offline import (DEFAULT_SETTINGS, RULES_VERSION, OfflineModel, extract, offline_note,
                                      split_sentences)
from workbench.models.offline_settings import OfflineSettings
from workbench.prompts import load_prompt_file, resolve_prompt
from workbench.schema import MAX_QUOTE_CHARS, MAX_VALUE_CHARS, Summary
from workbench.vocab import EXACT, OK

SUMMARY, GAINS = resolve_prompt("summary").offline, resolve_prompt("gains").offline


@pytest.fixture(scope="module")
def seed_papers():
    return read_abstracts([SEEDS])


def _paper(title_start: str):
    for path in (fixture_path("layout_blank_lines.txt"), fixture_path("layout_metadata.txt")):
        for paper in read_source(path).papers:
            if paper.title.startswith(title_start):
                return paper
    raise KeyError(title_start)


def _grounds_exactly(summary: Summary, abstract: str) -> bool:
    return all(align(quote, abstract).status == EXACT for quote in summary.quotes().values() if quote)


# --------------------------------------------------------------------------- what it reads


def test_multigrid_reads_like_a_reviewer():
    paper = _paper("A Multigrid Method")
    summary = extract(paper.title, paper.abstract, SUMMARY)
    assert summary.technique == "A Multigrid Method for Efficiently Training Video Models"  # no "NAME:": the title
    assert summary.claimed_gain == ("4.5x faster; +0.8% absolute accuracy on Kinetics-400 vs. the baseline "
                                    "training method")
    assert summary.compute == "128 GPUs; 1 GPU"
    assert _grounds_exactly(summary, paper.abstract)


def test_moma_name_phrase_gains_without_the_baselines_figures():
    paper = _paper("MoMa")
    summary = extract(paper.title, paper.abstract, SUMMARY)
    assert summary.technique == "MoMa: Efficient Early-Fusion Pre-training with Mixture of Modality-Aware Experts"
    assert summary.evidence.technique.startswith("We introduce MoMa, a novel modality-aware")  # where it is named
    for figure in ("3.7x", "2.6x", "5.2x", "4.2x"):
        assert figure in summary.claimed_gain
    # "outperforms the standard expert-choice MoE ..., which achieves 3x": the competitor's figures
    assert "2.8x" not in summary.claimed_gain and "3x overall" not in summary.claimed_gain
    assert "(text: 3.4x" not in summary.claimed_gain  # a breakdown in brackets stays in the quote
    assert summary.compute == "1-trillion-token; 1.4B model"
    assert _grounds_exactly(summary, paper.abstract)


def test_no_quantified_gain_gives_null_with_null_evidence():
    paper = _paper("BIOptimus")
    summary = extract(paper.title, paper.abstract, SUMMARY)
    assert summary.claimed_gain is None and summary.evidence.claimed_gain is None


def test_absolute_scores_are_not_gains_but_comparisons_are():
    scores = "Our model achieves 23.29 mAP on HICO-DET and reaches 85.2% accuracy on ImageNet."
    assert extract("X", scores).claimed_gain is None
    compared = "MetaCLIP reaches 70.8% vs. 68.3% for CLIP on ViT-B models."
    gain = extract("X", compared).claimed_gain
    assert "70.8%" in gain and "68.3%" in gain
    # Rules 5: a score followed by "surpassing X's N%" is no longer read as a comparison (the two rules that did
    # helped one paper of dev and hurt one of blind and one of blind2; README, "Offline model quality").
    assert extract("X", "MetaCLIP achieves 70.8% accuracy, surpassing CLIP's 68.3% on ViT-B models.").claimed_gain \
        is None


# The annotation policy (tests/fixtures/offline_gold_*.jsonl): what is not a gain, though a gain word stands by it.
@pytest.mark.parametrize("abstract", [
    "The performance improves steadily with model size (71.2% on MMLU, 64.3% on GSM8K).",  # scores listed
    "We improve results on several benchmarks, reaching 88.1% on SST-2 and 91.0% on QNLI.",
    "Our model achieves 85.2% accuracy on ImageNet, outperforming all prior methods.",  # compared with no figure
    "The method speeds up training with only a 0.5% accuracy drop.",  # drops in quality
    "Our approach often shows a merely 0.6 point decrease in performance while pruning heavily.",
    "Prior methods report gains of 5% on this benchmark, but ours is simpler.",  # a baseline's own
    "Namely, for 16 times more data, the fully-supervised model achieved an improvement <1% in AUC.",
    "Compared to FlashAttention, which reaches a 1.5x speedup over PyTorch, ours is simpler.",  # a competitor's
    "We observe consistent improvements across sparsity ratios from 50% to 90%.",  # settings
    "Our method improves robustness when trained with 1% to 10% of the labels.",
    "Our model, pre-trained on BigEarthNet-10%, outperforms the baseline.",  # a name
    "A subset of parameters (0.01% of them) is responsible for (>95%) of the model's performance.",  # a finding
    "Training competitive video models is an order of magnitude slower than image models.",  # a cost
])
def test_what_the_policy_does_not_count_is_not_a_gain(abstract):
    assert extract("A Paper", abstract, SUMMARY).claimed_gain is None


@pytest.mark.parametrize("abstract, figures", [
    ("This leads to 5.5% and 12.3% relative improvements on the two benchmarks.", ["5.5%", "12.3%"]),
    ("The resulting dataset is three orders of magnitude smaller than web-scale datasets.",
     ["three orders of magnitude"]),
    ("It facilitates doubling the batch size in distributed training.", ["doubling"]),
    ("We achieve competitive performance with just 20% of training data.", ["20%"]),
    ("It matches speech loss at 24.80% of the FLOPs at the 1.4B scale.", ["24.80%"]),
    ("It also reduces compute, with a 14X cut in learnable parameters.", ["14X"]),
    ("It improves over raw data by a wide margin (5.7% rightarrow 25.4% on MATH).", ["5.7%", "25.4%"]),
    ("It is 3x faster at the cost of a 1.2% drop in accuracy.", ["3x"]),  # the drop is not carried along
    ("It needs 20x-200x fewer modified parameters than LoRA.", ["20x-200x"]),
    ("The pruned model retains 95% of the original model's accuracy with 50% sparsity.", ["95%"]),
])
def test_what_the_policy_counts_is_a_gain(abstract, figures):
    gain = extract("A Paper", abstract, SUMMARY).claimed_gain
    assert all(figure in gain for figure in figures), gain
    assert "1.2%" not in gain and "50%" not in gain  # a drop, a setting


@pytest.mark.parametrize("abstract, wanted", [
    ("Our method reduces memory usage by up to 65.5% in optimizer states.",
     "memory usage reduced by up to 65.5% in optimizer states"),
    ("It outperforms GPT-3 in-context learning by 33% on few-shot NLU tasks.",
     "33% on few-shot NLU tasks over GPT-3 in-context learning"),
    ("We demonstrate accelerations of 65.08% with 1D parallelism at the 128-GPU scale.",
     "65.08% acceleration with 1D parallelism at the 128-GPU scale"),
    ("Models trained on 30B tokens match a baseline, achieving a 10x reduction in compute requirements.",
     "10x reduction in compute requirements"),
    ("Our approach can speed up the training of vision-language models by a factor times 5 without loss.",
     "training of vision-language models sped up by a factor times 5"),
])
def test_a_gain_is_the_figure_with_what_it_measures_not_a_fragment(abstract, wanted):
    assert extract("A Paper", abstract, SUMMARY).claimed_gain == wanted


# The technique is the title's "NAME: phrase" split and nothing else (rules 5): reading a name and a phrase
# from the abstract scored within -0.007..+0.031 token-F1 of the title alone on the six samples.
@pytest.mark.parametrize("title, abstract, name, phrase", [
    ("GPTQ: Accurate Post-Training Quantization for Generative Pre-trained Transformers",
     "In this paper, we propose GPTQ, a new one-shot weight quantization method based on approximate "
     "second-order information, that is both highly-accurate and highly-efficient.",
     "GPTQ", "Accurate Post-Training Quantization for Generative Pre-trained Transformers"),
    ("DDPM-CD - Denoising Diffusion Models as Feature Extractors", "We propose a novel approach for change "
     "detection that uses a pre-trained diffusion model.", "DDPM-CD", "Denoising Diffusion Models as Feature Extractors"),
    # no "NAME:" in the title: the title, whatever the abstract calls the method
    ("Thinking Augmented Pre-training", "To address this, we propose Thinking augmented Pre-Training (TPT), "
     "a universal methodology that augments text with generated thinking trajectories.", None, None),
    ("Too Large; Data Reduction for Vision-Language Pre-Training",  # ";" is not a split
     "This paper proposes an efficient and straightforward Vision-Language learning algorithm called TL;DR.",
     None, None),
    ("Selectivity Drives Productivity: Efficient Dataset Pruning", "We propose a data pruning method.",
     None, None),  # a slogan (no capital inside, not in the abstract) is not a name
    ("Rethinking Pre-training: A Study", "We study pre-training.", None, None),  # nor a title's opening verb
])
def test_technique_is_the_titles_name_and_phrase(title, abstract, name, phrase):
    both = extract(title, abstract, SUMMARY)
    assert both.technique == (f"{name}: {phrase}" if name else title)
    assert extract(title, abstract, replace(SUMMARY, technique="name")).technique == (name or title)
    assert extract(title, abstract, replace(SUMMARY, technique="phrase")).technique == (phrase or title)
    assert _grounds_exactly(both, abstract)


def test_the_technique_quote_is_the_sentence_naming_the_method():
    abstract = ("Large models are costly to train. Prior work prunes data. We propose GPTQ, a one-shot weight "
                "quantization method for Generative Pre-trained Transformers. It is 3x faster.")
    summary = extract("GPTQ: Quantization for Generative Pre-trained Transformers", abstract, SUMMARY)
    assert summary.evidence.technique == ("We propose GPTQ, a one-shot weight quantization method for Generative "
                                          "Pre-trained Transformers.")


def test_the_technique_is_the_title_on_every_seed_paper(seed_papers):
    # name_and_phrase is the title with its separator written ": " (the prompts' default and `summary`'s)
    for title, abstract in seed_papers.values():
        technique = extract(title, abstract, SUMMARY).technique
        assert technique.replace(": ", " ").split() == title.replace(": ", " ").replace(" - ", " ").replace(
            " — ", " ").split() or technique == title[:len(technique) - 1] + "…", (title, technique)


def test_compute_figures_are_kept_once():
    abstract = ("GPTQ can quantize GPT models with 175 billion parameters in approximately four GPU hours. "
                "It runs an 175 billion-parameter model inside a single GPU.")
    assert extract("GPTQ", abstract, SUMMARY).compute == "175 billion parameters"


def test_sentence_split_keeps_abbreviations_and_decimals():
    text = "We use e.g. BERT and GPT vs. T5 with 2.5x gains. Next sentence here. (3) A third one."
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "We use e.g. BERT and GPT vs. T5 with 2.5x gains.", "Next sentence here.", "(3) A third one."]


# --------------------------------------------------------------------------- the [offline] table


def test_each_setting_changes_the_wording():
    paper = _paper("MoMa")
    base = extract(paper.title, paper.abstract, DEFAULT_SETTINGS)
    assert extract(paper.title, paper.abstract, replace(DEFAULT_SETTINGS, technique="name")).technique == "MoMa"
    assert extract(paper.title, paper.abstract, replace(DEFAULT_SETTINGS, technique="phrase")).technique == \
        "Efficient Early-Fusion Pre-training with Mixture of Modality-Aware Experts"
    headline = extract(paper.title, paper.abstract, replace(DEFAULT_SETTINGS, gains="headline")).claimed_gain
    assert "3.7x" in headline and "4.2x" not in headline and "4.2x" in base.claimed_gain
    clause = extract(paper.title, paper.abstract, replace(DEFAULT_SETTINGS, gain_style="clause")).claimed_gain
    assert len(clause) > len(base.claimed_gain) and "3.7x" in clause
    no_tokens = extract(paper.title, paper.abstract, replace(DEFAULT_SETTINGS, compute=("parameters",)))
    assert no_tokens.compute == "1.4B model"
    assert extract(paper.title, paper.abstract, replace(DEFAULT_SETTINGS, compute=())).compute is None


def test_the_model_reads_the_prompts_table_and_its_params_name_the_settings(tmp_path):
    paper = _paper("MoMa")
    model = OfflineModel()
    summary_prompt, gains_prompt = resolve_prompt("summary"), resolve_prompt("gains")
    first = asyncio.run(model.summarise(paper.title, paper.abstract, summary_prompt))
    again = model.summarise_now(paper.title, paper.abstract, summary_prompt)
    other = asyncio.run(model.summarise(paper.title, paper.abstract, gains_prompt))
    assert first.outcome == OK and first.summary == again.summary  # deterministic
    assert json.loads(first.raw)["claimed_gain"] == first.summary.claimed_gain
    assert other.summary.technique == "MoMa" and other.summary != first.summary
    assert model.params(summary_prompt) != model.params(gains_prompt)
    assert model.params(summary_prompt)["technique"] == "name_and_phrase"
    assert offline_note(summary_prompt) is None and offline_note(gains_prompt) is None
    bare = load_prompt_file(write(tmp_path / "bare.toml", 'name = "bare"\ndescription = "d"\n'
                                  'system = "s"\nuser = "{title} {abstract}"\n'))
    assert bare.offline is None and "ignores the text of prompt 'bare'" in offline_note(bare)
    assert model.params(bare) == {"rules": RULES_VERSION, **DEFAULT_SETTINGS.as_dict()}
    assert model.params(bare) != model.params(gains_prompt)  # the defaults are not the gains prompt's settings


def test_summary_and_gains_differ_on_at_least_100_seed_papers(seed_papers):
    differ = sum(extract(t, a, SUMMARY) != extract(t, a, GAINS) for t, a in seed_papers.values())
    assert len(seed_papers) == 504 and differ >= 100, differ


# --------------------------------------------------------------------------- measured on the gold samples

# The targets. Dev and dev2 were tuned on; held-out was read while tuning; blind and blind2 were
# measured after rules 4 were frozen; fresh (issue 24) was annotated and committed before any rule change.
# Technique F1 is the title's (rules 5 use the title's "NAME: phrase" split), so it is held at the title's.
TARGETS = {"figure_recall": 0.85, "figure_precision": 0.90, "null_rate": 0.90, "technique_f1": 0.45}
MAX_LENGTH_RATIO = 2.0


def _quality(sample: str, papers):
    return score(load_gold(FIXTURES / f"offline_gold_{sample}.jsonl"), papers, lambda t, a: extract(t, a, SUMMARY))


@pytest.mark.parametrize("sample, papers_in_sample, figures", [("dev", 50, 44), ("dev2", 50, 33), ("heldout", 51, 31)])
def test_quality_on_the_samples_tuned_on(seed_papers, sample, papers_in_sample, figures):
    quality = _quality(sample, seed_papers)
    assert (quality.papers, quality.figures) == (papers_in_sample, figures)  # the samples are what they say
    for measure, target in TARGETS.items():
        assert getattr(quality, measure) >= target, (measure, quality.as_dict(), quality.misses)
    assert quality.length_ratio <= MAX_LENGTH_RATIO
    assert quality.technique_f1 == pytest.approx(quality.title_f1)  # the title's split: as good as the title


# Every sample with the summary prompt and rules 5, recorded as measured (README, "Offline model quality",
# has these with rules 4 beside them). Rules 5 removed rules by measuring each removal on all six samples;
# so fresh, annotated before that, was blind for rules 4 (recall 27/35, precision 28/34, null 26/26,
# technique F1 0.422, title 0.429) and was one of the six samples the removals were measured on.
# A rule change that moves these figures is measured on every sample and re-recorded, not fitted to one.
MEASURED = {
    "dev": {"carried": 42, "figures": 44, "right_figures": 39, "suggested_figures": 39, "null_on_no_gain": 29,
            "no_gain": 29, "compute_carried": 19, "compute_numbers": 35},
    "dev2": {"carried": 33, "figures": 33, "right_figures": 32, "suggested_figures": 32, "null_on_no_gain": 33,
             "no_gain": 33, "compute_carried": 14, "compute_numbers": 33},
    "heldout": {"carried": 29, "figures": 31, "right_figures": 25, "suggested_figures": 25, "null_on_no_gain": 34,
                "no_gain": 35, "compute_carried": 16, "compute_numbers": 30},
    "blind": {"carried": 26, "figures": 31, "right_figures": 23, "suggested_figures": 25, "null_on_no_gain": 30,
              "no_gain": 31, "compute_carried": 12, "compute_numbers": 26},
    "blind2": {"carried": 33, "figures": 40, "right_figures": 35, "suggested_figures": 35, "null_on_no_gain": 32,
               "no_gain": 32, "compute_carried": 12, "compute_numbers": 26},
    "fresh": {"carried": 27, "figures": 35, "right_figures": 28, "suggested_figures": 34, "null_on_no_gain": 26,
              "no_gain": 26, "compute_carried": 15, "compute_numbers": 24},
}
# Rules 4 on the same samples (same order of keys), for the no-regression check pooled over all six.
RULES_4 = {"carried": 190, "wrong_figures": 16, "null_on_no_gain": 184, "compute_carried": 88}


@pytest.mark.parametrize("sample", MEASURED)
def test_every_sample_scores_what_was_measured(seed_papers, sample):
    quality = _quality(sample, seed_papers)
    assert {key: getattr(quality, key) for key in MEASURED[sample]} == MEASURED[sample]
    assert quality.technique_f1 == pytest.approx(quality.title_f1)
    assert quality.null_rate >= TARGETS["null_rate"] and quality.length_ratio <= MAX_LENGTH_RATIO


def test_no_pooled_measure_regressed_from_rules_4():
    pooled = {key: sum(counts[key] for counts in MEASURED.values()) for key in MEASURED["dev"]}
    assert pooled["carried"] >= RULES_4["carried"]
    assert pooled["suggested_figures"] - pooled["right_figures"] <= RULES_4["wrong_figures"]
    assert pooled["null_on_no_gain"] >= RULES_4["null_on_no_gain"]
    assert pooled["compute_carried"] >= RULES_4["compute_carried"]


def test_the_scoring_rules():
    assert carries("+0.8%", "4.5x faster; +0.8% accuracy") and not carries("3.25x", "4.5x faster")
    assert carries("doubles", "more than doubles the gains") and not carries("doubles", "twice as fast")
    assert figures_in("4.5x faster; +0.8% accuracy; 36.5 points; a factor of 3; 1.4B model") == \
        ["4.5", "0.8", "36.5", "3"]


def test_every_offline_quote_on_the_seeds_grounds_exactly(seed_papers):
    for settings_ in (SUMMARY, GAINS):
        quotes, exact = quote_grounding(seed_papers.values(), lambda t, a: extract(t, a, settings_))
        assert quotes > 700 and exact == quotes


# --------------------------------------------------------------------------- hostile text

_LONG_SENTENCE = ("We propose LongNet, " + ", ".join(f"a component number {i} that helps" for i in range(120))
                  + " and it is 3.5x faster than the baseline on 64 GPUs.")
HOSTILE = {
    "one sentence over the quote limit": _LONG_SENTENCE,
    "100,000 characters": ("We propose FastNet, which reduces training time by 45% compared to dense baselines "
                           "on 8 A100 GPUs with 1.3B parameters and 300B tokens. " * 700)[:100_000],
    "one 100,000-character sentence": ("reduces time by 45% over the baseline with 8 GPUs and " * 2000)[:100_000],
    "10,000-character words": "We propose " + "A" * 10_000 + " which is 2x faster. " + "b" * 10_000 + " 3% better.",
    "dots": "It is " + "1." * 10_000 + "1x faster than before by 50%.",
    "commas": "Gains of " + "9," * 10_000 + "9% over the baseline by " + "9," * 10_000 + "9x.",
    "digits": "speedup " + "9" * 20_000 + "x faster " + "1" * 20_000 + "%",
    "white space": "We propose X" + " " * 20_000 + "that is 2x faster" + "\n" * 5_000 + " than Y by 40%.",
    "markup": ("[b]We[/b] propose <script>X</script> \x1b[2J\u202e, a method \\textsc{Y} that improves accuracy "
               "by 5\\% over $\\sim$3.2x baselines; TL;DR. [@click=quit]" * 300),
    "punctuation runs": "improves " + "-" * 30_000 + " by 5% " + "%" * 30_000 + "(" * 30_000,
    "figures everywhere": ("3.7x vs. " + "(" * 50 + "by 4% faster 1-2% +1 " * 40) * 60,
    "colons": "It is 2x faster than X: " + "word: " * 16_000 + "and 3x faster than Y.",
    "far-apart figures": "It is 2x faster. " + " ".join(f"only 1/10 while 2x from {i} to 9 by a factor of 3"
                                                        for i in range(2_000)),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_abstracts_give_valid_grounded_summaries_fast(name):
    abstract = HOSTILE[name][:100_000]
    for settings_ in (SUMMARY, GAINS):
        started = time.process_time()
        summary = extract("A: Hostile Paper", abstract, settings_)
        ground_summary(summary.fields(), summary.quotes(), abstract)
        elapsed = time.process_time() - started
        assert elapsed < 2.0, (name, elapsed)  # well under a second on this machine; no quadratic regex
        Summary.model_validate(summary.model_dump())
        assert all(len(q) <= MAX_QUOTE_CHARS for q in summary.quotes().values() if q)
        assert all(len(v) <= MAX_VALUE_CHARS for v in summary.fields().values() if v)
        assert _grounds_exactly(summary, abstract)


def test_only_the_first_8000_characters_are_read():
    head = "We propose FastNet, a sparse attention method. It is 2x faster than dense attention. "
    filler = "It is a long sentence about nothing in particular. " * 400
    late = "FastNet trains on 512 TPU v4 chips. "
    summary = extract("FastNet", head + filler + late, SUMMARY)
    assert summary.claimed_gain is not None and "2x" in summary.claimed_gain
    assert summary.compute is None  # stated only after the part the rules read
    assert extract("FastNet", head + late + filler, SUMMARY).compute is not None
    assert extract("FastNet", head + filler + late, SUMMARY) == extract("FastNet", (head + filler)[:8_000], SUMMARY)


def test_work_grows_linearly_with_the_abstract(monkeypatch):
    """Ten times the text, about ten times the work (a quadratic pattern would take a hundred)."""
    import workbench.models.offline

    monkeypatch.setattr(workbench.models.offline, "MAX_READ_CHARS", 10**9)  # the rules themselves, uncut
    unit = ("It is " + "1." * 300 + "1x faster than before by 50% and " + "9," * 300 + "9% over it. " + "+" * 300
            + " word: only 1/10 while 2x from 1 to 2 by a factor of 3 (3x faster")

    def cost(copies: int) -> float:
        text = unit * copies
        best = float("inf")
        for _ in range(3):
            started = time.process_time()
            extract("T", text, SUMMARY)
            best = min(best, time.process_time() - started)
        return best

    assert cost(100) < 30 * cost(10) + 0.05


_TEXT = st.text(st.characters(codec="utf-8"), max_size=600) | st.lists(
    st.sampled_from(["We propose ", "FastNet", ", a ", "method", " reduces ", "by ", "up to ", "45", "%", "x",
                     " faster", " than ", "the baseline", "(", ")", ". ", "; ", ": ", "TL;DR", "1.1.", "9,9", "+",
                     " vs. ", "  ", "\n", "\t", "\u00a0", "GPUs", " 8 ", "B tokens", "~", "\\%", "A", "1"]),
    max_size=80).map("".join)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(title=st.text(max_size=80), abstract=_TEXT)
def test_any_text_gives_a_valid_summary_whose_quotes_ground_exactly(title, abstract):
    for settings_ in (SUMMARY, GAINS, DEFAULT_SETTINGS):
        summary = extract(title, abstract, settings_)
        assert Summary.model_validate(summary.model_dump()) == summary
        assert _grounds_exactly(summary, abstract)


def test_settings_are_documented_in_the_readme():
    readme = (ROOT / "README.md").read_text()
    for name in OfflineSettings.__dataclass_fields__:
        assert f"`{name}`" in readme
