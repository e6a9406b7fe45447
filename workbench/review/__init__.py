"""The review session, without Textual: what is on screen, which suggestions to fetch, every decision.

- views:    what the screen shows (PaperView, FieldView, Source, Composition, Notice), decided here
- feed:     which suggestions to fetch and storing them (SuggestionFeed, FeedResult)
- queues:   which papers, in which order: one named selector per queue
- session:  the session itself (ReviewSession, open_session): position, decisions, undo, flags
- said:     what the model said beside what was stored after the prompt's checks (ModelSaid)
- adjudication: whose decisions the disagreements queue compares, --adjudicate's role, the team's figures

The TUI imports from here only. Besides the session's own types, this surface carries the rows and
spans its views are made of, so the TUI needs no other module for them.
"""

from workbench.grounding import Span  # noqa: F401  (a FieldView's span)
from workbench.records import AnnotationRow, PaperRow, SearchHit, SuggestionRow  # noqa: F401  (what views carry)
from workbench.review.adjudication import TeamFigures  # noqa: F401  (the stats screen's team tabs)
from workbench.review.feed import FeedResult, SuggestionFeed  # noqa: F401
from workbench.review.queues import SELECTORS, Queue  # noqa: F401
from workbench.review.said import ModelSaid, model_said  # noqa: F401  (the `m` page: the reply beside the checked one)
from workbench.review.session import (  # noqa: F401
    MAX_SECONDS_PER_VISIT, PREFETCH, TUI_BUSY_TIMEOUT, ReviewSession, open_session,
)
from workbench.review.views import (  # noqa: F401
    YOU, Composition, FieldView, Notice, PaperView, Source, comparable, same_value, sources,
)
from workbench.stats import SessionStats  # noqa: F401  (what ReviewSession.stats() returns)
