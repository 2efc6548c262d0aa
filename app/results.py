"""One file's classification result, as streamed by the pipeline and written by the CLI."""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from ai.textures import TextureInfo
from ai.types import Prediction


@dataclass
class FileResult:
    path: str
    size: int
    mtime: float
    predictions: list[Prediction]
    source: str | None = None  # "offline" | "online" | "rules" | "blend"; None on error
    error: str | None = None
    info: TextureInfo | None = None
    probabilities: np.ndarray | None = None  # over the model's categories, after the learner
    embedding: np.ndarray | None = None  # float16 to keep a whole folder's embeddings in memory
    model_probabilities: np.ndarray | None = None  # before the learner: what re-ranking starts from
    pixel_hash: str | None = None  # hash of decoded RGBA pixels: exact duplicates
    perceptual_hash: int | None = None  # 64-bit scale-invariant hash: near duplicates / LODs

    @property
    def category(self) -> str | None:
        return self.predictions[0].category if self.predictions else None

    @property
    def confidence(self) -> float:
        return self.predictions[0].confidence if self.predictions else 0.0

    def to_json(self) -> dict:
        """The stable CLI/JSON shape other tools read."""
        return {
            "path": self.path,
            "predictions": [p.to_json() for p in self.predictions],
            "error": self.error,
            "source": self.source,
        }


def json_text(value: object) -> str:
    """JSON for files and consoles: non-ASCII names stay readable, names that are not UTF-8 stay exact.

    Python holds each byte of a file name that is not UTF-8 as a lone surrogate (os.fsdecode's
    surrogateescape: byte 0xE9 → U+DCE9), which no UTF-8 writer accepts. Those are written as
    the JSON escape ``\\udce9``: valid JSON, and os.fsencode(json.loads(text)["path"]) gives back
    the name's exact bytes.
    """
    return json.dumps(value, ensure_ascii=False).encode("utf-8", "backslashreplace").decode("utf-8")
