"""The online providers, by name: one small module per wire format, registered here (as rembg does).

`get_provider("huggingface")` returns the class; `provider_names()` lists what the settings may
name. A new wire format is one module with an `OnlineProvider` subclass and one line below.
"""

from __future__ import annotations

from ai.errors import OnlineError
from ai.online.providers.base import EncodedImage, LabelSet, OnlineProvider, label_scores
from ai.online.providers.classify import ClassifyProvider
from ai.online.providers.huggingface import HuggingFaceProvider
from ai.online.providers.openai import OpenAIProvider

PROVIDERS: dict[str, type[OnlineProvider]] = {
    cls.name: cls for cls in (ClassifyProvider, HuggingFaceProvider, OpenAIProvider)
}


def provider_names() -> list[str]:
    return list(PROVIDERS)


def get_provider(name: str) -> type[OnlineProvider]:
    try:
        return PROVIDERS[name]
    except KeyError:
        raise OnlineError(f"unknown online provider {name!r}; use one of {', '.join(PROVIDERS)}") from None


__all__ = [
    "PROVIDERS",
    "EncodedImage",
    "LabelSet",
    "OnlineProvider",
    "get_provider",
    "label_scores",
    "provider_names",
]
