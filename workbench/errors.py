"""Errors the command line turns into one clear line and an exit code."""


class WorkbenchError(Exception):
    """A failure the user can act on; the message is shown as is."""

    exit_code = 1


class InputError(WorkbenchError):
    """Bad input or usage: a file, a line or a setting is wrong (exit code 2)."""

    exit_code = 2


class AbortedRun(WorkbenchError):
    """A run stopped as a whole, e.g. the endpoint rejected the API key (exit code 1).

    `reply` carries what the request that stopped it got, and `record` that reply
    made into a suggestion, so the calls it made are still logged.
    """

    exit_code = 1
    reply = None
    record = None


class Conflict(WorkbenchError):
    """A write based on a version of an annotation that is no longer the stored one.

    Nothing was written. `stored` is the annotation as it is now (None when there is
    none), `attempted` the row the write would have made.
    """

    exit_code = 1

    def __init__(self, stored, attempted) -> None:
        self.stored, self.attempted = stored, attempted
        row = attempted if attempted is not None else stored
        now = f"now {stored.status or 'undecided'}" if stored is not None else "now without a decision"
        super().__init__(f"paper {row.paper_id} by {row.annotator!r} changed since it was shown ({now}); "
                         "nothing was saved")


class UndoBlocked(WorkbenchError):
    """The change undo would revert was followed by another writer's (an import, another window): nothing was
    written. The session passes over it next time, so the reviewer's earlier changes stay undoable."""

    def __init__(self, paper_id: str, event_id: int, stored_status: str | None) -> None:
        self.paper_id, self.event_id = paper_id, event_id
        now = stored_status or "undecided"
        super().__init__(f"your latest change to this paper cannot be undone: it changed since (now {now}), by an "
                         "import or another window. Press u again for your change before it")


class TooLong(WorkbenchError):
    """A decision with a value or notes past the limits an import reads back: nothing was written."""


class NothingToSave(WorkbenchError):
    """A form saved with every field empty and no suggestion taken as is: no decision (a rejection says that)."""


# --------------------------------------------------------------------------- the store's own errors
# Raised by `workbench.store` (and `workbench.db` when opening): callers never see a driver's exceptions,
# so a second backend raises the same ones.


class ReadOnlyStore(WorkbenchError):
    """The store file (or its folder) cannot be written."""


class StoreTooNew(InputError):
    """The store records a migration this version does not know: a newer workbench wrote it."""


class DamagedStore(InputError):
    """Not a database, or a damaged one ("database disk image is malformed")."""


class StoreBusy(WorkbenchError):
    """The store could not do it now: locked by another writer past the busy timeout, unwritable, disk
    full. Nothing of the unit of work was written; the message is the backend's own. `read_only`: the
    store (or its folder) cannot be written at all."""

    def __init__(self, message: str, *, read_only: bool = False) -> None:
        super().__init__(message)
        self.read_only = read_only


class StoreRefused(WorkbenchError):
    """The store refused a value (a constraint, a type it cannot hold). The message names the backend's
    reason as "Kind: detail"; nothing of the unit of work was written."""


class StoreUnreadable(InputError):
    """The store failed while reading or writing in a way that says it is damaged or not a store."""


def refusal(exc: BaseException) -> str:
    """Why a value could not be stored, in words: "Kind: detail"."""
    return str(exc) if isinstance(exc, StoreRefused) else f"{type(exc).__name__}: {exc}"


class SlotTaken(WorkbenchError):
    """A first decision on a paper that already has every decision it needs, counting the live holds of
    other annotators (this annotator's own hold had lapsed). Nothing was written."""
