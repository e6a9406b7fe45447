"""The terminal before the review takes it over: ctrl+s and ctrl+q reach the app from the first instant.

With flow control on (the tty's IXON, the usual default), the terminal itself swallows ctrl+s (and
ctrl+q) until Textual puts it in raw mode, ~0.3 s into `workbench review`: an `e ... ctrl+s a` typed at
once lost its save, and the `a` went into the form. Turned off as the command starts, before any heavy
import; the original settings come back at exit (after Textual restores the ones it found). Other keys
typed that early wait in the terminal's buffer and are read once the app starts. Stdlib only.
"""

from __future__ import annotations

import atexit
import os
import sys


def keep_flow_control_keys() -> None:
    """Flow control off on a terminal's standard input (nothing else changes, and nothing typed is dropped)."""
    try:
        import termios
    except ImportError:  # not a POSIX terminal (Windows)
        return
    try:
        fd = sys.stdin.fileno()
        if not os.isatty(fd):
            return
        original = termios.tcgetattr(fd)
        if not original[0] & termios.IXON:
            return
        changed = [original[0] & ~termios.IXON, *original[1:]]
        termios.tcsetattr(fd, termios.TCSANOW, changed)  # TCSANOW, not TCSAFLUSH: keys typed ahead are kept
    except (OSError, ValueError, termios.error):
        return
    atexit.register(_restore, fd, original)


def _restore(fd: int, original: list) -> None:
    try:
        import termios

        termios.tcsetattr(fd, termios.TCSANOW, original)
    except (OSError, termios.error):
        pass  # the terminal went away
