"""Search over titles and abstracts (SQLite FTS5, or PostgreSQL's tsvector with a GIN index), with
filters, for the `/` dialog and `review --queue search:"…"`.

Syntax: words (all must occur; the last one is a prefix while typing), "a phrase",
and filters, combinable:
  status:accepted|edited|rejected|decided|todo   your decision on the paper
  flagged                                         papers you flagged
  gain:none|any, compute:none|any                 the suggestion on screen states none / some
  grounding:ungrounded|fuzzy                      a field of that suggestion is not found / only
                                                  loosely found in the abstract (or has a number
                                                  the abstract does not contain)
  id:PREFIX                                       papers whose id starts with PREFIX
Results are ranked by BM25 (title words count five times an abstract's) when the words
match at most RANK_LIMIT papers, else listed in paper order: ranking every paper that
contains "training" costs half a second on 100,000 papers, listing them does not. Paper
order there is the index's rowid order (papers are only appended, so it follows seq),
which lets SQLite stop after the first `limit` matches instead of sorting them all.
A single letter is matched as a word, not a prefix: "t*" merges the postings of every
word starting with t (~75 ms on 20,000 papers), and one letter narrows nothing anyway.

PostgreSQL: the same query as a tsquery over `papers.search`, its words split, lower-cased and
stripped of accents as FTS5 does it (workbench/store/pg_words.py), ranked by ts_rank with the
title's weight five times the abstract's, paper order otherwise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from workbench import pg
from workbench.records import SearchHit, SuggestionKey
from workbench.store import pg_words
from workbench.store._base import Handle, guarded, like_prefix
from workbench.vocab import NUMBER_NOT_IN_ABSTRACT, STATUSES, UNGROUNDED_QUOTE, VALUE_NOT_IN_QUOTE

RANK_LIMIT = 3_000
MAX_WORDS = 64  # words searched at most: a pasted page of text made FTS5 take seconds a keystroke
MIN_PREFIX = 2  # the shortest last word searched as a prefix while typing
_TOKEN = re.compile(r'"([^"]*)"?|(\S+)')
_WORD = re.compile(r"\w+", re.UNICODE)
_HEX_ID = re.compile(r"^[0-9a-f]{6,16}$")
FILTER_HELP = ("words, \"a phrase\", status:accepted|edited|rejected|decided|todo, flagged, gain:none|any, "
               "compute:none|any, grounding:ungrounded|fuzzy, id:PREFIX")


@dataclass
class Query:
    words: list[str] = field(default_factory=list)  # each an FTS5 string (a quoted word, phrase or prefix)
    terms: list[tuple[list[str], bool]] = field(default_factory=list)  # the same: (words, last is a prefix)
    where: list[str] = field(default_factory=list)
    params: list = field(default_factory=list)
    needs_suggestion: bool = False
    id_prefix: str | None = None  # id:PREFIX, a filter like the others
    maybe_id: str | None = None  # a lone hex word: searched as a word, and its paper (if any) first
    problem: str | None = None

    @property
    def empty(self) -> bool:
        return not self.words and not self.where and self.id_prefix is None and self.maybe_id is None


def parse(text: str, *, prefix_last: bool = True) -> Query:
    """The query for `text`; a filter it does not know is a `problem`, not an exception."""
    query = Query()
    tokens = list(_TOKEN.finditer(text))
    for index, match in enumerate(tokens):
        phrase, word = match.group(1), match.group(2)
        if phrase is not None:
            terms = _WORD.findall(phrase)
            if terms:
                query.words.append('"' + " ".join(terms) + '"')
                query.terms.append((terms, False))
            continue
        key, colon, value = word.partition(":")
        if colon and not value and key.lower() in _FILTERS:  # `status:` is a filter still to be written
            query.problem = f"empty filter '{key}:' (try {FILTER_HELP})"
        elif value and key.lower() in _FILTERS:
            problem = _FILTERS[key.lower()](query, value.lower())
            if problem:
                query.problem = problem
        elif word.lower() == "flagged":
            query.where.append("a.flagged != 0")
        elif value and key.isalpha() and key.lower() not in ("http", "https"):
            query.problem = f"unknown filter '{key}:' (try {FILTER_HELP})"
        else:
            if _HEX_ID.match(word.lower()) and len(tokens) == 1:
                query.maybe_id = word.lower()
            terms = _WORD.findall(word)
            last = prefix_last and index == len(tokens) - 1 and not text.endswith((" ", '"'))
            for n, term in enumerate(terms):
                prefix = last and n == len(terms) - 1 and len(term) >= MIN_PREFIX
                query.words.append(f'"{term}"' + ("*" if prefix else ""))
                query.terms.append(([term], prefix))
    if sum(len(words) for words, _ in query.terms) > MAX_WORDS:  # a quoted page counts by its words
        kept, count = 0, 0
        while kept < len(query.terms) and count + len(query.terms[kept][0]) <= MAX_WORDS:
            count += len(query.terms[kept][0])
            kept += 1
        query.words, query.terms = query.words[:kept], query.terms[:kept]
        query.problem = f"only the first {MAX_WORDS} words are searched"
    return query


def _status(query: Query, value: str) -> str | None:
    if value in STATUSES:
        query.where.append("a.status = ?")
        query.params.append(value)
    elif value == "decided":
        query.where.append("a.status IS NOT NULL")
    elif value in ("todo", "undecided", "none"):
        query.where.append("a.status IS NULL")
    else:
        return f"status:{value}? (accepted, edited, rejected, decided or todo)"
    return None


def _stated(column: str):
    def apply(query: Query, value: str) -> str | None:
        query.needs_suggestion = True
        if value in ("none", "null", "no"):
            query.where.append(f"s.outcome = 'ok' AND s.{column} IS NULL")
        elif value in ("any", "some", "yes"):
            query.where.append(f"s.{column} IS NOT NULL")
        else:
            return f"{column.replace('_', ' ')}:{value}? (none or any)"
        return None
    return apply


def _grounding(query: Query, value: str) -> str | None:
    query.needs_suggestion = True
    if value in ("ungrounded", "none", "bad"):
        kinds = " OR ".join(f"s.warnings LIKE '%{kind}%'" for kind in
                            (UNGROUNDED_QUOTE, VALUE_NOT_IN_QUOTE, NUMBER_NOT_IN_ABSTRACT, '"ungrounded"'))
        query.where.append(f"s.outcome = 'ok' AND ({kinds} OR s.evidence LIKE '%\"ungrounded\"%')")
    elif value == "fuzzy":
        query.where.append("s.outcome = 'ok' AND s.evidence LIKE '%\"fuzzy\"%'")
    else:
        return f"grounding:{value}? (ungrounded or fuzzy)"
    return None


def _id(query: Query, value: str) -> str | None:
    query.id_prefix = value
    return None


_FILTERS = {"status": _status, "gain": _stated("claimed_gain"), "compute": _stated("compute"),
            "grounding": _grounding, "id": _id}


@guarded
def search(db: Handle, text: str, *, annotator: str, active: SuggestionKey | None, limit: int | None = 50,
           ranked: bool = True) -> tuple[list[SearchHit], str | None]:
    """(hits, problem): matching papers, best first (or in paper order), and what was not understood."""
    query = parse(text, prefix_last=ranked)
    if query.empty:
        return [], query.problem
    joins = ["LEFT JOIN annotations a ON a.paper_id = p.id AND a.annotator = ?"]
    params: list = [annotator]
    if query.needs_suggestion:
        if active is None:
            return [], "filters on suggestions need a prompt and model"
        joins.append("JOIN suggestions s ON s.paper_id = p.id AND s.prompt_id = ? AND s.model = ? AND s.params = ? "
                     "AND s.content_hash = p.content_hash")  # made from the text shown, as the review shows it
        params += [active.prompt_id, active.model, active.params]
    where = list(query.where)
    params_where = list(query.params)
    if query.id_prefix is not None:
        where.append("p.id LIKE ? ESCAPE '\\'")
        params_where.append(like_prefix(query.id_prefix))
    order, params_order = "p.seq", []
    source = "papers p"
    if query.words and pg.is_handle(db):
        match = pg_words.tsquery(query.terms)
        where.insert(0, "p.search @@ ?::tsquery" if match else "1 = 0")  # no word left: nothing matches
        params_where[:0] = [match] if match else []
        if match and ranked and _matches_at_most(db, match, RANK_LIMIT):
            order, params_order = "ts_rank('{0, 0, 0.2, 1}', p.search, ?::tsquery) DESC, p.seq", [match]
    elif query.words:
        match = " ".join(query.words)
        source = "papers_fts f JOIN papers p ON p.rowid = f.rowid"
        where.insert(0, "papers_fts MATCH ?")
        params_where.insert(0, match)
        order = "f.rowid"
        if ranked and _matches_at_most(db, match, RANK_LIMIT):
            order = "bm25(papers_fts, 5.0, 1.0), p.seq"
    sql = (f"SELECT p.id, p.seq, p.title, a.status FROM {source} {' '.join(joins)} "
           f"WHERE {' AND '.join(where) or '1 = 1'} ORDER BY {order}" + (" LIMIT ?" if limit else ""))
    rows = db.execute(sql, params + params_where + params_order + ([limit] if limit else [])).fetchall()
    hits = [SearchHit(*row) for row in rows]
    if query.maybe_id is not None:  # a lone hex word: the paper with that id first
        exact = [SearchHit(*r) for r in db.execute(
            "SELECT p.id, p.seq, p.title, a.status FROM papers p LEFT JOIN annotations a ON a.paper_id = p.id "
            "AND a.annotator = ? WHERE p.id LIKE ? ESCAPE '\\' ORDER BY p.seq LIMIT 5",
            [annotator, like_prefix(query.maybe_id)])]
        hits = exact + [h for h in hits if h.id not in {e.id for e in exact}]
    return hits[:limit] if limit else hits, query.problem


def _matches_at_most(db: Handle, match: str, cap: int) -> bool:
    matching = ("SELECT 1 FROM papers WHERE search @@ ?::tsquery" if pg.is_handle(db)
                else "SELECT 1 FROM papers_fts WHERE papers_fts MATCH ?")
    found = db.execute(f"SELECT count(*) FROM ({matching} LIMIT ?) AS m", [match, cap + 1]).fetchone()[0]
    return found <= cap
