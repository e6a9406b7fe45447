"""The summary schema is strict-JSON-Schema compatible; prompt files load or fail clearly."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from tests.conftest import ROOT, write
from workbench.errors import InputError
from workbench.models.offline_settings import OfflineSettings
from workbench.prompts import list_prompts, load_prompt_file, resolve_prompt
from workbench.schema import Summary, summary_json_schema


def _objects(schema: dict):
    yield schema
    for definition in schema.get("$defs", {}).values():
        yield from _objects(definition)


def test_schema_is_strict_compatible():
    schema = summary_json_schema()
    for obj in _objects(schema):
        assert obj["additionalProperties"] is False
        assert set(obj["required"]) == set(obj["properties"])
    for name in ("technique", "claimed_gain", "compute"):
        assert {"type": "null"} in schema["properties"][name]["anyOf"]


def test_summary_rejects_extra_keys_and_tidies_values():
    with pytest.raises(ValidationError, match="Extra inputs are not permitted"):
        Summary.model_validate({"technique": "x", "claimed_gain": None, "compute": None, "hacked": True,
                                "evidence": {"technique": None, "claimed_gain": None, "compute": None}})
    summary = Summary.model_validate({"technique": "  a   b ", "claimed_gain": "N/A", "compute": "",
                                      "evidence": {"technique": "a b", "claimed_gain": None, "compute": None}})
    assert (summary.technique, summary.claimed_gain, summary.compute) == ("a b", None, None)


def test_shipped_prompts_load_with_distinct_versions():
    prompts = {p.name: p for p in list_prompts(ROOT / "prompts")}
    assert {"summary", "gains"} <= set(prompts)
    assert prompts["summary"].id != prompts["gains"].id
    messages = prompts["gains"].render("T", "An abstract with {braces} and {title}.")
    assert messages[0]["role"] == "system" and len(messages) == 6  # system, two example turns, the paper
    assert "An abstract with {braces} and {title}." in messages[-1]["content"]


def test_editing_a_prompt_makes_a_new_version_but_comments_do_not(tmp_path):
    text = (ROOT / "prompts" / "summary.toml").read_text()
    original = load_prompt_file(write(tmp_path / "a.toml", text))
    commented = load_prompt_file(write(tmp_path / "b.toml", "# a comment\n" + text))
    edited = load_prompt_file(write(tmp_path / "c.toml", text.replace("short phrase", "few words")))
    assert original.id == commented.id != edited.id


_BARE = 'name = "x"\ndescription = "d"\nsystem = "s"\nuser = "{title} {abstract}"\n'


def test_the_offline_table_is_read_and_is_part_of_the_version(tmp_path):
    bare = load_prompt_file(write(tmp_path / "bare.toml", _BARE))
    table = load_prompt_file(write(tmp_path / "table.toml", _BARE + '[offline]\ntechnique = "name"\n'
                                   'compute = ["tokens", "hardware"]\n'))
    other = load_prompt_file(write(tmp_path / "other.toml", _BARE + '[offline]\ntechnique = "phrase"\n'))
    assert bare.offline is None
    assert table.offline == OfflineSettings(technique="name", compute=("hardware", "tokens"))  # defaults, kinds in order
    assert other.offline.technique == "phrase" and other.offline.gains == "all"
    assert len({bare.id, table.id, other.id}) == 3


@pytest.mark.parametrize(
    "content, message",
    [
        ('name = "x"\n', "missing key 'description'"),
        ('name = "x"\ndescription = "d"\nsystem = "s"\nuser = "no placeholders"\n', "key 'user' must contain {title}"),
        ('name = "x"\ndescription = "d"\nsystem = "s"\nuser = "{title} {abstract}"\ncolour = "red"\n', "unknown key 'colour'"),
        ('name = "x"\ndescription = "d"\nsystem = "s"\nuser = "{title} {abstract}"\ntemperature = 9\n', "key 'temperature' must be a number from 0 to 2"),
        ('name = "x"\ndescription = "d"\nsystem = "s"\nuser = "{title} {abstract}"\nmax_tokens = "many"\n', "key 'max_tokens'"),
        ('name = "x"\ndescription = "d"\nsystem = "s"\nuser = "{title} {abstract}"\n[[examples]]\ntitle = "t"\n', "key 'examples' [1] needs"),
        ('name = "x"\ndescription = "d"\nsystem = "s"\nuser = "{title} {abstract}"\n[[examples]]\ntitle = "t"\n'
         'abstract = "a"\n[examples.output]\ntechnique = 5\n', "key 'examples' [1]: 'output' does not match"),
        ('name = "x\n', "not valid TOML"),
        (_BARE + 'offline = 3\n', "key 'offline' must be a table"),
        (_BARE + '[offline]\nstyle = "terse"\n', "unknown key 'offline.style'"),
        (_BARE + '[offline]\ntechnique = "title"\n', "key 'offline.technique' must be one of name_and_phrase, name, phrase"),
        (_BARE + '[offline]\ngains = "some"\n', "key 'offline.gains' must be one of all, headline"),
        (_BARE + '[offline]\ngain_style = "long"\n', "key 'offline.gain_style' must be one of short, clause"),
        (_BARE + '[offline]\ncompute = ["gpus"]\n', "key 'offline.compute' must be a list of hardware, time"),
    ],
)
def test_malformed_prompt_files_name_the_file_and_key(tmp_path, content, message):
    path = write(tmp_path / "bad.toml", content)
    with pytest.raises(InputError) as caught:
        load_prompt_file(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_resolve_by_name_or_path_and_unknown_names(tmp_path):
    assert resolve_prompt(None).name == "summary"
    assert resolve_prompt("gains").name == "gains"
    assert resolve_prompt(str(ROOT / "prompts" / "gains.toml")).name == "gains"
    with pytest.raises(InputError, match="unknown prompt 'nope'"):
        resolve_prompt("nope")


SHAPES = [
    {}, {"technique": "X"}, {"technique": 3}, {"compute": ["a"]}, {"claimed_gain": "x" * 600},
    {"claimed_gain": "x" * 601}, {"claimed_gain": "  " + "x " * 300}, {"technique": "n/a " + "y" * 700},
    {"technique": "N/A"}, {"technique": " \t "}, {"technique": "null"}, {"evidence": {"technique": "q" * 1500}},
    {"evidence": {"technique": "q" * 1501}}, {"evidence": {"compute": 2.5}}, {"evidence": {"claimed_gain": True}},
    {"technique": "t" * 601, "evidence": {"technique": 1}},
]


@pytest.mark.parametrize("given", SHAPES, ids=range(len(SHAPES)))
def test_example_check_without_pydantic_agrees_with_the_schema(given):
    """prompts.summary_problem (no pydantic: the review's first frame loads a prompt) refuses exactly
    what Summary refuses, naming the same first field and reason."""
    from workbench.prompts import summary_problem
    from workbench.vocab import FIELDS

    output = {f: given.get(f) for f in FIELDS} | {"evidence": {f: given.get("evidence", {}).get(f) for f in FIELDS}}
    try:
        Summary.model_validate(output)
        expected = None
    except ValidationError as exc:
        first = exc.errors()[0]
        expected = f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}"
    assert summary_problem(output) == expected


def test_an_example_whose_evidence_is_not_a_table_is_one_line_of_error(tmp_path):
    path = write(tmp_path / "p.toml", 'name = "p"\ndescription = "d"\nsystem = "s"\nuser = "{title} {abstract}"\n'
                 '[[examples]]\ntitle = "T"\nabstract = "A"\n[examples.output]\ntechnique = "X"\nevidence = "quote"\n')
    with pytest.raises(InputError, match="evidence: must be a table"):
        load_prompt_file(path)
