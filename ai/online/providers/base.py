"""What every online provider module implements: build one request, parse one answer.

A provider knows a wire format and nothing about transport, retries or rate limits (those live
in `ai.online.model`). It raises `OnlineError` for any answer it cannot read.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ai.errors import OnlineError


@dataclass(frozen=True)
class EncodedImage:
    """An image ready to send: its MIME type and file bytes."""

    mime: str
    data: bytes
    width: int
    height: int

    def base64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")

    def data_uri(self) -> str:
        return f"data:{self.mime};base64,{self.base64()}"


@dataclass(frozen=True)
class LabelSet:
    """The label texts sent to a service and the category id each one stands for."""

    texts: list[str]
    to_category: dict[str, str]
    notes: dict[str, str] = field(default_factory=dict)  # label text → description for a prompt

    @classmethod
    def from_pairs(cls, pairs: list[tuple[str, str]]) -> LabelSet:
        """(text, category) pairs; falls back to the ids themselves if two texts would collide."""
        texts = [text for text, _ in pairs]
        if len(set(texts)) != len(texts):
            texts = [category for _, category in pairs]
        return cls(texts, {text: category for text, (_, category) in zip(texts, pairs, strict=True)})


class OnlineProvider:
    """Base of the registered providers; one instance per `OnlineModel`."""

    name: ClassVar[str] = ""
    default_api_url: ClassVar[str] = ""
    default_model: ClassVar[str] = ""
    needs_api_key: ClassVar[bool] = False

    def __init__(self, api_url: str = "", model: str = "", label_descriptions: bool = True):
        self.api_url = (api_url or self.default_api_url).rstrip("/")
        self.model = model or self.default_model
        self.label_descriptions = label_descriptions
        if not self.api_url:
            raise OnlineError(f"online provider {self.name!r} needs an api_url")
        if not self.api_url.startswith(("http://", "https://")):
            raise OnlineError(
                f"online api_url must start with http:// or https://, not {self.api_url[:40]!r}"
            )

    def endpoint(self) -> str:
        raise NotImplementedError

    def labels(self, categories: list[str], descriptions: dict[str, str]) -> LabelSet:
        """Label texts for `categories`; the default sends the category ids unchanged."""
        return LabelSet(list(categories), {c: c for c in categories})

    def build_request(self, image: EncodedImage, labels: LabelSet, top_k: int) -> dict[str, Any]:
        """The JSON body of one request."""
        raise NotImplementedError

    def parse_answer(self, payload: Any, labels: LabelSet) -> list[tuple[str, float]]:
        """(label text, score) pairs from a decoded JSON answer; labels may include unknown ones."""
        raise NotImplementedError

    def describe(self) -> str:
        return f"{self.name} at {self.endpoint()}" + (f" (model {self.model})" if self.model else "")


def label_scores(items: Any, where: str) -> list[tuple[str, float]]:
    """Validate a JSON list of {"label": str, "score": number} objects into (label, score) pairs."""
    if not isinstance(items, list):
        raise OnlineError(f"{where}: expected a list of {{label, score}}, got {type(items).__name__}")
    pairs = []
    for item in items:
        if not isinstance(item, dict):
            raise OnlineError(f"{where}: expected {{label, score}} objects, got {type(item).__name__}")
        label, score = item.get("label"), item.get("score")
        if not isinstance(label, str):
            raise OnlineError(f"{where}: a prediction has no text label")
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            raise OnlineError(f"{where}: the score of {label[:60]!r} is not a finite number")
        pairs.append((label, float(score)))
    return pairs
