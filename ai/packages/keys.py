"""Signing keys and the trust store: your own Ed25519 keys and the publishers' public keys you trust.

Everything lives in `<user data>/keys/`, a folder only you may enter (0700), each file only you
may read (0600); files are replaced atomically, so a crash never leaves half a key:

    keys/private/<key id>.json   {"format": "texture-sorter-private-key", "version": 1, "name": ...,
                                  "key_id": ..., "public_key": <base64>, "private_key": <base64 seed>,
                                  "created": <ISO 8601>}
    keys/trusted.json            {"schema_version": 1, "keys": [{"key_id", "name", "public_key", "added"}]}

A key id is the first 16 hex digits of the sha256 of the 32-byte public key: short enough to
read aloud, long enough that nobody makes a second key with the same id. A key you generate is
trusted at once (you trust yourself). On Windows the modes are not enforced by the file system;
the folder is in the user's own profile there.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import logging
import os
import stat
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nacl.exceptions import CryptoError
from nacl.signing import SigningKey

from ai.errors import PackageError
from ai.packages.files import write_json
from ai.packages.schema import CONTROL_CHARS
from ai.paths import user_data_dir

log = logging.getLogger(__name__)

PRIVATE_FORMAT = "texture-sorter-private-key"
PUBLIC_FORMAT = "texture-sorter-public-key"
TRUST_FILE = "trusted.json"
TRUST_SCHEMA_VERSION = 1
PUBLIC_PREFIX = "ed25519:"
KEY_BYTES = 32


class KeyStoreError(PackageError):
    """A key or the trust store is missing, unreadable or ambiguous (the message names which)."""


def key_id_of(public_key: bytes) -> str:
    return hashlib.sha256(public_key).hexdigest()[:16]


def decode_public_key(text: str) -> bytes:
    """`ed25519:<base64>` or bare base64 of a 32-byte Ed25519 public key → its bytes."""
    body = text.strip().removeprefix(PUBLIC_PREFIX)
    try:
        raw = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise KeyStoreError(f"{text[:60]!r} is not a base64 Ed25519 public key") from exc
    if len(raw) != KEY_BYTES:
        raise KeyStoreError(f"an Ed25519 public key has {KEY_BYTES} bytes, this one {len(raw)}")
    return raw


def encode_public_key(public_key: bytes) -> str:
    return PUBLIC_PREFIX + base64.b64encode(public_key).decode("ascii")


def check_key_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100 or CONTROL_CHARS.search(name):
        raise KeyStoreError(f"a key name must be 1–100 printable characters, not {name!r}")
    return name


@dataclass(frozen=True)
class PublicKey:
    """A named public key: one of yours, or a publisher's you trust."""

    key_id: str
    name: str
    public_key: bytes
    added: str = ""

    @property
    def text(self) -> str:
        return encode_public_key(self.public_key)

    def to_json(self) -> dict[str, Any]:
        return {"key_id": self.key_id, "name": self.name, "public_key": self.text, "added": self.added}

    def public_file(self) -> dict[str, Any]:
        """What `keys generate --public-out` writes for others to trust."""
        return {"format": PUBLIC_FORMAT, "version": 1, "name": self.name, "key_id": self.key_id,
                "public_key": self.text}  # fmt: skip

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PublicKey:
        raw = decode_public_key(str(data["public_key"]))
        key_id = key_id_of(raw)
        if data.get("key_id") not in (None, key_id):
            raise KeyStoreError(f"key id {data.get('key_id')!r} does not belong to its public key ({key_id})")
        return cls(key_id, check_key_name(str(data.get("name") or key_id)), raw, str(data.get("added", "")))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class KeyStore:
    """Your private keys and the trusted public keys, in one owner-only folder."""

    def __init__(self, root: str | os.PathLike[str] | None = None):
        self._root = Path(root) if root else None

    @property
    def root(self) -> Path:
        return self._root or user_data_dir() / "keys"

    @property
    def trust_path(self) -> Path:
        return self.root / TRUST_FILE

    # -- files -------------------------------------------------------------------------------------

    def _folder(self, path: Path) -> Path:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        with contextlib.suppress(OSError):  # not enforced on every file system (FAT, Windows ACLs)
            if stat.S_IMODE(path.stat().st_mode) != 0o700:
                os.chmod(path, 0o700)
        return path

    def _write(self, path: Path, data: dict[str, Any]) -> None:
        self._folder(self.root)
        self._folder(path.parent)
        write_json(path, data, mode=0o600)

    def _read(self, path: Path) -> dict[str, Any]:
        try:
            mode = stat.S_IMODE(path.stat().st_mode)
            if os.name == "posix" and mode & 0o077:
                log.warning("%s could be read by others (mode %o); making it owner-only", path, mode)
                os.chmod(path, 0o600)
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise KeyStoreError(f"{path}: cannot read ({exc})") from exc
        if not isinstance(data, dict):
            raise KeyStoreError(f"{path}: not a key file")
        return data

    # -- your keys ---------------------------------------------------------------------------------

    def generate(self, name: str) -> PublicKey:
        """Make a new key pair called `name`, keep the private half here and trust the public half."""
        name = check_key_name(name)
        if any(k.name.casefold() == name.casefold() for k in self.own()):
            raise KeyStoreError(f"you already have a key called {name!r}; choose another name")
        signing = SigningKey.generate()
        public = bytes(signing.verify_key)
        key = PublicKey(key_id_of(public), name, public, _now())
        self._write(
            self.root / "private" / f"{key.key_id}.json",
            {"format": PRIVATE_FORMAT, "version": 1, "name": name, "key_id": key.key_id,
             "public_key": key.text, "created": key.added,
             "private_key": base64.b64encode(bytes(signing)).decode("ascii")},
        )  # fmt: skip
        self.trust(key)
        log.info("generated signing key %s (%s)", name, key.key_id)
        return key

    def own(self) -> list[PublicKey]:
        folder = self.root / "private"
        keys = []
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            try:
                data = self._read(path)
                keys.append(PublicKey.from_json({**data, "added": data.get("created", "")}))
            except (KeyStoreError, KeyError, TypeError) as exc:
                log.warning("skipping unreadable key file %s: %s", path, exc)
        return keys

    def signing_key(self, name_or_id: str) -> tuple[SigningKey, PublicKey]:
        """Your key called `name_or_id` (its name or key id) with its private half."""
        key = _pick(self.own(), name_or_id, "of your keys")
        data = self._read(self.root / "private" / f"{key.key_id}.json")
        try:
            signing = SigningKey(base64.b64decode(data["private_key"], validate=True))
        except (KeyError, binascii.Error, ValueError, TypeError, CryptoError) as exc:
            raise KeyStoreError(f"the private key of {key.name} is damaged ({exc})") from exc
        if bytes(signing.verify_key) != key.public_key:
            raise KeyStoreError(f"the private key of {key.name} does not match its public key")
        return signing, key

    # -- trusted keys ------------------------------------------------------------------------------

    def trusted(self) -> list[PublicKey]:
        if not self.trust_path.exists():
            return []
        data = self._read(self.trust_path)
        keys = []
        for entry in data.get("keys", []) if isinstance(data.get("keys"), list) else []:
            try:
                keys.append(PublicKey.from_json(entry))
            except (KeyStoreError, KeyError, TypeError, AttributeError) as exc:
                log.warning("%s: skipping a trusted key entry (%s)", self.trust_path, exc)
        return keys

    def lookup(self, key_id: str) -> PublicKey | None:
        return next((k for k in self.trusted() if k.key_id == key_id), None)

    def trust(self, key: PublicKey, name: str | None = None) -> PublicKey:
        """Trust `key` under `name` (default: its own name); trusting it again renames it."""
        key = PublicKey(key.key_id, check_key_name(name or key.name), key.public_key, _now())
        keys = [k for k in self.trusted() if k.key_id != key.key_id] + [key]
        self._save_trusted(keys)
        return key

    def untrust(self, name_or_id: str) -> PublicKey:
        key = _pick(self.trusted(), name_or_id, "of the trusted keys")
        self._save_trusted([k for k in self.trusted() if k.key_id != key.key_id])
        return key

    def _save_trusted(self, keys: list[PublicKey]) -> None:
        self._write(self.trust_path, {"schema_version": TRUST_SCHEMA_VERSION, "keys": [k.to_json() for k in keys]})


def _pick(keys: list[PublicKey], name_or_id: str, where: str) -> PublicKey:
    wanted = name_or_id.strip().casefold()
    matches = [k for k in keys if k.key_id == wanted or k.name.casefold() == wanted]
    if not matches:
        have = ", ".join(f"{k.name} ({k.key_id})" for k in keys) or "none"
        raise KeyStoreError(f"no key {name_or_id!r} {where} (there are: {have})")
    if len(matches) > 1:
        raise KeyStoreError(f"{name_or_id!r} names several keys {where}; use the key id")
    return matches[0]


def read_public_key_file(path: str | os.PathLike[str]) -> PublicKey:
    """A public key file written by `keys generate --public-out` (or `keys list --json`'s entries)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("format", PUBLIC_FORMAT) != PUBLIC_FORMAT:
            raise ValueError("not a Texture Sorter public key file")
        return PublicKey.from_json(data)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise KeyStoreError(f"{path}: cannot read a public key ({exc})") from exc
