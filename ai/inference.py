"""ONNX Runtime sessions: provider choice with CPU fallback, thread settings, metadata, batched runs."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ai.errors import ModelError

log = logging.getLogger(__name__)

try:  # onnxruntime is a hard dependency, but a broken install must degrade to the rule classifier
    import onnxruntime as ort
except ImportError as exc:  # pragma: no cover - exercised only on broken installs
    ort = None
    _IMPORT_ERROR: Exception | None = exc
else:
    _IMPORT_ERROR = None

# Friendly names users type (`--providers cuda,cpu`) → onnxruntime provider ids.
PROVIDER_ALIASES = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "dml": "DmlExecutionProvider",
    "directml": "DmlExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "openvino": "OpenVINOExecutionProvider",
}


def is_available() -> bool:
    """True when onnxruntime imported and can create sessions."""
    return ort is not None


def available_providers() -> list[str]:
    return list(ort.get_available_providers()) if ort is not None else []


def resolve_providers(requested: Sequence[str] | str | None) -> list[str]:
    """Turn user provider names into the installed onnxruntime providers, CPU always last.

    Unknown or uninstalled providers are dropped with a warning rather than failing the run.
    """
    if isinstance(requested, str):
        requested = [p for p in requested.split(",") if p.strip()]
    installed = available_providers()
    chosen: list[str] = []
    for name in requested or ["cpu"]:
        provider = PROVIDER_ALIASES.get(name.strip().lower(), name.strip())
        if provider in installed and provider not in chosen:
            chosen.append(provider)
        elif provider not in installed:
            log.warning("execution provider %s is not installed here (available: %s)", name, installed)
    if "CPUExecutionProvider" not in chosen:
        chosen.append("CPUExecutionProvider")
    return chosen


def default_num_threads() -> int:
    """One intra-op thread: callers get parallelism by running batches concurrently (the folder
    pipeline's workers, the server's batch workers), which measured faster on 2 cores than
    intra-op threads fighting the decoders for the same cores. A lone caller with big batches
    passes `all_cores()`."""
    return 1


def all_cores() -> int:
    return max(1, min(os.cpu_count() or 1, 8))


class OnnxInferenceSession:
    """One loaded ONNX model, safe to call from several threads.

    onnxruntime's `run` is thread-safe; the lock only guards lazy state and provider fallback.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str],
        num_threads: int | None = None,
        providers: Sequence[str] | str | None = None,
    ):
        if ort is None:
            raise ModelError(f"onnxruntime is not available: {_IMPORT_ERROR}")
        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise ModelError(f"{self.model_path}: model file not found")
        self.num_threads = num_threads or default_num_threads()
        self._lock = threading.RLock()
        self.providers = resolve_providers(providers)
        self._session = self._create(self.providers)
        meta = self._session.get_modelmeta()
        self.metadata: dict[str, str] = dict(meta.custom_metadata_map or {})
        first = self._session.get_inputs()[0]
        self.input_name: str = first.name
        self.input_shape: list = list(first.shape)
        self.output_names: list[str] = [o.name for o in self._session.get_outputs()]
        self.output_shapes: dict[str, list] = {o.name: list(o.shape) for o in self._session.get_outputs()}

    def _options(self) -> ort.SessionOptions:
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = self.num_threads
        # One model call at a time per batch: inter-op parallelism only adds thread churn for these nets.
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.log_severity_level = 3
        # Idle onnxruntime threads must not spin: on small machines they steal the decode threads' cores.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return opts

    def _create(self, providers: list[str]) -> ort.InferenceSession:
        try:
            return ort.InferenceSession(
                str(self.model_path), sess_options=self._options(), providers=providers
            )
        except Exception as exc:  # onnxruntime raises its own Fail/InvalidGraph types
            if providers != ["CPUExecutionProvider"]:
                # onnxruntime's advice: one fallback to CPU when an accelerator provider fails.
                log.warning(
                    "providers %s failed for %s (%s); falling back to CPU", providers, self.model_path, exc
                )
                self.providers = ["CPUExecutionProvider"]
                return self._create(self.providers)
            raise ModelError(f"{self.model_path}: not a loadable ONNX model ({_short(exc)})") from exc

    @property
    def active_providers(self) -> list[str]:
        return list(self._session.get_providers())

    def run(self, batch: np.ndarray, output_names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
        """Run one batch (NCHW float32) and return every requested output by name."""
        names = list(output_names) if output_names else self.output_names
        try:
            outputs = self._session.run(names, {self.input_name: batch})
        except Exception as exc:
            raise ModelError(f"{self.model_path.name}: inference failed ({_short(exc)})") from exc
        return dict(zip(names, outputs, strict=True))


def run_batch_inference(
    session: OnnxInferenceSession, tensors: Sequence[np.ndarray] | np.ndarray, batch_size: int = 32
) -> dict[str, np.ndarray]:
    """Run any number of CHW tensors through `session` in batches; outputs concatenated in order."""
    if isinstance(tensors, np.ndarray) and tensors.ndim == 4:
        stacked = tensors
    else:
        stacked = np.stack(list(tensors)) if len(tensors) else None
    if stacked is None:
        return {name: np.empty((0,), np.float32) for name in session.output_names}
    parts: dict[str, list[np.ndarray]] = {}
    for start in range(0, len(stacked), batch_size):
        out = session.run(np.ascontiguousarray(stacked[start : start + batch_size], dtype=np.float32))
        for name, value in out.items():
            parts.setdefault(name, []).append(value)
    return {name: np.concatenate(values) for name, values in parts.items()}


def _short(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
