"""`EmbeddingIndex`: nearest corrected textures in one model's embedding space, searched in bulk.

Rows are unit vectors with a label id; single changes append or overwrite a row in place
(capacity doubles), freed rows are masked until `compact`. Up to `exact_limit` live rows a search
is one matrix product; above it a PCA projection (randomised SVD of a sample) finds candidates
and the full vectors re-rank them, which keeps a query far below 1 ms at 10,000 rows.
"""

from __future__ import annotations

import numpy as np

BACKGROUND_SAMPLE = 256
DEFAULT_SPREAD = 0.5  # typical cosine distance of unrelated CNN embeddings, until measured


def _numpy_has_blas() -> bool:
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except Exception:  # an unusual numpy build: assume the common case
        return True
    return str(blas.get("name", "")).lower() not in ("", "none")


# Up to this many live rows a search is one exact matrix product. The frozen Linux app's numpy has
# no BLAS (build/build.py): there an exact search of 4,096 rows costs 27 ms per batch of 8 instead
# of 1.1 ms, so the projected search takes over at 512 rows (3-4 ms per batch at any size).
EXACT_LIMIT = 4096 if _numpy_has_blas() else 512


def normalise_rows(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


class EmbeddingIndex:
    """Unit vectors of corrected textures from one model, with their label ids; append/overwrite in place."""

    def __init__(
        self, dim: int, *, exact_limit: int = EXACT_LIMIT, reduced_dim: int = 128, candidates: int = 48
    ):
        self.dim = dim
        self.exact_limit = exact_limit
        self.reduced_dim = reduced_dim
        self.candidates = candidates
        self.vectors = np.zeros((64, dim), np.float32)
        self.labels = np.full(64, -1, np.int32)  # -1 marks a freed row
        self.size = 0
        self.dead = 0
        self.basis: np.ndarray | None = None  # D×R projection when the index is large
        self.reduced: np.ndarray | None = None
        self.fitted_at = 0
        self._background = np.zeros((0, dim), np.float32)
        self._observed = 0
        self._spread: float | None = None
        self._spread_at = 0
        self._rng = np.random.default_rng(0)

    @property
    def live(self) -> int:
        return self.size - self.dead

    def add(self, vector: np.ndarray, label: int) -> int:
        if self.size == len(self.labels):
            grow = len(self.labels) * 2
            self.vectors = np.concatenate([self.vectors, np.zeros_like(self.vectors)])[:grow]
            self.labels = np.concatenate([self.labels, np.full(grow - len(self.labels), -1, np.int32)])
            if self.reduced is not None:
                self.reduced = np.concatenate([self.reduced, np.zeros_like(self.reduced)])[:grow]
        slot = self.size
        self.size += 1
        self.set(slot, vector, label)
        return slot

    def set(self, slot: int, vector: np.ndarray, label: int) -> None:
        self.vectors[slot] = vector
        self.labels[slot] = label
        if self.basis is not None:
            self.reduced[slot] = vector @ self.basis

    def free(self, slot: int) -> None:
        self.labels[slot] = -1
        self.vectors[slot] = 0.0
        self.dead += 1

    def compact(self) -> np.ndarray:
        """Drop freed rows; returns old slot → new slot (-1 for dropped)."""
        keep = np.flatnonzero(self.labels[: self.size] >= 0)
        remap = np.full(self.size, -1, np.int64)
        remap[keep] = np.arange(len(keep))
        self.vectors = np.ascontiguousarray(self.vectors[keep])
        self.labels = np.ascontiguousarray(self.labels[keep])
        self.size, self.dead = len(keep), 0
        self.basis, self.reduced, self.fitted_at = None, None, 0
        if self.size == 0:
            self.vectors, self.labels = np.zeros((64, self.dim), np.float32), np.full(64, -1, np.int32)
        return remap

    def observe(self, queries: np.ndarray) -> None:
        """Keep a small sample of queried textures: the background the kernel width is measured on."""
        take = queries
        if len(queries) > 32:
            take = queries[self._rng.choice(len(queries), 32, replace=False)]
        room = BACKGROUND_SAMPLE - len(self._background)
        if room > 0:
            self._background = np.concatenate([self._background, take[:room]])
            take = take[room:]
        if len(take):
            self._background[self._rng.integers(0, BACKGROUND_SAMPLE, len(take))] = take
        self._observed += len(queries)

    def spread(self) -> float:
        """Median cosine distance between distinct queried textures (0.5 until enough are seen).

        Measured on queries, not on the stored corrections, so that more corrections never narrow
        the kernel: their weight can only grow with their number.
        """
        if self._spread is None or self._observed >= 2 * self._spread_at + 64:
            sample = self._background
            distance = 1.0 - sample @ sample.T
            distinct = distance[np.triu_indices(len(sample), k=1)]
            distinct = distinct[distinct > 1e-4]  # the same texture queried again says nothing
            self._spread = float(np.median(distinct)) if len(distinct) >= 28 else DEFAULT_SPREAD
            self._spread_at = self._observed
        return self._spread

    def _fit_projection(self) -> None:
        rows = np.flatnonzero(self.labels[: self.size] >= 0)
        rng = self._rng
        sample = self.vectors[rng.choice(rows, size=min(len(rows), 4096), replace=False)]
        rank = self.reduced_dim
        # Randomised SVD (two power iterations): the top directions of the stored vectors.
        y = sample @ rng.standard_normal((self.dim, rank + 8)).astype(np.float32)
        for _ in range(2):
            y, _ = np.linalg.qr(y)
            y = sample @ (sample.T @ y)
        q, _ = np.linalg.qr(y)
        _, _, vt = np.linalg.svd(q.T @ sample, full_matrices=False)
        self.basis = np.ascontiguousarray(vt[:rank].T, dtype=np.float32)
        reduced = np.zeros((len(self.labels), rank), np.float32)
        reduced[: self.size] = self.vectors[: self.size] @ self.basis
        self.reduced = reduced
        self.fitted_at = self.live

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """→ (cosine similarities [N, k], label ids [N, k]) of the nearest live rows, best first."""
        n = self.size
        k = min(k, self.live)
        dead_mask = self.labels[:n] < 0 if self.dead else None
        use_projection = self.live > self.exact_limit and self.dim > self.reduced_dim
        if use_projection:
            if self.basis is None or self.live > 2 * self.fitted_at:
                self._fit_projection()
            approx = (queries @ self.basis) @ self.reduced[:n].T
            if dead_mask is not None:
                approx[:, dead_mask] = -np.inf
            c = min(max(self.candidates, 2 * k), n)
            cand = np.argpartition(approx, n - c, axis=1)[:, n - c :]
            sims = np.einsum("nd,ncd->nc", queries, self.vectors[cand])
            sims[self.labels[cand] < 0] = -np.inf
            order = np.argpartition(-sims, k - 1, axis=1)[:, :k]
            idx = np.take_along_axis(cand, order, axis=1)
            sims = np.take_along_axis(sims, order, axis=1)
        else:
            all_sims = queries @ self.vectors[:n].T
            if dead_mask is not None:
                all_sims[:, dead_mask] = -np.inf
            idx = (
                np.argpartition(all_sims, n - k, axis=1)[:, n - k :]
                if k < n
                else np.broadcast_to(np.arange(n), (len(queries), n))
            )
            sims = np.take_along_axis(all_sims, idx, axis=1)
        order = np.argsort(-sims, axis=1)
        return np.take_along_axis(sims, order, axis=1), self.labels[np.take_along_axis(idx, order, axis=1)]
