"""The abstract as it prints (workbench/plain_text.py): what is sent to a model, and how a quote of that
text maps back to the stored abstract (grounding and highlights stay on the stored text)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import SEEDS
from workbench.corpus import read_source
from workbench.grounding import align
from workbench.plain_text import as_printed, plain_text
from workbench.vocab import EXACT


def _quote_maps_back(stored: str, start: int, end: int) -> None:
    """A stripped quote of the plain text maps to a stored span that prints exactly the (widened) quote."""
    plain = plain_text(stored)
    a, b = plain.to_stored(start, end)
    wide_start, wide_end = plain.widen(start, end)
    assert wide_start <= start and end <= wide_end
    assert 0 <= a <= b <= len(stored)
    if not plain.changed:  # it prints as stored: the span is the quote itself (a slice of "\\timesx" is
        assert stored[a:b] == plain.text[start:end]  # not to be printed again on its own: "\\times" is ×)
        return
    assert as_printed(stored[a:b]) == plain.text[wide_start:wide_end]


# --------------------------------------------------------------------------- hostile first


def test_escaped_percent_at_the_very_end_of_the_abstract():
    stored = "Training is 30\\% faster and uses 5\\%"
    plain = plain_text(stored)
    assert plain.text == "Training is 30% faster and uses 5%"
    start = plain.text.index("5%")
    assert plain.to_stored(start, start + 2) == (len(stored) - 3, len(stored))
    assert stored[slice(*plain.to_stored(start, start + 2))] == "5\\%"


def test_a_lone_backslash_or_dollar_at_the_end_is_kept():
    assert as_printed("a cost of 5$") == "a cost of 5$"
    assert as_printed("ends with \\") == "ends with \\"
    assert as_printed("$") == "$"


def test_unbalanced_dollars_are_kept_as_written():
    stored = "achieving up to 5.18\\times$ latency reductions on GPUs and 42.9%$ energy savings"  # from the seeds
    assert as_printed(stored) == "achieving up to 5.18×$ latency reductions on GPUs and 42.9%$ energy savings"
    assert as_printed("it costs $5 and $10 per hour") == "it costs $5 and $10 per hour"


def test_nested_dollars_pair_each_with_the_next():
    assert as_printed("$a $b$ c$") == "$a b c$"
    assert as_printed("$$x$$") == "$x$"
    assert as_printed("$\\$5$") == "$5"


def test_math_never_crosses_a_line_or_runs_on():
    assert as_printed("$a\nb$") == "$a\nb$"
    long = "$" + "x" * 200 + "$"
    assert as_printed(long) == long


def test_control_characters_pass_through_unchanged_for_the_display_layer_to_clean():
    stored = "a\x1b[2J\\% b\x07"
    assert as_printed(stored) == "a\x1b[2J% b\x07"


def test_unknown_commands_and_a_font_command_without_its_brace_are_kept():
    assert as_printed("\\methodname{} beats \\eg the rest") == "\\methodname{} beats \\eg the rest"
    assert as_printed("\\textit{agnostic to the model") == "\\textit{agnostic to the model"


# --------------------------------------------------------------------------- what prints


def test_escapes_math_and_font_commands_print_as_their_characters():
    assert as_printed("R\\&D costs 10\\_000 \\$ and \\#1") == "R&D costs 10_000 $ and #1"
    assert as_printed("$\\sim$2$\\times$ faster, $>$90\\% of $10^{5}$ steps") == "~2× faster, >90% of 10^5 steps"
    assert as_printed("\\textsc{PromptMSP} and $\\mathrm{O}(n)$, $\\Psi$") == "PromptMSP and O(n), Ψ"
    assert as_printed("wav2vec~2.0 by more than~30\\%") == "wav2vec 2.0 by more than 30%"
    # scraped abstracts use ~ for "about" and for ranges: kept
    assert as_printed("a 5.5 ~ 221.3X faster retrieval (~billion parameters)") == \
        "a 5.5 ~ 221.3X faster retrieval (~billion parameters)"


def test_a_quote_of_the_printed_text_maps_to_the_stored_span_that_prints_it():
    stored = "We cut memory by $\\sim$40\\% and train $2\\times$ faster than the baseline."
    plain = plain_text(stored)
    quote = "~40% and train 2× faster"
    start = plain.text.index(quote)
    a, b = plain.to_stored(start, start + len(quote))
    assert stored[a:b] == "$\\sim$40\\% and train $2\\times$ faster"
    assert as_printed(stored[a:b]) == quote


def test_half_of_a_math_group_widens_to_the_whole_group():
    stored = "train $2\\times$ faster"
    plain = plain_text(stored)
    start = plain.text.index("×")
    assert plain.widen(start, start + 1) == (start - 1, start + 1)
    assert stored[slice(*plain.to_stored(start, start + 1))] == "$2\\times$"


def test_grounding_finds_a_printed_quote_exactly_on_the_stored_abstract():
    stored = "Our method reaches 5\\% higher accuracy with $3\\times$ fewer steps. Code is released."
    span = align("reaches 5% higher accuracy with 3× fewer steps", stored)
    assert span.status == EXACT and span.method == "printed"
    assert stored[span.start:span.end] == "reaches 5\\% higher accuracy with $3\\times$ fewer steps"


def test_every_seed_abstract_with_an_escaped_percent_prints_it_and_maps_it_back():
    papers = {p.id: p for path in sorted(SEEDS.iterdir()) for p in read_source(path).papers}
    with_percent = [p for p in papers.values() if "\\%" in p.abstract]
    assert len(with_percent) == 23  # the count, on the 504 distinct seed papers
    for paper in with_percent:
        plain = plain_text(paper.abstract)
        assert "\\%" not in plain.text
        assert plain.text.count("%") == paper.abstract.count("%")  # every \\% prints as %, a bare % stays
        for index, char in enumerate(plain.text):
            if char == "%":
                a, b = plain.to_stored(index - 1, index + 1)
                assert paper.abstract[a:b][-1] == "%"
                assert as_printed(paper.abstract[a:b]) == plain.text[index - 1:index + 1]


# --------------------------------------------------------------------------- properties

_PIECES = st.sampled_from([
    "a", "b", "5", "0.4", " ", " ", "\n", "$", "\\", "\\%", "\\&", "\\_", "\\$", "~", "{", "}", "^", "\\times",
    "\\sim", "\\timesx", "\\textbf{", "\\emph{x}", "\\mathrm", "$\\sim$", "$2\\times$", "$>$", "%", "x", "(", "ab",
])
_TEXT = st.lists(_PIECES, max_size=40).map("".join) | st.text(max_size=60)


def _draw_quote(stored: str, data) -> tuple[object, int, int, str] | None:
    """A quote of the text as it prints (plain, start, end, quote); None when there is none to draw or it
    starts or ends with white space (grounding strips a quote: a span never does)."""
    plain = plain_text(stored)
    if not plain.text.strip():
        return None
    start = data.draw(st.integers(0, len(plain.text) - 1))
    end = data.draw(st.integers(start + 1, len(plain.text)))
    quote = plain.text[start:end]
    return None if quote != quote.strip() else (plain, start, end, quote)


@settings(max_examples=400, deadline=None)
@given(_TEXT, st.data())
def test_any_stripped_quote_of_the_printed_text_maps_to_a_span_that_prints_it(stored, data):
    drawn = _draw_quote(stored, data)
    if drawn is None:
        return
    plain, start, end, quote = drawn
    _quote_maps_back(stored, start, end)
    wide = plain.widen(start, end)
    if wide == (start, end) and plain.changed:  # a quote that cuts no unit maps to a stored span printing it
        a, b = plain.to_stored(start, end)
        assert as_printed(stored[a:b]) == quote


def test_a_quote_of_a_text_that_prints_as_stored_is_its_own_span():
    """Hypothesis found it: "\\timesx" is no command the workbench knows, so it prints as stored; a quote
    "\\times" of it is those six characters (printed again on their own they would be ×)."""
    plain = plain_text("\\timesx")
    assert plain.text == "\\timesx" and not plain.changed
    assert plain.to_stored(0, 6) == (0, 6)
    _quote_maps_back("\\timesx", 0, 6)


@settings(max_examples=300, deadline=None)
@given(_TEXT)
def test_the_units_cover_the_stored_text_in_order(stored):
    plain = plain_text(stored)
    if not plain.changed and not plain.starts:
        assert plain.text == stored
        return
    assert plain.starts[0] == 0 and plain.ends[-1] == len(stored)
    for k in range(1, len(plain.starts)):
        assert plain.starts[k] == plain.ends[k - 1]
        assert plain.plain_starts[k] >= plain.plain_starts[k - 1]
    assert plain.plain_starts[0] == 0 and plain.plain_starts[-1] <= len(plain.text)


@settings(max_examples=300, deadline=None)
@given(_TEXT, st.data())
def test_grounding_places_any_quote_of_the_printed_text_on_a_stored_span_that_prints_it(stored, data):
    drawn = _draw_quote(stored, data)
    if drawn is None:
        return
    quote = drawn[3]
    span = align(quote, stored)
    assert span.status == EXACT  # found as it is, in the stored text or in the text as it prints
    assert quote in as_printed(stored[span.start:span.end]) or stored[span.start:span.end] == quote
