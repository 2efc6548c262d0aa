"""Signed packages: a round trip, the three trust states on import, tampering refused, owner-only key files."""

from __future__ import annotations

import base64
import json
import os
import stat
import zipfile

import pytest
from catalog_server import make_package

from ai.errors import PackageError
from ai.packages.exporter import ModelImporter
from ai.packages.keys import KeyStore
from ai.packages.registry import ModelRegistry
from ai.packages.signing import check_package, package_signer, sign_package


@pytest.fixture
def signed(tmp_path, model_builder, publisher):
    return make_package(tmp_path / "made", model_builder, "Wood Expert", "2.0", keys=publisher, key="Alice Modder")


def rewrite(src, dst, change=None, add=None):
    """Copy a package member by member, changing one member's bytes or adding one."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if change and info.filename in change:
                data = change[info.filename](data)
            zout.writestr(info, data)
        for name, data in (add or {}).items():
            zout.writestr(name, data)
    return dst


def test_signed_round_trip_shows_the_trusted_signer(signed, publisher):
    user = KeyStore()
    assert ModelImporter().import_model(signed)["signature"].describe().startswith("signed by an unknown key")
    user.trust(publisher.own()[0])
    result = ModelImporter().import_model(signed, replace=True)
    assert result["signature"].describe() == "signed by Alice Modder (trusted)"
    info = json.loads((result["install_dir"] / "install.json").read_text())
    assert info["signature"]["state"] == "trusted" and info["signature"]["key_id"] == publisher.own()[0].key_id
    # A user who trusts the key under another name sees that name.
    user.trust(publisher.own()[0], "Alice from the forum")
    assert check_package(signed).describe() == "signed by Alice from the forum (trusted)"


def test_the_three_trust_states_read_as_the_import_message_says(tmp_path, model_builder, signed, publisher):
    unsigned = make_package(tmp_path / "made", model_builder, "Metal Expert", "1.0")
    assert check_package(unsigned).describe() == "unsigned"
    unknown = check_package(signed)
    key = publisher.own()[0]
    assert unknown.describe() == f"signed by an unknown key ({key.key_id}, which calls itself 'Alice Modder')"
    KeyStore().trust(package_signer(signed))  # `keys trust PACKAGE`
    assert check_package(signed).describe() == "signed by Alice Modder (trusted)"
    KeyStore().untrust("alice modder")
    assert check_package(signed).state == "unknown"


@pytest.mark.parametrize(("change", "add", "message"), [
    ({"metadata.json": lambda d: d.replace(b'"description": "', b'"description": "evil ')}, None,
     r"metadata\.json was changed after the package was signed"),
    ({"categories.json": lambda d: d}, {"README.md": b"# surprise\n"}, r"README\.md was added after"),
    ({"signature.json": lambda d: d.replace(b'"signer": "Alice Modder"', b'"signer": "Bob"')}, None,
     "the signature does not verify"),
])  # fmt: skip
def test_a_tampered_package_is_refused_and_nothing_is_installed(signed, tmp_path, change, add, message):
    tampered = rewrite(signed, tmp_path / "tampered.ps2model", change, add)
    with pytest.raises(PackageError, match=message) as caught:
        ModelImporter().import_model(tampered)
    assert str(tampered) in str(caught.value)
    assert ModelRegistry().installed() == []
    models = ModelRegistry().models_dir
    assert not models.exists() or not any(models.iterdir())


def test_a_forged_signature_is_refused(signed, tmp_path):
    def forge(data):
        doc = json.loads(data)
        raw = bytearray(base64.b64decode(doc["signature"]))
        raw[0] ^= 1
        doc["signature"] = base64.b64encode(bytes(raw)).decode()
        return json.dumps(doc).encode()

    forged = rewrite(signed, tmp_path / "forged.ps2model", {"signature.json": forge})
    with pytest.raises(PackageError, match="the signature does not verify"):
        check_package(forged)


def test_signing_twice_is_refused_and_leaves_the_file_as_it_was(signed, publisher):
    before = signed.read_bytes()
    with pytest.raises(PackageError, match="signed already"):
        sign_package(signed, "Alice Modder", publisher)
    assert signed.read_bytes() == before


def test_an_unknown_signing_key_is_named(tmp_path, model_builder, publisher):
    package = make_package(tmp_path / "made", model_builder, "Wood Expert", "1.0")
    with pytest.raises(PackageError, match=r"no key 'bob' of your keys \(there are: Alice Modder"):
        sign_package(package, "bob", publisher)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_keys_are_kept_owner_only(publisher):
    keys = KeyStore()
    keys.generate("Me")
    keys.trust(publisher.own()[0])
    for folder in (keys.root, keys.root / "private"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in [keys.trust_path, *(keys.root / "private").iterdir()]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    os.chmod(keys.trust_path, 0o644)  # loosened by hand: put back on the next read
    assert [k.name for k in keys.trusted()] == ["Me", "Alice Modder"]
    assert stat.S_IMODE(keys.trust_path.stat().st_mode) == 0o600
