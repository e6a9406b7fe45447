"""`offline`: a deterministic, rule-based extractor. No network, instant.

It reads the abstract the way a skimming reviewer would:
- technique: the sentence where the authors propose something ("we propose X");
- claimed gain: sentences with quantified improvements (×, %, "times faster",
  reductions, "N points", "A vs. B") next to a gain word;
- compute: hardware, GPU/TPU counts and hours, FLOPs, tokens, parameter counts.
Every value comes with a verbatim quote from the abstract.
"""

from __future__ import annotations

import json
import re
import time

from workbench.models.base import Reply
from workbench.prompts import Prompt
from workbench.records import Call
from workbench.schema import Evidence, Summary
from workbench.vocab import OFFLINE, OK, utc_now

# Bump when the rules change, so new suggestions do not hide behind cached old ones.
RULES_VERSION = "2"

_ABBREVIATIONS = ("e.g", "i.e", "al", "vs", "etc", "fig", "eq", "approx", "resp", "cf", "ca", "no", "ie", "eg")
_SENTENCE_BREAK = re.compile(r"[.!?]\s+(?=[A-Z0-9(\[\"'])")

# --------------------------------------------------------------------------- technique

_SUBJECT = r"(?:\bwe\b|\bthis (?:paper|work|study|article|report)\b|\bour (?:work|paper|study)\b)"
_VERBS = (  # in order of preference: "propose" names the contribution most reliably
    r"propos(?:e|es|ed)",
    r"introduc(?:e|es|ed)",
    r"present(?:s|ed)?",
    r"develop(?:s|ed)?|design(?:s|ed)?|devis(?:e|es|ed)|put forward",
)
_PROPOSAL = [re.compile(rf"{_SUBJECT}[^.;]{{0,60}}?\b(?:{verb})\b\s+", re.I) for verb in _VERBS]
_OUR_PROPOSAL = re.compile(r"\bOur (?:proposal|method|approach|framework|model), ", re.I)
_TECHNIQUE_STOP = re.compile(
    r"\s+(?:that|which|where|whereby|designed|tailored|capable|to (?!\w+-)|in order to|so that|by which)\b"
    r"|,\s*(?:which|where|that|enabling|allowing|of which|each|both|and (?:show|demonstrate|evaluate))\b"
    r"|[;:]|\s+-{1,2}\s+|\.\s*$"
)
_LEADING_FLUFF = re.compile(r"^(?:to use |to |the use of |using |here |here, |hereby |herein )", re.I)
_DANGLING = {"the", "a", "an", "of", "in", "on", "for", "to", "with", "and", "or", "by", "from", "as", "at", "its",
             "their", "that", "which"}
_NOT_A_START = re.compile(r"^(?:and|or|but|of|on|in|with|for|from|as|at|by|that|which|it|this|these|them)\b", re.I)
MAX_TECHNIQUE_WORDS = 18

# --------------------------------------------------------------------------- gains

_NUM = r"\d+(?:[.,]\d+)*"
_FIGURE = re.compile(
    rf"{_NUM}\s*(?:-|–|to)\s*{_NUM}\s*(?:%|\\%|[xX×]\b|times\b)"  # ranges: 5-16%, 20x-200x, 2-2.5x
    rf"|{_NUM}\s*[xX×]\s*-\s*{_NUM}\s*[xX×]"
    rf"|{_NUM}\s*(?:%|\\%|[xX×](?![\w-])|times\b|-fold|fold\b|percent\b)"
    rf"|{_NUM}\s*(?:\w+\s)?(?:points?|pp|p\.p\.)\b"
    rf"|{_NUM}\s*(?:dB|GB|MB|BLEU|mAP|FID|ms|seconds?|minutes?|hours?|days?)\b"
    rf"|{_NUM}\s*(?:[BMKT]|billion|million|trillion)\s+(?:\w+\s)?(?:tokens|samples|examples|images|pairs)\b"
    rf"|\b{_NUM}\s+(?:vs\.?|versus)\s+{_NUM}"
    rf"|\b{_NUM}\s*(?:→|->|rightarrow)\s*{_NUM}"
    rf"|\bfrom\s+{_NUM}\w*\s+to\s+{_NUM}\w*"
    rf"|(?<![\w.])\+\s?{_NUM}"  # "+8.81 on C-Eval": a plus sign marks a gain
    rf"|\b(?:by|improvements? of)\s+(?:up to\s+|about\s+|approximately\s+|nearly\s+|over\s+)?{_NUM}(?![\w.-])"
)
_SELF_CUED = re.compile(r"^\+|\bvs\.?\b|\bversus\b|-fold|\bfold\b|→|->|rightarrow|^improvements? of", re.I)
_CUE_BEFORE = re.compile(
    r"\b(?:faster|speed-?ups?|speeds? up|accelerat\w*|reduc\w*|fewer|less|lower\w*|sav(?:e|es|ed|ing|ings)|cuts?"
    r"|improv\w*|outperform\w*|higher|better|boost\w*|gains?|increas\w*|surpass\w*|smaller|cheaper|compress\w*"
    r"|efficien\w*|doubl\w*|tripl\w*|enhanc\w*|exceed\w*|beats?|only|just|decreas\w*|shrink\w*|drops?)\b",
    re.I,
)
_CUE_AFTER = re.compile(
    r"\b(?:faster|speed-?ups?|less|fewer|lower|higher|better|smaller|cheaper|reductions?|improvements?|gains?"
    r"|savings?|more efficient|over|than|relative|compared|increase|decrease|boost)\b",
    re.I,
)
_DIGIT = re.compile(r"\d")
WORDS_BEFORE, WORDS_AFTER = 10, 5
MAX_GAIN_SENTENCES = 3

# --------------------------------------------------------------------------- compute

_SCALE = r"(?:[BMKT]|billion|million|trillion)"
_COMPUTE = re.compile(
    rf"\b{_NUM}\s*[xX×]?\s*(?:NVIDIA\s+)?(?:[A-Z]?\d{{2,4}}[A-Za-z]?(?:-\d+G)?\s+)?"
    rf"(?:GPUs?|TPUs?(?:\s*v\d\w*)?|TPUv\d\w*|A100s?(?:-\d+G)?|H100s?|V100s?|chips|accelerators)"
    rf"(?:\s+(?:GPU[- ])?(?:hours|days))?\b"
    rf"|\b{_NUM}\s*(?:GPU|TPU|A100|H100|V100)[- ]?(?:hours|days|years)\b"
    rf"|\b{_NUM}\s+(?:GPU\s+|TPU\s+)?(?:hours|days|weeks)\s+on\s+(?:{_NUM}\s+|an?\s+|one\s+|a single\s+)?[\w-]+(?:\s+GPUs?)?"
    rf"|\b{_NUM}\s*(?:[×x]\s*10\^?\d+\s*)?(?:[kMGTPEZY]|peta|exa|zetta|yotta)?-?FLOPs?\b"
    rf"|\b{_NUM}[-\s]?{_SCALE}\b(?:[-\s][\w-]+){{0,2}}?[-\s]tokens?\b"
    rf"|\b{_NUM}[-\s]?{_SCALE}[-\s]?(?:parameters?|params)\b"
    rf"|\b{_NUM}\s?[BM]\s+(?:\w+\s)?(?:language\s)?models?\b",
)
MAX_COMPUTE_PHRASES = 6
MAX_EVIDENCE_CHARS = 700


class OfflineModel:
    name = OFFLINE
    instant = True

    def params(self, prompt: Prompt) -> dict:
        return {"rules": RULES_VERSION}

    async def summarise(self, title: str, abstract: str, prompt: Prompt) -> Reply:
        return self.summarise_now(title, abstract, prompt)

    def summarise_now(self, title: str, abstract: str, prompt: Prompt) -> Reply:
        """The same, synchronously: the review screen shows it with the paper, never pending."""
        started, at = time.perf_counter(), utc_now()
        summary = extract(title, abstract)
        raw = json.dumps(summary.model_dump(), ensure_ascii=False)
        latency = int((time.perf_counter() - started) * 1000)
        return Reply(outcome=OK, summary=summary, raw=raw, latency_ms=latency,
                     calls=[Call(ask=1, attempt=1, outcome=OK, latency_ms=latency, at=at)])  # raw: derivable

    async def aclose(self) -> None:
        return None


def extract(title: str, abstract: str) -> Summary:
    sentences = split_sentences(abstract)
    technique, technique_quote = _technique(title, abstract, sentences)
    gain, gain_quote = _gains(abstract, sentences)
    compute, compute_quote = _compute(abstract, sentences)
    return Summary(
        technique=technique, claimed_gain=gain, compute=compute,
        evidence=Evidence(technique=technique_quote, claimed_gain=gain_quote, compute=compute_quote),
    )


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


# --------------------------------------------------------------------------- technique


def _technique(title: str, abstract: str, sentences: list[tuple[int, int]]) -> tuple[str | None, str | None]:
    for pattern in (*_PROPOSAL, _OUR_PROPOSAL):
        for start, end in sentences:
            sentence = abstract[start:end]
            match = pattern.search(sentence)
            if match:
                phrase = _technique_phrase(sentence[match.end():])
                if phrase:
                    return phrase, sentence
    # "NAME: what it is" titles name the technique; quote the abstract where it appears.
    if ":" in title:
        name = title.split(":", 1)[0].strip()
        if 1 < len(name) <= 40:
            for start, end in sentences:
                if re.search(rf"\b{re.escape(name)}\b", abstract[start:end]):
                    return title, abstract[start:end]
    return None, None


def _technique_phrase(rest: str) -> str | None:
    rest = _LEADING_FLUFF.sub("", rest.strip())
    if _NOT_A_START.match(rest):
        return None  # the verb matched inside another clause ("we developed and tested ...")
    stop = _TECHNIQUE_STOP.search(rest)
    phrase = rest[:stop.start()] if stop else rest
    words = phrase.split()
    if len(words) > MAX_TECHNIQUE_WORDS:
        words = words[:MAX_TECHNIQUE_WORDS]
        while words and words[-1].lower().strip(",") in _DANGLING:  # do not end on "... inside the"
            words.pop()
    phrase = " ".join(words).strip(" ,.;")
    # a bare article or pronoun is not a technique
    if len(phrase) < 3 or phrase.lower() in ("a", "an", "the", "it", "this", "that", "them", "two", "three"):
        return None
    return phrase


# --------------------------------------------------------------------------- gains


def _cued(sentence: str, figure: re.Match) -> bool:
    if _SELF_CUED.search(figure.group()):
        return True
    before = " ".join(sentence[:figure.start()].split()[-WORDS_BEFORE:])
    after = " ".join(sentence[figure.end():].split()[:WORDS_AFTER])
    if sentence[:figure.start()].rstrip().endswith("+"):
        return True
    return bool(_CUE_BEFORE.search(before) or _CUE_AFTER.search(after))


def _gains(abstract: str, sentences: list[tuple[int, int]]) -> tuple[str | None, str | None]:
    values: list[str] = []
    used: list[int] = []
    for index, (start, end) in enumerate(sentences):
        if not _DIGIT.search(abstract, start, end):
            continue  # most sentences have no figure; the figure regex is the costly part
        sentence = abstract[start:end]
        figures = list(_FIGURE.finditer(sentence))
        if not figures or not any(_cued(sentence, f) for f in figures):
            continue
        values.append(_trim_around(sentence, figures[0].start(), figures[-1].end()))
        used.append(index)
        if len(used) == MAX_GAIN_SENTENCES:
            break
    if not values:
        return None, None
    return "; ".join(values), _evidence(abstract, sentences, used)


def _trim_around(sentence: str, first: int, last: int) -> str:
    """The sentence cut to the figures plus a few words of context on each side (verbatim)."""
    left = sentence[:first]
    words = left.split()
    if len(words) > WORDS_BEFORE + 2:
        keep = " ".join(words[-(WORDS_BEFORE + 2):])
        left_start = left.rfind(keep)
        comma = sentence.rfind(", ", 0, left_start + len(keep))
        left_start = comma + 2 if comma >= left_start else left_start
    else:
        left_start = 0
    right = sentence[last:]
    words = right.split()
    if len(words) > WORDS_AFTER + 6:
        cut = re.search(r"[,;]\s", right)
        right_end = last + (cut.start() if cut and cut.start() > 0 else len(" ".join(words[:WORDS_AFTER + 6])) + 1)
    else:
        right_end = len(sentence)
    return sentence[left_start:right_end].strip(" ,;").rstrip(".")


# --------------------------------------------------------------------------- compute


def _compute(abstract: str, sentences: list[tuple[int, int]]) -> tuple[str | None, str | None]:
    phrases: list[str] = []
    used: list[int] = []
    for index, (start, end) in enumerate(sentences):
        if not _DIGIT.search(abstract, start, end):
            continue
        found = [m.group().strip() for m in _COMPUTE.finditer(abstract, start, end)]
        if found:
            used.append(index)
            phrases.extend(p for p in found if p not in phrases)
        if len(phrases) >= MAX_COMPUTE_PHRASES:
            break
    if not phrases:
        return None, None
    return "; ".join(phrases[:MAX_COMPUTE_PHRASES]), _evidence(abstract, sentences, used)


def _evidence(abstract: str, sentences: list[tuple[int, int]], used: list[int]) -> str:
    """One verbatim quote: the run of sentences from the first to the last used one if
    it is short enough, else the first used sentence."""
    start, end = sentences[used[0]][0], sentences[used[-1]][1]
    if end - start > MAX_EVIDENCE_CHARS:
        end = sentences[used[0]][1]
    return abstract[start:end].strip()
