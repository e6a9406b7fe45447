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


def _unit(module: str) -> str:
    """What the allow-list speaks of: a package (store, models, tui, review) or a top-level module."""
    parts = module.split(".")
    if module.startswith("workbench.models.offline_settings"):
        return "models.offline_settings"  # a leaf that prompts.py reads: see LAYERS
    if len(parts) >= 2 and parts[1] in ("store", "models", "tui", "review"):
        return parts[1]
    return ".".join(parts[1:]) or "__init__"


# Bottom to top: a unit may import only units of a lower layer (never one beside or above it).
LAYERS = [
    {"__init__", "vocab", "errors", "json_text", "safe_text", "workers",
     "plain_text", "writer_turns", "terminal"},  # the words, the errors, text made safe, processes, LaTeX as it prints
    {"grounding", "corpus", "schema", "config", "migrations", "migrations_pg", "pg", "models.offline_settings",
     "effort"},
    {"checks"},  # what a reply keeps: above grounding (its numbers), below prompts (which read the [checks] table)
    {"records", "metrics", "reliability", "prompts", "db", "tables", "progress"},
    {"store", "gold"},  # every query; the only SQL  ·  a gold sample and its measures
    {"models"},  # suggestion providers
    {"suggest", "ingest", "jsonl", "stats", "agreement", "team_agreement", "doubt", "prompt_report", "endpoint",
     "batch_files", "batch_status", "accounts", "serve"},
    {"batch_lines", "suggest_cores"},  # read and grounded in worker processes: below batch, above suggest
    {"batch", "review", "copying", "final"},
    {"tui", "cli_common"},
    {"cli_batch"},
    {"cli_suggest", "cli_copy", "cli_team_work", "cli_team", "cli_serve", "cli_review"},
    {"cli"},
    {"__main__"},
]
LAYER = {unit: n for n, units in enumerate(LAYERS) for unit in units}

# Each unit and the units it may import. Adding an entry is a design decision: say why beside it.
ALLOWED = {
    "vocab": set(), "errors": set(), "json_text": set(), "safe_text": set(), "workers": set(),
    "__init__": set(), "plain_text": set(), "writer_turns": set(), "terminal": set(),  # flow control off: stdlib  # the abstract as it prints, with its map back: stdlib only
    "grounding": {"plain_text", "vocab"},  # a quote of the printed abstract maps back to the stored one
    "corpus": {"errors", "json_text", "vocab"},
    "schema": {"vocab"},
    "config": {"errors", "vocab"},
    "migrations": set(),
    "migrations_pg": {"errors"},  # StoreTooNew
    "pg": {"errors"},  # the store's errors for psycopg's
    "models.offline_settings": {"errors"},
    "records": {"grounding", "safe_text", "vocab"},
    "metrics": {"grounding", "vocab"},
    "effort": {"vocab"},  # edit effort: characters inserted plus deleted, effort saved (pure arithmetic)
    "gold": {"errors", "grounding", "json_text", "metrics", "vocab"},  # gold files read, and the measures against gold
    "reliability": set(),  # Krippendorff's alpha and Gwet's AC1: arithmetic on labels, stdlib only
    "checks": {"errors", "grounding", "vocab"},  # the checks every reply goes through: pure functions
    "prompts": {"errors", "schema", "vocab", "models.offline_settings",  # it validates a prompt's [offline] table
                "checks", "plain_text"},  # ... and its [checks] table; latex_as_text sends the abstract as it prints
    "db": {"errors", "migrations", "migrations_pg", "pg", "vocab",
           "writer_turns"},  # vocab: utc_now for a migration's record; writer_turns: a reviewer writes first
    "tables": {"safe_text", "vocab"},
    "progress": {"safe_text"},
    "store": {"db", "errors", "grounding", "json_text", "pg", "records", "vocab",
              "prompts"},  # resolve_prompt_versions: a prompt file path names its version
    "models": {"config", "errors", "grounding", "json_text", "models.offline_settings", "plain_text", "prompts", "records",
               "schema", "vocab"},  # plain_text: the figure finder reads the abstract as it prints
    "suggest": {"checks", "errors", "grounding", "models", "prompts", "records", "store", "vocab"},
    "suggest_cores": {"models", "prompts", "store", "suggest", "workers"},  # the offline model on every core
    "ingest": {"corpus", "errors", "records", "store"},
    "jsonl": {"corpus", "db", "errors", "json_text", "records", "store", "vocab"},  # db: is_store_file, before -o replaces one
    "stats": {"effort", "records", "store", "vocab"},
    "agreement": {"errors", "metrics", "records", "store", "vocab"},  # records: no_decisions, the one wording
    "team_agreement": {"errors", "metrics", "records", "reliability", "store", "vocab"},  # any number of annotators
    "doubt": {"metrics", "store", "vocab"},
    "prompt_report": {"effort", "gold", "metrics", "records", "store", "vocab"},  # edit effort; --against
    "endpoint": {"config", "models", "prompts", "vocab"},
    "batch_files": {"errors", "models", "prompts", "records"},
    "batch_status": {"errors", "models", "records", "store", "vocab"},
    "accounts": {"errors", "records", "store", "vocab"},  # tokens, their hashes, signing in (rows kept by the store)
    "serve": {"errors", "safe_text"},  # textual-serve's server with our page; knows nothing of the store or the app
    "batch_lines": {"batch_files", "json_text", "models", "store", "suggest"},
    "batch": {"batch_files", "batch_lines", "batch_status", "errors", "json_text", "models", "prompts", "records", "store",
              "suggest", "vocab",
              "workers"},  # collecting: lines read and grounded in worker processes
    "copying": {"errors", "jsonl", "store"},
    "review": {"checks",  # the `m` page: which warnings are the checks' changes
               "db", "doubt", "errors", "grounding", "metrics", "models", "prompts", "records", "stats",
               "store", "suggest", "vocab",
               "team_agreement"},  # adjudication: the disagreements of any number of annotators; the team tab
    "final": {"jsonl", "records", "store", "team_agreement", "vocab"},  # export --final: one decision per paper
    # The TUI talks to the review session only, besides the vocabulary, safe text and the errors. Beyond those:
    "tui": {"review", "vocab", "safe_text", "errors",
            "config",  # Guidelines (the text shown beside the task) and the unknown-key message for [keys]
            "prompts", "models",  # Prompt and Model: only as the types the app factory passes to open_session
            "tables",  # bar(), rates_table(), effort_table(): the stats screen shows the rich tables `workbench stats` prints
            },
    "cli_common": {"config", "db", "errors", "models", "records", "safe_text", "vocab"},
    "cli_batch": {"batch", "batch_status", "cli_common", "config", "errors", "models", "progress", "store", "vocab",
                  "workers"},  # --workers: its bound and default
    "cli_copy": {"cli_common", "copying", "db", "errors", "progress"},
    "cli_team": {"accounts", "cli_common", "store"},
    "cli_serve": {"accounts", "cli_common", "config", "db", "ingest", "prompts", "review", "serve", "store",
                  "tui", "vocab"},  # serve-session composes the served app: sign-in (accounts) and session (review)
    "cli": {"__init__", "terminal", "agreement", "team_agreement", "stats", "cli_batch", "cli_copy", "cli_team_work", "cli_team",
            "cli_serve", "cli_common", "cli_review", "cli_suggest", "final", "prompt_report", "config", "db", "endpoint",
            "errors", "ingest", "jsonl", "progress", "prompts", "tables", "store", "tui", "vocab",
            "gold",  # gold: compare --against FILE, the gold file read (one error naming file and line)
            "records"},  # no_decisions: --annotator naming nobody with decisions, worded as agreement's --annotators
    "cli_suggest": {"cli_batch", "cli_common", "errors", "progress", "prompts", "store", "suggest", "suggest_cores",
                    "vocab", "workers"},  # `suggest`: live, on every core, or to a batch engine
    "cli_review": {"cli_common", "config", "db", "errors", "ingest", "prompts", "review", "store", "tui",
                   "vocab"},  # `review`: the session's options, adjudication's plan, the app
    "cli_team_work": {"cli_common", "errors", "store", "tables", "team_agreement", "vocab"},  # `team per-paper|show|status`
    "__main__": {"cli"},
}

# Libraries only some units may import (the standard library is free to all).
LIBRARIES = {
    "sqlite3": {"store", "db"}, "sqlite_utils": {"store", "db", "migrations"}, "psycopg": {"pg"},
    "textual": {"tui"}, "rich": {"tui", "safe_text", "tables", "progress"},
    "click": {"cli", "cli_batch", "cli_common", "cli_copy", "cli_team_work", "cli_team", "cli_serve", "cli_review", "cli_suggest"},
    "textual_serve": {"serve"}, "aiohttp": {"serve"}, "aiohttp_jinja2": {"serve"},
    "openai": {"models", "endpoint"}, "tenacity": {"models"},
    "pydantic": {"schema", "config", "models"},
}


def _unit_imports() -> dict[str, dict[str, set[str]]]:
    """unit -> imported name -> the modules of the unit that import it (function-level imports count)."""
    found: dict[str, dict[str, set[str]]] = {}
    for module, path in _modules().items():
        unit = _unit(module)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [node.module] if node.module != "workbench" else [f"workbench.{a.name}" for a in node.names]
            else:
                continue
            for name in names:
                if name == "workbench.__version__":
                    name = "workbench"
                found.setdefault(unit, {}).setdefault(name, set()).add(module)
    return found


def test_every_unit_imports_only_what_its_allow_list_names():
    imports = _unit_imports()
    assert set(imports) <= set(ALLOWED), f"a unit without an allow-list: {sorted(set(imports) - set(ALLOWED))}"
    assert set(ALLOWED) == set(LAYER), "every unit has a layer"
    problems = []
    for unit, names in sorted(imports.items()):
        for name, where in sorted(names.items()):
            if name.startswith("workbench"):
                target = _unit(name) if name != "workbench" else "__init__"
                if target != unit and target not in ALLOWED[unit]:
                    problems.append(f"{sorted(where)[0]} imports {name}: not on {unit}'s allow-list")
            else:
                library = name.split(".")[0]
                if library in LIBRARIES and unit not in LIBRARIES[library]:
                    problems.append(f"{sorted(where)[0]} imports {library}: only {sorted(LIBRARIES[library])} may")
    assert problems == []


def test_imports_only_go_down_the_layers_so_there_is_no_cycle():
    """Each allowed import goes to a lower layer; an import graph that only goes down has no cycle."""
    upward = [f"{unit} -> {target}" for unit, targets in ALLOWED.items() for target in targets
              if LAYER[target] >= LAYER[unit]]
    assert upward == []


def test_no_cycle_between_modules():
    """Within a unit too (store/, models/, tui/): no module imports one that imports it back."""
    modules = _modules()
    graph = {m: {n for n in _imports(m, p) if n in modules and n != m} for m, p in modules.items()}
    # a package's __init__ re-exporting its modules is not a cycle with them
    graph = {m: {n for n in targets if not (m.startswith(n + ".") and modules[n].name == "__init__.py")}
             for m, targets in graph.items()}
    state: dict[str, int] = {}
    cycles = []

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append(" -> ".join(trail[trail.index(target):] + [target]))
            elif target not in state:
                visit(target, trail + [target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_no_module_is_longer_than_500_lines_but_the_offline_rules():
    long = [f"{path.relative_to(ROOT)}: {n} lines" for path in _modules().values()
            if (n := len(path.read_text().splitlines())) > 500 and not path.name.startswith("offline")]
    assert long == []


def test_no_run_of_six_identical_lines_appears_twice_in_the_package():
    """Copied code drifts: six identical non-blank, non-comment lines in two places are one function."""
    places: dict[tuple, list[str]] = {}
    for path in _modules().values():
        lines = [(n, line.strip()) for n, line in enumerate(path.read_text().splitlines(), start=1)
                 if line.strip() and not line.strip().startswith("#")]
        for k in range(len(lines) - 5):
            run = tuple(text for _, text in lines[k:k + 6])
            if sum(map(len, run)) >= 60:  # six closing brackets are not code worth sharing
                places.setdefault(run, []).append(f"{path.relative_to(ROOT)}:{lines[k][0]}")
    assert [where for where in places.values() if len(where) > 1] == []


def test_only_the_store_db_and_migrations_hold_sql_or_a_driver():
    sql = re.compile(r"sqlite3|sqlite_utils|SELECT |INSERT |UPDATE ")
    allowed = ("workbench/store/", "workbench/db.py", "workbench/migrations.py", "workbench/migrations_pg.py",
               "workbench/pg.py")
    found = [f"{path.relative_to(ROOT)}:{n}" for path in _modules().values()
             if not str(path.relative_to(ROOT)).startswith(allowed)
             for n, line in enumerate(path.read_text().splitlines(), start=1) if sql.search(line)]
    assert found == []


def test_outside_the_store_nobody_imports_its_modules_directly():
    """`workbench.store` is the surface a second backend implements: its modules are not."""
    found = [f"{module} imports {name}" for module, path in _modules().items() if _unit(module) != "store"
             for name in _imports(module, path) if name.startswith("workbench.store.")]
    assert found == []


def test_every_queue_of_the_vocabulary_is_a_named_selector():
    from workbench.review import SELECTORS
    from workbench.vocab import QUEUES

    assert tuple(SELECTORS) == QUEUES


def test_a_parsed_paper_carries_its_metadata_in_the_one_order():
    from workbench.records import PAPER_METADATA, PaperRow, ParsedRow

    assert ParsedRow._fields[4:9] == PAPER_METADATA
    assert PaperRow.__dataclass_fields__.keys() >= set(PAPER_METADATA)


def test_module_boundaries():
    """Core modules never import Textual; the TUI talks to the review session, never to the store."""
    modules = _modules()
    assert len(modules) > 30 and "workbench.tui.screens.paper" in modules
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
