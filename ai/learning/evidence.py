"""The learner's evidence, as pure functions: confusion correction and nearest corrected examples.

1. Confusion correction: when users often turn the model's X into Y, probability mass moves
   from X to Y through a row-stochastic matrix M[X] = ((s + c_X)·e_X + Σ_Y n_XY·e_Y) / (s + n_X),
   where s (`confusion_prior`) is how many silent agreements the model's guess is worth and
   confirmations c_X (user accepted X) count for the model. It mostly flips images the model was
   torn about, because it scales mass rather than overriding it.
2. Nearest corrected examples in the model's embedding space: cosine kNN with a kernel
   κ = exp(-(1 - cos)/τ), where τ is calibrated from how far apart the textures it is asked
   about usually are (a property of the model's embedding space). The result is
   q ∝ m·p + g·Σκ·onehot(label), so the learner's weight grows with the number and closeness of
   corrections (g = n/(n + ramp) damps the first few). Only corrections whose embedding came from
   the same model (id, version, dimension) are compared.

(The third kind, exact texture-hash matches, is a lookup in `IncrementalLearner`.)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from ai.learning.embedding_index import EXACT_LIMIT, EmbeddingIndex, normalise_rows


@dataclass(frozen=True)
class LearnerSettings:
    use_confusion: bool = True
    confusion_prior: float = 20.0  # least silent agreements a model guess is worth against corrections
    silent_per_correction: float = 4.0
    use_knn: bool = True
    knn_k: int = 10
    model_mass: float = 1.0  # kernel mass of the model's own answer in the kNN blend
    kernel_scale: float = 6.0  # τ = typical distance between textures / kernel_scale
    ramp: float = 3.0  # g = n / (n + ramp): a handful of corrections must not dominate
    exact_search_limit: int = EXACT_LIMIT  # above this many vectors, search a PCA projection first
    reduced_dim: int = 128
    candidates: int = 48  # re-ranked exactly after the projected search


def model_key_of(model_id: str | None, model_version: str | None) -> str | None:
    """The key that says which model an embedding or a guess came from."""
    if model_id is None:
        return None
    return f"{model_id}@{model_version}" if model_version else str(model_id)


def confusion_matrix(
    confusion: Counter, to_column: np.ndarray, n_categories: int, key: str | None, settings: LearnerSettings
) -> np.ndarray | None:
    """Row-stochastic [C, C] matrix from (model key, original word, label word) → count; None if empty."""
    counts = np.zeros((n_categories, n_categories), np.float64)
    for (entry_model, original, label), n in confusion.items():
        if original < 0 or (key is not None and entry_model not in (None, key)):
            continue
        i, j = to_column[original], to_column[label]
        if i >= 0 and j >= 0:
            counts[i, j] += n
    if not counts.any():
        return None
    # Users correct wrong guesses and rarely confirm right ones, so each correction
    # of X stands for `silent_per_correction` unseen agreements with X.
    corrected = counts.sum(axis=1) - np.diag(counts)
    silent = np.maximum(settings.confusion_prior, settings.silent_per_correction * corrected)
    matrix = counts + np.diag(silent)
    return matrix / matrix.sum(axis=1, keepdims=True)


def knn_blend(
    probs: np.ndarray,
    embeddings: np.ndarray,
    index: EmbeddingIndex,
    to_column: np.ndarray,
    settings: LearnerSettings,
) -> np.ndarray:
    """m·probs + the kernel-weighted labels of the nearest corrected embeddings (unnormalised)."""
    queries = normalise_rows(np.nan_to_num(embeddings))
    index.observe(queries)
    sims, labels = index.search(queries, settings.knn_k)
    # -1 marks a freed row; it must not wrap around to the last vocabulary entry.
    columns = np.where(labels >= 0, to_column[labels], -1)
    tau = float(np.clip(index.spread() / settings.kernel_scale, 0.005, 0.5))
    kernel = np.exp(-(1.0 - sims) / tau)
    kernel[columns < 0] = 0.0
    n, c = probs.shape
    growth = index.live / (index.live + settings.ramp)
    rows = np.repeat(np.arange(n), columns.shape[1])
    evidence = np.bincount(
        rows * c + np.maximum(columns, 0).ravel(), weights=kernel.ravel() * growth, minlength=n * c
    ).reshape(n, c)
    return settings.model_mass * probs + evidence
