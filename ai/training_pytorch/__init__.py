"""Training your own models with PyTorch (optional): datasets, networks, trainer, ONNX export.

torch (and onnx) are imported inside the functions that need them, so this package imports on
installs without the `training` extra; every torch entry point then raises RuntimeError with the
install instruction. Everything a model sees goes through `ai.textures.preprocess`, exactly as at
inference. Models trained here return `(logits, embedding)`, where `embedding` is the L2-normalised
input of the final linear layer; that is also how exported models name their two outputs.

Modules: nets (torch, datasets, network shapes), trainer (`PyTorchTrainer`, linear heads), export
(`export_to_onnx`), workflows (what `texture-sorter train` runs), data (augmentation and folder
scanning without torch), onnx_graph (editing ONNX files without torch). The names below are the
seed document's public API: `from ai.training_pytorch import is_pytorch_available, PyTorchTrainer,
export_to_onnx`.
"""

from ai.training_pytorch.data import augment_rgba, load_rgba, scan_image_folders
from ai.training_pytorch.export import INPUT_NAME, ONNX_OPSET, export_to_onnx
from ai.training_pytorch.nets import (
    INSTALL_HINT,
    build_classifier,
    create_small_cnn,
    is_pytorch_available,
    make_folder_dataset,
    require_torch,
)
from ai.training_pytorch.onnx_graph import (
    ONNX_HINT,
    OUTPUT_NAMES,
    attach_linear_head,
    halve_conv_weights,
    read_linear_head,
    require_onnx,
    write_onnx,
)
from ai.training_pytorch.trainer import PyTorchTrainer, export_checkpoint, train_linear_head
from ai.training_pytorch.workflows import fine_tune_from_onnx, train_from_scratch

__all__ = [
    "INPUT_NAME",
    "INSTALL_HINT",
    "ONNX_HINT",
    "ONNX_OPSET",
    "OUTPUT_NAMES",
    "PyTorchTrainer",
    "attach_linear_head",
    "augment_rgba",
    "build_classifier",
    "create_small_cnn",
    "export_checkpoint",
    "export_to_onnx",
    "fine_tune_from_onnx",
    "halve_conv_weights",
    "is_pytorch_available",
    "load_rgba",
    "make_folder_dataset",
    "read_linear_head",
    "require_onnx",
    "require_torch",
    "scan_image_folders",
    "train_from_scratch",
    "train_linear_head",
    "write_onnx",
]
