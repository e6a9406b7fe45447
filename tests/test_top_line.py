"""The review screen's top line: one line at any width from 80 columns, shortened in a fixed order."""

from __future__ import annotations

import pytest
from rich.console import Console

from workbench.tui.widgets.top_line import SHORTENINGS, Progress, top_line

LONG_QUEUE = 'search:"mixture of experts" status:todo'


def _progress(**changes) -> Progress:
    base = dict(decided=12, total=504, counts={"accepted": 9, "edited": 2, "rejected": 1}, position=13, length=492,
                queue="todo", to_do=480, annotator="ana", read_only=False)
    return Progress(**{**base, **changes})


def _lines(text, width: int) -> list[str]:
    return [line.plain for line in text.wrap(Console(width=width), width)]


def test_a_short_line_is_left_whole():
    line = top_line(_progress(), 80).plain
    assert line == " workbench  12/504 decided  ✓ 9 ✎ 2 ✗ 1  13 of 492 in 'todo' · 480 to do  ana"


@pytest.mark.parametrize("changes", [
    dict(decided=120, counts={"accepted": 100, "edited": 12, "rejected": 8}, position=121, to_do=384),
    dict(annotator="a" * 40),
    dict(queue=LONG_QUEUE, length=37, position=2, to_do=35),
    dict(decided=12345, total=100000, counts={"accepted": 12000, "edited": 300, "rejected": 45}, position=54321,
         length=100000, queue=LONG_QUEUE, to_do=87655, annotator="b" * 40, read_only=True),
])
def test_the_line_never_wraps_at_80_columns_and_keeps_the_count_to_do(changes):
    progress = _progress(**changes)
    text = top_line(progress, 80)
    lines = _lines(text, 80)
    assert len(lines) == 1 and text.cell_len <= 80
    assert f"{progress.to_do} to do" in lines[0]
    if progress.read_only:
        assert "read-only" in lines[0]


def test_parts_are_shortened_in_the_documented_order():
    progress = _progress(decided=120, counts={"accepted": 100, "edited": 12, "rejected": 8}, annotator="c" * 40,
                         queue=LONG_QUEUE)
    wide = top_line(progress, 200).plain
    assert "decided" in wide and "c" * 40 in wide
    first = top_line(progress, len(wide) - 1).plain  # the first shortening: the word "decided"
    assert "decided" not in first and "c" * 40 in first
    second = top_line(progress, len(first) - 1).plain  # then the annotator's name
    assert "c" * 13 not in second and "c" * 11 + "…" in second
    assert SHORTENINGS[0].startswith("the word") and "annotator" in SHORTENINGS[1]


def test_an_empty_queue_says_so():
    assert "'flagged' is empty" in top_line(_progress(queue="flagged", position=None, length=0, to_do=0), 80).plain


def test_below_80_columns_the_queue_name_goes_before_the_count_to_do():
    """A tester at 50 columns saw `· 330000 t…`: the queue's name now goes first."""
    progress = _progress(decided=0, total=330504, counts={}, position=1, length=330000, queue=LONG_QUEUE,
                         to_do=330000, annotator="fe")
    line = top_line(progress, 50).plain
    assert line.rstrip().endswith("1/330000 · 330000 to do") and "search" not in line
    assert top_line(progress, 50).cell_len <= 50
