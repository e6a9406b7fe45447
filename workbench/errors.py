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
