"""Models that hang or exhaust memory: checked in a child process under limits; killed imports clean up.

The packages are valid but for their model.onnx: a Loop of 10¹⁵ iterations (never returns) or
a 2 GiB ConstantOfShape. Imports that could hang run in a child process of the test, so that
a regression fails the test instead of hanging it.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from onnx import TensorProto, helper

from ai.errors import PackageError
from ai.packages.exporter import ModelExporter, ModelImporter
from ai.packages.registry import ModelRegistry, active_model_path
from ai.packages.schema import PackageLimits

ROOT = Path(__file__).resolve().parents[3]
CATEGORIES = ["wood", "metal", "sky"]
linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; RLIMIT_DATA")


def _scalar(name: str, kind: int, value) -> object:
    return helper.make_node("Constant", [], [name], value=helper.make_tensor(name, kind, [], [value]))


def _model(extra_nodes: list, factor: str) -> bytes:
    """input → mean colour → logits × `factor` (a scalar the extra nodes compute), with app metadata."""
    nodes = [
        *extra_nodes,
        helper.make_node("GlobalAveragePool", ["input"], ["pooled"]),
        helper.make_node("Flatten", ["pooled"], ["flat"]),
        helper.make_node("Mul", ["flat", factor], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "hostile",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 32, 32])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    helper.set_model_props(model, {"categories": json.dumps(CATEGORIES), "input_size": "32"})
    return model.SerializeToString()


def endless_model() -> bytes:
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Add", ["acc_in", "one"], ["acc_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_in", TensorProto.FLOAT, []),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("acc_out", TensorProto.FLOAT, []),
        ],
        [helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])],
    )
    loop = [
        _scalar("trips", TensorProto.INT64, 10**15),
        _scalar("go", TensorProto.BOOL, True),
        _scalar("zero", TensorProto.FLOAT, 0.0),
        helper.make_node("Loop", ["trips", "go", "zero"], ["total"], body=body),
    ]
    return _model(loop, "total")


def greedy_model() -> bytes:
    """Asks for 2 GiB of float32 at run time (a 2^29-element tensor), then sums it."""
    size = helper.make_tensor("size", TensorProto.INT64, [1], [1 << 29])
    nodes = [
        helper.make_node("Constant", [], ["shape"], value=size),
        helper.make_node(
            "ConstantOfShape",
            ["shape"],
            ["big"],
            value=helper.make_tensor("v", TensorProto.FLOAT, [1], [1.0]),
        ),
        helper.make_node("ReduceSum", ["big"], ["total"], keepdims=0),
    ]
    return _model(nodes, "total")


def package_with(tmp_path: Path, model_builder, name: str, model_bytes: bytes) -> Path:
    """A valid package of a tiny model, then its model.onnx swapped (hash and size kept consistent)."""
    good = tmp_path / "good.ps2model"
    if not good.exists():
        ModelExporter().export_model(
            model_builder(tmp_path / "good.onnx", CATEGORIES), good, "Hostile", "1.0"
        )
    with zipfile.ZipFile(good) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    meta = json.loads(members["metadata.json"])
    meta.update(model_hash=hashlib.sha256(model_bytes).hexdigest(), model_size=len(model_bytes))
    members.update({"model.onnx": model_bytes, "metadata.json": json.dumps(meta).encode()})
    path = tmp_path / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    return path


_IMPORT = """
import sys
from ai.errors import PackageError
from ai.packages.exporter import ModelImporter
from ai.packages.schema import PackageLimits
try:
    ModelImporter(limits=PackageLimits(check_seconds=float(sys.argv[2]))).import_model(sys.argv[1])
    print("installed")
except PackageError as exc:
    print("refused:", exc)
"""


def _import_in_child(package: Path, seconds: float, **popen) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-c", _IMPORT, str(package), str(seconds)]
    return subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, **popen
    )


def _checkers(models_dir: Path) -> list[int]:
    """Processes checking a model under `models_dir` (found by their command lines)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().decode("utf-8", "replace")
        except OSError:
            continue
        if "ai.packages.model_check" in cmdline and str(models_dir) in cmdline:
            found.append(int(entry.name))
    return found


def _models_dir() -> Path:
    return ModelRegistry().models_dir


@linux_only
def test_a_model_that_never_finishes_is_refused_within_the_time_limit(tmp_path, model_builder):
    package = package_with(tmp_path, model_builder, "endless.ps2model", endless_model())
    proc = _import_in_child(package, 3)
    out, _ = proc.communicate(timeout=120)  # before the limit existed, this import never returned
    assert "refused:" in out and "did not load and run once within 3 s" in out, out
    assert str(package) in out
    assert not _checkers(_models_dir())  # the checker was killed, not left running
    assert not list(_models_dir().glob(".import-*"))


@linux_only
def test_a_model_that_needs_too_much_memory_is_refused(tmp_path, model_builder):
    package = package_with(tmp_path, model_builder, "greedy.ps2model", greedy_model())
    limits = PackageLimits(check_memory_bytes=256 << 20)  # plus 4× the model's few hundred bytes
    with pytest.raises(PackageError, match="needs more than 268 MB of memory to load and run once"):
        ModelImporter(limits=limits).import_model(package)
    assert ModelRegistry().installed() == []


@linux_only
def test_a_killed_import_stops_its_checker_and_its_folder_goes_at_the_next_start(tmp_path, model_builder):
    package = package_with(tmp_path, model_builder, "endless.ps2model", endless_model())
    proc = _import_in_child(package, 600)
    try:
        deadline = time.monotonic() + 120
        while not _checkers(_models_dir()) and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        checkers = _checkers(_models_dir())
        assert checkers, "no model check started"
        assert list(_models_dir().glob(".import-*"))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
    deadline = time.monotonic() + 60
    while _checkers(_models_dir()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _checkers(_models_dir())  # it noticed its parent was gone
    assert list(_models_dir().glob(".import-*"))  # left behind by the kill ...
    active_model_path()  # ... until the next start
    assert not list(_models_dir().glob(".import-*"))


@pytest.mark.skipif(os.name != "posix", reason="the owner of a folder is asked on POSIX; Windows goes by age")
def test_only_stale_import_folders_are_removed_at_the_next_start(tmp_path):
    models = _models_dir()
    models.mkdir(parents=True)
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead_pid = int(ended.stdout)
    killed = models / f".import-{dead_pid}-k1ll3d"  # its process is gone
    legacy = models / ".import-q8w7e6r5"  # an old-style name, two hours old
    running = models / f".import-{os.getpid()}-busy"  # a live import's folder
    for folder in (killed, legacy, running):
        folder.mkdir()
        (folder / "model.onnx").write_bytes(b"partial")
    two_hours_ago = time.time() - 7200
    os.utime(legacy, (two_hours_ago, two_hours_ago))
    active_model_path()
    assert [p.name for p in models.iterdir()] == [running.name]
