"""The review TUI (Textual). Everything Textual lives under this package."""

import os

# Textual paints a changed screen at its next frame slot, and after a paint that did not start
# on a slot it skips to the slot after next: at its default 60 frames a second, a key pressed
# right after the previous paper appeared waited up to two slots (accept -> next paper p50 ~43 ms
# back to back; ~22 ms at 240). Frames are only drawn when something changed, so an idle screen
# costs nothing more. Read when Textual is first imported; a TEXTUAL_FPS already set wins.
os.environ.setdefault("TEXTUAL_FPS", "240")
