"""Suggestion providers behind one small interface (see base.py)."""

from __future__ import annotations

from workbench.models.base import Model, Reply

OFFLINE = "offline"


def get_model(name: str, **options) -> Model:
    """`offline` is the built-in model; any other name goes to the OpenAI-compatible endpoint."""
    if name == OFFLINE:
        from workbench.models.offline import OfflineModel

        return OfflineModel()
    from workbench.models.openai_compat import OpenAICompatibleModel

    return OpenAICompatibleModel(name, **options)


__all__ = ["Model", "Reply", "OFFLINE", "get_model"]
