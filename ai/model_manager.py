"""`ModelManager`: which model answers, how answers are blended, and what happens when one fails.

Order of trust: online (when configured and reachable) blended with offline, then offline alone,
then the pixel rules. Work that needs no model (resize, rule statistics) happens in `prepare`,
which the pipeline runs in its decode threads; `classify_prepared` does one model call per batch.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from ai.errors import ModelError, OnlineError
from ai.learning.user_rules import UserRuleSet, apply_user_rules
from ai.offline_model import OfflineModel
from ai.packages.registry import active_model_path, installed_label
from ai.paths import model_path
from ai.rules import RuleClassifier
from ai.taxonomy import default_categories
from ai.textures.preprocess import normalize, to_model_rgb
from ai.types import Classification, top_k

log = logging.getLogger(__name__)

BLEND_MODES = ("confidence_weighted", "max", "average")
ONLINE_IMAGE_SIZE = 256  # longest side kept for an online request; the online client may shrink further
ONLINE_PARALLEL = 4  # concurrent online requests per batch
RULE_MAP_CATEGORIES = ("map/normal", "map/mask", "ui/font")


class OnlineClassifier(Protocol):
    """What ModelManager needs from an online model (see ai/online/model.py)."""

    def predict(self, rgba: np.ndarray, categories: list[str], top_k: int) -> Classification: ...


class Learner(Protocol):
    """What ModelManager needs from the correction learner (see ai/learning/learner.py)."""

    def adjust_probabilities(
        self,
        probs: np.ndarray,
        categories: list[str],
        embeddings: np.ndarray | None = None,
        texture_hashes: list[str | None] | None = None,
        *,
        model_id: str | None = None,
    ) -> np.ndarray: ...


@dataclass
class Prepared:
    """One image made ready for classification: model-sized RGB and the rules' view of it."""

    rgb: np.ndarray  # size×size×3 uint8, alpha already composited
    rule_probs: np.ndarray
    rule_strong: tuple[str, float] | None
    online_image: np.ndarray | None = None
    texture_hash: str | None = None


@dataclass
class ModelOutputs:
    """Model-stage answers for a batch, before the learner: [N, C] probabilities and [N, D] embeddings."""

    probabilities: np.ndarray
    embeddings: np.ndarray | None
    sources: list[str]
    categories: list[str]


@dataclass
class ManagerStats:
    predictions: Counter = field(default_factory=Counter)  # by source
    fallbacks: Counter = field(default_factory=Counter)  # "online->offline", "offline->rules"
    last_fallback_reason: str | None = None
    offline_seconds: float = 0.0
    offline_images: int = 0
    online_seconds: float = 0.0
    online_requests: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "predictions": dict(self.predictions),
            "fallbacks": dict(self.fallbacks),
            "last_fallback_reason": self.last_fallback_reason,
            "offline_ms_per_image": 1000 * self.offline_seconds / max(self.offline_images, 1),
            "online_ms_per_request": 1000 * self.online_seconds / max(self.online_requests, 1),
        }


def blend(
    offline: np.ndarray,
    online: np.ndarray,
    mode: str = "confidence_weighted",
    offline_weight: float = 0.5,
    online_weight: float = 0.5,
) -> np.ndarray:
    """Combine two probability vectors over the same categories.

    - confidence_weighted: each model's weight is scaled by its own top confidence, so the surer
      model counts more: (w_off·c_off·p_off + w_on·c_on·p_on) / (w_off·c_off + w_on·c_on).
    - max: per category the larger of the two, renormalised.
    - average: the weighted mean (w_off·p_off + w_on·p_on) / (w_off + w_on).
    """
    if mode == "max":
        combined = np.maximum(offline, online)
    elif mode == "average":
        combined = (offline_weight * offline + online_weight * online) / max(
            offline_weight + online_weight, 1e-9
        )
    elif mode == "confidence_weighted":
        w_off = offline_weight * float(offline.max())
        w_on = online_weight * float(online.max())
        combined = (w_off * offline + w_on * online) / max(w_off + w_on, 1e-9)
    else:
        raise ValueError(f"unknown blend mode {mode!r}; use one of {', '.join(BLEND_MODES)}")
    return combined / max(float(combined.sum()), 1e-12)


class ModelManager:
    """Thread-safe front of the offline model, the online classifier, the rules and the learner."""

    display_name: str | None = None  # set for installed models (ai.packages.registry.installed_label)

    def __init__(
        self,
        offline_model: OfflineModel | None = None,
        online_model: OnlineClassifier | None = None,
        *,
        blend_mode: str = "confidence_weighted",
        offline_weight: float = 0.5,
        online_weight: float = 0.5,
        min_confidence: float = 0.0,
        online_uncertain_only: bool = True,
        online_threshold: float = 0.6,
        rule_evidence: bool = True,
        learner: Learner | None = None,
        user_rules: UserRuleSet | None = None,
        offline_error: str | None = None,
    ):
        if blend_mode not in BLEND_MODES:
            raise ValueError(f"unknown blend mode {blend_mode!r}; use one of {', '.join(BLEND_MODES)}")
        self._lock = threading.RLock()
        self._offline = offline_model
        self._online = online_model
        self.blend_mode = blend_mode
        self.offline_weight = offline_weight
        self.online_weight = online_weight
        self.min_confidence = min_confidence
        self.online_uncertain_only = online_uncertain_only
        self.online_threshold = online_threshold
        self.rule_evidence = rule_evidence
        self.learner = learner
        self.user_rules = user_rules
        # Why the offline model is missing, shown to the user instead of silently using rules.
        self.offline_error = offline_error
        self._rules = RuleClassifier(self.categories)
        self.stats = ManagerStats()

    # -- construction and switching -------------------------------------------------------

    @classmethod
    def create_default(cls, config: dict | None = None) -> ModelManager:
        """Build from a config dict; a missing or broken model falls back to the rules with a reason.

        Keys: model_path (else the user's active model, else models/default.onnx), num_threads,
        providers, blend_mode, offline_weight, online_weight, min_confidence, online (an
        OnlineClassifier or None), online_uncertain_only, online_threshold, rule_evidence, learner,
        user_rules (a UserRuleSet applied to file paths).
        """
        config = dict(config or {})
        path = config.get("model_path") or _active_model_path()
        offline, error = None, None
        if path is None:
            error = "no model installed; using the pixel rules"
        else:
            try:
                offline = OfflineModel(
                    path, num_threads=config.get("num_threads"), providers=config.get("providers")
                )
            except ModelError as exc:
                error = str(exc)
                log.warning("offline model unavailable, using rules: %s", exc)
        manager = cls(
            offline,
            config.get("online"),
            blend_mode=config.get("blend_mode", "confidence_weighted"),
            offline_weight=float(config.get("offline_weight", 0.5)),
            online_weight=float(config.get("online_weight", 0.5)),
            min_confidence=float(config.get("min_confidence", 0.0)),
            online_uncertain_only=bool(config.get("online_uncertain_only", True)),
            online_threshold=float(config.get("online_threshold", 0.6)),
            rule_evidence=bool(config.get("rule_evidence", True)),
            learner=config.get("learner"),
            user_rules=config.get("user_rules"),
            offline_error=error,
        )
        if offline is not None:
            manager.display_name = installed_label(path)
        return manager

    def switch_offline_model(self, model: OfflineModel | None) -> None:
        """Swap the offline model; running batches finish on the model they started with."""
        with self._lock:
            self._offline = model
            self.display_name = None
            self.offline_error = None if model else "no offline model"
            self._rules = RuleClassifier(self.categories)

    def set_online_model(self, online: OnlineClassifier | None) -> None:
        with self._lock:
            self._online = online

    @property
    def offline_model(self) -> OfflineModel | None:
        return self._offline

    @property
    def online_model(self) -> OnlineClassifier | None:
        return self._online

    @property
    def categories(self) -> list[str]:
        model = self._offline
        return list(model.categories) if model else default_categories()

    @property
    def input_size(self) -> int:
        model = self._offline
        return model.input_size if model else 64

    @property
    def model_id(self) -> str:
        model = self._offline
        return model.model_id if model else "rules"

    def describe(self) -> str:
        model = self._offline
        if model is None:
            return f"pixel rules ({self.offline_error})" if self.offline_error else "pixel rules"
        if self.display_name:
            return self.display_name  # an installed model: the name and version its package gave it
        return f"{model.name} {model.version} ({model.model_path.name})"

    def rules_notice(self) -> str | None:
        """The warning every front end shows while the pixel rules stand in for a model, else None."""
        if self._offline is not None:
            return None
        reason = self.offline_error or "no model is installed"
        return f"pixel rules only: no model could be loaded ({reason})"

    # -- prediction -----------------------------------------------------------------------

    def prepare(self, rgba: np.ndarray, texture_hash: str | None = None) -> Prepared:
        """CPU work that needs no model session; safe to run in many threads at once."""
        return self.prepare_batch([rgba], [texture_hash])[0]

    def prepare_batch(
        self, images: list[np.ndarray], texture_hashes: list[str | None] | None = None
    ) -> list[Prepared]:
        """`prepare` for a batch: the rule statistics of all images are computed together."""
        hashes = texture_hashes or [None] * len(images)
        online = self._online is not None
        size = self.input_size
        prepared = []
        for rgba, (rule_probs, rule_strong), digest in zip(
            images, self._rules.assess_batch(images), hashes, strict=True
        ):
            online_image = None
            if online:
                image = Image.fromarray(rgba, "RGBA")
                image.thumbnail((ONLINE_IMAGE_SIZE, ONLINE_IMAGE_SIZE))
                online_image = np.asarray(image)
            prepared.append(
                Prepared(
                    rgb=to_model_rgb(rgba, size),
                    rule_probs=rule_probs,
                    rule_strong=rule_strong,
                    online_image=online_image,
                    texture_hash=digest,
                )
            )
        return prepared

    def predict(self, image: np.ndarray, top_k: int = 5) -> Classification:
        """Classify one RGBA uint8 image."""
        return self.classify_prepared([self.prepare(image)], top_k)[0]

    def predict_batch(self, images: list[np.ndarray], top_k: int = 5) -> list[Classification]:
        return self.classify_prepared([self.prepare(im) for im in images], top_k)

    def classify_prepared(self, items: list[Prepared], top_k_count: int = 5) -> list[Classification]:
        """One model call for the whole batch, then online blending, rules evidence and the learner."""
        outputs = self.model_outputs(items, top_k_count)
        return self.finish(outputs, [it.texture_hash for it in items], top_k_count)

    def model_outputs(self, items: list[Prepared], top_k_count: int = 5) -> ModelOutputs:
        """The model stage: what a cache may keep, since it does not change with user corrections."""
        if not items:
            return ModelOutputs(np.zeros((0, len(self.categories)), np.float32), None, [], self.categories)
        with self._lock:
            offline, online = self._offline, self._online
        categories = offline.categories if offline else self._rules.categories
        probs, embeddings, sources = self._offline_probs(offline, items)
        if online is not None and offline is not None:
            probs, sources = self._blend_online(online, items, probs, sources, categories, top_k_count)
        if self.rule_evidence and offline is not None:
            probs = self._apply_rule_evidence(items, probs, categories)
        return ModelOutputs(probs, embeddings, sources, categories)

    def finish(
        self,
        outputs: ModelOutputs,
        texture_hashes: list[str | None] | None = None,
        top_k_count: int = 5,
        paths: list[str] | None = None,
    ) -> list[Classification]:
        """Apply the learner and the user's path rules to model outputs (fresh or cached); rank top-k."""
        probs = outputs.probabilities
        learner, rules = self.learner, self.user_rules
        if learner is not None and len(probs):
            probs = learner.adjust_probabilities(
                probs, outputs.categories, outputs.embeddings, texture_hashes, model_id=self.model_id
            )
        if rules is not None and rules.rules and paths is not None and len(probs):
            probs = apply_user_rules(paths, probs, outputs.categories, rules)
        results = [
            Classification(
                predictions=top_k(probs[i], outputs.categories, top_k_count),
                probabilities=probs[i],
                categories=outputs.categories,
                source=outputs.sources[i],
                embedding=None if outputs.embeddings is None else outputs.embeddings[i],
                extra={"uncertain": float(probs[i].max()) < self.min_confidence},
            )
            for i in range(len(probs))
        ]
        with self._lock:
            self.stats.predictions.update(outputs.sources)
        return results

    def _offline_probs(self, offline, items):
        if offline is not None:
            try:
                rgb = np.stack([_fit(it.rgb, offline.input_size) for it in items])
                start = time.perf_counter()
                probs, emb = offline.predict_arrays(normalize(rgb, offline.mean, offline.std))
                with self._lock:
                    self.stats.offline_seconds += time.perf_counter() - start
                    self.stats.offline_images += len(items)
                return probs, emb, ["offline"] * len(items)
            except ModelError as exc:
                self._note_fallback("offline->rules", str(exc))
        probs = np.stack([it.rule_probs for it in items])
        if offline is not None and probs.shape[1] != len(offline.categories):
            # A user model with its own categories: rules can only speak for the shared ids.
            probs = self._rules_for(offline.categories, items)
        return probs, None, ["rules"] * len(items)

    def _rules_for(self, categories: list[str], items: list[Prepared]) -> np.ndarray:
        index = {c: i for i, c in enumerate(self._rules.categories)}
        out = np.full((len(items), len(categories)), 1e-3, np.float32)
        for j, c in enumerate(categories):
            if c in index:
                out[:, j] += np.stack([it.rule_probs[index[c]] for it in items])
        return out / out.sum(axis=1, keepdims=True)

    def _blend_online(self, online, items, probs, sources, categories, k):
        probs = probs.copy()
        wanted = [
            i
            for i, item in enumerate(items)
            if item.online_image is not None
            and not (self.online_uncertain_only and float(probs[i].max()) >= self.online_threshold)
        ]
        if not wanted:
            return probs, sources

        def ask(i: int):
            start = time.perf_counter()
            try:
                return i, online.predict(items[i].online_image, categories, k), None
            except OnlineError as exc:
                return i, None, exc
            finally:
                with self._lock:
                    self.stats.online_seconds += time.perf_counter() - start
                    self.stats.online_requests += 1

        # Requests overlap so a batch costs about one round trip, not one per uncertain image;
        # the online client's own limiter still caps the rate.
        with ThreadPoolExecutor(max_workers=min(ONLINE_PARALLEL, len(wanted))) as pool:
            answers = list(pool.map(ask, wanted))
        for i, answer, error in answers:
            if error is not None:
                self._note_fallback("online->offline", str(error))
                continue
            online_probs = _align(answer, categories)
            probs[i] = blend(probs[i], online_probs, self.blend_mode, self.offline_weight, self.online_weight)
            sources[i] = "blend"
        return probs, sources

    def _apply_rule_evidence(self, items, probs, categories):
        index = {c: i for i, c in enumerate(categories)}
        probs = probs.copy()
        for i, item in enumerate(items):
            if (
                item.rule_strong
                and item.rule_strong[0] in RULE_MAP_CATEGORIES
                and item.rule_strong[0] in index
            ):
                # Pixel statistics of normal maps, masks and font atlases are near-certain signals.
                category, score = item.rule_strong
                probs[i, index[category]] += score
                probs[i] /= probs[i].sum()
        return probs

    def _note_fallback(self, kind: str, reason: str) -> None:
        log.warning("fallback %s: %s", kind, reason)
        with self._lock:
            self.stats.fallbacks[kind] += 1
            self.stats.last_fallback_reason = reason

    def get_stats(self) -> dict[str, Any]:
        with self._lock:
            return self.stats.as_dict()


def _fit(rgb: np.ndarray, size: int) -> np.ndarray:
    if rgb.shape[0] == size and rgb.shape[1] == size:
        return rgb
    # The model was switched between prepare and classify: resize rather than fail the batch.
    return np.asarray(Image.fromarray(rgb, "RGB").resize((size, size), Image.Resampling.BILINEAR))


def _align(answer: Classification, categories: list[str]) -> np.ndarray:
    """Online answers may cover only some labels: map them onto our category order."""
    out = np.full(len(categories), 1e-6, np.float32)
    index = {c: i for i, c in enumerate(categories)}
    for category, p in zip(answer.categories, answer.probabilities, strict=True):
        if category in index:
            out[index[category]] = max(out[index[category]], float(p))
    return out / out.sum()


def _active_model_path() -> Path | None:
    """The user's active installed model, else the shipped default, else None."""
    try:
        path = active_model_path()
        if path is not None and Path(path).is_file():
            return Path(path)
    except Exception as exc:  # a broken registry must never stop classification
        log.warning("cannot read the installed-model registry: %s", exc)
    shipped = model_path("default.onnx")
    return shipped if shipped.is_file() else None
