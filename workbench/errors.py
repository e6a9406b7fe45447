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
