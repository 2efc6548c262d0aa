"""`OnlineModel`: asks an online classification service about one image, or fails cleanly in time.

The wire format is a registered provider (`ai.online.providers`); this module owns what is the
same for all of them: image shrinking and encoding, the httpx transport with one time budget per
prediction (retries and waits included), client-side rate limits, Retry-After, a pause after
repeated failures, answer size caps, and mapping answer labels back to category ids. Every
failure is an `OnlineError` whose message never contains the API key; `ModelManager` turns it
into the offline answer.
"""

from __future__ import annotations

import email.utils
import io
import json
import logging
import math
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import httpx
import numpy as np
from PIL import Image

from ai import __version__
from ai.errors import OnlineError
from ai.online import secrets
from ai.online.config import OnlineSettings
from ai.online.providers import EncodedImage, LabelSet, get_provider
from ai.online.rate_limit import RateLimiter
from ai.online.redact import redact_answer, redact_message
from ai.taxonomy import category_descriptions
from ai.types import Classification
from ai.types import top_k as rank_top_k

log = logging.getLogger(__name__)

MAX_RETRIES = 2  # re-sends after 429/503 with a Retry-After that fits in the time budget
DEFAULT_RETRY_AFTER = 1.0  # a 429 without Retry-After
TRANSFER_THREADS = 4
_FLOAT32_MAX = float(np.finfo(np.float32).max)


class _NotSent(OnlineError):
    """Refused before anything went on the wire (rate limit, pause): says nothing about the service."""


def encode_image(
    rgba: np.ndarray, max_side: int, image_format: str = "auto", quality: int = 90
) -> EncodedImage:
    """Shrink to `max_side` and encode: PNG keeps transparency, JPEG is smaller for opaque textures."""
    if not isinstance(rgba, np.ndarray) or rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        shape = getattr(rgba, "shape", None)
        raise OnlineError(f"online classifier needs an HxWx4 uint8 image, got {shape}")
    image = Image.fromarray(rgba, "RGBA")
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=2.0)
    has_alpha = image.getextrema()[3][0] < 255
    fmt = ("png" if has_alpha else "jpeg") if image_format == "auto" else image_format
    buf = io.BytesIO()
    if fmt == "png":
        (image if has_alpha else image.convert("RGB")).save(buf, "PNG", compress_level=6)
        mime = "image/png"
    else:
        image.convert("RGB").save(buf, "JPEG", quality=int(quality))
        mime = "image/jpeg"
    return EncodedImage(mime, buf.getvalue(), image.width, image.height)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when is None:
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


class OnlineModel:
    """The online classifier `ModelManager` calls (`predict`); thread-safe; one per configuration."""

    def __init__(self, config: OnlineSettings | dict[str, Any] | None = None, **overrides: Any):
        if isinstance(config, OnlineSettings):
            settings = OnlineSettings.from_dict({**config.to_dict(include_key=True), **overrides})
        else:
            settings = OnlineSettings.from_dict({**(config or {}), **overrides})
        self.settings = settings
        self._key = settings.api_key
        self.provider = get_provider(settings.provider)(
            settings.api_url, settings.model, settings.label_descriptions
        )
        if self.provider.needs_api_key and not self._key:
            log.warning(
                "online provider %s has no API key configured; requests may be refused", settings.provider
            )
        self._limiter = RateLimiter(settings.max_requests_per_minute, settings.max_requests_per_hour)
        self._client = httpx.Client(
            follow_redirects=False,  # a redirect could carry the key to another host
            headers={"User-Agent": f"texture-sorter/{__version__}"},
            limits=httpx.Limits(
                max_connections=TRANSFER_THREADS * 2, max_keepalive_connections=TRANSFER_THREADS
            ),
        )
        # Transfers run here so a caller gets its answer or error at the deadline even when a
        # server trickles bytes slower than httpx's per-read timeout would notice.
        self._pool = ThreadPoolExecutor(TRANSFER_THREADS, thread_name_prefix="online")
        self._lock = threading.Lock()
        self._paused_until = 0.0
        self._pause_reason = ""
        self._consecutive_failures = 0
        self._labels_cache: dict[tuple[str, ...], LabelSet] = {}
        self.counts: Counter = Counter()
        self.last_error: str | None = None

    @classmethod
    def from_config(cls, cfg: OnlineSettings | dict[str, Any] | None) -> OnlineModel | None:
        """The configured online model, or None when online classification is disabled."""
        if cfg is None:
            return None
        settings = cfg if isinstance(cfg, OnlineSettings) else OnlineSettings.from_dict(cfg)
        if not settings.enabled:
            return None
        if not settings.api_key:
            key = secrets.load_api_key(settings.keyring_entry)
            if key:
                settings = OnlineSettings.from_dict({**settings.to_dict(), "api_key": key})
        return cls(settings)

    def __repr__(self) -> str:
        return f"OnlineModel({self.describe()})"

    def describe(self) -> str:
        return self.provider.describe()

    def close(self) -> None:
        """Release connections; a transfer still running ends by its own deadline first."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._client.close()

    def __enter__(self) -> OnlineModel:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- prediction -----------------------------------------------------------------------

    def predict(self, rgba: np.ndarray, categories: list[str], top_k: int = 5) -> Classification:
        """Probabilities over `categories` from the service; `OnlineError` for every failure."""
        deadline = time.monotonic() + self.settings.timeout
        try:
            self._check_not_paused()
            labels = self._labels(list(categories))
            image = encode_image(
                rgba, self.settings.image_size, self.settings.image_format, self.settings.jpeg_quality
            )
            body = self.provider.build_request(image, labels, top_k)
            pairs = self._exchange(body, labels, deadline)
            result = self._to_classification(pairs, labels, list(categories), top_k)
        except OnlineError as exc:
            message = self._redact(str(exc))
            self._record_failure(message, counted=not isinstance(exc, _NotSent))
            # `from None`: an httpx cause would hold the request, and with it the Authorization header.
            raise OnlineError(message) from None
        except Exception as exc:  # the contract is OnlineError for every failure: never break a batch
            message = self._redact(f"unexpected {type(exc).__name__}: {exc}")
            log.debug("online prediction failed unexpectedly: %s", message)
            self._record_failure(message, counted=True)
            raise OnlineError(message) from None
        self._record_success()
        return result

    def _labels(self, categories: list[str]) -> LabelSet:
        key = tuple(categories)
        labels = self._labels_cache.get(key)
        if labels is None:
            labels = self.provider.labels(categories, category_descriptions())
            self._labels_cache[key] = labels
        return labels

    def _exchange(self, body: dict[str, Any], labels: LabelSet, deadline: float) -> list[tuple[str, float]]:
        for attempt in range(MAX_RETRIES + 1):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not self._limiter.acquire(max_wait=max(remaining, 0.0)):
                if remaining <= 0:
                    raise OnlineError(f"no answer within {self.settings.timeout:g} s")
                raise _NotSent(self._limiter.reason())
            with self._lock:
                self.counts["requests"] += 1
            status, headers, content = self._send(body, deadline)
            if status == 200:
                return self.provider.parse_answer(_decode_json(content), labels)
            if status in (429, 503):
                wait = parse_retry_after(headers.get("retry-after"))
                if wait is None and status == 429:
                    wait = DEFAULT_RETRY_AFTER
                if wait is not None and attempt < MAX_RETRIES and time.monotonic() + wait < deadline:
                    log.info("%s answered %d; retrying in %.1f s", self.provider.name, status, wait)
                    time.sleep(wait)
                    continue
                if wait is not None:
                    self._pause(wait, f"the service asked to wait {wait:.0f} s (HTTP {status})")
                raise OnlineError(
                    f"service busy (HTTP {status})"
                    + (f"; it asks to retry after {wait:.0f} s" if wait is not None else "")
                )
            raise OnlineError(_status_message(status, content))
        raise OnlineError(f"service still busy after {MAX_RETRIES} retries")

    def _send(self, body: dict[str, Any], deadline: float) -> tuple[int, httpx.Headers, bytes]:
        future = self._pool.submit(self._transfer, body, deadline)
        try:
            return future.result(timeout=max(deadline - time.monotonic(), 0.0))
        except FutureTimeout:
            future.cancel()
            raise OnlineError(f"no answer within {self.settings.timeout:g} s") from None

    def _transfer(self, body: dict[str, Any], deadline: float) -> tuple[int, httpx.Headers, bytes]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise OnlineError(f"no answer within {self.settings.timeout:g} s")
        headers = {"Authorization": f"Bearer {self._key}"} if self._key else {}
        limit = self.settings.max_response_bytes
        url = self.provider.endpoint()
        log.debug("POST %s (%s)", url, self.provider.name)
        try:
            with self._client.stream("POST", url, json=body, headers=headers, timeout=remaining) as response:
                declared = response.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise OnlineError(f"answer of {int(declared)} bytes exceeds the {limit}-byte limit")
                chunks, size = [], 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > limit:
                        raise OnlineError(f"answer exceeds the {limit}-byte limit")
                    if time.monotonic() > deadline:
                        raise OnlineError(f"no complete answer within {self.settings.timeout:g} s")
                    chunks.append(chunk)
                # Before anything is parsed or cut: an echoed key must go whole, never in part.
                content = redact_answer(b"".join(chunks).decode("utf-8", "surrogateescape"), self._key)
                return response.status_code, response.headers, content.encode("utf-8", "surrogateescape")
        except httpx.TimeoutException:
            raise OnlineError(f"no answer within {self.settings.timeout:g} s") from None
        except httpx.HTTPError as exc:
            raise OnlineError(f"connection to {_host(url)} failed: {type(exc).__name__}: {exc}") from None

    def _to_classification(
        self, pairs: list[tuple[str, float]], labels: LabelSet, categories: list[str], k: int
    ) -> Classification:
        index = {c: i for i, c in enumerate(categories)}
        loose = {text.strip().casefold(): cat for text, cat in labels.to_category.items()}
        # Probabilities are float32: a score beyond its range (1e39) would become inf, then NaN.
        bad = next((s for _, s in pairs if not (math.isfinite(s) and abs(s) <= _FLOAT32_MAX)), None)
        if bad is not None:
            raise OnlineError(f"the answer has a score that is not a finite number ({bad!r})")
        probs = np.zeros(len(categories), np.float32)
        known = unknown = 0
        for label, score in pairs:
            category = labels.to_category.get(label) or loose.get(label.strip().casefold())
            if category is None or category not in index:
                unknown += 1
                continue
            known += 1
            probs[index[category]] = max(probs[index[category]], max(score, 0.0))
        if not known:
            example = pairs[0][0][:60] if pairs else ""
            raise OnlineError(
                f"none of the {len(pairs)} labels in the answer is a known category"
                + (f" (e.g. {example!r})" if example else "")
            )
        if unknown:
            log.debug("ignored %d unknown labels in the %s answer", unknown, self.provider.name)
        total = float(probs.sum())
        if total <= 0:
            raise OnlineError("every score in the answer is zero")
        if total > 1.0 + 1e-6:
            probs /= total  # scores that are not a distribution (LLM guesses, percentages)
        return Classification(
            predictions=rank_top_k(probs, categories, k),
            probabilities=probs,
            categories=categories,
            source="online",
            extra={"provider": self.provider.name, "ignored_labels": unknown},
        )

    # -- failures, pauses, stats ------------------------------------------------------------

    def _redact(self, text: str) -> str:
        return redact_message(text, self._key)

    def _check_not_paused(self) -> None:
        with self._lock:
            wait = self._paused_until - time.monotonic()
            reason = self._pause_reason
        if wait > 0:
            raise _NotSent(f"online requests paused for {wait:.0f} s more: {reason}")

    def _pause(self, seconds: float, reason: str) -> None:
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)
            self._pause_reason = reason

    def _record_failure(self, message: str, counted: bool) -> None:
        with self._lock:
            self.last_error = message
            self.counts["failed" if counted else "not_sent"] += 1
            if not counted:
                return
            self._consecutive_failures += 1
            failures = self._consecutive_failures
        threshold = self.settings.failure_threshold
        if threshold > 0 and failures >= threshold:
            # A dead or broken service must not cost `timeout` seconds on every texture of a folder.
            self._pause(self.settings.failure_cooldown, f"{failures} failures in a row, last: {message}")
            with self._lock:
                self._consecutive_failures = 0
            log.warning(
                "online classifier paused for %.0f s after %d failures: %s",
                self.settings.failure_cooldown,
                failures,
                message,
            )

    def _record_success(self) -> None:
        with self._lock:
            self._consecutive_failures = 0
            self.counts["ok"] += 1

    def get_stats(self) -> dict[str, Any]:
        with self._lock:
            paused = max(0.0, self._paused_until - time.monotonic())
            minute, hour = self._limiter.used()
            return {
                "provider": self.provider.name,
                "requests": self.counts["requests"],
                "ok": self.counts["ok"],
                "failed": self.counts["failed"],
                "not_sent": self.counts["not_sent"],
                "last_error": self.last_error,
                "paused_for_s": round(paused, 1),
                "used_this_minute": minute,
                "used_this_hour": hour,
            }


def _decode_json(content: bytes) -> Any:
    try:
        return json.loads(content)
    except (ValueError, RecursionError):
        raise OnlineError(f"the answer is not JSON ({len(content)} bytes: {_snippet(content)!r})") from None


def _status_message(status: int, content: bytes) -> str:
    if status in (401, 403):
        return f"the service refused the credentials (HTTP {status}); check the API key"
    if 300 <= status < 400:
        return f"the service redirected (HTTP {status}); set api_url to the final address"
    kind = "server error" if status >= 500 else "request rejected"
    return f"{kind} (HTTP {status}): {_snippet(content)}"


def _snippet(content: bytes, size: int = 160) -> str:
    text = content[:size].decode("utf-8", "replace")
    return "".join(ch if ch.isprintable() else " " for ch in text).strip()


def _host(url: str) -> str:
    try:
        return httpx.URL(url).host or url
    except httpx.InvalidURL:
        return "the service"


def manager_options(settings: OnlineSettings) -> dict[str, Any]:
    """`ModelManager.create_default` keys for these settings: online model and uncertain-only mode."""
    return {
        "online": OnlineModel.from_config(settings),
        "online_uncertain_only": settings.uncertain_only,
        "online_threshold": settings.threshold,
    }
