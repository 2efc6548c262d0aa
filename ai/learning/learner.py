"""`IncrementalLearner`: re-ranks model guesses with the user's corrections, without PyTorch.

Three kinds of evidence, applied in this order by `adjust_probabilities` (the vectorised core
that the ModelManager and the pipeline call; the seed's single-item methods wrap it): confusion
correction and nearest corrected examples in the model's embedding space (both explained in
ai.learning.evidence), then exact texture-hash matches, which return the user's answer with
confidence 1.0.

Embeddings live in memory in one matrix per model; single changes append or overwrite a row.
Above `exact_search_limit` rows a PCA projection (randomised SVD) finds candidates and the full
vectors re-rank them, so a prediction stays well under 1 ms with 10,000 corrections.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ai.learning.embedding_index import EmbeddingIndex, normalise_rows
from ai.learning.evidence import LearnerSettings, confusion_matrix, knn_blend, model_key_of
from ai.learning.history import ImportResult, read_history, write_history
from ai.learning.records import ORIGIN_USER, CorrectionRecord
from ai.learning.store import TrainingDataStore
from ai.textures.hashing import pixel_hash
from ai.types import Prediction, top_k

__all__ = [
    "CorrectionRecord",
    "ImportResult",
    "IncrementalLearner",
    "LearnerSettings",
    "TrainingDataStore",
]

log = logging.getLogger(__name__)

# Identifying a file needs only its hash: the pixels may come out this small (ai.textures.memory).
_HASH_DECODE_SIDE = 64


@dataclass
class _Entry:
    """The current correction of one texture, as the learner holds it in memory."""

    id: int
    timestamp: float
    label: int  # vocabulary id of the user's category
    original: int  # vocabulary id of the model's guess, -1 if unknown
    model_key: str | None
    space: tuple[str | None, int] | None  # embedding index key (model, dim)
    path: str = ""  # the file the user answered for (normalised, see _same_file)
    slot: int = -1


def _as_predictions(items: Sequence) -> list[Prediction]:
    out = []
    for item in items:
        if isinstance(item, dict):
            out.append(Prediction(str(item["category"]), float(item["confidence"])))
        else:
            out.append(Prediction(str(item[0]), float(item[1])))
    return out


class IncrementalLearner:
    """Learns from corrections stored in a TrainingDataStore; safe to share between threads."""

    def __init__(
        self,
        store: TrainingDataStore | None = None,
        *,
        settings: LearnerSettings | None = None,
        model_id: str | None = None,
        model_version: str | None = None,
        categories: Sequence[str] | None = None,
    ):
        self.store = store if store is not None else TrainingDataStore()
        self.settings = settings or LearnerSettings()
        self.model_id = model_id
        self.model_version = model_version
        self.categories: list[str] | None = list(categories) if categories else None
        self._lock = threading.RLock()
        self._session_ids: list[int] = []
        self.reload()

    # -- state ---------------------------------------------------------------------------------

    def set_model(
        self, model_id: str | None, model_version: str | None = None, categories: Sequence[str] | None = None
    ) -> None:
        """Tell the learner which model's guesses and embeddings it sees from now on."""
        with self._lock:
            self.model_id, self.model_version = model_id, model_version
            if categories is not None:
                self.categories = list(categories)
            self._version += 1

    def reload(self) -> None:
        """Rebuild the in-memory state from the store (after another process changed it)."""
        records = self.store.current()
        with self._lock:
            self._vocab: dict[str, int] = {}
            self._names: list[str] = []
            self._by_hash: dict[str, _Entry] = {}
            self._indexes: dict[tuple[str | None, int], EmbeddingIndex] = {}
            self._confusion: Counter = Counter()  # (model_key, original id, label id) → count
            self._version = getattr(self, "_version", 0) + 1
            self._cache: dict = {}
            for record in records:
                self._apply_add(record)
        log.debug("learner loaded %d corrections from %s", len(records), self.store.path)

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_hash)

    def _word(self, category: str | None) -> int:
        if category is None:
            return -1
        word = self._vocab.get(category)
        if word is None:
            word = self._vocab[category] = len(self._names)
            self._names.append(category)
        return word

    def _apply_add(self, record: CorrectionRecord) -> None:
        old = self._by_hash.get(record.texture_hash)
        if old is not None and (old.timestamp, old.id) > (record.timestamp, record.id):
            return  # a newer answer for this texture already arrived from another thread
        space = None
        vector = None
        if record.embedding is not None and record.embedding.size:
            vector = normalise_rows(record.embedding.reshape(-1))
            space = (model_key_of(record.model_id, record.model_version), int(vector.shape[0]))
        entry = _Entry(
            id=int(record.id),
            timestamp=float(record.timestamp),
            label=self._word(record.corrected_category),
            original=self._word(record.original_category),
            model_key=model_key_of(record.model_id, record.model_version),
            space=space,
            path=_same_file(record.texture_path),
        )
        if old is not None:
            if space is not None and old.space == space:
                entry.slot = old.slot
                self._indexes[space].set(old.slot, vector, entry.label)
                old.space = None  # slot handed over, not freed
            self._drop(old)
        if space is not None and entry.slot < 0:
            index = self._indexes.get(space)
            if index is None:
                index = self._indexes[space] = EmbeddingIndex(
                    space[1],
                    exact_limit=self.settings.exact_search_limit,
                    reduced_dim=self.settings.reduced_dim,
                    candidates=self.settings.candidates,
                )
            entry.slot = index.add(vector, entry.label)
        self._by_hash[record.texture_hash] = entry
        self._confusion[(entry.model_key, entry.original, entry.label)] += 1
        self._version += 1

    def _drop(self, entry: _Entry) -> None:
        key = (entry.model_key, entry.original, entry.label)
        self._confusion[key] -= 1
        if self._confusion[key] <= 0:
            del self._confusion[key]
        if entry.space is not None:
            index = self._indexes[entry.space]
            index.free(entry.slot)
            if index.dead > max(256, index.live):
                self._compact(entry.space)
        self._version += 1

    def _compact(self, space) -> None:
        remap = self._indexes[space].compact()
        for entry in self._by_hash.values():
            if entry.space == space:
                entry.slot = int(remap[entry.slot])

    def _apply_remove(self, removed: CorrectionRecord | None, promoted: CorrectionRecord | None) -> None:
        with self._lock:
            if removed is not None:
                entry = self._by_hash.get(removed.texture_hash)
                if entry is not None and entry.id == removed.id:
                    del self._by_hash[removed.texture_hash]
                    self._drop(entry)
            if promoted is not None:
                self._apply_add(promoted)

    # -- recording -----------------------------------------------------------------------------

    def record_correction(
        self,
        texture_path: str,
        corrected_category: str,
        original_predictions: Sequence = (),
        image: np.ndarray | None = None,
        embedding: np.ndarray | None = None,
        *,
        texture_hash: str | None = None,
        metadata: dict | None = None,
        model_id: str | None = None,
        model_version: str | None = None,
    ) -> CorrectionRecord:
        """Store the user's answer for a texture and learn from it at once; returns the stored record.

        The texture is identified by `texture_hash`, else the pixel hash of `image`, else the file is
        decoded to hash it (if that fails, its path identifies it). `original_predictions` is the
        model's list, best first (Prediction tuples or {"category", "confidence"} dicts).
        """
        if not isinstance(corrected_category, str) or not corrected_category.strip():
            raise ValueError(f"a correction needs a category, got {corrected_category!r}")
        predictions = _as_predictions(original_predictions)
        width = height = channels = None
        if image is not None:
            height, width = int(image.shape[0]), int(image.shape[1])
            channels = int(image.shape[2]) if image.ndim == 3 else 1
            texture_hash = texture_hash or pixel_hash(image)
        if texture_hash is None:
            texture_hash, (width, height, channels) = _hash_file(texture_path)
        with self._lock:
            model_id = model_id if model_id is not None else self.model_id
            model_version = model_version if model_version is not None else self.model_version
        record = CorrectionRecord(
            texture_path=str(texture_path),
            texture_hash=texture_hash,
            corrected_category=corrected_category,
            original_category=predictions[0].category if predictions else None,
            confidence=predictions[0].confidence if predictions else None,
            image_width=width,
            image_height=height,
            image_channels=channels,
            metadata={**(metadata or {}), "original_predictions": [p.to_json() for p in predictions[:5]]},
            model_id=model_id,
            model_version=model_version,
            embedding=None if embedding is None else np.asarray(embedding, np.float32).reshape(-1),
            origin=ORIGIN_USER,
        )
        stored = self.store.add(record)
        with self._lock:
            self._apply_add(stored)
            self._session_ids.append(stored.id)
        return stored

    def record_corrections(self, records: Sequence[CorrectionRecord]) -> tuple[list[CorrectionRecord], int]:
        """Store many ready-made records in one transaction (latest per texture wins); → (added, skipped)."""
        added, skipped = self.store.merge(records)
        with self._lock:
            for record in added:
                self._apply_add(record)
        return added, skipped

    def undo_last_correction(self) -> CorrectionRecord | None:
        """Take back the newest correction (this session's first, then the store's); → the removed one."""
        while True:
            with self._lock:
                correction_id = self._session_ids.pop() if self._session_ids else None
            if correction_id is None:
                last = self.store.last_user_correction()
                if last is None:
                    return None
                correction_id = last.id
            removed = self.remove_correction(correction_id)
            if removed is not None:
                return removed

    def remove_correction(self, correction_id: int) -> CorrectionRecord | None:
        removed, promoted = self.store.remove(correction_id)
        self._apply_remove(removed, promoted)
        return removed

    def edit_correction(self, correction_id: int, category: str) -> CorrectionRecord | None:
        """Change the answer of a stored correction; it becomes the texture's current answer."""
        if not isinstance(category, str) or not category.strip():
            raise ValueError(f"a correction needs a category, got {category!r}")
        updated = self.store.update_category(correction_id, category)
        if updated is not None:
            with self._lock:
                self._apply_add(updated)
        return updated

    def lookup(self, texture_hash: str | None) -> str | None:
        """The user's answer for this exact texture, if there is one."""
        if texture_hash is None:
            return None
        with self._lock:
            entry = self._by_hash.get(texture_hash)
            return None if entry is None else self._names[entry.label]

    def answers_for(self, files: Iterable[tuple[str, str | None]]) -> dict[str, tuple[str, int]]:
        """The user's current answers for these (path, texture hash) files: path → (category, correction id).

        A file has an answer when a current correction names both its picture and its path: what
        the user answered for that very file, whichever model classified it. (The same picture
        elsewhere is re-ranked by `adjust_probabilities`, but it is not an answer the user gave.)
        """
        out: dict[str, tuple[str, int]] = {}
        with self._lock:
            for path, texture_hash in files:
                entry = self._by_hash.get(texture_hash) if texture_hash else None
                if entry is not None and entry.path == _same_file(path):
                    out[path] = (self._names[entry.label], entry.id)
        return out

    # -- adjusting -----------------------------------------------------------------------------

    def _tables(self, categories: tuple[str, ...], model_key: str | None):
        """(vocabulary id → column, confusion matrix or None) for this category list; cached."""
        key = (categories, model_key)
        cached = self._cache.get(key)
        if cached is not None and cached[0] == self._version:
            return cached[1], cached[2]
        column = {c: i for i, c in enumerate(categories)}
        to_column = np.array([column.get(name, -1) for name in self._names] or [-1], np.int64)
        matrix = None
        if self.settings.use_confusion:
            matrix = confusion_matrix(self._confusion, to_column, len(categories), model_key, self.settings)
        self._cache[key] = (self._version, to_column, matrix)
        return to_column, matrix

    def adjust_probabilities(
        self,
        probs: np.ndarray,
        categories: Sequence[str],
        embeddings: np.ndarray | None = None,
        texture_hashes: Sequence[str | None] | None = None,
        *,
        model_id: str | None = None,
        model_version: str | None = None,
    ) -> np.ndarray:
        """Re-rank a batch: probs [N, C] over `categories` → adjusted probs [N, C], rows summing to 1.

        `embeddings` [N, D] are the model's embedding output; `texture_hashes` the pixel hashes
        (None where unknown). `model_id`/`model_version` default to what `set_model` was told.
        """
        probs = np.asarray(probs, dtype=np.float64)
        if probs.ndim != 2 or probs.shape[1] != len(categories):
            raise ValueError(
                f"probabilities of shape {probs.shape} do not match {len(categories)} categories"
            )
        out = probs.copy()
        with self._lock:
            if not self._by_hash:
                return (out / np.maximum(out.sum(axis=1, keepdims=True), 1e-12)).astype(np.float32)
            model_key = model_key_of(
                model_id if model_id is not None else self.model_id,
                model_version if model_id is not None else self.model_version,
            )
            to_column, matrix = self._tables(tuple(categories), model_key)
            if matrix is not None:
                out = out @ matrix
            if embeddings is not None and self.settings.use_knn:
                out = self._knn(out, np.asarray(embeddings), model_key, to_column)
            if texture_hashes is not None:
                for row, texture_hash in enumerate(texture_hashes):
                    entry = self._by_hash.get(texture_hash) if texture_hash else None
                    if entry is not None and to_column[entry.label] >= 0:
                        out[row] = 0.0
                        out[row, to_column[entry.label]] = 1.0
        out /= np.maximum(out.sum(axis=1, keepdims=True), 1e-12)
        return out.astype(np.float32)

    def _knn(self, probs: np.ndarray, embeddings: np.ndarray, model_key, to_column) -> np.ndarray:
        if embeddings.ndim != 2 or len(embeddings) != len(probs):
            return probs
        index = self._indexes.get((model_key, int(embeddings.shape[1])))
        if index is None or index.live == 0:
            return probs
        return knn_blend(probs, embeddings, index, to_column, self.settings)

    def adjust_predictions(
        self,
        predictions: Sequence,
        image: np.ndarray | None = None,
        embedding: np.ndarray | None = None,
        *,
        texture_hash: str | None = None,
    ) -> list:
        """Re-rank one image's top-k list (Predictions or dicts, best first); returns the same form."""
        preds = _as_predictions(predictions)
        as_dicts = bool(predictions) and isinstance(predictions[0], dict)
        if texture_hash is None and image is not None:
            texture_hash = pixel_hash(image)
        exact = self.lookup(texture_hash)
        length = max(1, len(preds))
        if exact is not None:
            result = [Prediction(exact, 1.0)] + [
                Prediction(p.category, 0.0) for p in preds if p.category != exact
            ]
        else:
            with self._lock:
                categories = list(self.categories or [])
            if not categories:
                from ai.taxonomy import default_categories

                categories = default_categories()
            categories += [p.category for p in preds if p.category not in categories]
            listed = {p.category for p in preds}
            rest = max(0.0, 1.0 - sum(p.confidence for p in preds)) / max(1, len(categories) - len(listed))
            vector = np.array([rest if c not in listed else 0.0 for c in categories])
            for p in preds:
                vector[categories.index(p.category)] = p.confidence
            emb = None if embedding is None else np.asarray(embedding, np.float32).reshape(1, -1)
            adjusted = self.adjust_probabilities(vector[None], categories, emb, [texture_hash])[0]
            result = top_k(adjusted, categories, length)
        result = result[:length]
        return [p.to_json() for p in result] if as_dicts else result

    # -- statistics and history ----------------------------------------------------------------

    def category_statistics(self) -> dict:
        """Counts per category (corrected to / from, confirmed) and the most frequent confusions."""
        per: dict[str, Counter] = {}
        confusions = []
        total = confirmations = 0
        for original, corrected, n in self.store.confusion_counts():
            total += n
            per.setdefault(corrected, Counter())["corrected_to"] += n if original != corrected else 0
            if original == corrected:
                confirmations += n
                per[corrected]["confirmed"] += n
            elif original is not None:
                per.setdefault(original, Counter())["corrected_from"] += n
                confusions.append({"model": original, "user": corrected, "count": n})
        with self._lock:
            models = Counter(e.model_key or "unknown" for e in self._by_hash.values())
            with_embeddings = sum(1 for e in self._by_hash.values() if e.space is not None)
        return {
            "total": total,
            "confirmations": confirmations,
            "corrections": total - confirmations,
            "with_embeddings": with_embeddings,
            "models": dict(models),
            "categories": {
                name: {k: int(c[k]) for k in ("corrected_to", "corrected_from", "confirmed")}
                for name, c in sorted(per.items())
            },
            "confusions": confusions,
        }

    def export_history(self, path: str | Path) -> int:
        """Write the current correction of every texture (embeddings included) to a JSON file."""
        return write_history(path, self.store.current())

    def import_history(self, path: str | Path) -> ImportResult:
        """Merge a JSON history: new textures are added, known ones only if the file's answer is newer."""
        records, invalid = read_history(path)
        added, skipped = self.record_corrections(records)
        log.info(
            "imported %s: %d added, %d already known, %d invalid", path, len(added), skipped, len(invalid)
        )
        return ImportResult(added=len(added), skipped=skipped, invalid=invalid)


def _same_file(path: str) -> str:
    """A path in the form two spellings of one file share (absolute, case-folded where the OS folds)."""
    return os.path.normcase(os.path.abspath(path)) if path else ""


def _hash_file(path: str) -> tuple[str, tuple[int | None, int | None, int | None]]:
    """Pixel hash and size of a texture file; a path identity when it cannot be decoded."""
    from ai.errors import TextureError

    try:
        from ai.textures import load_texture

        # The hash is of the full picture, taken while decoding; the pixels kept may be reduced.
        texture = load_texture(path, min_size=_HASH_DECODE_SIDE, pixel_hash=True)
    except (ImportError, TextureError, OSError) as exc:
        log.info("cannot decode %s to identify it (%s); using its path", path, exc)
        return "path:" + str(Path(path).resolve()), (None, None, None)
    return texture.pixel_hash, (texture.info.width, texture.info.height, int(texture.pixels.shape[2]))
