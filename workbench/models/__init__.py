"""Suggestion providers behind one small interface (see base.py).

Nothing is imported here at load time: prompts.py reads `models.offline_settings`, and a package
that imported its providers on load would import prompts back.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.vocab import OFFLINE

if TYPE_CHECKING:
    from workbench.models.base import Model


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


__all__ = ["get_model"]
