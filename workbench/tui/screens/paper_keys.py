"""The main screen's keys: one table of bindings (remappable by id through the config's [keys]),
the keys bound to an id now, and the help screen's rows."""

from __future__ import annotations

from typing import Callable

from textual.app import App
from textual.binding import Binding, BindingsMap


# Every binding here is a priority binding: the ordered key path (tui/keys.py) routes one key at
# a time, and a priority binding runs as its key is routed, so what it does (a decision, the
# form opening or closing, a dialog opening) is done before the next key is routed. While the
# form is open the decision keys are off (check_action) and keys go to the focused field; only
# save and leave work then.
_KEYS = [  # keys, action, footer label, in the footer, help text
    ("a", "accept", "Accept", True, "Accept what the pane shows and go on (your own values stay yours)"),
    ("e", "edit", "Edit", True, "Edit the fields: ctrl+s saves, esc leaves (asking if you typed)"),
    ("r", "reject", "Reject", True, "Reject this paper"),
    ("s,space", "skip", "Skip", True, "Skip it for now, no decision"),
    ("n,right", "next", "Next", False, "Next paper"),
    ("p,left", "previous", "Previous", False, "Previous paper"),
    ("u,backspace", "undo", "Undo", True, "Undo your last change and go back to that paper"),
    ("f", "flag", "Flag", True, "Flag or unflag this paper"),
    ("g", "goto", "Go to", False, "Go to a paper by its number (#N, as search shows it) or its id"),
    ("slash", "search", "Search", False, "Search titles and abstracts, with filters (status:, flagged, gain:none…)"),
    ("ctrl+r", "resuggest", "Re-suggest", False, "Ask the model again for this paper"),
    ("c", "compare", "Compare", False, "Every suggestion side by side; take a field from each; adjudicate"),
    ("m", "model_said", "Model said", False, "What the model said beside what was stored after the prompt's checks"),
    ("t", "stats", "Stats", False, "Statistics: progress, pace, accept and edit rates"),
    ("h", "guidelines", "Guidelines", False, "The annotation guidelines"),
    ("i", "title", "Title", False, "The paper's whole title and details (a long title is cut to 3 lines)"),
    ("question_mark", "help", "Help", True, "These keys"),
    ("q", "quit", "Quit", True, "Quit (every decision is already saved)"),
]
BINDINGS = [
    *[Binding(keys, action, label, id=action, show=show, priority=True, tooltip=tooltip)
      for keys, action, label, show, tooltip in _KEYS],
    Binding("ctrl+s", "save", "Save", id="save", priority=True,
            tooltip="Save the form (edited, or accepted if unchanged)"),
    Binding("escape", "cancel_edit", "Leave form", id="cancel_edit", priority=True, tooltip="Leave the form"),
    Binding("up", "scroll(-1)", "Scroll the abstract up", show=False, priority=True),
    Binding("down", "scroll(1)", "Scroll the abstract down", show=False, priority=True),
    Binding("pageup", "scroll(-10)", "Page the abstract up", show=False, priority=True),
    Binding("pagedown", "scroll(10)", "Page the abstract down", show=False, priority=True),
    Binding("shift+up", "scroll_summary(-1)", "Scroll the suggestion pane up", show=False, priority=True),
    Binding("shift+down", "scroll_summary(1)", "Scroll the suggestion pane down", show=False, priority=True),
    *[Binding(str(n), f"pick({n})", f"Show suggestion {n}", id=f"pick_{n}", show=False, priority=True)
      for n in range(1, 10)],
]
FOOTER_ORDER = {binding.action: index for index, binding in enumerate(BINDINGS)}  # the footer's order


def _live_bindings(app: App) -> BindingsMap:
    live = BindingsMap(BINDINGS)
    live.apply_keymap(getattr(app, "keymap_overrides", {}))
    return live


def bindings_by_action(app: App) -> dict[str, tuple[Binding, list[str]]]:
    """action -> (a binding, its keys as shown), as the config's [keys] remapped them."""
    live = _live_bindings(app)
    grouped: dict[str, tuple[Binding, list[str]]] = {}
    for key, bindings in live.key_to_bindings.items():
        for binding in bindings:
            entry = grouped.setdefault(binding.action, (binding, []))
            shown = app.get_key_display(Binding(key, binding.action))
            if shown not in entry[1]:
                entry[1].append(shown)
    return grouped


def keys_of(app: App, binding_id: str) -> tuple[str, ...]:
    """The keys bound to `binding_id` now, as the config's [keys] remapped them (a reading page
    closes with the key that opened it)."""
    live = _live_bindings(app)
    return tuple(key for key, bindings in live.key_to_bindings.items() for b in bindings if b.id == binding_id)


def key_help(app: App) -> list[tuple[str, str]]:
    """(keys, description) for the help screen; the nine pick keys share one row."""
    rows, picks = [], []
    for action, (binding, keys) in bindings_by_action(app).items():
        if action.startswith("pick("):
            picks.extend(keys)
        else:
            rows.append((", ".join(keys), binding.tooltip or binding.description))
    if picks:
        rows.append((f"{picks[0]}-{picks[-1]}" if len(picks) > 2 else ", ".join(picks),
                     "Show this paper's suggestion from another prompt or model"))
    rows.append((app.get_key_display(Binding("ctrl+p", "")), "Command palette"))
    return rows


def palette_entries(screen) -> list[tuple[str, str, Callable]]:
    """(keys, description, action) for the command palette: every decision and move of the review screen."""
    entries = []
    for action, (binding, keys) in bindings_by_action(screen.app).items():
        method = getattr(screen, f"action_{action}", None)
        # Only what its key could do now: from the palette, Accept while the form is open would
        # have dropped the typed values without the discard question.
        if binding.id and not binding.id.startswith("pick_") and method is not None \
                and screen.check_action(action, ()):
            entries.append((", ".join(keys), binding.description, method))
    return entries
