"""The JSON file format of an exported correction history (`learn export` / `learn import`)."""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ai.errors import StoreError
from ai.learning.records import ORIGIN_IMPORT, CorrectionRecord, decode_embedding, encode_embedding

HISTORY_FORMAT = "texture-sorter-corrections"
HISTORY_VERSION = 1


@dataclass
class ImportResult:
    added: int
    skipped: int  # the store already had the same or a newer answer for that texture
    invalid: list[str]  # "entry N: reason" for entries that were not imported


def write_history(path: str | os.PathLike[str], records: Iterable[CorrectionRecord]) -> int:
    """Write records as JSON (embeddings as base64 float16), atomically; returns how many."""
    entries = []
    for r in records:
        blob, dim = encode_embedding(r.embedding)
        entries.append(
            {
                "texture_path": r.texture_path,
                "texture_hash": r.texture_hash,
                "original_category": r.original_category,
                "corrected_category": r.corrected_category,
                "confidence": r.confidence,
                "timestamp": r.timestamp,
                "image_width": r.image_width,
                "image_height": r.image_height,
                "image_channels": r.image_channels,
                "metadata": r.metadata,
                "model_id": r.model_id,
                "model_version": r.model_version,
                "embedding": None if blob is None else base64.b64encode(blob).decode("ascii"),
                "embedding_dim": dim,
            }
        )
    document = {
        "format": HISTORY_FORMAT,
        "version": HISTORY_VERSION,
        "exported_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "count": len(entries),
        "corrections": entries,
    }
    target = Path(path)
    temporary = target.with_name(target.name + ".part")
    try:
        with open(temporary, "w", encoding="utf-8") as fh:
            json.dump(document, fh, ensure_ascii=False, indent=1, default=str)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, target)
    except OSError as exc:
        raise StoreError(f"{target}: cannot write the correction history: {exc}") from exc
    return len(entries)


def _optional(entry: dict, key: str, kind: type):
    value = entry.get(key)
    if value is None:
        return None
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"{key} must be {kind.__name__}, not {type(value).__name__}")
    return value


def _parse_entry(entry) -> CorrectionRecord:
    if not isinstance(entry, dict):
        raise ValueError("not an object")
    for key in ("texture_hash", "corrected_category"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise ValueError(f"missing {key}")
    timestamp = _optional(entry, "timestamp", float)
    if timestamp is None:
        raise ValueError("missing timestamp")
    embedding = None
    if entry.get("embedding") is not None:
        dim = _optional(entry, "embedding_dim", int)
        try:
            embedding = decode_embedding(base64.b64decode(entry["embedding"], validate=True), dim)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"embedding is not base64: {exc}") from exc
        if embedding is None:
            raise ValueError("embedding does not have embedding_dim values")
    metadata = entry.get("metadata") or {}
    return CorrectionRecord(
        texture_path=str(entry.get("texture_path") or ""),
        texture_hash=entry["texture_hash"],
        corrected_category=entry["corrected_category"],
        original_category=_optional(entry, "original_category", str),
        confidence=_optional(entry, "confidence", float),
        timestamp=timestamp,
        image_width=_optional(entry, "image_width", int),
        image_height=_optional(entry, "image_height", int),
        image_channels=_optional(entry, "image_channels", int),
        metadata=metadata if isinstance(metadata, dict) else {"value": metadata},
        model_id=_optional(entry, "model_id", str),
        model_version=_optional(entry, "model_version", str),
        embedding=embedding,
        origin=ORIGIN_IMPORT,
    )


def read_history(path: str | os.PathLike[str]) -> tuple[list[CorrectionRecord], list[str]]:
    """Parse an exported history → (valid records, latest per texture; ["entry N: reason", ...]).

    Raises StoreError naming the file when it is not a history at all.
    """
    try:
        with open(path, encoding="utf-8") as fh:
            document = json.load(fh)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise StoreError(f"{path}: cannot read the correction history: {exc}") from exc
    if isinstance(document, dict):
        if document.get("format") not in (None, HISTORY_FORMAT):
            raise StoreError(f"{path}: not a correction history (format {document.get('format')!r})")
        version = document.get("version", HISTORY_VERSION)
        if not isinstance(version, int) or version > HISTORY_VERSION:
            raise StoreError(
                f"{path}: history version {version!r} is newer than this program's {HISTORY_VERSION}"
            )
        entries = document.get("corrections")
    else:
        entries = document  # a bare list of records
    if not isinstance(entries, list):
        raise StoreError(f"{path}: not a correction history (no 'corrections' list)")
    latest: dict[str, CorrectionRecord] = {}
    invalid = []
    for number, entry in enumerate(entries, start=1):
        try:
            record = _parse_entry(entry)
        except ValueError as exc:
            invalid.append(f"entry {number}: {exc}")
            continue
        known = latest.get(record.texture_hash)
        if known is None or record.timestamp > known.timestamp:
            latest[record.texture_hash] = record
    return list(latest.values()), invalid
