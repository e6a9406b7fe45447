"""The offline model's settings: how it words its suggestions, chosen by a prompt's `[offline]` table.

A leaf: prompts.py reads the table through `parse_offline_table` when it loads a prompt file (so a
bad table fails there, naming the file), and the offline model reads the settings. It imports
nothing of the package but the errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.errors import InputError

# The choices of each setting, the first one the default.
TECHNIQUE_STYLES = ("name_and_phrase", "name", "phrase")
GAIN_SELECTIONS = ("all", "headline")
GAIN_STYLES = ("short", "clause")
COMPUTE_KINDS = ("hardware", "time", "flops", "tokens", "parameters", "data")


@dataclass(frozen=True, slots=True)
class OfflineSettings:
    """How the offline model words its suggestions (a prompt's `[offline]` table).

    - technique: "name_and_phrase" ("MoMa: modality-aware mixture-of-experts
      architecture"), "name" (the method's name alone; the phrase when it has
      none) or "phrase" (what it is, without the name);
    - gains: "all" (every quantified gain) or "headline" (the first one stated);
    - gain_style: "short" (the figure with what it is measured against:
      "4.5x faster training; +0.8% accuracy on Kinetics-400") or "clause" (the
      clause of the abstract that states it, with its setting);
    - compute: which kinds of compute figure to keep, of hardware (GPU/TPU
      counts), time (GPU-hours, days on N GPUs), flops, tokens, parameters and
      data (images, hours of audio, pairs).
    """

    technique: str = TECHNIQUE_STYLES[0]
    gains: str = GAIN_SELECTIONS[0]
    gain_style: str = GAIN_STYLES[0]
    compute: tuple[str, ...] = COMPUTE_KINDS

    def as_dict(self) -> dict:
        return {"technique": self.technique, "gains": self.gains, "gain_style": self.gain_style,
                "compute": list(self.compute)}


_OFFLINE_CHOICES = {"technique": TECHNIQUE_STYLES, "gains": GAIN_SELECTIONS, "gain_style": GAIN_STYLES}


def parse_offline_table(path: Path, table: dict) -> OfflineSettings:
    """A prompt file's `[offline]` table as settings; a key or value it does not know is an InputError."""
    if not isinstance(table, dict):
        raise InputError(f"{path}: key 'offline' must be a table ([offline])")
    known = (*_OFFLINE_CHOICES, "compute")
    for key, value in table.items():
        if key not in known:
            raise InputError(f"{path}: unknown key 'offline.{key}' (expected {', '.join(known)})")
        choices = _OFFLINE_CHOICES.get(key)
        if choices and value not in choices:
            raise InputError(f"{path}: key 'offline.{key}' must be one of {', '.join(choices)}")
    kinds = table.get("compute", list(COMPUTE_KINDS))
    if not isinstance(kinds, list) or any(kind not in COMPUTE_KINDS for kind in kinds):
        raise InputError(f"{path}: key 'offline.compute' must be a list of {', '.join(COMPUTE_KINDS)}")
    return OfflineSettings(**{k: v for k, v in table.items() if k != "compute"},
                           compute=tuple(k for k in COMPUTE_KINDS if k in kinds))
