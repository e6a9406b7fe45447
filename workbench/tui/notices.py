"""Notifications: the one way the TUI tells the reviewer something in a toast.

Messages often carry data (a server's error, a title): they are cleaned of
control characters and never parsed as markup (`[type=value_error]` in an error
message is text, not a style).
"""

from __future__ import annotations

from textual.dom import DOMNode

from workbench.review import Notice
from workbench.safe_text import clean


def tell(node: DOMNode, message: str, *, severity: str = "information", title: str = "",
         timeout: float | None = None) -> None:
    node.notify(clean(message), title=clean(title), severity=severity, timeout=timeout, markup=False)


def show(node: DOMNode, notice: Notice | None, timeout: float | None = None) -> None:
    if notice is not None:
        tell(node, notice.message, severity=notice.severity, title=notice.title,
             timeout=10 if notice.severity == "error" else timeout)
