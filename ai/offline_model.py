"""`OfflineModel`: an ONNX image classifier with its categories, preprocessing and outputs."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ai.errors import ModelError
from ai.inference import OnnxInferenceSession
from ai.textures.preprocess import IMAGENET_MEAN, IMAGENET_STD, normalize, to_model_rgb
from ai.types import Classification, top_k

log = logging.getLogger(__name__)

DEFAULT_INPUT_SIZE = 224
EMBEDDING_OUTPUT = "embedding"


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


def _json_meta(metadata: dict[str, str], key: str, default):
    raw = metadata.get(key)
    if raw is None:
        return default
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return raw


def file_sha256(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class OfflineModel:
    """A classifier loaded from a .onnx file whose `metadata_props` name its categories.

    Metadata keys read: `categories` (JSON list, required unless `categories` is passed),
    `input_size` (int), `mean`/`std` (JSON lists), `version`, `description`, `name`,
    `output` = "probabilities" when the model already applies softmax.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        num_threads: int | None = None,
        providers: Sequence[str] | str | None = None,
        categories: list[str] | None = None,
    ):
        self.model_path = Path(model_path)
        self.session = OnnxInferenceSession(self.model_path, num_threads=num_threads, providers=providers)
        meta = self.session.metadata
        self.metadata = meta
        self.categories: list[str] = list(categories or _json_meta(meta, "categories", []) or [])
        if not self.categories or not all(isinstance(c, str) for c in self.categories):
            raise ModelError(f"{self.model_path}: the model names no categories (metadata 'categories')")
        self.input_size = self._read_input_size()
        try:
            self.mean = tuple(float(v) for v in _json_meta(meta, "mean", IMAGENET_MEAN))
            self.std = tuple(float(v) for v in _json_meta(meta, "std", IMAGENET_STD))
        except (TypeError, ValueError) as exc:  # a ModelError, so callers fall back instead of failing
            raise ModelError(
                f"{self.model_path}: metadata 'mean'/'std' must be lists of numbers ({exc})"
            ) from exc
        self.version = str(meta.get("version", "0"))
        self.name = str(meta.get("name", self.model_path.stem))
        self.description = str(meta.get("description", ""))
        self.outputs_probabilities = meta.get("output", "logits") == "probabilities"
        outputs = self.session.output_names
        self._score_output = next(
            (n for n in ("logits", "probabilities", "probs") if n in outputs), outputs[0]
        )
        self._embedding_output = EMBEDDING_OUTPUT if EMBEDDING_OUTPUT in outputs else None
        self._check_width()
        self._model_id: str | None = None
        log.info(
            "loaded model %s (%d categories, input %d, providers %s)",
            self.model_path,
            len(self.categories),
            self.input_size,
            self.session.active_providers,
        )

    def _read_input_size(self) -> int:
        declared = _json_meta(self.metadata, "input_size", None)
        if isinstance(declared, list) and declared:
            declared = declared[-1]
        if isinstance(declared, (int, float)) and declared > 0:
            return int(declared)
        shape = self.session.input_shape
        if len(shape) == 4 and isinstance(shape[-1], int) and shape[-1] > 0:
            return int(shape[-1])
        return DEFAULT_INPUT_SIZE

    def _check_width(self) -> None:
        shape = self.session.output_shapes.get(self._score_output) or []
        width = shape[-1] if shape else None
        if isinstance(width, int) and width != len(self.categories):
            raise ModelError(
                f"{self.model_path}: the model outputs {width} scores but names {len(self.categories)} categories"
            )

    @property
    def model_id(self) -> str:
        """Stable identity of the weights (name + content hash), used to key caches and corrections."""
        if self._model_id is None:
            self._model_id = f"{self.name}-{file_sha256(self.model_path)[:16]}"
        return self._model_id

    @property
    def has_embedding(self) -> bool:
        return self._embedding_output is not None

    def preprocess(self, rgba: np.ndarray) -> np.ndarray:
        """RGBA uint8 → float32 CHW input of this model."""
        return normalize(to_model_rgb(rgba, self.input_size), self.mean, self.std)

    def predict_arrays(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """NCHW float32 → (probabilities [N, C], embeddings [N, D] or None)."""
        names = [self._score_output] + ([self._embedding_output] if self._embedding_output else [])
        out = self.session.run(np.ascontiguousarray(batch, dtype=np.float32), names)
        scores = out[self._score_output].astype(np.float32).reshape(len(batch), -1)
        if scores.shape[1] != len(self.categories):
            raise ModelError(
                f"{self.model_path.name}: output has {scores.shape[1]} scores for {len(self.categories)} categories"
            )
        if self.outputs_probabilities:
            probs = scores / np.clip(scores.sum(axis=1, keepdims=True), 1e-12, None)
        else:
            probs = softmax(scores)
        embedding = out.get(self._embedding_output) if self._embedding_output else None
        if embedding is not None:
            embedding = embedding.astype(np.float32).reshape(len(batch), -1)
        return probs, embedding

    def predict(self, rgba: np.ndarray, top_k_count: int = 5) -> Classification:
        probs, emb = self.predict_arrays(self.preprocess(rgba)[None])
        return Classification(
            predictions=top_k(probs[0], self.categories, top_k_count),
            probabilities=probs[0],
            categories=self.categories,
            source="offline",
            embedding=None if emb is None else emb[0],
        )
