"""Untrusted text is data: the source is walked so the next markup sink cannot slip through.

The rule (also in the README): data reaches a screen only as `safe_text.plain(...)`
(a Rich Text, cleaned) or through `safe_text.clean/one_line`; notifications go
through `tui.notices.tell`; CLI lines through `cli_common.say`, CLI tables through
`safe_text.safe_console()`. So no f-string (other than of formatted numbers), no
string concatenation and no field of a row may be handed straight to an API that
parses markup or writes to the terminal. Behind that, two guards clean what is
painted: the TUI's line filter and the CLI console's renderer.
"""

from __future__ import annotations

import ast
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from workbench.safe_text import clean, is_clean, one_line, plain

PACKAGE = Path(__file__).resolve().parent.parent / "workbench"

# Calls whose arguments are parsed as markup, or written to a terminal as they are.
SINKS = {
    "notify", "update", "add_row", "add_column", "add_option", "add_options", "print", "echo", "Static", "Label",
    "Option", "Table", "Button", "Markdown", "from_markup", "Content", "set_text", "Panel", "log", "write",
}
# Where the raw call is allowed: the one helper that makes it safe.
ALLOWED = {("tui/notices.py", "notify"), ("cli_common.py", "echo")}


def _unsafe(node: ast.AST) -> bool:
    """An argument that builds a str from parts (a data value could be among them)."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(v, ast.FormattedValue) and not _numeric(v) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mod)):
        return _stringy(node.left) or _stringy(node.right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ("format", "join"):
        return True
    return isinstance(node, (ast.Subscript, ast.Attribute)) and not _is_constant_attribute(node)


def _numeric(value: ast.FormattedValue) -> bool:
    """{n:,} {x:.1f} {len(items)}: a number, formatted; it cannot carry text."""
    if value.format_spec is not None and value.conversion == -1:
        spec = "".join(part.value for part in value.format_spec.values if isinstance(part, ast.Constant))
        return spec != "" and spec[-1] in ",dfge%" or spec.endswith(("d", "f"))
    inner = value.value
    return isinstance(inner, ast.Call) and isinstance(inner.func, ast.Name) and inner.func.id in ("len", "int", "round")


def _stringy(node: ast.AST) -> bool:
    return isinstance(node, (ast.JoinedStr, ast.Constant, ast.Subscript, ast.Attribute, ast.Name, ast.BinOp))


def _is_constant_attribute(node: ast.AST) -> bool:
    # self.hint, self.question: text the code itself wrote (checked where it was made)
    return isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"


def _call_name(call: ast.Call) -> str | None:
    if isinstance(call.func, ast.Attribute):
        return call.func.attr
    if isinstance(call.func, ast.Name):
        return call.func.id
    return None


def find_unsafe_calls(source: str, relative: str) -> list[str]:
    problems = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call):
            continue
        name = _call_name(node)
        if name not in SINKS or (relative, name) in ALLOWED:
            continue
        if name in ("notify", "echo") and not ((relative, name) in ALLOWED):
            problems.append(f"{relative}:{node.lineno}: {name}() outside its safe helper")
            continue
        args = list(node.args) + [k.value for k in node.keywords if k.arg in ("title", "caption", "prompt", "message")]
        for arg in args:
            if _unsafe(arg):
                problems.append(f"{relative}:{node.lineno}: {name}() is handed text built from data")
    return problems


def test_no_module_hands_data_to_a_markup_or_terminal_sink():
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        problems += find_unsafe_calls(path.read_text(), path.relative_to(PACKAGE).as_posix())
    assert problems == []


def test_the_check_catches_the_bug_it_is_for():
    """The search dialog once built Option(f"#{seq} {title}") from a markup string."""
    assert find_unsafe_calls('Option(f"#{row.seq} {row.title}", id=row.id)\n', "x.py")
    assert find_unsafe_calls('self.notify(f"failed: {exc}")\n', "tui/screens/x.py")
    assert find_unsafe_calls('table.add_row(row["prompt"], row["model"])\n', "report.py")
    assert find_unsafe_calls('click.echo(summary)\n', "other.py")
    assert not find_unsafe_calls('table.add_row(plain(row["prompt"]), "—")\n', "report.py")


# --------------------------------------------------------------------------- the cleaner itself


def test_control_characters_become_visible_and_keep_the_length():
    hostile = "a\x1b[2Jb\x1b]0;title\x07c\x9b31m\u202eevil\u202c\r\x00z\tend\nnext"
    cleaned = clean(hostile)
    assert len(cleaned) == len(hostile)
    assert "\x1b" not in cleaned and "\x07" not in cleaned and "\x9b" not in cleaned and "\u202e" not in cleaned
    assert cleaned.startswith("a␛[2Jb␛]0;title␇c") and "\tend\nnext" in cleaned
    assert one_line("two\nlines\tand a long tail", 12) == "two lines a…"
    text = plain("[@click=app.quit]Quit[/]")
    assert text.plain == "[@click=app.quit]Quit[/]" and not text.spans


def test_invisible_format_characters_take_a_visible_cell_so_panes_stay_aligned():
    import unicodedata

    from rich.cells import cell_len

    hidden = "zero\u200bwidth\u200djoiners\u200c\u2060\ufeff soft\u00adhyphen \U000e0041tag"
    cleaned = clean(hidden)
    assert len(cleaned) == len(hidden) and cell_len(cleaned) == len(hidden)
    assert not [c for c in cleaned if unicodedata.category(c) == "Cf"]
    assert clean("naïve café 日本") == "naïve café 日本"  # ordinary text is untouched


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_cleaned_text_is_always_safe_and_as_long(text):
    cleaned = clean(text)
    assert len(cleaned) == len(text) and is_clean(cleaned)
    cleaned.encode("utf-8")  # lone surrogates are gone too


def test_characters_terminals_disagree_on_the_width_of_are_one_visible_cell():
    """Hangul fillers, variation selectors, a lone skin-tone modifier and the noncharacters moved
    the pane's border in tmux, and a variation selector left marks painted after its paper left."""
    from rich.cells import cell_len

    from workbench.safe_text import clean

    for odd in ("\u3164", "\uffa0", "\u115f", "\ufe0f", "\ufe0e", "\U0001f3fb", "\ufffe", "\uffff", "\u034f",
                "\U000e0100"):
        shown = clean(f"a{odd}b")
        assert shown == "a\ufffdb" and cell_len(shown) == 3, repr(odd)


def test_the_unsafe_character_scan_finds_exactly_the_characters_clean_replaces():
    """The scan is a class of ranges (a class of single characters was 50x slower on a long abstract)."""
    from workbench import safe_text

    table = safe_text._TABLE
    around = {c + d for c in table for d in (-1, 0, 1) if 0 <= c + d < 0x110000}
    assert {c for c in around if safe_text._UNSAFE.search(chr(c))} == set(table)
