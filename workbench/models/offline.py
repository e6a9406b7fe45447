"""`offline`: a deterministic, rule-based extractor. No network, instant.

It reads the abstract the way a skimming reviewer would, and words each value
the way a reviewer would write it:
- technique: the title's "NAME: phrase" split ("GPTQ: Accurate Post-Training
  Quantization for ..."; the title when it names no method), nothing else:
  reading the name and phrase from the abstract scored no better on six
  hand-annotated samples (README, "Offline model quality");
- claimed gain: each quantified improvement (×, %, "times faster", reductions,
  "N points", "A vs. B", "+N", "by a factor of N", "doubles", "three orders of
  magnitude smaller", "comparable ... with only 20% of the data") next to a
  gain word, as the figure with what it is measured against. What the
  annotation policy does not count is left out even beside a gain word: scores
  reached ("achieves 85%", "(93% on CIFAR10, 79% on CIFAR100)", "85% accuracy,
  outperforming X"), drops in quality, a baseline's or a competitor's
  figures, settings ("across sparsity ratios from 50% to 90%"), more of what
  the method consumes and numbers inside names ("BigEarthNet-10%", "256 x
  256");
- compute: hardware, GPU/TPU counts and hours, FLOPs, tokens, parameter
  counts and data sizes, each once.
Every value comes with a verbatim evidence quote from the abstract, within the
schema's limits.

A prompt's `[offline]` table (`offline_settings.OfflineSettings`) chooses the wording:
the technique as name, phrase or both, every gain or the headline one, each
gain as a short phrase or as its clause, which kinds of compute figure to keep.
A prompt without the table gets the defaults (see `offline_note`).

Every pattern is bounded: numbers are scanned once and each is examined in a
window of characters around it, so the work grows linearly with the abstract
however hostile it is (100,000 characters, 10,000-character words, runs of
digits and dots).
"""

from __future__ import annotations

import json
import re
import time
from bisect import bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING

from workbench.grounding import supports
from workbench.models.base import ModelDefaults, Reply
from workbench.models.offline_settings import OfflineSettings
from workbench.prompts import Prompt
from workbench.records import Call
from workbench.vocab import MAX_QUOTE_CHARS, MAX_VALUE_CHARS, NULL_WORDS, OFFLINE, OK, collapse_whitespace, utc_now

if TYPE_CHECKING:
    from workbench.schema import Summary

# Bump when the rules change, so new suggestions do not hide behind cached old ones.
RULES_VERSION = "5"
DEFAULT_SETTINGS = OfflineSettings()


def settings_for(prompt: Prompt | None) -> OfflineSettings:
    return prompt.offline if prompt is not None and prompt.offline is not None else DEFAULT_SETTINGS


def offline_note(prompt: Prompt) -> str | None:
    """What to tell the user, once, when the offline model cannot follow this prompt."""
    if prompt.offline is not None:
        return None
    return (f"the offline model ignores the text of prompt '{prompt.name}' (it has no [offline] table) "
            f"and uses its default settings")


class OfflineModel(ModelDefaults):
    name = OFFLINE
    instant = True

    def params(self, prompt: Prompt) -> dict:
        return {"rules": RULES_VERSION, **settings_for(prompt).as_dict()}

    def note(self, prompt: Prompt) -> str | None:
        """Said once by `suggest` and `review`: see `offline_note`."""
        return offline_note(prompt)

    async def summarise(self, title: str, abstract: str, prompt: Prompt) -> Reply:
        return self.summarise_now(title, abstract, prompt)

    def summarise_now(self, title: str, abstract: str, prompt: Prompt) -> Reply:
        """The same, synchronously: the review screen shows it with the paper, never pending."""
        started, at = time.perf_counter(), utc_now()
        summary = extract(title, abstract, settings_for(prompt))
        raw = json.dumps(summary.model_dump(), ensure_ascii=False)
        latency = int((time.perf_counter() - started) * 1000)
        return Reply(outcome=OK, summary=summary, raw=raw, latency_ms=latency,
                     calls=[Call(ask=1, attempt=1, outcome=OK, latency_ms=latency, at=at)])  # raw: derivable


# How much of an abstract the rules read. Real abstracts are under 2,000 characters (arXiv's
# limit is 1,920); the rules cost ~4 ms per 1,000 characters of figure-laden text, so reading
# a 100,000-character abstract whole took 370 ms, and the review screen runs this between frames.
MAX_READ_CHARS = 8_000


def extract(title: str, abstract: str, settings: OfflineSettings = DEFAULT_SETTINGS) -> Summary:
    from workbench.schema import Evidence, Summary  # here, not on import: pydantic is not the first frame's

    text = Text(_readable_part(abstract))
    technique, technique_quote = _technique(title, text, settings)
    gain, gain_quote = _gains(text, settings)
    compute, compute_quote = _compute(text, settings)
    return Summary(
        technique=_value(technique), claimed_gain=_value(gain), compute=_value(compute),
        evidence=Evidence(technique=technique_quote, claimed_gain=gain_quote, compute=compute_quote),
    )


def _readable_part(abstract: str) -> str:
    """The first MAX_READ_CHARS of the abstract, ending after a sentence when one ends near there."""
    if len(abstract) <= MAX_READ_CHARS:
        return abstract
    end = abstract.rfind(". ", MAX_READ_CHARS // 2, MAX_READ_CHARS)
    return abstract[:end + 1 if end >= 0 else MAX_READ_CHARS]


# --------------------------------------------------------------------------- the abstract, its sentences, quotes

_ABBREVIATIONS = ("e.g", "i.e", "al", "vs", "etc", "fig", "eq", "approx", "resp", "cf", "ca", "no", "ie", "eg")
_SENTENCE_BREAK = re.compile(r"[.!?]\s+(?=[A-Z0-9(\[\"'])")
_DIGIT = re.compile(r"\d")
# Characters a stored quote keeps as they are: a quote with any other white space would be
# changed by the schema's tidying (runs of white space become one space) and no longer match.
_UNTIDY_SPACE = re.compile(r"[^\S ]| {2,}")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans; abbreviations (e.g., et al., vs.) and decimals do not end a sentence."""
    spans, start = [], 0
    for match in _SENTENCE_BREAK.finditer(text):
        word = text[max(start, match.start() - 8):match.start()].rsplit(" ", 1)[-1].lower().lstrip("(")
        if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
            continue
        spans.append((start, match.start() + 1))
        start = match.end()
    if start < len(text):
        spans.append((start, len(text)))
    return spans


class Text:
    """The abstract and its sentences, split once."""

    __slots__ = ("abstract", "sentences")

    def __init__(self, abstract: str) -> None:
        self.abstract = abstract
        self.sentences = split_sentences(abstract)

    def sentence_at(self, position: int) -> int:
        """The index of the sentence holding this character (or the one before it, between two)."""
        return max(0, bisect_right(self.sentences, (position, len(self.abstract) + 1)) - 1)

    def quote(self, start: int, end: int, anchor: int | None = None) -> str | None:
        """A verbatim quote of abstract[start:end] that the schema stores unchanged: at most
        MAX_QUOTE_CHARS, no white space but single spaces, kept around `anchor` when cut."""
        abstract = self.abstract
        anchor = start if anchor is None else min(max(anchor, start), max(start, end - 1))
        if end - start > MAX_QUOTE_CHARS:  # a window around the anchor, on word boundaries
            start = max(start, min(anchor - MAX_QUOTE_CHARS // 3, end - MAX_QUOTE_CHARS))
            end = start + MAX_QUOTE_CHARS
        for bad in _UNTIDY_SPACE.finditer(abstract, start, end):  # keep the clean stretch holding the anchor
            if bad.end() <= anchor:
                start = bad.end()
            elif bad.start() > anchor or bad.start() > start:
                end = bad.start()
                break
        if end - start == MAX_QUOTE_CHARS:
            if start > 0 and not abstract[start - 1].isspace():
                cut = abstract.find(" ", start, anchor)
                start = cut + 1 if cut >= 0 else start
            if end < len(abstract) and not abstract[end].isspace():
                cut = abstract.rfind(" ", max(start, anchor), end)
                end = cut if cut > start else end
        while start < end and abstract[start] == " ":
            start += 1
        while end > start and abstract[end - 1] == " ":
            end -= 1
        quote = abstract[start:end]
        return quote if _tidy_equal(quote) else None


def _tidy_equal(quote: str) -> bool:
    """Does the schema store this quote as it is (not emptied as "null", "n/a" ...)?"""
    if not quote or collapse_whitespace(quote) != quote:
        return False
    return quote.lower() not in NULL_WORDS


def _value(value: str | None) -> str | None:
    """A value within the schema's limit, cut on a word boundary."""
    if value is None:
        return None
    value = collapse_whitespace(value)
    if len(value) > MAX_VALUE_CHARS:
        value = value[:MAX_VALUE_CHARS - 1].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"
    return value or None


# --------------------------------------------------------------------------- technique
#
# The technique is the title's "NAME: phrase" split and nothing else. Rules 4 read the name and the phrase
# from the abstract ("we propose NAME, a ..."); on all six hand-annotated samples they scored within
# -0.007..+0.031 token-F1 of the title alone, and even choosing, paper by paper, the better of the two
# (an oracle) stayed below the title + 0.08 on all six (+0.024..+0.066; README, "Offline model quality").
# So the title it is: simpler, and as good. The abstract is read only for the evidence quote.

_SUBJECT = r"(?:\bwe\b|\bthis (?:paper|work|study|article|report)\b|\bour (?:work|paper|study)\b)"
_VERBS = (  # in order of preference: "propose" names the contribution most reliably
    r"propos(?:e|es|ed)",
    r"introduc(?:e|es|ed)",
    r"present(?:s|ed)?",
    r"develop(?:s|ed)?|design(?:s|ed)?|devis(?:e|es|ed)|put forward|build|release(?:s|d)?|offer(?:s|ed)?",
)
# The verbs, found in one pass (group name: the verb's rank), then the subject before each.
_PROPOSAL_VERB = re.compile(
    "(?=[pidbro])(?:" + "|".join(f"(?P<v{rank}>{verb})" for rank, verb in enumerate(_VERBS)) + r")\b\s")
_PROPOSAL_SUBJECT = re.compile(rf"{_SUBJECT}[^.;]{{0,60}}$", re.I)
MAX_PROPOSALS = 20  # "we propose" candidates looked at (a hostile text can hold thousands)
_DANGLING = frozenset("the a an of in on for to with and or by from as at its their that which via into "
                      "through using based such".split())
# A method's name: one token with a capital inside it or a digit (MoMa, GPTQ, w2v-BERT, TL;DR), or a
# short run of capitalised words (Mixed Barlow Twins).
_NAME_TOKEN = r"[A-Za-z0-9][\w'+.-]*(?:;[A-Za-z]\w*)?"
_NAMEY = re.compile(r"^(?=.*(?:[A-Z].*[A-Z]|\d|[a-z][A-Z]))" + _NAME_TOKEN + "$")
_TITLE_SPLIT = re.compile(r": | - | — ")  # not ";": "Too Large; Data Reduction ..." names no method
_TITLE_NOT_A_NAME = re.compile(
    r"^(?:the|a|an|on|towards?|beyond|why|how|when|what|is|are|do|does|can|revisiting|rethinking|learning|"
    r"understanding|exploring|improving|scaling|training|making)\b|'s\b|,", re.I)


def _technique(title: str, text: Text, settings: OfflineSettings) -> tuple[str | None, str | None]:
    name, phrase = _title_name(title, text.abstract)
    if settings.technique == "name":
        value = name or title
    elif settings.technique == "phrase":
        value = phrase or title
    else:
        value = f"{name}: {phrase}" if name and phrase else title
    value = value.strip()
    if not value:
        return None, None
    return value, _supporting_quote(text, value, _proposal_sentence(text))


def _proposal_sentence(text: Text) -> int | None:
    """The first sentence proposing something, with the most telling verb ("propose" before "present"):
    where the authors name their method, so the evidence quote for the technique."""
    abstract, found = text.abstract, []
    for match in _verb_matches(abstract):
        index = text.sentence_at(match.start())
        window = max(text.sentences[index][0], match.start() - 80)
        if _PROPOSAL_SUBJECT.search(abstract, window, match.start()):  # "we ... propose", not "the proposed"
            found.append((int(match.lastgroup[1:]), match.start(), index))
            if len(found) == MAX_PROPOSALS:
                break
    return min(found)[2] if found else None


def _verb_matches(abstract: str):
    """_PROPOSAL_VERB's matches, found with str.find (a scan in C) rather than the regex engine
    stepping through every character."""
    for stem in _VERB_STEMS:
        at = abstract.find(stem)
        while at >= 0:
            if at == 0 or not abstract[at - 1].isalnum():
                match = _PROPOSAL_VERB.match(abstract, at)
                if match:
                    yield match
            at = abstract.find(stem, at + 1)


_VERB_STEMS = ("propos", "introduc", "present", "develop", "design", "devis", "put forward", "build", "release",
               "offer")


def _title_name(title: str, abstract: str) -> tuple[str | None, str | None]:
    """("GPTQ", "Accurate Post-Training Quantization for ...") for a "NAME: what it is" title."""
    split = _TITLE_SPLIT.search(title)
    if not split:
        return None, None
    name, rest = title[:split.start()].strip(), title[split.end():].strip()
    if not name or len(name) > 40 or len(name.split()) > 4 or _TITLE_NOT_A_NAME.search(name):
        return None, None
    if not any(_NAMEY.match(word) for word in name.split()) and name.lower() not in abstract.lower():
        return None, None  # "Selectivity Drives Productivity: ..." is a slogan, not a name
    return name, rest or None


def _supporting_quote(text: Text, value: str, index: int | None) -> str | None:
    """The proposal's sentence if it backs the value (most of its words); else the sentence, or run of
    up to three, sharing most words with it if that backs it; else the proposal's sentence."""
    if index is not None:
        quote = text.quote(*text.sentences[index])
        if quote and supports(quote, value):
            return quote
    wanted = _words(value)
    lowered = text.abstract.lower()
    counts = [{w for w in wanted if w in lowered[start:min(end, start + MAX_EVIDENCE_CHARS)]}
              for start, end in text.sentences[:MAX_QUOTE_SENTENCES]]
    best, best_score = None, 0
    for first in range(len(counts)):
        covered: set[str] = set()
        for last in range(first, min(first + 3, len(counts))):
            if text.sentences[last][1] - text.sentences[first][0] > MAX_EVIDENCE_CHARS and last > first:
                break
            covered |= counts[last]
            score = len(covered) - 0.1 * (last - first)  # a longer run only for more words
            if score > best_score:
                best, best_score = (first, last), score
    proposal = text.quote(*text.sentences[index]) if index is not None else None
    if best is None:
        return proposal
    run = text.quote(text.sentences[best[0]][0], text.sentences[best[1]][1])
    # Neither backs the value (a title's words are often not the abstract's): the sentence where the
    # authors propose their method says more about it than the sentences sharing a few of its words.
    return run if proposal is None or (run and supports(run, value)) else proposal


_WORD = re.compile(r"[A-Za-z][\w-]{2,}")
# Sentences looked at for a quote: a hostile abstract can have thousands.
MAX_QUOTE_SENTENCES = 200


def _words(text: str) -> set[str]:
    return {w.lower() for w in _WORD.findall(text)} - _DANGLING


# --------------------------------------------------------------------------- gains

# A number as written: never starts inside another number, bounded in length.
_NUMBER = re.compile(r"(?<![\d.,])\d{1,12}(?:[.,]\d{1,12}){0,4}(?![\d])")
_NUM = r"\d{1,12}(?:[.,]\d{1,12}){0,4}"
_RELATIVE_UNIT = (r"(?:\\?%|percent\b|[xX×](?![A-Za-z0-9])|times\b|-?fold\b|(?:[A-Za-z][\w@-]{0,15} )?(?:points?|pp)\b"
                  r"|p\.p\.)")
_ABSOLUTE_UNIT = r"(?:dB|GB|MB|TB|BLEU|mAP|AP|FID|FVD|Watts?|W|ms|seconds?|minutes?|hours?|days?)\b"
# What may follow a number to make it a figure, matched at the number's end.
_AFTER = re.compile(
    rf"(?P<range>\s?(?:\\?%|[xX×])?\s?(?:-|–|to|~|\\sim|\$\\sim\$)\s?~?{_NUM}\s?{_RELATIVE_UNIT})"
    rf"|(?P<versus>(?:\s?{_RELATIVE_UNIT})?\s(?:vs\.?|versus|→|->|\\?rightarrow|\\to)\s{_NUM}"
    rf"(?:\s?{_RELATIVE_UNIT})?)"
    rf"|(?P<unit>\s?{_RELATIVE_UNIT})"
    rf"|(?P<slash>(?:/{_NUM}){{1,4}}\s?(?:{_RELATIVE_UNIT}|{_ABSOLUTE_UNIT}))"
    rf"|(?P<absolute>\s?{_ABSOLUTE_UNIT})"
    rf"|(?P<pair>\s(?:and|to)\s{_NUM}\s?(?:{_RELATIVE_UNIT}|{_ABSOLUTE_UNIT})?)"
)
_BEFORE = re.compile(  # matched against the few characters before a number
    r"(?P<factor>\bfactor (?:of )?(?:times )?)$"
    r"|(?P<by>\b(?:by|improvements? of|gains? of)\s(?:an average of |on average "
    r"|a (?:large |wide |clear |significant )?margin (?:of |\(|ranging from )?)?"
    r"(?:up to |about |approximately |nearly |over |around |more than |at least |~)?)$"
    r"|(?P<from>\bfrom\s)$"
    r"|(?P<fraction>\b(?:only|just|a mere|merely) )$",
)
_BEFORE_HINT = re.compile(r"by|of|factor|from|only|just|mere")
_PLUS = re.compile(r"(?<![\w.])\+ ?$")
_FRACTION = re.compile(r"/\d{1,4}\b")
_DIMENSION = re.compile(r"(?<=[xX×s]) ?\d")
# Cheap tests (substring searches run in C) before the case-blind pattern.
_WORD_HINTS = ("oubl", "ripl", "uadrupl", "alv", "alf", "of magnitude")
_WORD_FIGURE = re.compile(r"\b(?:(?:more than )?(?:doubl|tripl|quadrupl|halv)(?:es|ed|ing)|(?:by )?half"
                          r"|(?:an|one|two|three|four|five|six|several|many|\d{1,2}) orders? of magnitude)\b", re.I)
_CUE_BEFORE = re.compile(
    r"\b(?:speed-?ups?|speeds? up|accelerat\w*|reduc\w*|fewer|less|lower\w*|sav(?:e|es|ed|ing|ings)|cuts?"
    r"|improv\w*|outperform\w*|better|boost\w*|gains?|smaller|cheaper|compress\w*"
    r"|efficien\w*|doubl\w*|tripl\w*|enhanc\w*|exceed\w*|beats?|decreas\w*|shrink\w*|drops?|recover\w*|advanc\w*"
    r"|lift\w*|rais\w*|superior)\b",
    re.I,
)
_DELTA_WORDS = (r"faster|speed-?ups?|less|fewer|lower|higher|better|worse|smaller|cheaper|reductions?|improvements?"
                r"|gains?|savings?|more efficient|relative|increase|decrease|boost|acceleration|drop|advantage"
                r"|margin|lift|increment|cut|shorter|above|absolute(?! (?:accuracy|score))")
_OF_QUALITY = r"^\W{0,3}of (?:the |its |their )?(?:[\w'’-]+ ){0,3}?(?:performance|accuracy|quality)\b"
_CUE_AFTER = re.compile(
    rf"^\W{{0,3}}(?:[\w-]+ ){{0,4}}?(?:{_DELTA_WORDS}|over|compared)\b"
    r"|^[^.;\d]{0,30}?,? (?:surpassing|outperforming|beating|exceeding|compared|versus|vs\.?)\b",
    re.I,
)
# "attains 92.7-98.1% of the accuracy of ...", "recovers up to 91% of the performance gap" (not "a subset
# responsible for 95% of the model's performance": a finding, not something the method keeps)
_KEPT = re.compile(_OF_QUALITY, re.I)
_KEEPS = re.compile(r"\b(?:achiev|attain|reach|recover|retain|preserv|maintain|keep|restor|match|clos|deliver)\w*\b",
                    re.I)
# A figure that says how much something changed, by the words right after it ("4.2% higher", "12% relative")
_DELTA_AFTER = re.compile(rf"^\W{{0,3}}(?:[\w-]+ ){{0,4}}?(?:{_DELTA_WORDS})\b|{_OF_QUALITY}", re.I)
# A score reached ("achieves 85.2%", "85.2% accuracy"): a gain only when compared with another figure
# ("70.8% accuracy, surpassing CLIP's 68.3%"), not with a name alone ("..., outperforming all prior methods").
_METRIC_AFTER = re.compile(r"^ (?:top-\d |zero-shot |average |mean )?(?:accuracy|acc|F1|mAP|AP\w*|AUC|BLEU|ROUGE\S*|"
                           r"CIDEr|scores?|success rate|win rate|pass@\d+|mIoU|exact match)\b", re.I)
# "achieves 85.2%": a score, not a gain, unless a gain word stands right by it.
_SCORE_BEFORE = re.compile(r"\b(?:achiev\w*|reach\w*|obtain\w*|attain\w*|scor\w*|yield\w*|get\w*|accuracy|F1|"
                           r"(?:accuracy|score|F1|rate|precision|recall|BLEU|AP|mAP|performance) of)"
                           r"\W{0,3}(?:an? |about |approximately |up to |over |nearly |around )?$", re.I)
_COMPARISON = re.compile(r"\b(?:than|compared|relative|surpass\w*|outperform\w*|over|vs\.?|versus|beat\w*|exceed\w*|"
                         r"improv\w*|reduc\w*|from)\b", re.I)
_WEAK_CONTEXT = re.compile(r"\b(?:same|comparable|match\w*|peak|full|baseline|while maintaining|similar|equivalent|"
                           r"competitive|on par)\b", re.I)
_USING = re.compile(r"\b(?:at|using|with|requir\w*|need\w*|consum\w*)\s(?:about |approximately |roughly |around |~)?$",
                    re.I)
_OF_RESOURCE = re.compile(r"^ of (?:the |its |their |an? )?(?:[\w'-]+ ){0,2}?(?:data|labels?|parameters|compute|"
                          r"costs?|FLOPs|time|memory|tokens|examples|samples|resources|training|budget)\b", re.I)
_COORDINATED = re.compile(r"(?:,|\band|\bor|\badditional|\bfurther)\W{0,3}(?:an? )?(?:additional |further )?"
                          r"(?:to |by )?(?:up to |about |over |nearly )?$", re.I)
WINDOW = 80  # characters looked at on each side of a number
MAX_FIGURES = 100  # figures read in one sentence

# Where a gain phrase ends and the next begins.
_CLAUSE_BREAK = re.compile(
    r";(?= )|: (?![^\d;]{0,80}\d)|,? while |, whereas |,? (?:al)?though |, which |"
    r", (?:and|but) (?=(?:\w+ ){0,3}(?:\w+s|\w+ed)\b)|"
    r", (?=(?:resulting|leading|achieving|yielding|making|reducing|improving|enabling|allowing|demonstrating|"
    r"showing|bringing|delivering|thereby)\b)| and (?:also )?(?=(?:achiev|improv|reduc|yield|outperform|obtain|"
    r"deliver|boost|increas|surpass|exceed|cut)\w*)|, (?:and )?(?=an additional|a further)"
)
_PHRASE_END = re.compile(
    r",(?! \d)| \(| while | without | when | despite | whereas | which | thereby | by (?!\d)| as | if | so that "
    r"| setting | across | making | demonstrating | showing | and (?!\d|[^,]{0,30}?\d)| after | through | due "
    r"| at (?:the|a) (?:cost|expense) "
)
_LEAD_DROP = re.compile(
    r"^(?:(?:we |it |they |this |our (?:method|model|approach|framework)s? )?"
    r"(?:also |further |consistently |significantly |substantially |greatly |drastically |notably )?"
    r"(?:achiev\w*|obtain\w*|yield\w*|show\w*|demonstrat\w*|deliver\w*|provid\w*|result\w* in|lead\w* to|"
    r"observ\w*|report\w*|see|bring\w*|giv\w*|offer\w*|exhibit\w*|enabl\w*|allow\w*|representing|with|"
    r"and|but|for|of|at|that|to|in|impressive|significant|substantial|remarkable|notable|an?|the)\s)+", re.I)
_QUALIFIER = re.compile(r"(?:\b(?:up to|over|more than|approximately|about|nearly|around|roughly|at least|almost|"
                        r"only|just|an additional|additional|a further|further|an?)\s|(?<![A-Za-z])~)+$", re.I)
_FIGURE_FIRST = re.compile(  # "4.5x faster", "10x reduction": the figure opens the phrase
    r"\W{0,3}(?:(?!(?:over|on|in|for|with|than|of|to|from|at|by|and|or)\b)[\w-]+ )?"
    r"(?:faster|slower|smaller|fewer|less|lower|higher|better|worse|cheaper|more|larger|"
    r"reductions?|improvements?|speed-?ups?|gains?|increases?|decreases?|savings?|accelerations?|boosts?|"
    r"relative|absolute|lift|drop)\b", re.I)
_NOUN_OF = re.compile(r"\b(accelerations?|speed-?ups?|improvements?|reductions?|gains?|savings|increases?|boosts?) of\s"
                      r"(?P<qualifier>(?:up to |about |over |more than |nearly |approximately |around |~)?)$", re.I)
_VERB_OBJECT = re.compile(
    r"^(?:(?P<verb>reduc|improv|boost|increas|decreas|lower|rais|accelerat|enhanc|cut|lift)(?:es|s|ed|ing|e)?"
    r"|(?P<speed>speed)(?:s|ing)? up)"
    r" (?P<object>(?!(?:by|up|to|of|from|between)\b)[^,;()]{1,60}?) (?=(?:by|up to|to|from|between) )", re.I)
_PARTICIPLE = {"reduc": "reduced", "improv": "improved", "boost": "boosted", "increas": "increased",
               "decreas": "decreased", "lower": "lowered", "rais": "raised", "accelerat": "accelerated",
               "enhanc": "enhanced", "cut": "cut", "lift": "lifted"}
_GAIN_VERB = re.compile(r"^(?:reduc|improv|boost|increas|decreas|lower|rais|accelerat|enhanc|cut|lift|speed|"
                        r"achiev|obtain|yield|gain|outperform|surpass|beat|exceed|prun)\w*$", re.I)
_OUTPERFORM = re.compile(r"^(?:outperform|surpass|beat|exceed)\w* (?P<baseline>[^;()]{1,120}) by (?P<rest>.+)$", re.I)
_COMPARED = re.compile(r"\b(?:compared (?:to|with)|relative to|in comparison (?:to|with)|as compared (?:to|with))\s",
                       re.I)
MAX_GAINS = 6
SHORT_WORDS_BEFORE, SHORT_WORDS_AFTER, CLAUSE_WORDS = 6, 9, 40


@dataclass(slots=True)
class _Figure:
    start: int  # within the sentence
    end: int
    kind: str  # which rule made it a figure (a group name of _AFTER or _BEFORE, "plus" or "word")
    unit: str = ""  # "%", "x", "pt" or ""
    prefix: str = ""  # the group name of _BEFORE that matched before it, if any


def _figures(sentence: str) -> list[_Figure]:
    """Every figure in a sentence: a number with a unit or multiplier, or a gain word ("doubles")."""
    found: list[_Figure] = []
    for number in _NUMBER.finditer(sentence):
        if len(found) == MAX_FIGURES:
            break  # a "sentence" with more figures than this is a table or noise, not a claim
        start, end = number.span()
        if found and start < found[-1].end:
            continue  # the second half of a range or pair
        if start and _in_a_name(sentence, start):
            continue  # "BigEarthNet-10%", "F1 points", "Llama-2": part of a name, not a quantity
        after = _AFTER.match(sentence, end, end + WINDOW)
        before = _BEFORE.search(sentence, max(0, start - 45), start) if _BEFORE_HINT.search(
            sentence, max(0, start - 45), start) else None
        plus = _PLUS.search(sentence, max(0, start - 2), start)
        if after and after.lastgroup == "pair" and after.group().rstrip()[-1:].isdigit() and not before:
            continue  # "k=2 and 3 skills", "160 and 80 epochs": numbers, not figures
        if after and after.lastgroup == "unit" and _DIMENSION.match(sentence, after.end()):
            continue  # "256 x 256", "64times 64": a size, not a multiplier
        if after:
            figure = _Figure(start, after.end(), after.lastgroup, _unit_class(after.group()))
        elif before and before.lastgroup == "fraction":
            fraction = _FRACTION.match(sentence, end)
            if not fraction:
                continue
            figure = _Figure(start, fraction.end(), "fraction")
        elif before or plus:
            figure = _Figure(start, end, before.lastgroup if before else "plus")
        else:
            continue
        if plus:
            figure.start, figure.kind = plus.start(), "plus" if figure.kind != "versus" else "versus"
        figure.prefix = before.lastgroup if before else ""
        found.append(figure)
    if _has_word_figure(sentence):
        found.extend(_Figure(word.start(), word.end(), "word") for word in _WORD_FIGURE.finditer(sentence))
    found.sort(key=lambda f: f.start)
    return found


# "facilitates doubling the batch size": what the method makes possible
_ENABLES = re.compile(r"\b(?:enabl|facilitat|allow|permit)\w*\s(?:\w+\s)?$", re.I)
_SHRINKS = re.compile(r"\b(?:reduc|cut|sav|lower|decreas|shrink)\w*\s(?:\w+\s)?(?:by\s)?$", re.I)
_BETTER_AFTER = re.compile(r"^ (?:faster|smaller|fewer|less|lower|cheaper|more efficient|higher|better|reductions?|"
                           r"speed-?ups?|improvements?|savings?)\b", re.I)
_WORD_COMPARED = re.compile(r"\b(?:than|relative|compared|over|vs\.?|versus)\b")
_MEASURE_WORD = re.compile(r"\b(?:performance|gains?|speed|efficiency|throughput|accuracy|compression)\b", re.I)


def _in_a_name(sentence: str, start: int) -> bool:
    """Is the number at `start` part of a name: "BigEarthNet-10%", "F1 points", "Llama-2" (not "sim24%",
    LaTeX's "\\sim 24%" flattened, nor the second half of "20x-200x")?"""
    char = sentence[start - 1]
    if char.isascii() and char.isalpha():
        return not sentence.endswith(("sim", "approx"), 0, start)
    if char in "-–" and start > 1 and sentence[start - 2].isascii() and sentence[start - 2].isalnum():
        return not (sentence[start - 2] in "xX" and start > 2 and sentence[start - 3] in "0123456789.")
    return False


def _has_word_figure(text: str) -> bool:
    return any(hint in text for hint in _WORD_HINTS) and _WORD_FIGURE.search(text) is not None


def _number(text: str) -> float:
    """The first number in a figure's text ("24.80%" -> 24.8); infinity when it has none that reads."""
    match = _NUMBER.search(text)
    try:
        return float(match.group().replace(",", "")) if match else float("inf")
    except ValueError:  # "1.2.3"
        return float("inf")


def _unit_class(text: str) -> str:
    """"%", "x" or "pt": figures of one class can be listed together ("3.25x on A100 and 4.5x on A6000")."""
    lowered = text.lower()
    if "%" in lowered or "percent" in lowered:
        return "%"
    if re.search(r"[x×]|times|fold", lowered):
        return "x"
    return "pt" if re.search(r"points?|pp", lowered) else ""


def _gain_reason(sentence: str, figure: _Figure, previous: _Figure | None) -> str:
    """Why a figure is a gain (the rule's name: "near", "by", "far", ...), or "" when it is not: a cue
    says it measures a change, and nothing says it is what the annotation policy does not count."""
    start, end = figure.start, figure.end
    before = sentence[max(0, start - WINDOW):start]
    after = sentence[end:end + WINDOW]
    if figure.kind in ("plus", "versus"):
        return figure.kind
    if figure.kind == "word":
        return "word" if _word_is_gain(sentence, figure, before, after) else ""
    reason = _cue(sentence, figure, previous, before, after)
    if reason and _not_a_gain(sentence, figure, before, after, reason):
        return ""
    return reason


def _word_is_gain(sentence: str, figure: _Figure, before: str, after: str) -> bool:
    if sentence.endswith("magnitude", 0, figure.end):  # "three orders of magnitude smaller", not "... slower"
        return bool(_BETTER_AFTER.match(after) or _SHRINKS.search(before[-30:]))
    if sentence.startswith("by half", figure.start) and _CUE_BEFORE.search(" ".join(before.split()[-12:])):
        return True  # "reduces the total FLOPs required ... by half"
    return bool(_MEASURE_WORD.search(before[-40:] + after[:60]) or _WORD_COMPARED.search(after, 0, 40)
                or _ENABLES.search(before[-30:]) or _SHRINKS.search(before[-30:]))


def _cue(sentence: str, figure: _Figure, previous: _Figure | None, before: str, after: str) -> str:
    """What makes the figure a change: a gain word by it, "by", the gain it is listed with ..."""
    start, end = figure.start, figure.end
    if figure.unit in ("%", "") and figure.kind == "unit" and _LEVEL_AFTER.match(after) \
            and _LIST_BEFORE.search(before) and not _CUE_AFTER.match(after):
        # "improves with scale (93% on CIFAR10, 79% on CIFAR100)": levels reached, listed by benchmark, and
        # nothing says by how much anything changed (a level counts with the one it is compared with:
        # "70.8% vs. 68.3%", "from 35.5% to 44.5%"), unless listed after a gain ("by 0.568% on CIFAR-10, ...")
        return "coordinated" if _coordinated(sentence, figure, previous) else ""
    if figure.kind == "absolute" and not _COMPARISON.search(before[-60:] + after[:60]):
        return ""
    near = _CUE_BEFORE.search(" ".join(before.split()[-4:])) or _CUE_AFTER.match(after) or (
        _KEPT.match(after) and _KEEPS.search(" ".join(before.split()[-4:])))
    if near and near.re is _CUE_AFTER and (_SCORE_BEFORE.search(before) or _METRIC_AFTER.match(after)) \
            and not _DELTA_AFTER.match(after):
        near = None  # "achieves 85.2% accuracy, outperforming all prior methods": a score, compared with no figure
    if near or (figure.prefix == "by" and figure.unit):  # "pruned by up to 40%": "by" measures a change
        return "near" if near else "by"
    # "speed up the training of X by a factor of 5", "improve ... of the OpenLlama-3B model from 36.2% to 40.7%"
    far = 14 if figure.kind in ("by", "factor") or (figure.prefix == "from" and figure.unit) else 8
    if _CUE_BEFORE.search(" ".join(sentence[max(0, start - 160):start].split()[-far:])) \
            and not _SCORE_BEFORE.search(before):
        return "far"
    if previous is not None and _RESTATED.search(sentence, max(previous.end - 2, start - 20), start):
        return "restated"  # "from 2.82M to 0.67M (sim24\%)": the same gain restated
    if _coordinated(sentence, figure, previous):
        return "coordinated"  # "3.25x on A100 and 4.5x on A6000"
    # Efficiency at equal quality: "comparable performance with only 1/10 of the data", "competitive
    # performance with just 20% of training data", "matches speech loss at 24.80% of the FLOPs".
    if figure.kind == "fraction" or (figure.unit == "%" and figure.kind == "unit" and _OF_RESOURCE.match(after)
                                     and (figure.prefix == "fraction" or _USING.search(before))
                                     and _number(sentence[start:end]) < 100):
        return "fraction" if _WEAK_CONTEXT.search(before + after) else ""
    return ""


def _not_a_gain(sentence: str, figure: _Figure, before: str, after: str, reason: str) -> bool:
    """What the annotation policy does not count, though a gain word stands by it: a competitor's or a
    baseline's figure, a setting, more of what the method consumes, a share of something, a drop in
    quality."""
    if _THEIRS.search(sentence, max(0, figure.start - 200), figure.start):
        return True
    if _BASELINE_SUBJECT.search(before) and not _WITH_OURS.match(after):
        return True
    if _SETTING.search(before) or _MORE_OF_OURS.search(before):
        return True
    if _SETTING_AFTER.match(after) and _CONDITION.search(before[-12:]):
        return True
    if figure.kind in ("range", "pair") and _SETTING_RANGE.search(before) and _OF_RESOURCE.match(after):
        return True
    if _MORE_RESOURCE.match(after) and not _OTHERS_USE.search(before):
        return True
    return bool(_DROP_AFTER.match(after) or _DROP_BEFORE.search(before))


# What a gain is not, in the annotation policy (see _not_a_gain):
# - a figure of a competitor's, in a relative clause on it: "outperforms MoE-8, which achieves 3x ...",
#   "compared to FlashAttention, which reaches 1.5x ...";
_THEIRS = re.compile(r"\b(?:outperform\w*|surpass\w*|beat\w*|exceed\w*|compared (?:to|with)|versus|vs\.?)\b"
                     r"[^;]{0,120}?,? which\b", re.I)
# - a baseline's own: "..., the fully-supervised model achieved an improvement <1%" (but not "the existing
#   model gains 5% with our corpus");
_BASELINE_SUBJECT = re.compile(
    r"(?:^|[,;:(] |\b(?:while|whereas|but) )(?:(?:the|a|an|its|their) )?(?:[\w-]+ ){0,2}?"
    r"(?:baselines?|fully[- ]supervised|supervised|competing|existing|prior|previous|other)(?: [\w-]+){0,2}? "
    r"(?:only |also |still |merely |typically )?"
    r"(?:achiev|obtain|reach|yield|show|gain|improv|attain|get|see|report)\w*\b[^,;:()]{0,40}$", re.I)
_WITH_OURS = re.compile(r"^[^.;]{0,60}\b(?:with|using|by|after|from|via|through) (?:our|the proposed|this)\b", re.I)
# - a setting: "across sparsity ratios from 50% to 90%", "when trained with 1% to 10% of the labels";
_SETTING = re.compile(
    r"\b(?:with|at|under|across|for|using|over|in|on)\s(?:(?:the|a|an|our|different|various|varying)\s)?"
    r"(?:[\w-]+\s){0,2}?(?:ratios?|rates?|sparsit(?:y|ies)|sizes?|budgets?|fractions?|proportions?|percentages?|"
    r"levels?|labels?|amounts?|settings?|lengths?|scales?|splits?|subsets?)\s(?:ranging\s)?(?:from\s|between\s|of\s)?$",
    re.I)
_SETTING_RANGE = re.compile(r"\b(?:with|using|on|at|across|for)\s$", re.I)
_CONDITION = re.compile(r"\b(?:with|at|under|for)\s(?:an?\s)?$", re.I)  # "with 50% sparsity", "at a 75% masking ratio"
_SETTING_AFTER = re.compile(r"^ (?:[\w-]+ )?(?:sparsity|ratio|rate|pruning|masking|compression|quantization)\b", re.I)
# - more of what the method consumes: "we scale the model up by 10x", "uses 8x more compute" (but "matches
#   models trained on 10x more data" is the others' cost: a gain);
_RESOURCE = r"(?:data|dataset|compute|parameters|params|tokens|GPUs|FLOPs|training(?: data| compute| steps| time)?|" \
            r"samples|examples|labels|memory|budget|models?|model size|corpus|epochs)"
_MORE_OF_OURS = re.compile(
    rf"\b(?:scal|increas|grow|expand|enlarg|doubl)\w* (?:up )?(?:the |our |its )?(?:[\w-]+ )?{_RESOURCE}(?: size)?"
    rf"(?: up)? (?:by|to) (?:about |up to |over |~)?$", re.I)
_MORE_RESOURCE = re.compile(rf"^ (?:more|larger|bigger|the|as much|as many) (?:[\w-]+ )?{_RESOURCE}\b", re.I)
_OTHERS_USE = re.compile(r"\b(?:than|outperform\w*|surpass\w*|match\w*|rival\w*|comparable to|on par with|beat\w*|"
                         r"competitive with|exceed\w*|vs\.?|versus)\b", re.I)
# - a drop in quality: "a merely 0.6 point decrease in performance", "an accuracy loss of 0.56%".
_QUALITY = r"(?:performance|accuracy|quality|scores?|F1|mAP|AP|BLEU|ROUGE|top-1|top-5)"
_DROP_NOUN = r"(?:drops?|decreases?|loss|degradation|declines?|deterioration|penalty)"
_DROP_AFTER = re.compile(
    rf"^\W{{0,3}}(?:[\w-]+ ){{0,2}}?{_DROP_NOUN} (?:in|of) (?:the )?(?:[\w-]+ ){{0,2}}?{_QUALITY}\b"
    rf"|^\W{{0,3}}(?:absolute |relative |average |top-1 )?{_QUALITY} {_DROP_NOUN}\b", re.I)
_DROP_BEFORE = re.compile(
    rf"\b(?:{_QUALITY} {_DROP_NOUN}|{_DROP_NOUN} (?:in|of) (?:the )?(?:[\w-]+ )?{_QUALITY}"
    rf"|(?:reduc|lower|decreas|hurt|degrad|sacrific|cost)\w* (?:the |its |their )?(?:[\w-]+ )?{_QUALITY})"
    rf" (?:of |by )?(?:only |just |merely |about |around |approximately |less than |up to |at most |~)?$", re.I)
_LEVEL_AFTER = re.compile(
    r"^ ?(?:(?!(?:gains?|improvements?|increases?|boosts?|higher|better|faster|lower|less|fewer|reductions?|relative|"
    r"absolute|more|points?|over|than)\b)[\w@-]+ ){0,3}?(?:on|for|in) (?:the )?[A-Z0-9]")
_LIST_BEFORE = re.compile(r"(?:\(|,|\band|\bor)\s?(?:e\.g\.,?\s?|i\.e\.,?\s?)?$")


def _coordinated(sentence: str, figure: _Figure, previous: _Figure | None) -> bool:
    """Is the figure listed with the gain before it ("3.25x on A100 and 4.5x on A6000")?"""
    if previous is None or not figure.unit or previous.unit != figure.unit \
            or figure.start - previous.end > COORDINATION_CHARS:
        return False
    if not _COORDINATED.search(sentence, max(0, figure.start - WINDOW), figure.start):
        return False
    between = sentence[previous.end:figure.start]
    return len(between.split()) <= 20 and not _NEW_CLAUSE.search(between)


_RESTATED = re.compile(r"\d\S{0,3} ?\((?:\\?sim|~|≈|about |i\.e\., )?$")
_NEW_CLAUSE = re.compile(r";|\bwhile\b")
COORDINATION_CHARS = 200  # a figure listed with the gain before it stands this close to it


def _gain_figures(sentence: str) -> list[_Figure]:
    """The sentence's figures that are gains, in order."""
    figures = _figures(sentence)
    reasons: list[str] = []  # _gain_reason of each figure
    previous = None  # the last gain
    for figure in figures:
        reasons.append(_gain_reason(sentence, figure, previous))
        previous = figure if reasons[-1] else previous
    for index in range(len(figures) - 2, -1, -1):  # "5.5% and 12.3% relative improvement": the cue after the list
        figure, listed = figures[index], figures[index + 1]
        if reasons[index] or not reasons[index + 1] or not figure.unit or figure.unit != listed.unit:
            continue
        after = sentence[listed.end:listed.end + WINDOW]
        if _LISTED_WITH.fullmatch(sentence, figure.end, listed.start) and not _DROP_AFTER.match(after) \
                and (reasons[index + 1] == "listed" or _CUE_AFTER.match(after)):
            reasons[index] = "listed"
    return [figure for figure, reason in zip(figures, reasons) if reason]


_LISTED_WITH = re.compile(r",? (?:and |or )?(?:up to |about |over |nearly )?")


def _gains(text: Text, settings: OfflineSettings) -> tuple[str | None, str | None]:
    abstract = text.abstract
    phrases: list[str] = []
    used: list[tuple[int, int, int]] = []  # (sentence index, first figure, last figure) in the abstract
    limit = 1 if settings.gains == "headline" else MAX_GAINS
    short = settings.gain_style == "short"
    for index, (start, end) in enumerate(text.sentences):
        if not _DIGIT.search(abstract, start, end) and not _has_word_figure(abstract[start:end]):
            continue  # most sentences have no figure; finding figures is the costly part
        sentence = abstract[start:end]
        gains = _gain_figures(sentence)
        if short:  # "4.2x overall (text: 3.4x, image: 5.3x)": the breakdown stays in the quote
            gains = [f for f in gains if not _breakdown(sentence, f)]
        for group in _clauses(sentence, gains):
            phrase = (_short_phrase if short else _clause_phrase)(sentence, group)
            if phrase and phrase not in phrases:
                phrases.append(phrase)
                used.append((index, start + group[0][0].start, start + group[-1][0].end))
            if len(phrases) == limit:
                break
        if len(phrases) == limit:
            break
    if not phrases:
        return None, None
    return "; ".join(phrases), _evidence(text, used)


def _breakdown(sentence: str, figure: _Figure) -> bool:
    """A figure in brackets that break a figure down: "(text: 3.4x, image: 5.3x)", "(3x for text, ...)"."""
    opening = sentence.rfind("(", max(0, figure.start - 60), figure.start)
    if opening < 0 or ")" in sentence[opening:figure.start]:
        return False
    closing = sentence.find(")", figure.end, figure.end + 60)
    inside = sentence[opening:closing if closing > 0 else figure.end + 20]
    return bool(re.search(r"\d", sentence[max(0, opening - 30):opening])) and (":" in inside or " for " in inside)


def _clauses(sentence: str, figures: list[_Figure]) -> list[list[tuple[_Figure, int, int]]]:
    """The gain figures grouped by the clause they stand in: [(figure, clause start, clause end)]."""
    if not figures:
        return []
    bounds, position = [], 0
    for cut in _CLAUSE_BREAK.finditer(sentence, 0, figures[-1].end + 400):
        bounds.append((position, cut.start()))
        position = cut.end()
    bounds.append((position, len(sentence)))
    groups: dict[tuple[int, int], list] = {}
    clause = 0
    for figure in figures:  # both in order: one walk
        while figure.start >= bounds[clause][1] and clause < len(bounds) - 1:
            clause += 1
        clause_start, clause_end = bounds[clause]
        groups.setdefault((clause_start, clause_end), []).append((figure, clause_start, clause_end))
    return list(groups.values())


def _short_phrase(sentence: str, group: list[tuple[_Figure, int, int]]) -> str | None:
    """The figures with a few words of what they measure and against what: "4.5x faster training"."""
    first, clause_start, clause_end = group[0]
    last = group[-1][0]
    window = max(clause_start, first.start - 200)
    left = sentence[window:first.start]
    clause_end = _before_other_figures(sentence, last.end, clause_end)
    stop = _PHRASE_END.search(sentence, last.end, min(clause_end, last.end + 300))
    tail_end = _after_words(sentence, last.end, stop.start() if stop else min(clause_end, last.end + 300),
                            SHORT_WORDS_AFTER)
    qualifier = _QUALIFIER.search(left)
    if left.rstrip().endswith("(") and len(group) == 1:
        # "improving accuracy (+0.8% absolute) on Kinetics-400": the figure, then what it measures
        close = sentence.find(")", last.end, last.end + 40)
        inside = sentence[first.start:close] if close > 0 else sentence[first.start:last.end]
        measured = [w for w in left.rstrip(" (").split()[-3:] if not _GAIN_VERB.match(w) and w.lower() not in _ADVERBS]
        measured = measured[next((i for i, w in enumerate(measured) if w.endswith((",", ";", ":"))), -1) + 1:]
        rest = ""
        if close > 0:
            stop = _PHRASE_END.search(sentence, close + 1, min(clause_end, close + 300))
            rest = sentence[close + 1:_after_words(sentence, close + 1, stop.start() if stop else clause_end,
                                                   SHORT_WORDS_AFTER)]
        phrase = " ".join([inside, *measured, rest.strip()])
    elif noun := _NOUN_OF.search(left):  # "accelerations of 65.08%" -> "65.08% acceleration"
        word = noun.group(1).lower()
        phrase = " ".join([noun.group("qualifier") + sentence[first.start:last.end],
                           word if word == "savings" else word.rstrip("s"),
                           sentence[last.end:tail_end].strip()])
    elif _FIGURE_FIRST.match(sentence, first.end):  # "4.5x faster", "a 10x reduction in compute"
        phrase = sentence[window + qualifier.start() if qualifier else first.start:tail_end]
    else:
        phrase = sentence[_lead_start(sentence, window, first.start):tail_end]
    if phrase.count("(") > phrase.count(")") and ")" in sentence[tail_end:tail_end + 3]:
        phrase = phrase + sentence[tail_end:sentence.index(")", tail_end) + 1]
    phrase = _LEAD_DROP.sub("", phrase.strip(" ,;:."))
    phrase = re.sub(r"^(?:further|also|significantly|substantially|greatly|drastically|notably|consistently) ", "",
                    phrase, flags=re.I)
    if (verb := _VERB_OBJECT.match(phrase)) and not phrase[:1].isdigit():
        obj = re.sub(r"^(?:the|its|their|our|an?) ", "", verb.group("object"), flags=re.I)
        participle = "sped up" if verb.group("speed") else _PARTICIPLE[verb.group("verb").lower()]
        phrase = f"{obj} {participle} {phrase[verb.end():]}"
    elif outperform := _OUTPERFORM.match(phrase):
        phrase = f"{outperform.group('rest')} over {outperform.group('baseline')}"
    phrase = _COMPARED.sub("vs. ", phrase)
    phrase = _LATEX_SPACE.sub(" ", phrase)
    phrase = re.sub(r"\s*\([^()]*$", "", phrase).strip(" ,;:.")  # an unclosed bracket at the end
    return _balanced(phrase) or None


def _balanced(phrase: str) -> str:
    """Without the brackets that open or close outside the phrase ("1.65x faster) and ...")."""
    if "(" not in phrase and ")" not in phrase:
        return phrase
    keep, opened = [], []
    for index, char in enumerate(phrase):
        if char == "(":
            opened.append(len(keep))
        elif char == ")":
            if not opened:
                continue
            opened.pop()
        keep.append(char)
    for index in reversed(opened):
        del keep[index]
    return " ".join("".join(keep).split()).strip(" ,;:.")


_ADVERBS = frozenset("also further while significantly substantially greatly notably consistently even".split())
_LATEX_SPACE = re.compile(r"(?<=[A-Za-z.])~(?=\S)|(?<=\S)~(?=\d)")
_OUTPERFORM_VERB = re.compile(r"^(?:outperform|surpass|beat|exceed)\w*$", re.I)
LEAD_VERB_WORDS = 14
_NP_OPENERS = frozenset("the a an its their our that which of".split())


def _lead_start(sentence: str, window: int, figure: int) -> int:
    """Where the words leading to a figure begin: its gain verb ("reduces memory usage by"), else a few
    words back, after the last comma or bracket."""
    words = [(m.start(), m.group()) for m in re.finditer(r"\S+", sentence[window:figure])]
    for index in range(len(words) - 1, max(-1, len(words) - LEAD_VERB_WORDS - 1), -1):
        word = words[index][1]
        listing = _OUTPERFORM_VERB.match(word)  # "outperforms A, B and C by 18/19/6 AP"
        if _GAIN_VERB.match(word) or listing:
            between = [w for _, w in words[index:]]
            if not any(w.endswith((";", ":")) or (w.endswith((",", ")")) and not listing) for w in between):
                return window + words[index][0]
            break
    lead = words[-SHORT_WORDS_BEFORE:]
    if len(words) > SHORT_WORDS_BEFORE:  # "the memory usage in ... by": not from the middle of a noun phrase
        wider = words[-SHORT_WORDS_BEFORE - 2:]
        opening = next((i for i in range(1, len(wider) - 1) if wider[i - 1][1].lower() in _NP_OPENERS), None)
        if opening is not None:
            lead = wider[opening:]
    for cut in range(len(lead) - 1, -1, -1):
        word = lead[cut][1]
        if word.endswith((",", ";", ")")) or word.startswith("("):
            lead = lead[cut + 1:]
            break
        if word.endswith(":"):  # "FLOPs savings: 3.7x overall"
            lead = lead[max(0, cut - 2):]
            break
    return window + lead[0][0] if lead else figure


def _before_other_figures(sentence: str, start: int, end: int) -> int:
    """Where the words after a group of gain figures must stop: before the next figure (a number with a
    unit), which is not one of them ("3x faster, at the cost of a 1.2% drop")."""
    other = _OTHER_FIGURE.search(sentence, start, min(end, start + 300))
    return other.start() if other else end


_OTHER_FIGURE = re.compile(rf"(?<![\w.,]){_NUM}\s?{_RELATIVE_UNIT}")


def _after_words(sentence: str, start: int, end: int, count: int) -> int:
    """The end of the first `count` words of sentence[start:end], not ending on "the", "of" ..."""
    words = [(m.end(), m.group()) for m in re.finditer(r"\S+", sentence[start:end])][:count]
    while words and (words[-1][1].lower().strip(",;.") in _DANGLING or words[-1][1].lower() in _QUALIFYING):
        words.pop()
    return start + words[-1][0] if words else start


_QUALIFYING = frozenset("only just merely mere about approximately nearly over around roughly".split())


def _clause_phrase(sentence: str, group: list[tuple[_Figure, int, int]]) -> str | None:
    """The clause that states the figures, as written (at most CLAUSE_WORDS words on either side)."""
    first, clause_start, clause_end = group[0]
    last = group[-1][0]
    left = [m.start() for m in re.finditer(r"\S+", sentence[clause_start:first.start])][-CLAUSE_WORDS:]
    start = clause_start + left[0] if left else first.start
    end = _after_words(sentence, last.end, _before_other_figures(sentence, last.end, clause_end), CLAUSE_WORDS)
    phrase = sentence[start:end].strip(" ,;:.")
    return _balanced(_DISCOURSE.sub("", phrase)) or None


# "As an illustrative example, ...": words that lead into a claim, not part of it.
_DISCOURSE = re.compile(
    r"^(?:as an? (?:\w+ )?example|for (?:example|instance)|notably|in particular|moreover|furthermore|additionally|"
    r"in addition|specifically|remarkably|importantly|overall|finally|however|experimentally|empirically|"
    r"as a result|consequently|surprisingly|interestingly|taken together|in summary|in short|concretely|"
    r"in (?:our )?experiments|experimental results (?:show|demonstrate) that|results (?:show|demonstrate) that)"
    r",? ", re.I)


def _evidence(text: Text, used: list[tuple[int, int, int]]) -> str | None:
    """One verbatim quote: the run of sentences from the first to the last used one if it fits in a
    quote, else the longest run of used sentences that does (cut around its first figure when one
    sentence alone is too long)."""
    best = (0, 0)  # (first, last) positions in `used`
    first = 0
    for last in range(len(used)):
        while text.sentences[used[last][0]][1] - text.sentences[used[first][0]][0] > MAX_QUOTE_CHARS and first < last:
            first += 1
        if last - first > best[1] - best[0]:
            best = (first, last)
    (index, anchor, _), (end_index, _, _) = used[best[0]], used[best[1]]
    return text.quote(text.sentences[index][0], text.sentences[end_index][1], anchor)


# A technique quote assembled from several sentences stays under this.
MAX_EVIDENCE_CHARS = 700

# --------------------------------------------------------------------------- compute

_SCALE = r"(?:[BMKT]|billion|million|trillion)"
_COMPUTE_KINDS = (
    ("hardware", re.compile(
        rf"(?<![\d.,]){_NUM}\s?[xX×]?\s?(?:NVIDIA\s)?(?:[A-Z]?\d{{2,4}}[A-Za-z]?(?:-\d+G)?\s)?"
        rf"(?:GPUs?|TPUs?(?:\s?v\d\w*)?|TPUv\d\w*|A100s?(?:-\d+G)?|H100s?|V100s?|chips|accelerators)\b"
        rf"(?!\s(?:GPU[- ])?(?:hours|days))")),
    ("time", re.compile(
        rf"(?<![\d.,]){_NUM}\s?(?:GPU|TPU|A100|H100|V100)[- ]?(?:hours|days|years)\b"
        rf"|(?<![\d.,]){_NUM}\s?[xX×]?\s?(?:GPUs?|TPUs?)\s(?:GPU[- ])?(?:hours|days)\b"
        rf"|(?<![\d.,]){_NUM}\s(?:GPU\s|TPU\s)?(?:hours|days|weeks)\son\s(?:{_NUM}\s|an?\s|one\s|a single\s)?"
        rf"[\w-]{{1,30}}(?:\sGPUs?)?")),
    ("flops", re.compile(
        rf"(?<![\d.,]){_NUM}\s?(?:[×x]\s?10\^?\d{{1,3}}\s?)?(?:[kMGTPEZY]|peta|exa|zetta|yotta)?-?FLOPs?\b")),
    ("tokens", re.compile(rf"(?<![\d.,]){_NUM}[-\s]?{_SCALE}\b(?:[-\s][\w-]{{1,30}}){{0,2}}?[-\s]tokens?\b")),
    ("parameters", re.compile(
        rf"(?<![\d.,]){_NUM}[-\s]?{_SCALE}[-\s]?(?:parameters?|params)\b"
        rf"|(?<![\d.,]){_NUM}\s?[BM]\s(?:\w{{1,20}}\s)?(?:language\s)?models?\b")),
    ("data", re.compile(
        rf"(?<![\d.,]){_NUM}[-\s]?(?:{_SCALE}|k)?\s(?:image-text\s|text-image\s|video-text\s)?"
        rf"(?:images|pairs|videos|hours of (?:speech|audio|video)|samples|documents|volumes|scans|clips)\b"
        rf"(?! (?:per|a|each|every)\b|/)")),  # "139.90 samples per second" is a speed
)
# A cheap test before the kinds' patterns (substring tests run in C): which kinds a sentence may hold.
_COMPUTE_HINTS = {
    "hardware": ("GPU", "TPU", "100", "chips", "accelerators"),
    "time": ("hours", "days", "weeks", "years"),
    "flops": ("FLOP",),
    "tokens": ("token",),
    "parameters": ("param", "model"),
    "data": ("images", "pairs", "videos", "hours of", "samples", "documents", "volumes", "scans", "clips"),
}
MAX_COMPUTE_PHRASES = 6


def _compute(text: Text, settings: OfflineSettings) -> tuple[str | None, str | None]:
    abstract = text.abstract
    kinds = [(kind, pattern) for kind, pattern in _COMPUTE_KINDS if kind in settings.compute]
    found: list[tuple[int, int, str]] = []  # (start, end, phrase) in the abstract
    used: list[tuple[int, int, int]] = []
    seen: set[str] = set()
    for index, (start, end) in enumerate(text.sentences):
        if not kinds or not _DIGIT.search(abstract, start, end):
            continue
        sentence = abstract[start:end]
        hinted = {kind for kind, words in _COMPUTE_HINTS.items() if any(word in sentence for word in words)}
        matches = sorted((m.start(), m.end(), m.group().strip(), kind) for kind, pattern in kinds
                         if kind in hinted for m in pattern.finditer(abstract, start, end))
        kept = False
        for m_start, m_end, phrase, kind in matches:
            if any(m_start < f_end and f_start < m_end for f_start, f_end, _ in found):
                continue  # overlaps a figure already kept
            key = _compute_key(kind, phrase)
            if key in seen:
                continue
            seen.add(key)
            found.append((m_start, m_end, phrase))
            kept = True
            if len(found) == MAX_COMPUTE_PHRASES:
                break
        if kept:
            used.append((index, found[-1][0], found[-1][1]))
        if len(found) >= MAX_COMPUTE_PHRASES:
            break
    if not found:
        return None, None
    return "; ".join(p for _, _, p in found), _evidence(text, used)


def _compute_key(kind: str, phrase: str) -> str:
    """The same figure however it is written: "175 billion parameters" = "175 billion-parameter model" =
    "175B model"; tokens, parameters and data are one figure per number and scale."""
    key = phrase.lower().replace("-", " ")
    key = _SCALE_WORD.sub(lambda m: m.group()[0], key)
    key = re.sub(r"(\d)\s+([bmkt])\b", r"\1\2", key)
    if kind in ("tokens", "parameters", "data"):
        number = _NUMBER.search(key)
        scale = re.match(r"\s?([bmkt])\b", key[number.end():]) if number else None
        return f"{kind} {number.group() if number else key}{scale.group(1) if scale else ''}"
    return " ".join(re.sub(r"s\b", "", key).split())


_SCALE_WORD = re.compile(r"\b(?:billion|million|trillion)\b")
