"""Full-text search with filters: the `/` dialog and `review --queue search:"…"`."""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import write
from workbench import pg
from workbench.errors import InputError
from workbench.ingest import ingest
from workbench.models import get_model
from workbench.prompts import resolve_prompt
from workbench.review import ReviewSession, SuggestionFeed
from workbench.records import SuggestionKey
from workbench.store import parse, search
from workbench.store import Decision, decide, set_flag
from workbench.suggest import run_suggestions, suggestion_key


BOTH_BACKENDS = True  # the store's contract: every test here runs on SQLite and on PostgreSQL


def titles(hits) -> list[str]:
    return [hit.title for hit in hits]


def find(db, text, **options):
    hits, problem = search(db, text, annotator="ana", active=options.pop("active", None), **options)
    assert problem is None, problem
    return hits


def test_words_match_titles_and_abstracts_ranked_with_titles_first(seeded_db):
    hits = find(seeded_db, "multigrid")
    assert hits[0].title == "A Multigrid Method for Efficiently Training Video Models"
    abstract_only = find(seeded_db, "Kinetics-400 SlowFast")  # words of the abstract, not the title
    assert "A Multigrid Method for Efficiently Training Video Models" in titles(abstract_only)
    assert find(seeded_db, '"variable mini-batch shapes"')[0].title.startswith("A Multigrid Method")
    assert find(seeded_db, "multigr")  # the last word is a prefix while typing
    assert find(seeded_db, "zzzyzzyx") == []


def test_filters_on_decisions_flags_and_the_suggestion_on_screen(seeded_db):
    prompt, model = resolve_prompt("summary"), get_model("offline")
    asyncio.run(run_suggestions(seeded_db, prompt, model, limit=30))
    active = suggestion_key(prompt, model)
    first = find(seeded_db, "status:todo", active=active, limit=3)
    decide(seeded_db, Decision(first[0].id, "ana", "accepted", {}))
    decide(seeded_db, Decision(first[1].id, "ana", "rejected", {}))
    set_flag(seeded_db, first[2].id, "ana", True, based_on=None)
    assert [h.id for h in find(seeded_db, "status:accepted")] == [first[0].id]
    assert [h.status for h in find(seeded_db, "status:decided")] == ["accepted", "rejected"]
    assert [h.id for h in find(seeded_db, "flagged")] == [first[2].id]
    assert first[0].id not in [h.id for h in find(seeded_db, "status:todo", limit=None)]
    no_gain = find(seeded_db, "gain:none", active=active, limit=None)
    with_gain = find(seeded_db, "gain:any", active=active, limit=None)
    assert len(no_gain) + len(with_gain) == 30 and no_gain and with_gain
    training_without_gain = find(seeded_db, "speech gain:none", active=active, limit=None)
    assert 0 < len(training_without_gain) < len(no_gain)
    assert {h.id for h in training_without_gain} <= {h.id for h in no_gain}
    assert find(seeded_db, first[0].id[:8])[0].id == first[0].id  # an id prefix finds its paper first


def test_more_matches_than_are_ranked_are_listed_in_paper_order(seeded_db, monkeypatch):
    import workbench.store.text_search as text_search

    every = find(seeded_db, "the", limit=None)
    monkeypatch.setattr(text_search, "RANK_LIMIT", 5)
    listed = find(seeded_db, "the", limit=20)
    assert len(every) > 20 and [h.seq for h in listed] == sorted(h.seq for h in every)[:20]


def test_id_filters_like_the_other_filters(seeded_db):
    multigrid = find(seeded_db, "multigrid")[0]
    other = next(h for h in find(seeded_db, "speech") if h.id[:4] != multigrid.id[:4])
    assert [h.id for h in find(seeded_db, f"id:{multigrid.id[:6]} multigrid")] == [multigrid.id]
    assert find(seeded_db, f"id:{other.id[:6]} multigrid") == []  # the words still have to match
    assert find(seeded_db, f"id:{multigrid.id[:6]} zzzyzzyx") == []
    assert find(seeded_db, "id:%") == [] and find(seeded_db, "id:_") == []  # LIKE wildcards are characters


def test_a_single_letter_is_a_word_not_a_prefix():
    assert parse("t").words == ['"t"'] and parse("tr").words == ['"tr"*']
    assert parse("mixture o").words == ['"mixture"', '"o"']


def test_a_filter_it_does_not_know_is_said_not_raised(seeded_db):
    hits, problem = search(seeded_db, "colour:blue multigrid", annotator="ana", active=None)
    assert problem.startswith("unknown filter 'colour:'") and hits
    assert parse('"unbalanced (quote').words == ['"unbalanced quote"']
    assert parse("a:b:c AND OR NOT * ( ) NEAR").problem is not None  # FTS syntax is never passed through raw
    for hostile in ('"', "*", "(", "-x", "NOT", '"a" OR "b"', "title:x", "^", "\x00"):
        search(seeded_db, hostile, annotator="ana", active=None)  # no FTS syntax error reaches anyone


def test_the_index_follows_ingest(db, tmp_path):
    first = write(tmp_path / "a.jsonl", '{"title": "Paper X", "abstract": "About quokkas."}\n')
    ingest(db, [first])
    assert titles(find(db, "quokkas")) == ["Paper X"]
    longer = write(tmp_path / "b.jsonl", '{"title": "paper x", "abstract": "About wombats and much more text."}\n')
    ingest(db, [longer])  # the longer abstract replaces the shorter one, in the index too
    assert titles(find(db, "wombats")) == ["Paper X"] and find(db, "quokkas") == []
    both = write(tmp_path / "c.jsonl", '{"title": "Paper Y", "abstract": "Short."}\n'
                                       '{"title": "Paper Y", "abstract": "A longer abstract about echidnas."}\n')
    ingest(db, [both])  # replaced within one file: the index holds the row before it is updated
    assert titles(find(db, "echidnas")) == ["Paper Y"] and find(db, "short") == []
    if not pg.is_handle(db):  # SQLite's external-content index agrees with the table (PostgreSQL's is a column)
        db.execute("INSERT INTO papers_fts(papers_fts) VALUES ('integrity-check')")


def test_review_queue_search_steps_through_the_matches_in_paper_order(seeded_db):
    prompt, model = resolve_prompt("summary"), get_model("offline")
    session = ReviewSession(seeded_db, "ana", SuggestionFeed(seeded_db, prompt, model), queue='search:"mixture of experts"')
    seqs = [seq for seq, _ in session.order]
    assert len(seqs) >= 3 and seqs == sorted(seqs)
    with pytest.raises(InputError, match="unknown filter"):
        ReviewSession(seeded_db, "ana", SuggestionFeed(seeded_db, prompt, model), queue="search:colour:blue")


def test_cli_takes_a_search_queue(run_cli):
    from workbench.cli_common import parse_queue as _queue

    assert _queue('search:"mixture of experts" status:todo') == 'search:"mixture of experts" status:todo'
    assert _queue("todo") == "todo"
    result = run_cli("review", "--queue", "nonsense")
    assert result.exit_code == 2 and "or search:" in result.stderr
    assert run_cli("review", "--queue", "search:  ").exit_code == 2  # a search needs a query


@pytest.mark.parametrize("text", ["status:", "multigrid status:", "gain: multigrid", "ID:"])
def test_a_filter_with_no_value_is_said_not_searched_as_a_word(seeded_db, text):
    query = parse(text)
    key = text.split(":")[0].split()[-1]
    assert query.problem is not None and query.problem.startswith(f"empty filter '{key}:'")
    assert all(key.lower() not in word.lower() for word in query.words)
    hits, problem = search(seeded_db, text, annotator="ana", active=None)
    assert problem == query.problem


def test_a_pasted_page_is_searched_by_its_first_words_at_once_and_an_unindexable_word_matches_nothing(seeded_db):
    import time

    from workbench.store.text_search import MAX_WORDS

    started = time.perf_counter()
    hits, problem = search(seeded_db, "training " * 10_000, annotator="ana", active=None)
    assert time.perf_counter() - started < 1.0 and hits and f"first {MAX_WORDS} words" in problem
    assert find(seeded_db, "mixture " + "a" * 3000) == []  # both backends: no paper has that word
    started = time.perf_counter()
    _, problem = search(seeded_db, '"' + "training " * 10_000 + '"', annotator="ana", active=None)
    assert time.perf_counter() - started < 1.0 and f"first {MAX_WORDS} words" in problem  # a quoted page too
