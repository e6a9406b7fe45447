"""Field colours, shared by the abstract highlights and the form labels."""

from rich.style import Style

FIELD_COLOURS = {"technique": "#5fafff", "claimed_gain": "#87d787", "compute": "#d7afff"}
# Gain and technique get a background; compute is underlined so it stays visible where it
# overlaps another field's quote (they often share a sentence).
HIGHLIGHTS = {
    "technique": Style(bgcolor="#1d3b5c", color="#e8f1ff"),
    "claimed_gain": Style(bgcolor="#1f4a24", color="#eaffea"),
    "compute": Style(underline=True, bold=True, color="#e2c6ff"),
}
