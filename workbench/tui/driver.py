"""The terminal driver: Textual's Linux driver, with its input loop exact about two things.

1. **Bytes that are not UTF-8** (a stray 0xff, a sequence cut by a paste or a serial line) are
   dropped one by one. Textual decodes stdin strictly in its input thread: one such byte raised
   UnicodeDecodeError there, and the app panicked with a traceback and exited 0.
2. **Esc is a key of its own.** A terminal sends Esc and the keys typed after it in one read
   when they come fast. Textual's parser then waits for an escape sequence: Esc and the next
   character became one `alt+` key, and when a second Esc came before the wait ended, the first
   was reissued as a `^` key (`? Esc a ? Esc` in one read was `?`, `^`, `a`, `?`, `Esc`: the help
   page never closed and `a` was lost). Here an Esc followed, in the same read, by a character
   that cannot begin an escape sequence is written as `ESC [ 27 u` before the parser sees it: the
   unambiguous (CSI u) form of the Escape key, which the parser reads as Escape at once. An Esc at
   the end of a read is left to the parser's usual short wait.

The loop is Textual 8's `LinuxDriver.run_input_thread` with those two changes. It needs Textual's
parser, which is not public (`textual._xterm_parser`): imported here and nowhere else, so a
release that moves it breaks this one module, and CI's run against the newest releases names it.
"""

from __future__ import annotations

import os
import selectors
from codecs import getincrementaldecoder

from textual.drivers.linux_driver import LinuxDriver

ESC = "\x1b"
ESCAPE_KEY = "\x1b[27u"  # the Escape key in the CSI u keyboard protocol
# What may follow ESC in an escape sequence: CSI, SS3, OSC, DCS, APC, PM, SOS, ST.
_SEQUENCE_STARTS = frozenset("[O]P_^X\\")


def separate_escapes(text: str) -> str:
    """`text` with every Esc that is followed by a character that cannot begin an escape sequence
    written as the Escape key's unambiguous form."""
    if ESC not in text:
        return text
    out = []
    last = len(text) - 1
    for index, character in enumerate(text):
        if character == ESC and index < last and text[index + 1] not in _SEQUENCE_STARTS:
            out.append(ESCAPE_KEY)
        else:
            out.append(character)
    return "".join(out)


class OrderedInputLinuxDriver(LinuxDriver):
    def run_input_thread(self) -> None:
        from textual._xterm_parser import XTermParser  # private: see the module's docstring

        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        parser = XTermParser()
        decode = getincrementaldecoder("utf-8")(errors="ignore").decode

        def read_ready(final: bool = False) -> None:
            for _key, mask in selector.select(0.1):
                if mask & selectors.EVENT_READ:
                    data = os.read(self.fileno, 4096)
                    if not data:
                        break  # stdin is a pipe at its end
                    text = decode(data, final=final)
                    if text:  # empty text would tell the parser the input has ended
                        for event in parser.feed(separate_escapes(text)):
                            self.process_message(event)
            for event in parser.tick():
                self.process_message(event)

        try:
            while not self.exit_event.is_set():
                read_ready()
            selector.unregister(self.fileno)
        finally:
            selector.close()
            try:
                for _event in parser.feed(""):
                    pass
            except Exception:  # the parser ends with EOFError/ParseError by design
                pass
