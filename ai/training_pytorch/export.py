"""ONNX export of a trained model: one self-contained file with `logits`, `embedding` and metadata."""

from __future__ import annotations

import copy
import io
import json
import os
import warnings
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from ai.textures.preprocess import IMAGENET_MEAN, IMAGENET_STD
from ai.training_pytorch.nets import require_torch
from ai.training_pytorch.onnx_graph import OUTPUT_NAMES, require_onnx, write_onnx

INPUT_NAME = "input"
ONNX_OPSET = 17


def export_to_onnx(
    model,
    path: str | os.PathLike[str],
    categories: Sequence[str],
    input_size: int,
    mean: Sequence[float] = IMAGENET_MEAN,
    std: Sequence[float] = IMAGENET_STD,
    version: str = "1.0",
    description: str = "",
    training_data: str | dict = "",
    name: str | None = None,
    extra_metadata: dict | None = None,
) -> Path:
    """Write `model` as one self-contained .onnx: input NCHW (dynamic batch), outputs logits + embedding.

    `metadata_props` carry what `OfflineModel` needs (categories, input_size, mean, std) and the
    model card essentials (version, description, created, training_data).
    """
    torch = require_torch()
    onnx = require_onnx()
    path = Path(path)
    model = copy.deepcopy(model).cpu().eval()
    dummy = torch.zeros(1, 3, input_size, input_size)
    with torch.no_grad():
        out = model(dummy)
    outputs = list(OUTPUT_NAMES) if isinstance(out, (tuple, list)) else [OUTPUT_NAMES[0]]
    logits = out[0] if isinstance(out, (tuple, list)) else out
    if logits.shape[-1] != len(categories):
        raise ValueError(
            f"the model outputs {logits.shape[-1]} scores but {len(categories)} categories were given"
        )
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # torch 2.9+ warns that the TorchScript exporter is legacy; the new one needs onnxscript,
        # which the training extra does not pull in. The legacy exporter is what we rely on here.
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        # Tracing Python-side shape checks (e.g. in MultiheadAttention) warns that they are constants.
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        torch.onnx.export(
            model,
            (dummy,),
            buffer,
            input_names=[INPUT_NAME],
            output_names=outputs,
            dynamic_axes={n: {0: "batch"} for n in [INPUT_NAME, *outputs]},
            opset_version=ONNX_OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
    proto = onnx.load_from_string(buffer.getvalue())
    metadata = {
        "name": name or path.stem,
        "categories": json.dumps(list(categories)),
        "input_size": json.dumps(int(input_size)),
        "mean": json.dumps([float(v) for v in mean]),
        "std": json.dumps([float(v) for v in std]),
        "version": str(version),
        "description": description,
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "training_data": training_data if isinstance(training_data, str) else json.dumps(training_data),
        "output": "logits",
        **{k: v if isinstance(v, str) else json.dumps(v) for k, v in (extra_metadata or {}).items()},
    }
    write_onnx(proto, path, metadata)
    return path
