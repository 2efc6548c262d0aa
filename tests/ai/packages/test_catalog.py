"""Catalogs over a real HTTP server on 127.0.0.1: install, update, and every refusal leaves nothing installed."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from catalog_server import make_package

from ai.errors import CatalogError, PackageError
from ai.packages.catalog import parse_index
from ai.packages.library import CHECK_INTERVAL_S, ModelLibrary
from ai.packages.publish import publish
from ai.packages.registry import ModelRegistry
from ai.packages.schema import PackageLimits
from ai.paths import user_cache_dir


@pytest.fixture
def site(catalog_server, tmp_path, model_builder, publisher):
    """The server's folder as a catalog: Wood Expert 1.0 (unsigned) published; 2.0 (signed) made, not listed."""
    made = tmp_path / "made"
    one = make_package(made, model_builder, "Wood Expert", "1.0", seed=1)
    two = make_package(made, model_builder, "Wood Expert", "2.0", keys=publisher, key="Alice Modder", seed=2)
    publish(catalog_server.root, [one], name="Test catalog")
    return {"server": catalog_server, "one": one, "two": two, "publisher": publisher}


def installed() -> list[str]:
    return [r.key for r in ModelRegistry().installed()]


def leftovers() -> list[Path]:
    """Temporary files a refused download may have left (there must be none)."""
    folder = user_cache_dir() / "downloads"
    return list(folder.iterdir()) if folder.exists() else []


def rewrite_index(root: Path, change) -> None:
    path = root / "index.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    change(document)
    path.write_text(json.dumps(document), encoding="utf-8")


def test_install_from_an_http_catalog_then_update_keeps_the_old_version(site):
    server, library = site["server"], ModelLibrary()
    index = library.add(server.url())
    assert (index.name, [e.key for e in index.entries]) == ("Test catalog", ["wood-expert@1.0"])
    seen = []
    result = library.install(library.find("Wood Expert"), progress=lambda done, total: seen.append((done, total)))
    assert installed() == ["wood-expert@1.0"]
    assert result["signature"].describe() == "unsigned"
    size = site["one"].stat().st_size
    assert seen[-1] == (size, size) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert library.updates(library.statuses()) == []

    # The publisher adds a signed 2.0; the user trusts the publisher's key.
    publish(server.root, [site["two"]])
    library.trust.trust(site["publisher"].own()[0])
    updates = library.updates(library.statuses(refresh=True))
    assert [(u.installed.version, u.entry.version) for u in updates] == [("1.0", "2.0")]
    assert library.claimed_signature(updates[0].entry).describe() == "signed by Alice Modder (trusted)"
    result = library.install(updates[0].entry)
    assert result["signature"].describe() == "signed by Alice Modder (trusted)"
    assert installed() == ["wood-expert@1.0", "wood-expert@2.0"]
    assert library.updates(library.statuses()) == []
    assert leftovers() == []
    assert "/wood-expert-2.0.ps2model" in server.requests


def test_a_wrong_sha256_is_refused_and_nothing_is_installed(site):
    server, library = site["server"], ModelLibrary()
    rewrite_index(server.root, lambda d: d["packages"][0].update(sha256="0" * 64))
    library.add(server.url())
    with pytest.raises(CatalogError, match=r"wood-expert-1\.0\.ps2model: sha256 [0-9a-f]{64} differs from the catalog's"):
        library.install(library.find("wood-expert"))
    assert installed() == [] and leftovers() == []


def test_a_package_whose_signature_does_not_verify_is_refused(site, tmp_path):
    server, library = site["server"], ModelLibrary()
    # Someone changes the signed 2.0 after signing (a different description) and lists the result
    # with its own, correct sha256: the download checks pass, the signature does not.
    tampered = tmp_path / "wood-expert-2.0.ps2model"
    with zipfile.ZipFile(site["two"]) as src, zipfile.ZipFile(tampered, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "metadata.json":
                meta = json.loads(data)
                meta["description"] = "now with a miner"
                data = json.dumps(meta).encode()
            dst.writestr(info, data)
    publish_dir = server.root
    (publish_dir / "index.json").unlink()
    with pytest.raises(PackageError, match="signature does not match"):
        publish(publish_dir, [tampered])  # publishing it is refused too
    publish(publish_dir, [site["two"]])
    (publish_dir / "wood-expert-2.0.ps2model").write_bytes(tampered.read_bytes())
    import hashlib

    rewrite_index(publish_dir, lambda d: d["packages"][0].update(
        sha256=hashlib.sha256(tampered.read_bytes()).hexdigest(), size=tampered.stat().st_size))  # fmt: skip
    library.add(server.url())
    with pytest.raises(PackageError, match=r"metadata\.json was changed after the package was signed"):
        library.install(library.find("wood-expert", "2.0"))
    assert installed() == [] and leftovers() == []


def test_a_catalog_that_names_a_signer_the_package_lacks_is_refused(site):
    server, library = site["server"], ModelLibrary()
    rewrite_index(server.root, lambda d: d["packages"][0].update(key_id="0123456789abcdef"))
    library.add(server.url())
    with pytest.raises(PackageError, match=r"catalog says it is signed by key 0123456789abcdef, but the package is unsigned"):
        library.install(library.find("wood-expert"))
    assert installed() == []


@pytest.mark.parametrize("fault", ["extra", "extra-unsized"])
def test_a_download_larger_than_listed_is_refused(site, fault):
    server, library = site["server"], ModelLibrary()
    server.faults["/wood-expert-1.0.ps2model"] = (fault, 100_000)
    library.add(server.url())
    message = "offers .* bytes but the catalog lists" if fault == "extra" else "sent more than the .* bytes the catalog lists"
    with pytest.raises(CatalogError, match=message):
        library.install(library.find("wood-expert"))
    assert installed() == [] and leftovers() == []


def test_a_listed_size_over_the_package_limit_is_refused_before_downloading(site):
    server = site["server"]
    library = ModelLibrary(limits=PackageLimits(max_total_bytes=1000))
    library.add(server.url())
    with pytest.raises(CatalogError, match="packages are at most 1000"):
        library.install(library.find("wood-expert"))
    assert "/wood-expert-1.0.ps2model" not in server.requests


@pytest.mark.parametrize(("fault", "message"), [
    (("status", 500), "the server answered 500 Internal Server Error"),
    (("status", 404), "the server answered 404 Not Found"),
    (("short", 100), "the download (failed|ended after 100 of)"),
])  # fmt: skip
def test_server_errors_install_nothing_and_say_why(site, fault, message):
    server, library = site["server"], ModelLibrary()
    library.add(server.url())
    server.faults["/wood-expert-1.0.ps2model"] = fault
    with pytest.raises(CatalogError, match=message) as caught:
        library.install(library.find("wood-expert"))
    assert server.url("wood-expert-1.0.ps2model") in str(caught.value)
    assert installed() == [] and leftovers() == []


def test_a_stalled_server_times_out_and_installs_nothing(site):
    server = site["server"]
    ModelLibrary().add(server.url())
    server.faults["/wood-expert-1.0.ps2model"] = ("stall",)
    library = ModelLibrary(timeout=0.5)
    with pytest.raises(CatalogError, match=r"no answer within 0\.5 s"):
        library.install(library.find("wood-expert"))
    assert installed() == [] and leftovers() == []
    server.faults["/index.json"] = ("stall",)
    status = library.status(server.url())
    assert status.from_cache and "no answer within 0.5 s" in status.error


def test_offline_the_cached_index_is_used_and_says_so(site):
    server, library = site["server"], ModelLibrary(timeout=2)
    library.add(server.url())
    server.close()  # offline now
    [status] = library.statuses(refresh=True)
    assert status.from_cache and status.index is not None
    assert "cannot connect" in status.error and "offline copy from" in status.describe()
    entry = library.find("wood-expert")  # the list still works from the cached copy
    assert entry.version == "1.0"
    with pytest.raises(CatalogError, match="cannot connect"):
        library.install(entry)
    assert installed() == []


def test_a_catalog_that_cannot_be_read_is_not_added(catalog_server):
    library = ModelLibrary()
    with pytest.raises(CatalogError, match="answered 404"):
        library.add(catalog_server.url("missing.json"))
    (catalog_server.root / "index.json").write_text('{"catalog_version": 7, "name": "x", "packages": []}')
    with pytest.raises(CatalogError, match="catalog_version 7 is not supported"):
        library.add(catalog_server.url())
    assert library.catalogs() == []


def test_a_folder_catalog_works_without_a_server(tmp_path, model_builder):
    package = make_package(tmp_path / "made", model_builder, "Metal Expert", "1.0")
    publish(tmp_path / "shared-folder", [package], name="Team share")
    library = ModelLibrary()
    assert library.add(str(tmp_path / "shared-folder")).name == "Team share"
    library.install(library.find("metal-expert"))
    assert installed() == ["metal-expert@1.0"]


def test_publish_updates_an_index_and_skips_bad_entries_when_reading(tmp_path, model_builder):
    made = tmp_path / "made"
    folder = tmp_path / "catalog"
    publish(folder, [make_package(made, model_builder, "Wood Expert", "1.0")], name="Mine")
    index, added = publish(folder, [make_package(made, model_builder, "Metal Expert", "1.0")])
    assert index.name == "Mine" and sorted(e.key for e in index.entries) == ["metal-expert@1.0", "wood-expert@1.0"]
    document = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    assert {p["url"] for p in document["packages"]} == {"wood-expert-1.0.ps2model", "metal-expert-1.0.ps2model"}
    bad = dict(document["packages"][0], name="Evil", sha256="xyz", url="file:///etc/passwd")
    document["packages"].append(bad)
    parsed = parse_index(json.dumps(document).encode(), "https://example.invalid/index.json")
    assert len(parsed.entries) == 2
    assert "entry 3 skipped" in parsed.problems[0] and "sha256" in parsed.problems[0]
    assert "points at a local file, but the catalog is on the web" in parsed.problems[0]
    with pytest.raises(PackageError, match="not a ZIP archive"):
        (made / "broken.ps2model").write_bytes(b"not a zip")
        publish(folder, [made / "broken.ps2model"])
    assert not (folder / "broken.ps2model").exists()


def test_the_update_check_runs_at_most_once_a_day_and_can_be_turned_off(site):
    library = ModelLibrary()
    assert not library.check_due()  # no catalogs followed: nothing to check
    library.add(site["server"].url())
    assert library.check_due()
    updates, statuses = library.check_for_updates()
    assert updates == [] and statuses[0].error is None
    assert not library.check_due()
    last = json.loads(library.config_path.read_text())["update_check"]["last_checked"]
    assert library.check_due(now=last + CHECK_INTERVAL_S + 1)
    assert not library.check_due(now=last + CHECK_INTERVAL_S - 60)
    library.set_auto_check(False)
    assert not library.check_due(now=last + 10 * CHECK_INTERVAL_S)
