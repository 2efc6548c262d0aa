"""Small value types shared by models, the learner and the pipeline."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np


class Prediction(NamedTuple):
    category: str
    confidence: float

    def to_json(self) -> dict:
        return {"category": self.category, "confidence": round(float(self.confidence), 6)}


@dataclass
class Classification:
    """What a model (or blend of models) says about one image.

    `probabilities` covers all `categories` in order; `predictions` is its top-k, best first.
    `source` is "offline", "online", "rules" or "blend".
    """

    predictions: list[Prediction]
    probabilities: np.ndarray
    categories: list[str]
    source: str
    embedding: np.ndarray | None = None
    extra: dict = field(default_factory=dict)

    @property
    def top(self) -> Prediction:
        return self.predictions[0]


def top_k(probabilities: np.ndarray, categories: list[str], k: int) -> list[Prediction]:
    k = max(1, min(int(k), len(categories)))
    order = np.argsort(-probabilities, kind="stable")[:k]
    return [Prediction(categories[i], float(probabilities[i])) for i in order]
