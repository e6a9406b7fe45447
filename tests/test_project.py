"""Project hygiene that a fresh machine depends on."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```sh\n(.*?)```", readme, re.S)
    test_command = next(line for block in blocks for line in block.splitlines() if "pytest" in line and "venv" in line)
    assert test_command in (ROOT / ".ci" / "run").read_text()


def test_seeds_are_a_byte_for_byte_copy_of_the_shared_seeds():
    shared = ROOT.parent / "shared" / "seeds"
    if not shared.is_dir():
        pytest.skip("../shared/seeds is not beside this checkout")
    assert sorted(p.name for p in (ROOT / "seeds").iterdir()) == sorted(p.name for p in shared.iterdir())
    for path in shared.iterdir():
        assert (ROOT / "seeds" / path.name).read_bytes() == path.read_bytes()


def test_core_modules_do_not_import_textual():
    core = ["corpus", "db", "migrations", "store", "ingest", "jsonl", "analytics", "cli", "schema", "grounding",
            "prompts", "config", "models", "models.offline", "models.openai_compat", "suggest", "progress", "review",
            "metrics", "compare", "agreement", "report"]
    code = "import sys\n" + "".join(f"import workbench.{m}\n" for m in core) + "print('textual' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "False"
