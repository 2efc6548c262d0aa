"""Typed settings of the online classifier, with defaults, kept in `online.json` in the user config folder.

The API key goes to the OS keyring when one is usable (`ai.online.secrets`) and is then left out of
the file; without a keyring it is written to the file (owner-only permissions) with a warning.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ai.errors import OnlineError
from ai.online import secrets
from ai.paths import user_config_dir

log = logging.getLogger(__name__)

SETTINGS_FILE = "online.json"
SCHEMA_VERSION = 1
IMAGE_FORMATS = ("auto", "png", "jpeg")


@dataclass
class OnlineSettings:
    """Everything the online classifier needs; the seed's keys plus provider and request shaping."""

    enabled: bool = False
    provider: str = "classify"  # a name from ai.online.providers: classify, huggingface, openai
    api_url: str = ""  # empty: the provider's default endpoint
    model: str = ""  # empty: the provider's default model
    api_key: str = field(default="", repr=False)
    timeout: float = 10.0  # seconds for one prediction, retries and waits included
    max_requests_per_minute: int = 60  # 0: no client-side limit
    max_requests_per_hour: int = 1000
    image_size: int = 224  # longest side sent, in pixels
    image_format: str = "auto"  # auto: PNG when the texture has transparency, else JPEG
    jpeg_quality: int = 90
    label_descriptions: bool = True  # send the taxonomy's descriptions as label text / prompt
    max_response_bytes: int = 1 << 20
    uncertain_only: bool = True  # ask the service only when the offline model is unsure
    threshold: float = 0.6  # "unsure" = offline top confidence below this
    failure_threshold: int = 3  # consecutive failures before pausing online requests
    failure_cooldown: float = 30.0  # seconds of that pause

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        problems = []
        if not (isinstance(self.timeout, (int, float)) and math.isfinite(self.timeout) and self.timeout > 0):
            problems.append(f"timeout must be a positive number of seconds, not {self.timeout!r}")
        if not 16 <= int(self.image_size) <= 4096:
            problems.append(f"image_size must be 16..4096 pixels, not {self.image_size!r}")
        if self.image_format not in IMAGE_FORMATS:
            problems.append(
                f"image_format must be one of {', '.join(IMAGE_FORMATS)}, not {self.image_format!r}"
            )
        if not 1 <= int(self.jpeg_quality) <= 100:
            problems.append(f"jpeg_quality must be 1..100, not {self.jpeg_quality!r}")
        if int(self.max_response_bytes) < 1024:
            problems.append("max_response_bytes must be at least 1024")
        if not 0.0 <= float(self.threshold) <= 1.0:
            problems.append(f"threshold must be 0..1, not {self.threshold!r}")
        if problems:
            raise OnlineError("invalid online settings: " + "; ".join(problems))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OnlineSettings:
        """Build from a dict (the seed's config keys or a loaded file); unknown keys are ignored."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            spec = known.get(key)
            if spec is None:
                if key not in ("schema_version", "api_key_in_keyring"):
                    log.warning("ignoring unknown online setting %r", key)
                continue
            values[key] = _coerce(key, value, spec.default)
        return cls(**values)

    def to_dict(self, include_key: bool = False) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        if not include_key:
            data.pop("api_key")
        return data

    @property
    def keyring_entry(self) -> str:
        """One keyring entry per provider, so switching provider keeps each service's key."""
        return f"online-{self.provider}"


def _coerce(key: str, value: Any, default: Any) -> Any:
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        return "" if value is None else str(value)
    except (TypeError, ValueError):
        raise OnlineError(f"invalid online setting {key}: {type(value).__name__} value") from None


def settings_path() -> Path:
    return user_config_dir() / SETTINGS_FILE


def load_settings(path: str | os.PathLike[str] | None = None, *, with_key: bool = True) -> OnlineSettings:
    """Read the settings file (defaults when missing or unreadable) and the key from the keyring.

    `with_key=False` leaves the keyring alone: loading its backend takes seconds on some desktops,
    so start-up only reads the file and asks the keyring when online classification is enabled.
    """
    path = Path(path) if path else settings_path()
    data: dict[str, Any] = {}
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            log.warning("%s: unreadable online settings, using defaults: %s", path, exc)
            data = {}
    try:
        settings = OnlineSettings.from_dict(data)
    except OnlineError as exc:
        log.warning("%s: %s; using defaults", path, exc)
        settings = OnlineSettings()
    if with_key and not settings.api_key:
        settings.api_key = secrets.load_api_key(settings.keyring_entry) or ""
    return settings


def save_settings(settings: OnlineSettings, path: str | os.PathLike[str] | None = None) -> Path:
    """Write the settings atomically; the key goes to the keyring when possible, else into the file."""
    settings.validate()
    path = Path(path) if path else settings_path()
    data = settings.to_dict(include_key=False)
    data["schema_version"] = SCHEMA_VERSION
    in_keyring = secrets.store_api_key(settings.keyring_entry, settings.api_key)
    if settings.api_key and not in_keyring:
        log.warning(
            "no usable OS keyring (backend: %s): the %s API key is stored in plain text in %s",
            secrets.backend_name(),
            settings.provider,
            path,
        )
        data["api_key"] = settings.api_key
    data["api_key_in_keyring"] = bool(settings.api_key and in_keyring)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    # Owner-only from creation on: the file may hold the key.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path
