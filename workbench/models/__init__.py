"""Suggestion providers behind one small interface (see base.py)."""

from __future__ import annotations

from workbench.models.base import Model, Reply
from workbench.vocab import OFFLINE


def get_model(name: str, settings=None, *, rpm: float | None = None) -> Model:
    """`offline` is the built-in model; any other name goes to the endpoint in `settings`
    (a `config.EndpointSettings`, which resolves the config file and the environment)."""
    if name == OFFLINE:
        from workbench.models.offline import OfflineModel

        return OfflineModel()
    from workbench.models.openai_compat import OpenAICompatibleModel

    if settings is None:
        from workbench.config import endpoint_settings, load_config

        settings = endpoint_settings(load_config())
    return OpenAICompatibleModel(name, base_url=settings.base_url, api_key=settings.api_key,
                                 timeout=settings.timeout, response_format=settings.response_format, rpm=rpm)


__all__ = ["Model", "Reply", "get_model"]
