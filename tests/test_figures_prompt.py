"""`{figures}` in a prompt: the abstract's numbers with the words around them, bounded and clean."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import ROOT, write
from tests.fake_openai import FakeOpenAI
from workbench.models.figures import (
    GAINS_HEADING, MAX_LINE_CHARS, MAX_LINES, NONE, NONE_FOUND, OTHERS_HEADING, candidate_figures, figure_numbers,
    list_figures,
)
from workbench.models.openai_compat import OpenAICompatibleModel
from workbench.prompts import list_prompts, load_prompt_file

_FIGURES_PROMPT = 'name = "f"\ndescription = "d"\nsystem = "s"\nuser = "Title: {title}\\n<<<\\n{abstract}\\n>>>\\n---\\n{figures}"\n'


def test_thousands_of_numbers_give_a_bounded_list_quickly():
    abstract = " ".join(f"Run {n} took {n}.5 hours and gained {n % 97}% over the baseline." for n in range(5000))
    started = time.perf_counter()
    lines = candidate_figures(abstract)
    assert time.perf_counter() - started < 2
    assert 0 < len(lines) <= MAX_LINES and all(len(line) <= MAX_LINE_CHARS + 2 for line, _ in lines)
    assert len(list_figures(abstract)) <= MAX_LINES * (MAX_LINE_CHARS + 8) + 200
    # the figures that can compare came first: every line listed carries a percentage
    assert all("%" in line and comparing for line, comparing in lines)


def test_one_endless_sentence_of_digits_is_bounded_too():
    lines = candidate_figures("1 " * 200_000)
    assert len(lines) <= MAX_LINES and all(len(line) <= MAX_LINE_CHARS + 2 for line, _ in lines)


def test_control_and_bidi_characters_never_reach_the_list():
    abstract = ("We propose X\x1b]0;PWNED\x07. It is 2.5x\x1b[2J faster than Y and uses 8\u202e GPUs\u202c "
                "with 3\x00% less\rmemory.")
    text = list_figures(abstract)
    assert "2.5x" in text and "8" in text
    assert not any(c in text for c in "\x1b\x07\x00\r\u202e\u202c")
    assert all(c.isprintable() for c in text.replace("\n", ""))


def test_numbers_in_latex_are_written_as_they_print():
    abstract = (r"Our method reduces memory by 35\% and trains $2.3\times$ faster, reaching "
                r"$\sim$24\% of the data with $\approx 7$B parameters.")
    lines = candidate_figures(abstract)
    text = "\n".join(line for line, _ in lines)
    assert "35%" in text and "2.3×" in text and "~24%" in text and "≈ 7B" in text
    assert "\\" not in text and "$" not in text


def test_close_numbers_share_a_line_and_far_ones_do_not():
    abstract = ("We propose ProX. It improves accuracy by 7.6, 14.6 and 20.3 points over the baselines. "
                "Training used 256 GPUs for a long time in a cluster of the university. Nothing else is said.")
    (gain, comparing), (other, counting) = candidate_figures(abstract)
    assert "7.6, 14.6 and 20.3 points" in gain and comparing
    assert other.startswith("Training used 256 GPUs") and not counting  # the sentence's start: no "…" before it
    assert list_figures(abstract).splitlines() == [GAINS_HEADING, "1. " + gain, OTHERS_HEADING, "- " + other]


def test_absolute_quantities_are_other_numbers():
    listed = list_figures("We propose Q. It trains on 180k hours of audio in 3 days with 16 GB of memory.")
    assert listed.splitlines()[:2] == [GAINS_HEADING, NONE]
    assert "180k hours" in listed.splitlines()[3]


def test_figures_read_latex_as_it_prints():
    # A font command's argument is what prints: "\\textbf{3x}" is the figure "3x", in the list and for the
    # checks (the finder once dropped only braces and read "\\textbf3x"); "costs $5" keeps its dollar.
    assert figure_numbers("We are \\textbf{3x} faster than the baseline.") == {"3"}
    assert "3x faster" in list_figures("We are \\textbf{3x} faster than the baseline.")
    assert "$5" in list_figures("Training costs $5 and runs 2x faster than the baseline.")


def test_an_abstract_without_numbers_says_so():
    assert list_figures("We study transformers. They are good.") == NONE_FOUND
    assert candidate_figures("") == []


def test_the_prompt_fills_figures_in_the_paper_turn_and_the_examples(tmp_path):
    prompt = load_prompt_file(write(tmp_path / "f.toml", _FIGURES_PROMPT))
    abstract = "A {title} and {figures} in the text, 3x faster than {abstract}."
    messages = prompt.render("T {abstract}", abstract, figures=list_figures)
    content = messages[-1]["content"]
    # one pass: the braces in the title and abstract are left as they are
    assert content.startswith("Title: T {abstract}\n<<<\nA {title} and {figures} in the text, 3x faster than {abstract}.\n")
    # the figure lines read the abstract as it prints (plain_text): braces that group nothing stay
    assert content.endswith("---\n" + GAINS_HEADING + "\n1. …{title} and {figures} in the text, 3x faster than {abstract}.\n"
                            + OTHERS_HEADING + "\n" + NONE)
    with pytest.raises(ValueError, match="figures"):
        prompt.render("T", abstract)  # a caller that forgot the lister is a programming error, not an empty list


def test_prompts_without_figures_render_as_before():
    summary = next(p for p in list_prompts(ROOT / "prompts") if p.name == "summary")
    assert summary.render("T", "A 3x gain.") == summary.render("T", "A 3x gain.", figures=list_figures)


def test_the_shipped_figures_prompt_lists_the_figures_for_every_turn():
    figures = next(p for p in list_prompts(ROOT / "prompts") if p.name == "figures")
    messages = figures.render("T", "We propose Z. Z is 4.5x faster than Y on 64 GPUs.", figures=list_figures)
    assert "\n1. We propose Z. Z is 4.5x faster than Y on 64 GPUs.\n" in messages[-1]["content"]
    example_turns = [m["content"] for m in messages[1:-1] if m["role"] == "user"]
    gains, no_gain = example_turns
    assert GAINS_HEADING + "\n1. " in gains and "38% less memory than the BF16 baseline" in gains
    # a score with nothing it beats is listed, but not as a gain
    assert GAINS_HEADING + "\n" + NONE in no_gain and "- Loom reaches 41.5% pass@1" in no_gain


def test_a_share_with_no_word_of_comparison_near_it_is_not_listed_as_a_gain():
    listed = list_figures("We propose K. K preserves 97% of the accuracy. K is 2x faster than the baseline.")
    gains = listed.split(OTHERS_HEADING)[0]
    assert "2x faster" in gains and "97%" not in gains and "97%" in listed.split(OTHERS_HEADING)[1]


async def test_the_live_path_sends_the_figures(tmp_path):
    prompt = load_prompt_file(write(tmp_path / "f.toml", _FIGURES_PROMPT))
    fake = FakeOpenAI().start()
    model = OpenAICompatibleModel("test-model", base_url=fake.base_url, timeout=10, response_format="json_schema")
    try:
        reply = await model.summarise("Fast", "We propose Z. Z trains 4.5x faster than Y.", prompt)
    finally:
        await model.aclose()
        fake.stop()
    assert reply.outcome == "ok", reply.error
    sent = fake.requests[-1].body["messages"][-1]["content"]
    assert sent.endswith(f"---\n{GAINS_HEADING}\n1. We propose Z. Z trains 4.5x faster than Y.\n{OTHERS_HEADING}\n{NONE}")
    assert json.loads(reply.raw)["claimed_gain"]


def test_a_batch_request_line_carries_the_figures_as_the_live_path_does():
    from workbench.batch_files import RequestLines

    figures = next(p for p in list_prompts(ROOT / "prompts") if p.name == "figures")
    model = OpenAICompatibleModel("test-model", base_url="http://127.0.0.1:9/v1", timeout=10,
                                  response_format="json_schema")
    abstract = "We propose Z. Z trains 4.5x faster than Y on 64 GPUs."
    line = json.loads(RequestLines(model, figures).line("p1", "Fast", abstract, "0123456789abcdef"))
    live = model.request_body(figures, model.messages(figures, "Fast", abstract))
    assert line["body"] == live
    assert "\n1. We propose Z. Z trains 4.5x faster than Y on 64 GPUs.\n" in line["body"]["messages"][-1]["content"]


def test_figure_numbers_are_the_finders_figures_of_a_claimed_gain():
    from workbench.models.figures import figure_numbers

    assert figure_numbers("3 Dice points over the baseline; FVD 83 vs. 176; 2.3x faster; +20% recall") >= {
        "3", "83", "176", "2.3", "20"}
    assert figure_numbers("a 7B model trained in 2024 on 64 GPUs") == set()  # bare numbers are not figures
    assert figure_numbers(None) == set() and figure_numbers("") == set()
    assert len(figure_numbers("5% " * 1_000_000)) == 1  # bounded: the first characters only
