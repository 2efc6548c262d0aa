"""Crafted hostile and broken .ps2model files: each is refused with its own message and changes nothing."""

from __future__ import annotations

import hashlib
import json
import os
import re
import struct
import warnings
import zipfile
from collections.abc import Callable
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from ai.errors import PackageError
from ai.packages.exporter import ModelExporter, ModelImporter
from ai.packages.registry import ModelRegistry

CATEGORIES = ["wood", "metal", "map/normal"]
NAME, VERSION = "Installed Model", "1.0"


class Kit:
    """A valid package's members, and ways to write damaged copies of it."""

    def __init__(self, tmp_path: Path, builder):
        self.dir = tmp_path / "packages"
        self.dir.mkdir()
        self.tmp_path = tmp_path
        self.builder = builder
        self.model = builder(tmp_path / "source.onnx", CATEGORIES)
        self.good = self.dir / "good.ps2model"
        ModelExporter().export_model(self.model, self.good, NAME, VERSION, "tester", readme="# hello\n")
        with zipfile.ZipFile(self.good) as zf:
            self.members = {name: zf.read(name) for name in zf.namelist()}

    def metadata(self) -> dict:
        return json.loads(self.members["metadata.json"])

    def write(self, name: str, entries, compression=zipfile.ZIP_DEFLATED) -> Path:
        path = self.dir / name
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # zipfile warns about the duplicate names we write on purpose
            with zipfile.ZipFile(path, "w", compression) as zf:
                for member, data in entries:
                    zf.writestr(member, data)
        return path

    def package(
        self, name: str, *, metadata=None, members=None, extra=(), compression=zipfile.ZIP_DEFLATED
    ) -> Path:
        """The good package with metadata fields changed (None deletes) and members replaced (None drops)."""
        contents = dict(self.members)
        if metadata is not None:
            meta = self.metadata()
            for key, value in metadata.items():
                if value is None:
                    meta.pop(key, None)
                else:
                    meta[key] = value
            contents["metadata.json"] = json.dumps(meta).encode()
        for member, data in (members or {}).items():
            if data is None:
                contents.pop(member, None)
            else:
                contents[member] = data
        return self.write(name, [*contents.items(), *extra], compression)

    def with_model(self, name: str, model_bytes: bytes, categories: list[str] | None = None) -> Path:
        """A package whose model.onnx is replaced, with hash, size and categories kept consistent."""
        categories = categories or CATEGORIES
        return self.package(
            name,
            metadata={
                "model_hash": hashlib.sha256(model_bytes).hexdigest(),
                "model_size": len(model_bytes),
                "categories": len(categories),
            },
            members={"model.onnx": model_bytes, "categories.json": json.dumps(categories).encode()},
        )


def central_entries(data: bytes):
    """(offset of each central-directory record, its name) read from the end-of-central-directory."""
    eocd = data.rfind(b"PK\x05\x06")
    count, _size, start = struct.unpack_from("<HII", data, eocd + 10)
    offset = start
    for _ in range(count):
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, offset + 28)
        yield offset, data[offset + 46 : offset + 46 + name_len].decode()
        offset += 46 + name_len + extra_len + comment_len


def patch_central(path: Path, member: str, field: str, value: int) -> Path:
    """Make the central directory lie about one member (size, data offset or flags)."""
    where, fmt = {"file_size": (24, "<I"), "header_offset": (42, "<I"), "flag_bits": (8, "<H")}[field]
    data = bytearray(path.read_bytes())
    for offset, name in list(central_entries(bytes(data))):
        if name == member:
            struct.pack_into(fmt, data, offset + where, value)
    path.write_bytes(bytes(data))
    return path


def member_offset(path: Path, member: str) -> int:
    with zipfile.ZipFile(path) as zf:
        return zf.getinfo(member).header_offset


def unloadable_onnx() -> bytes:
    graph = helper.make_graph(
        [helper.make_node("NoSuchOperator", ["input"], ["logits"])],
        "broken",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


# Each case: kit → (package path, regex the error must match). The regexes are all different.
Case = Callable[[Kit], tuple[Path, str]]
CASES: dict[str, Case] = {}


def case(name: str):
    def register(fn: Case) -> Case:
        CASES[name] = fn
        return fn

    return register


@case("zip slip")
def _(kit):
    return kit.package(
        "slip.ps2model", extra=[("../../../zipslip.txt", b"pwned")]
    ), "climbs out of the package"


@case("absolute path")
def _(kit):
    target = f"{kit.tmp_path.as_posix()}/absolute-escape.txt"
    return kit.package("abs.ps2model", extra=[(target, b"pwned")]), "is an absolute path"


@case("windows drive path")
def _(kit):
    return kit.package("drive.ps2model", extra=[("C:\\evil.txt", b"pwned")]), "starts with a drive letter"


@case("backslash traversal")
def _(kit):
    # zipfile itself turns backslashes into '/' on Windows, where this is the plain '..' climb.
    expected = "uses backslashes" if os.sep == "/" else "climbs out of the package"
    return kit.package("bs.ps2model", extra=[("..\\..\\evil.txt", b"x")]), expected


@case("symlink member")
def _(kit):
    link = zipfile.ZipInfo("model.onnx")
    link.create_system = 3
    link.external_attr = 0o120777 << 16
    return kit.package("link.ps2model", members={"model.onnx": None}, extra=[(link, b"/etc/passwd")]), (
        "'model.onnx' is a symbolic link"
    )


@case("folder entry named like a file")
def _(kit):
    return kit.package("dir.ps2model", extra=[("README.md/", b"")]), "is a folder; a package holds only files"


@case("unexpected member")
def _(kit):
    return kit.package("exe.ps2model", extra=[("setup.exe", b"MZ")]), "unexpected member 'setup.exe'"


@case("too many members")
def _(kit):
    count = len(kit.members) + 20
    return kit.package(
        "many.ps2model", extra=[(f"f{i}.txt", b"") for i in range(20)]
    ), f"the archive has {count} members"


@case("duplicate member names")
def _(kit):
    return kit.package("dup.ps2model", extra=[("metadata.json", b"{}")]), "duplicate member 'metadata.json'"


@case("zip bomb: compression ratio")
def _(kit):
    return kit.with_model("ratio.ps2model", b"\x08" + bytes(8 << 20)), r"compression ratio of \d+:1"


@case("zip bomb: header lies about the size")
def _(kit):
    path = kit.package(
        "lying.ps2model", metadata={"model_size": 1000}, members={"model.onnx": b"\x08" + bytes(8 << 20)}
    )
    return patch_central(
        path, "model.onnx", "file_size", 1000
    ), "inflates past its declared size of 1000 bytes"


@case("declared size over the cap")
def _(kit):
    path = kit.package("huge.ps2model", metadata={"model_size": 3_000_000_000})
    return patch_central(path, "model.onnx", "file_size", 3_000_000_000), (
        "model.onnx is 3000000000 bytes uncompressed; the limit is"
    )


@case("overlapping members")
def _(kit):
    path = kit.package("overlap.ps2model")
    return patch_central(path, "README.md", "header_offset", member_offset(path, "metadata.json")), (
        "overlaps the next member"
    )


@case("encrypted member")
def _(kit):
    return patch_central(
        kit.package("enc.ps2model"), "model.onnx", "flag_bits", 0x1
    ), "'model.onnx' is encrypted"


@case("local header names another file")
def _(kit):
    path = kit.package("spoof.ps2model")
    data = bytearray(path.read_bytes())
    start = member_offset(path, "model.onnx") + 30
    assert data[start : start + 10] == b"model.onnx"
    data[start : start + 10] = b"../../evil"
    path.write_bytes(bytes(data))
    return path, "model.onnx cannot be read"


@case("CRC mismatch")
def _(kit):
    path = kit.package("crc.ps2model", compression=zipfile.ZIP_STORED)
    data = bytearray(path.read_bytes())
    data[member_offset(path, "model.onnx") + 30 + len("model.onnx") + 40] ^= 0xFF
    path.write_bytes(bytes(data))
    return path, "CRC check failed"


@case("truncated zip")
def _(kit):
    data = kit.good.read_bytes()
    path = kit.dir / "truncated.ps2model"
    path.write_bytes(data[: len(data) // 2])
    return path, "truncated or damaged"


@case("not a zip")
def _(kit):
    path = kit.dir / "picture.ps2model"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(200))
    return path, "not a ZIP archive"


@case("missing model.onnx")
def _(kit):
    return kit.package("nomodel.ps2model", members={"model.onnx": None}), "missing model.onnx"


@case("missing metadata.json")
def _(kit):
    return kit.package("nometa.ps2model", members={"metadata.json": None}), "missing metadata.json"


@case("huge metadata.json")
def _(kit):
    return kit.package("bigmeta.ps2model", metadata={"padding": "x" * 100_000}), (
        r"metadata.json is \d+ bytes uncompressed; the limit is 65536"
    )


@case("metadata not UTF-8")
def _(kit):
    return kit.package("latin1.ps2model", members={"metadata.json": b'{"name": "caf\xe9"}'}), (
        "metadata.json is not UTF-8 text"
    )


@case("metadata invalid JSON")
def _(kit):
    return kit.package("badjson.ps2model", members={"metadata.json": b'{"name": '}), (
        r"metadata.json is not valid JSON \(line 1"
    )


@case("metadata duplicate keys")
def _(kit):
    text = b'{"name": "Shadow",' + kit.members["metadata.json"].lstrip()[1:]
    return kit.package("dupkey.ps2model", members={"metadata.json": text}), "key 'name' appears twice"


@case("categories nested too deeply")
def _(kit):
    deep = b"[" * 100_000 + b"]" * 100_000
    return kit.package("deep.ps2model", members={"categories.json": deep}), "nested too deeply"


@case("schema: missing fields and wrong types")
def _(kit):
    return (
        kit.package(
            "schema.ps2model", metadata={"name": None, "created": None, "categories": "3", "tags": "a,b"}
        ),
        "'name' is required(.|\n)*'created' is required(.|\n)*'categories' must be an integer(.|\n)*'tags' must be a list",
    )


@case("unsupported package_version")
def _(kit):
    return kit.package(
        "v2.ps2model", metadata={"package_version": "2.0"}
    ), "package_version '2.0' is not supported"


@case("min_app_version too new")
def _(kit):
    return kit.package("future.ps2model", metadata={"min_app_version": "99.0"}), (
        r"needs Texture Sorter 99\.0 or newer"
    )


@case("model_hash wrong")
def _(kit):
    return kit.package(
        "hash.ps2model", metadata={"model_hash": "0" * 64}
    ), "has sha256 [0-9a-f]{64} but metadata"


@case("model_size wrong")
def _(kit):
    size = len(kit.members["model.onnx"])
    return kit.package("size.ps2model", metadata={"model_size": size + 1}), (
        f"model.onnx is {size} bytes but metadata.json says {size + 1}"
    )


@case("categories.json disagrees with metadata")
def _(kit):
    return kit.package("cats.ps2model", members={"categories.json": json.dumps(CATEGORIES[:2]).encode()}), (
        "categories.json lists 2 categories but metadata.json says 3"
    )


@case("category escapes the sort folder")
def _(kit):
    cats = json.dumps(["wood", "../../etc", "map/normal"]).encode()
    return kit.package("unsafecat.ps2model", members={"categories.json": cats}), (
        r"category '\.\./\.\./etc' is not a safe folder path"
    )


@case("name made only of path separators")
def _(kit):
    return kit.package("slash.ps2model", metadata={"name": "/../.."}), "has no letters or digits"


@case("name with terminal control characters")
def _(kit):
    return kit.package(
        "ansi.ps2model", metadata={"name": "evil\x1b[31m"}
    ), "'name' contains control characters"


@case("name reserved for the built-in model")
def _(kit):
    return kit.package("default.ps2model", metadata={"name": "Default"}), "reserved for the built-in model"


@case("version climbs out of the install folder")
def _(kit):
    return kit.package("vslip.ps2model", metadata={"version": "../../1.0"}), "'version': version '../../1.0'"


@case("model width differs from categories")
def _(kit):
    wide = CATEGORIES + ["extra"]
    model = kit.builder(kit.tmp_path / "narrow.onnx", CATEGORIES, metadata={"categories": json.dumps(wide)})
    return kit.with_model("width.ps2model", model.read_bytes(), wide), (
        "model.onnx outputs 3 scores but there are 4 categories"
    )


@case("model.onnx is not ONNX")
def _(kit):
    return kit.with_model(
        "text.ps2model", b"this is not a neural network\n" * 20
    ), "model.onnx is not an ONNX model"


@case("ONNX that fails to load")
def _(kit):
    return kit.with_model("unloadable.ps2model", unloadable_onnx()), "model.onnx does not load in onnxruntime"


@case("model's embedded categories differ")
def _(kit):
    other = kit.builder(kit.tmp_path / "other.onnx", ["x", "y", "z"])
    return kit.with_model("relabel.ps2model", other.read_bytes()), "differ from those embedded in model.onnx"


@case("model the app cannot load: no categories in its metadata")
def _(kit):
    # categories.json names them, and onnxruntime runs it, but the app reads the categories from
    # the model's metadata: installed, it would leave classification to the pixel rules.
    model = onnx.load(kit.model)
    kept = [p for p in model.metadata_props if p.key != "categories"]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    return kit.with_model(
        "uncategorised.ps2model", model.SerializeToString()
    ), "cannot be used by Texture Sorter"


def snapshot(*roots: Path) -> dict[str, str]:
    """Every folder and file (with its sha256) under the roots."""
    state: dict[str, str] = {}
    for root in roots:
        for dirpath, _dirs, files in os.walk(root):
            state[dirpath] = "folder"
            for name in files:
                path = os.path.join(dirpath, name)
                state[path] = (
                    "link" if os.path.islink(path) else hashlib.sha256(Path(path).read_bytes()).hexdigest()
                )
    return state


@pytest.fixture
def kit(tmp_path, model_builder) -> Kit:
    return Kit(tmp_path, model_builder)


@pytest.mark.parametrize("name", list(CASES))
def test_hostile_package_is_refused_and_changes_nothing(name, kit, tmp_path, monkeypatch):
    home = Path(os.environ["TEXTURE_SORTER_HOME"])
    canary = tmp_path / "canary"
    canary.mkdir()
    (canary / "keep.txt").write_text("untouched")
    monkeypatch.chdir(canary)  # a relative extraction would land here
    registry = ModelRegistry()
    existing = ModelImporter(registry).import_model(kit.good, activate=True)
    registry_file = registry.settings_path.read_bytes()
    package, expected = CASES[name](kit)
    before = snapshot(home, tmp_path)
    neighbours = sorted(os.listdir(home.parent))

    # replace=True: even permission to overwrite the installed copy must not let a bad package in.
    with pytest.raises(PackageError) as err:
        ModelImporter(registry).import_model(package, replace=True, activate=True)

    message = str(err.value)
    assert re.search(expected, message), message
    assert str(package) in message
    assert snapshot(home, tmp_path) == before
    assert sorted(os.listdir(home.parent)) == neighbours
    assert not list((home / "data" / "models").glob(".import-*"))
    assert registry.settings_path.read_bytes() == registry_file
    assert registry.active().key == f"{existing['slug']}@{VERSION}"


def test_the_suite_has_at_least_twenty_cases_each_caught_by_its_own_check(kit):
    """No two cases are stopped by the same check: each message matches its own pattern and no other."""
    assert len(CASES) >= 20
    results = {}
    for name, build in CASES.items():
        package, pattern = build(kit)
        with pytest.raises(PackageError) as err:
            ModelImporter().import_model(package)
        results[name] = (pattern, str(err.value))
    for name, (_, message) in results.items():
        matching = {other for other, (pattern, _) in results.items() if re.search(pattern, message)}
        if os.sep != "/":
            matching -= {"zip slip", "backslash traversal"} - {name}  # the same case on Windows
        assert matching == {name}, (name, matching, message)


def test_the_unmodified_kit_package_imports(kit):
    """The crafted packages start from a valid one, so each fails only for what was changed."""
    result = ModelImporter().import_model(kit.good)
    assert (result["install_dir"] / "model.onnx").read_bytes() == kit.members["model.onnx"]
    assert result["categories"] == CATEGORIES
