"""The terminal driver: Textual's own, except that input it cannot decode is dropped.

Textual's Linux driver decodes stdin strictly as UTF-8 in its input thread; one byte
that is not UTF-8 (a stray 0xff, a cut sequence from a paste or a serial line) raised
UnicodeDecodeError there, the app panicked with a traceback and exited 0. Here the
input loop starts again after such a read: the bytes of that one read are dropped
(usually the bad byte alone: a person types one key per read), later keys count.
"""

from __future__ import annotations

from textual.drivers.linux_driver import LinuxDriver


class TolerantLinuxDriver(LinuxDriver):
    def run_input_thread(self) -> None:
        while True:
            try:
                super().run_input_thread()
                return
            except UnicodeDecodeError:
                if self.exit_event.is_set():
                    return
