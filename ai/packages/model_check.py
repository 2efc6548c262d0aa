"""Checking an untrusted ONNX model: loaded and run once in a child process, under a time and a memory limit.

onnxruntime runs whatever graph it is given: a Loop of 10¹⁵ iterations never returns, and a
ConstantOfShape can ask for more memory than the computer has, and neither can be stopped from
Python once started. So the model is loaded and run by `python -m ai.packages.model_check` in a
child process: killed when `PackageLimits.check_seconds` have passed, its data segment capped at
`check_memory_bytes` plus four times the model's size (RLIMIT_DATA, on Linux), and gone as
soon as its parent is (on POSIX it watches its stdin; on Windows, where a blocking read of a pipe
in one thread stalls the others under Wine, it waits on the parent's process handle). The child loads the model twice, as onnxruntime
sees it (`inspect_model`: input shape, output width) and exactly as classification will
(`OfflineModel`: categories and preprocessing from the metadata), and reports both as JSON.
A model that passed is remembered by its sha256 for the rest of the process.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ai.errors import ModelError, PackageError
from ai.inference import OnnxInferenceSession
from ai.offline_model import OfflineModel, file_sha256
from ai.packages.schema import DEFAULT_LIMITS, MODEL_MEMBER, PackageLimits, fail

# Same choice of score output as ai.offline_model.OfflineModel.
SCORE_OUTPUTS = ("logits", "probabilities", "probs")
DEFAULT_INPUT_SIZE = 224
_PASSED: dict[str, ModelFacts] = {}  # sha256 → facts of models that passed, in this process
_PASSED_MAX = 64
WINDOWS = os.name == "nt"


@dataclass
class ModelFacts:
    """What loading and running the model once tells us."""

    width: int
    input_size: int
    score_output: str
    embedded_categories: list[str] | None
    metadata: dict[str, str]
    runtime_error: str | None = None  # why OfflineModel (what classification uses) refused it
    runtime_categories: list[str] | None = None  # the categories OfflineModel read


def check_model(
    model: Path,
    where: str | os.PathLike[str],
    label: str = MODEL_MEMBER,
    limits: PackageLimits = DEFAULT_LIMITS,
) -> ModelFacts:
    """inspect_model and the runtime load of `model`, in a child process under the limits. Raises PackageError."""
    digest = file_sha256(model)
    if digest in _PASSED:
        return _PASSED[digest]
    memory = limits.check_memory_bytes + 4 * model.stat().st_size
    cmd = [sys.executable, "-m", "ai.packages.model_check", "--where", os.fspath(where), "--label", label,
           "--memory", str(memory), "--seconds", str(limits.check_seconds), "--parent", str(os.getpid()),
           os.fspath(model)]  # fmt: skip
    # Output through pipes, read by threads: a Windows program whose stdout is a plain file fails
    # to set up its streams under Wine. On POSIX stdin stays open while we wait: the child leaves
    # as soon as it closes (we are gone).
    stdin = subprocess.DEVNULL if WINDOWS else subprocess.PIPE
    proc = subprocess.Popen(
        cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_child_env()
    )
    streams = {"out": proc.stdout, "err": proc.stderr}
    read: dict[str, bytes] = {}
    readers = [threading.Thread(target=lambda k=k, s=s: read.__setitem__(k, s.read()), daemon=True)
               for k, s in streams.items()]  # fmt: skip
    for reader in readers:
        reader.start()
    try:
        returncode = proc.wait(timeout=limits.check_seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise fail(
            where,
            f"{label} did not load and run once within {limits.check_seconds:g} s "
            "(an endless loop, or far too much work for one image)",
        ) from None
    finally:
        if proc.stdin is not None:
            with contextlib.suppress(OSError):
                proc.stdin.close()
        for reader, stream in zip(readers, streams.values(), strict=True):
            reader.join(timeout=5)
            if not reader.is_alive():
                stream.close()
    answer, stderr = read.get("out", b""), read.get("err", b"").decode("utf-8", "replace").strip()
    try:
        report = json.loads(answer)
    except ValueError:
        tail = stderr.splitlines()[-1] if stderr else "no output"
        raise fail(where, f"{label} crashed the model check (exit status {returncode}: {tail})") from None
    if "memory" in report:
        raise fail(where, f"{label} needs more than {memory / 1e6:,.0f} MB of memory to load and run once")
    if "error" in report:
        raise PackageError(report["error"])
    facts = ModelFacts(**report["facts"])
    if len(_PASSED) >= _PASSED_MAX:
        _PASSED.pop(next(iter(_PASSED)))
    _PASSED[digest] = facts
    return facts


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    if not getattr(sys, "frozen", False):  # from a source tree: the child must find this package
        root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


# -- what the child runs -------------------------------------------------------------------------


def inspect_model(model: Path, where: str | os.PathLike[str], label: str = MODEL_MEMBER) -> ModelFacts:
    """Load `model` in onnxruntime, run it once on a blank image and read its output width.

    Errors name the file `where` and call the model `label`. Running once (rather than trusting
    the declared output shape) also covers symbolic widths and models that load but cannot execute.
    Runs the model in this process: untrusted models go through check_model.
    """
    with open(model, "rb") as fh:
        head = fh.read(2)
    # Every ONNX serializer writes ir_version (field 1, varint) first: tag byte 0x08.
    if not head or head[0] != 0x08:
        hint = " (it looks like a ZIP/PyTorch checkpoint; export it to ONNX first)" if head == b"PK" else ""
        raise fail(where, f"{label} is not an ONNX model{hint}")
    try:
        session = OnnxInferenceSession(model, num_threads=1)
    except ModelError as exc:
        raise fail(where, f"{label} does not load in onnxruntime ({_reason(exc, model, label)})") from exc
    shape = session.input_shape
    if len(shape) != 4:
        raise fail(where, f"{label} takes input shaped {shape}; expected [batch, channels, height, width]")
    input_size = _input_size(session.metadata, shape, where, label)
    channels = shape[1] if isinstance(shape[1], int) and shape[1] > 0 else 3
    try:
        outputs = session.run(np.zeros((1, channels, input_size, input_size), np.float32))
    except ModelError as exc:
        raise fail(where, f"{label} fails on a {input_size}×{input_size} test image ({exc})") from exc
    score_output = next((n for n in SCORE_OUTPUTS if n in outputs), session.output_names[0])
    scores = np.asarray(outputs[score_output])
    if scores.ndim != 2 or scores.shape[0] != 1:
        raise fail(
            where,
            f"{label} output {score_output!r} has shape {list(scores.shape)}; expected [1, classes]",
        )
    return ModelFacts(
        width=int(scores.shape[1]),
        input_size=input_size,
        score_output=score_output,
        embedded_categories=_embedded_categories(session.metadata),
        metadata=dict(session.metadata),
    )


def _runtime_load(model: Path, facts: ModelFacts, label: str) -> None:
    """Load the model exactly as classification will (OfflineModel) and classify a blank image.

    onnxruntime running it is not enough: the app also needs its metadata (the categories, the
    input size, mean and std). A model that passed only inspect_model would install, become
    active and leave classification to the pixel rules.
    """
    try:
        runtime = OfflineModel(model, num_threads=1)
        runtime.predict(np.zeros((runtime.input_size, runtime.input_size, 4), np.uint8))
    except ModelError as exc:
        facts.runtime_error = _reason(exc, model, label)
        return
    facts.runtime_categories = list(runtime.categories)


def _reason(exc: BaseException, model: Path, label: str) -> str:
    return str(exc).replace(f"{model}: ", "").replace(str(model), label)


def _input_size(metadata: dict[str, str], shape: list, where, label: str) -> int:
    declared = None
    with contextlib.suppress(ValueError, TypeError):
        declared = json.loads(metadata.get("input_size", "null"))
    if isinstance(declared, list) and declared:
        declared = declared[-1]
    static = shape[-1] if isinstance(shape[-1], int) and shape[-1] > 0 else None
    if isinstance(declared, int) and declared > 0:
        if static is not None and static != declared:
            raise fail(
                where,
                f"{label} takes {static}-pixel input but its metadata says input_size {declared}",
            )
        return declared
    return static or DEFAULT_INPUT_SIZE


def _embedded_categories(metadata: dict[str, str]) -> list[str] | None:
    try:
        value = json.loads(metadata["categories"])
    except (KeyError, ValueError, TypeError):
        return None
    return value if isinstance(value, list) else None


def _limit_memory(nbytes: int) -> None:
    try:
        import resource
    except ImportError:  # Windows: the time limit still applies
        return
    kind = resource.RLIMIT_DATA if sys.platform.startswith("linux") else resource.RLIMIT_AS
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(kind, (nbytes, nbytes))


def _watch(seconds: float, parent: int | None) -> None:
    """Leave when the parent goes or the time is up, whatever onnxruntime is doing."""

    def parent_gone():
        if WINDOWS:
            _wait_for_process(parent)
        else:  # stdin closes when the parent goes
            with contextlib.suppress(OSError, ValueError):
                sys.stdin.buffer.read()
        os._exit(3)

    def deadline():
        time.sleep(seconds + 5)
        os._exit(4)

    for target in (parent_gone, deadline):
        threading.Thread(target=target, daemon=True).start()


def _wait_for_process(pid: int | None) -> None:
    """Windows: block until process `pid` has ended (at once if it is gone or unknown)."""
    if not pid:
        return
    import ctypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.OpenProcess.restype = ctypes.c_void_p
    kernel32.WaitForSingleObject.argtypes = (ctypes.c_void_p, ctypes.c_uint32)
    synchronize, infinite = 0x00100000, 0xFFFFFFFF
    handle = kernel32.OpenProcess(synchronize, False, pid)
    if handle:
        kernel32.WaitForSingleObject(handle, infinite)


def _looks_like_memory(message: str) -> bool:
    text = message.lower()
    return "bad_alloc" in text or "bad allocation" in text or "failed to allocate" in text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ai.packages.model_check")
    parser.add_argument("model")
    parser.add_argument("--where", required=True)
    parser.add_argument("--label", default=MODEL_MEMBER)
    parser.add_argument("--memory", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--parent", type=int, help="the parent's process id (watched on Windows)")
    args = parser.parse_args(argv)
    _watch(args.seconds, args.parent)
    _limit_memory(args.memory)
    model = Path(args.model)
    try:
        facts = inspect_model(model, args.where, args.label)
        _runtime_load(model, facts, args.label)
        report: dict = {"facts": asdict(facts)}
        if facts.runtime_error and _looks_like_memory(facts.runtime_error):
            report = {"memory": True}
    except PackageError as exc:
        report = {"memory": True} if _looks_like_memory(str(exc)) else {"error": str(exc)}
    except MemoryError:
        report = {"memory": True}
    sys.stdout.write(json.dumps(report) + "\n")
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
