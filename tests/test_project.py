"""Project hygiene that a fresh machine depends on, and the module boundaries."""

from __future__ import annotations

import ast
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

from tests.conftest import FIXTURES, ROOT

PACKAGE = ROOT / "workbench"


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", readme, re.S)
    test_command = next(line for block in blocks for line in block.splitlines() if "pytest" in line and "venv" in line)
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_seeds_are_the_shared_seeds_byte_for_byte():
    """Checked against the recorded checksums everywhere, and against ../shared/seeds where it exists."""
    recorded = dict(line.split()[::-1] for line in (FIXTURES / "seeds.sha256").read_text().splitlines())
    present = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (ROOT / "seeds").iterdir()}
    assert present == recorded
    shared = ROOT.parent / "shared" / "seeds"
    if shared.is_dir():
        assert {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in shared.iterdir()} == recorded


def _modules() -> dict[str, Path]:
    """Every module of the package, found by walking it (a new module cannot escape the checks)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _imports(module: str, path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the package
                base = module.split(".")[: -node.level] if not path.name == "__init__.py" else module.split(".")
                names.add(".".join(base + ([node.module] if node.module else [])))
            else:
                names.add(node.module)
    return names


def _is_under(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in packages)


def test_module_boundaries():
    """Core modules never import Textual; the TUI talks to the review session, never to the store."""
    modules = _modules()
    assert len(modules) > 30 and "workbench.tui.screens.review" in modules
    forbidden_in_tui = ("workbench.store", "workbench.db", "workbench.suggest", "workbench.ingest",
                        "workbench.jsonl", "workbench.migrations")
    problems = []
    for module, path in modules.items():
        imported = _imports(module, path)
        if _is_under(module, ("workbench.tui",)):
            problems += [f"{module} imports {name}" for name in imported if _is_under(name, forbidden_in_tui)]
        else:
            problems += [f"{module} imports {name}" for name in imported if _is_under(name, ("textual",))]
    assert problems == []


def test_importing_every_core_module_loads_no_textual():
    core = [m for m in _modules() if not _is_under(m, ("workbench.tui",)) and m != "workbench.__main__"]
    code = "import sys\n" + "".join(f"import {m}\n" for m in core) + "print('textual' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "False"


def test_the_review_app_paints_at_up_to_240_frames_a_second_unless_told_otherwise():
    probe = "import workbench.tui.app, textual.constants as c; print(c.MAX_FPS)"
    env = {k: v for k, v in os.environ.items() if k != "TEXTUAL_FPS"}
    default = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, env=env, check=True)
    chosen = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT,
                            env={**env, "TEXTUAL_FPS": "30"}, check=True)
    assert (default.stdout.strip(), chosen.stdout.strip()) == ("240", "30")
