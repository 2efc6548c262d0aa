"""Signed `.ps2model` packages: the signature.json member, signing a package, and checking one on import.

signature.json (signature version 1):

    {"format": "texture-sorter-signature", "version": 1, "algorithm": "ed25519",
     "key_id": "<16 hex>", "signer": "<name the signer gave the key>",
     "public_key": "ed25519:<base64>",
     "manifest": {"model.onnx": "<sha256 hex>", "metadata.json": "...", "categories.json": "...", ...},
     "signature": "<base64 of 64 bytes>"}

The signature is Ed25519 over the canonical JSON (sorted keys, no spaces, UTF-8) of the same object
without `public_key` and `signature`. The manifest lists every other member of the package with its
sha256, so changing, adding or removing any member breaks it. The public key travels with the
package so that a signature by a key you have not trusted can still be checked (and the key
trusted from the package: `keys trust PACKAGE`); "trusted" means the key id is in your trust
store with this very public key. A signature that does not verify is refused; an unsigned
package or one signed by an unknown key installs, and the import says which it is.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import logging
import os
import shutil
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import SigningKey, VerifyKey

from ai.offline_model import file_sha256
from ai.packages.keys import (
    KeyStore,
    KeyStoreError,
    PublicKey,
    decode_public_key,
    encode_public_key,
    key_id_of,
)
from ai.packages.schema import (
    CONTROL_CHARS,
    DEFAULT_LIMITS,
    SIGNATURE_MEMBER,
    PackageLimits,
    fail,
    parse_json,
)
from ai.packages.validation import PackageContents, open_archive, read_member, read_package, stream_member

log = logging.getLogger(__name__)

SIGNATURE_FORMAT = "texture-sorter-signature"
SIGNATURE_VERSION = 1
TRUSTED, UNKNOWN, UNSIGNED = "trusted", "unknown", "unsigned"
_HEX64 = frozenset("0123456789abcdef")


@dataclass(frozen=True)
class SignatureCheck:
    """What a package's signature says: trusted, unknown key, or unsigned (bad ones are refused)."""

    state: str
    key_id: str | None = None
    name: str | None = None  # the trusted key's name, or the name an unknown signer claims
    signature: str | None = None

    def describe(self) -> str:
        if self.state == TRUSTED:
            return f"signed by {self.name} (trusted)"
        if self.state == UNKNOWN:
            return f"signed by an unknown key ({self.key_id}, which calls itself {self.name!r})"
        return "unsigned"

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "key_id": self.key_id, "name": self.name, "text": self.describe()}


def signed_payload(key_id: str, signer: str, manifest: dict[str, str]) -> bytes:
    body = {"format": SIGNATURE_FORMAT, "version": SIGNATURE_VERSION, "algorithm": "ed25519",
            "key_id": key_id, "signer": signer, "manifest": manifest}  # fmt: skip
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def make_signature(manifest: dict[str, str], signing: SigningKey, key: PublicKey) -> dict[str, Any]:
    payload = signed_payload(key.key_id, key.name, manifest)
    return {
        "format": SIGNATURE_FORMAT, "version": SIGNATURE_VERSION, "algorithm": "ed25519",
        "key_id": key.key_id, "signer": key.name, "public_key": key.text, "manifest": manifest,
        "signature": base64.b64encode(signing.sign(payload).signature).decode("ascii"),
    }  # fmt: skip


def parse_signature(raw: bytes, where: str | os.PathLike[str]) -> dict[str, Any]:
    """signature.json's object with every field checked; raises one PackageError listing the problems."""
    doc = parse_json(raw, SIGNATURE_MEMBER, where)
    if not isinstance(doc, dict):
        raise fail(where, f"{SIGNATURE_MEMBER} must hold a JSON object")
    if doc.get("format") != SIGNATURE_FORMAT or doc.get("version") != SIGNATURE_VERSION:
        raise fail(where, f"{SIGNATURE_MEMBER} is not a version {SIGNATURE_VERSION} package signature")
    problems = []
    if doc.get("algorithm") != "ed25519":
        problems.append(f"algorithm {doc.get('algorithm')!r} is not supported (only ed25519)")
    signer = doc.get("signer")
    if not isinstance(signer, str) or not 0 < len(signer) <= 100 or CONTROL_CHARS.search(signer):
        problems.append("'signer' must be a name of 1–100 printable characters")
    manifest = doc.get("manifest")
    if not isinstance(manifest, dict) or not manifest or not all(
        isinstance(k, str) and isinstance(v, str) and len(v) == 64 and set(v) <= _HEX64 for k, v in manifest.items()
    ):
        problems.append("'manifest' must map member names to sha256 hex digests")
    try:
        public = decode_public_key(str(doc.get("public_key", "")))
        if doc.get("key_id") != key_id_of(public):
            problems.append("'key_id' does not belong to 'public_key'")
        doc["_public"] = public
    except KeyStoreError as exc:
        problems.append(f"'public_key': {exc}")
    try:
        doc["_signature"] = base64.b64decode(str(doc.get("signature", "")), validate=True)
        if len(doc["_signature"]) != 64:
            problems.append("'signature' must be 64 bytes")
    except (binascii.Error, ValueError):
        problems.append("'signature' is not base64")
    if problems:
        raise fail(where, f"{SIGNATURE_MEMBER} is invalid", problems)
    return doc


def verify_signature(
    doc: dict[str, Any], hashes: dict[str, str], trust: KeyStore | None, where: str | os.PathLike[str]
) -> SignatureCheck:
    """Check a parsed signature against the members' actual sha256; raises PackageError when it fails.

    Without a trust store every valid signature is by an "unknown" key.
    """
    manifest = doc["manifest"]
    problems = [f"{name} was added after the package was signed" for name in sorted(set(hashes) - set(manifest))]
    problems += [f"{name} was removed after the package was signed" for name in sorted(set(manifest) - set(hashes))]
    problems += [
        f"{name} was changed after the package was signed (sha256 {hashes[name][:12]}…, signed {manifest[name][:12]}…)"
        for name in sorted(set(manifest) & set(hashes))
        if hashes[name] != manifest[name]
    ]
    if problems:
        raise fail(where, "the signature does not match the package's contents", problems)
    try:
        VerifyKey(doc["_public"]).verify(signed_payload(doc["key_id"], doc["signer"], manifest), doc["_signature"])
    except BadSignatureError as exc:
        raise fail(where, "the signature does not verify (the package or its signature was altered)") from exc
    trusted = trust.lookup(doc["key_id"]) if trust is not None else None
    if trusted is not None and trusted.public_key == doc["_public"]:
        return SignatureCheck(TRUSTED, trusted.key_id, trusted.name, doc["signature"])
    return SignatureCheck(UNKNOWN, doc["key_id"], doc["signer"], doc["signature"])


def zip_member_hashes(zf: zipfile.ZipFile, contents: PackageContents, limits: PackageLimits) -> dict[str, str]:
    """sha256 of every member but the signature, streamed through the importer's capped reader."""
    hashes = {}
    for name, info in contents.members.items():
        if name == SIGNATURE_MEMBER:
            continue
        digest = hashlib.sha256()
        stream_member(zf, info, limits.member_cap(name), digest.update, contents.path)
        hashes[name] = digest.hexdigest()
    return hashes


def folder_member_hashes(folder: Path, names: Iterable[str]) -> dict[str, str]:
    return {name: file_sha256(folder / name) for name in names if name != SIGNATURE_MEMBER}


def check_staged(staging: Path, contents: PackageContents, trust: KeyStore | None = None) -> SignatureCheck:
    """The importer's check, on the members it has just extracted into `staging`."""
    if SIGNATURE_MEMBER not in contents.members:
        return SignatureCheck(UNSIGNED)
    doc = parse_signature((staging / SIGNATURE_MEMBER).read_bytes(), contents.path)
    hashes = folder_member_hashes(staging, contents.members)
    return verify_signature(doc, hashes, trust or KeyStore(), contents.path)


def _check_file(
    path: Path, trust: KeyStore | None, limits: PackageLimits
) -> tuple[SignatureCheck, dict[str, Any] | None]:
    with open_archive(path, limits) as zf:
        contents = read_package(zf, path, limits)
        if SIGNATURE_MEMBER not in contents.members:
            return SignatureCheck(UNSIGNED), None
        doc = parse_signature(read_member(zf, contents.members[SIGNATURE_MEMBER], limits, path), path)
        return verify_signature(doc, zip_member_hashes(zf, contents, limits), trust, path), doc


def check_package(
    path: str | os.PathLike[str], trust: KeyStore | None = None, limits: PackageLimits = DEFAULT_LIMITS
) -> SignatureCheck:
    """Validate a package file and check its signature against your trust store; installs nothing."""
    return _check_file(Path(path), trust or KeyStore(), limits)[0]


def package_signer(path: str | os.PathLike[str], limits: PackageLimits = DEFAULT_LIMITS) -> PublicKey:
    """The public key that signed a package (its signature checked first), for `keys trust PACKAGE`."""
    check, doc = _check_file(Path(path), None, limits)
    if doc is None:
        raise fail(path, "the package is not signed, so it names no key to trust")
    return PublicKey(doc["key_id"], doc["signer"], doc["_public"])


def sign_package(
    path: str | os.PathLike[str], key: str, keys: KeyStore | None = None, limits: PackageLimits = DEFAULT_LIMITS
) -> SignatureCheck:
    """Add signature.json to a package with your key `key` (name or id); the file is replaced atomically."""
    path = Path(path)
    keys = keys or KeyStore()
    signing, public = keys.signing_key(key)
    with open_archive(path, limits) as zf:
        contents = read_package(zf, path, limits)
        if SIGNATURE_MEMBER in contents.members:
            raise fail(path, "the package is signed already; export it again to sign it with another key")
        manifest = zip_member_hashes(zf, contents, limits)
    document = make_signature(manifest, signing, public)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        shutil.copyfile(path, tmp)
        with zipfile.ZipFile(tmp, "a") as zf:
            info = zipfile.ZipInfo(SIGNATURE_MEMBER, date_time=datetime.now().timetuple()[:6])
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            zf.writestr(info, json.dumps(document, indent=2).encode("utf-8"))
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        check = check_package(tmp, keys, limits)  # read back as an importer will
        if check.key_id != public.key_id:
            raise fail(path, "the signed package does not verify; nothing was changed")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    log.info("signed %s with %s (%s)", path, public.name, public.key_id)
    return SignatureCheck(check.state, public.key_id, public.name, document["signature"])


__all__ = [
    "SignatureCheck", "TRUSTED", "UNKNOWN", "UNSIGNED", "check_package", "check_staged",
    "encode_public_key", "package_signer", "sign_package",
]  # fmt: skip
