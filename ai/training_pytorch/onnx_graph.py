"""Editing exported ONNX models without PyTorch: metadata, a new linear head, float16 weight storage.

Used by the trainer (`ai.training_pytorch`), the model recipe and `texture-sorter train --from`.
The `onnx` package (training extra) is imported inside the functions, so this module imports on
any install; the app itself never needs it to classify.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ONNX_HINT = "the onnx package is not installed: pip install 'texture-sorter[training]'"
OUTPUT_NAMES = ("logits", "embedding")


def require_onnx():
    """The onnx module, or RuntimeError with the install instruction."""
    try:
        import onnx
    except ImportError as exc:
        raise RuntimeError(ONNX_HINT) from exc
    return onnx


def write_onnx(proto, path: Path, metadata: dict[str, str]) -> None:
    onnx = require_onnx()
    del proto.metadata_props[:]
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    proto.producer_name = "texture-sorter"
    onnx.checker.check_model(proto)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    # One file: weights stay inside the protobuf (no external .data), which is fine below 2 GB.
    tmp.write_bytes(proto.SerializeToString())
    os.replace(tmp, path)


def halve_conv_weights(path: str | os.PathLike[str]) -> Path:
    """Store a model's Conv weights as float16 (half the file), cast back to float32 in the graph.

    onnxruntime folds the Casts into float32 constants when it loads the model, so inference
    runs exactly as fast as before; outputs move by about 1e-3. Metadata and outputs are kept.
    """
    onnx = require_onnx()
    from onnx import TensorProto, helper, numpy_helper

    path = Path(path)
    proto = onnx.load(str(path))
    inits = {t.name: t for t in proto.graph.initializer}
    conv_weights = {
        n.input[1]
        for n in proto.graph.node
        if n.op_type == "Conv"
        and len(n.input) > 1
        and n.input[1] in inits
        and inits[n.input[1]].data_type == TensorProto.FLOAT
    }
    casts = []
    for name in sorted(conv_weights):
        tensor = inits[name]
        half = numpy_helper.from_array(numpy_helper.to_array(tensor).astype(np.float16), name + "_fp16")
        tensor.CopyFrom(half)
        casts.append(
            helper.make_node("Cast", [name + "_fp16"], [name], to=TensorProto.FLOAT, name=name + "_cast")
        )
    if casts:
        nodes = list(proto.graph.node)
        del proto.graph.node[:]
        proto.graph.node.extend(casts + nodes)
    metadata = {e.key: e.value for e in proto.metadata_props}
    metadata["weights"] = "conv float16"
    write_onnx(proto, path, metadata)
    return path


def read_linear_head(model_path: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray] | None:
    """(W [C, D], b [C]) when the model's logits are one Gemm on its `embedding` output, else None."""
    onnx = require_onnx()
    from onnx import numpy_helper

    proto = onnx.load(str(model_path))
    inits = {t.name: t for t in proto.graph.initializer}
    for node in proto.graph.node:
        if node.op_type == "Gemm" and OUTPUT_NAMES[0] in node.output and node.input[0] == OUTPUT_NAMES[1]:
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            if node.input[1] not in inits or len(node.input) < 3 or node.input[2] not in inits:
                return None
            weight = numpy_helper.to_array(inits[node.input[1]])
            weight = weight if attrs.get("transB", 0) else weight.T
            return weight * attrs.get("alpha", 1.0), numpy_helper.to_array(inits[node.input[2]]) * attrs.get(
                "beta", 1.0
            )
    return None


def attach_linear_head(
    base_path: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    weight: np.ndarray,
    bias: np.ndarray,
    categories: Sequence[str],
    metadata: dict[str, str],
) -> Path:
    """Copy an ONNX model that has an `embedding` output, replacing its classifier by logits = W·e + b.

    This is how `texture-sorter train --from` fine-tunes without PyTorch weights of the backbone:
    the old score path is pruned, the embedding graph is kept unchanged.
    """
    onnx = require_onnx()
    from onnx import helper, numpy_helper

    proto = onnx.load(str(base_path))
    graph = proto.graph
    if OUTPUT_NAMES[1] not in [o.name for o in graph.output]:
        raise ValueError(f"{base_path}: the model has no 'embedding' output to train a new head on")
    weight, bias = np.asarray(weight, np.float32), np.asarray(bias, np.float32)
    if weight.ndim != 2 or weight.shape[0] != len(categories) or bias.shape != (len(categories),):
        raise ValueError(f"head of shape {weight.shape} does not match {len(categories)} categories")
    merged = {p.key: p.value for p in proto.metadata_props}
    merged.update(metadata)
    keep_outputs = [o for o in graph.output if o.name == OUTPUT_NAMES[1]]
    # Prune every node only the old outputs needed (walk back from the embedding).
    producers = {out: node for node in graph.node for out in node.output}
    needed, stack = set(), [OUTPUT_NAMES[1]]
    while stack:
        name = stack.pop()
        node = producers.get(name)
        if node is None or id(node) in needed:
            continue
        needed.add(id(node))
        stack.extend(node.input)
    nodes = [n for n in graph.node if id(n) in needed]
    used = {i for n in nodes for i in n.input}
    inits = [t for t in graph.initializer if t.name in used]
    tag = "texture_sorter_head"
    inits += [numpy_helper.from_array(weight, f"{tag}.weight"), numpy_helper.from_array(bias, f"{tag}.bias")]
    nodes.append(
        helper.make_node(
            "Gemm",
            [OUTPUT_NAMES[1], f"{tag}.weight", f"{tag}.bias"],
            [OUTPUT_NAMES[0]],
            transB=1,
            name=f"{tag}.gemm",
        )
    )
    logits = helper.make_tensor_value_info(
        OUTPUT_NAMES[0], onnx.TensorProto.FLOAT, ["batch", len(categories)]
    )
    del graph.node[:]
    graph.node.extend(nodes)
    del graph.initializer[:]
    graph.initializer.extend(inits)
    del graph.output[:]
    graph.output.extend([logits, *keep_outputs])
    kept_values = {i for n in nodes for i in [*n.input, *n.output]}
    value_info = [v for v in graph.value_info if v.name in kept_values]
    del graph.value_info[:]
    graph.value_info.extend(value_info)
    path = Path(out_path)
    write_onnx(proto, path, {**merged, "categories": json.dumps(list(categories))})
    return path
