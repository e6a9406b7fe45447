"""Adjudication for any number of annotators: whose decisions a disagreements queue compares, and the
role an adjudicated decision is stored under. No Textual.

- The disagreements queue holds the papers that two or more of the chosen annotators decided and on which
  their decisions differ (rejected or not, or any field after normalisation: `team_agreement.decision_key`).
- `--annotators A,B[,C...]` chooses them; without it, every annotator with decisions in the store
  (adjudicated decisions never count; an adjudicator deciding under their own name leaves themself out).
- `--adjudicate` stores the decision as the adjudicator's role `NAME@adjudicated` (`vocab.adjudicator_role`):
  it never counts as one of a paper's decisions and never replaces NAME's own decision.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.errors import InputError
from workbench.records import annotator_problem, no_decisions
from workbench.store import Handle, annotators
from workbench.team_agreement import team_agreement, team_status
from workbench.vocab import ADJUDICATED_SUFFIX, DISAGREEMENTS, TODO, adjudicator_role, is_adjudication


def adjudicated_annotators(db: Handle, names: str | None, *, exclude: str | None = None) -> tuple[str, ...]:
    """The annotators whose decisions a disagreements queue compares: `names` ("A,B[,C...]"), else every
    annotator in the store but `exclude`."""
    known = [who for who in annotators(db) if not is_adjudication(who)]
    if names is not None:
        chosen = [name.strip() for name in names.split(",") if name.strip()]
        if len(chosen) < 2 or len(set(chosen)) != len(chosen):
            raise InputError("--annotators takes two or more different names, e.g. --annotators ana,ben,cleo")
        for name in chosen:
            if name not in known:
                raise InputError(no_decisions("--annotators", name, known))
        return tuple(chosen)
    candidates = [who for who in known if who != exclude]
    if len(candidates) < 2:
        raise InputError(f"this store has {len(candidates)} annotator{'s' * (len(candidates) != 1)} with decisions"
                         f"{' besides ' + exclude if exclude else ''} ({', '.join(candidates) or 'none'}); "
                         "the disagreements queue needs two or more")
    return tuple(candidates)


def adjudication_plan(db: Handle, annotator: str, queue: str, names: str | None,
                      adjudicate: bool) -> tuple[str, str, tuple[str, ...] | None]:
    """(the annotator the session writes as, the queue, the annotators compared) for `workbench review`.
    With `adjudicate`: the role `NAME@adjudicated` on the disagreements queue, comparing every annotator
    (NAME's own decisions too: they are one of the paper's decisions)."""
    if annotator.endswith(ADJUDICATED_SUFFIX):
        person = annotator[:-len(ADJUDICATED_SUFFIX)]
        advice = f": use --annotator {person!r} --adjudicate" if not annotator_problem(person) else ""
        raise InputError(f"--annotator {annotator!r} is an adjudicator's role{advice}")
    if adjudicate:
        if queue not in (TODO, DISAGREEMENTS):
            raise InputError(f"--adjudicate steps through the disagreements queue; --queue {queue} does not go with it")
        return adjudicator_role(annotator), DISAGREEMENTS, adjudicated_annotators(db, names)
    if queue == DISAGREEMENTS:
        return annotator, queue, adjudicated_annotators(db, names, exclude=annotator)
    if names is not None:
        raise InputError("--annotators goes with --queue disagreements or --adjudicate")
    return annotator, queue, None


@dataclass(frozen=True)
class TeamFigures:
    """The stats screen's agreement and team tabs: what `workbench agreement` and `team status` print."""

    status: dict  # team_agreement.team_status: each annotator's work, the papers' progress
    agreement: dict | None  # team_agreement.team_agreement of every annotator; None with fewer than two


def team_figures(db: Handle) -> TeamFigures:
    try:
        report = team_agreement(db)
    except InputError:  # fewer than two annotators: nothing to agree on
        report = None
    return TeamFigures(team_status(db, report), report)
