"""torch itself (imported on first use), folder datasets and the two network shapes the trainer builds."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ai.textures.preprocess import normalize, to_model_rgb
from ai.training_pytorch.data import augment_rgba, load_rgba

INSTALL_HINT = "PyTorch is not installed: pip install 'texture-sorter[training]'"


def is_pytorch_available() -> bool:
    """True when torch can be imported (the training extra is installed)."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def require_torch():
    """The torch module, or RuntimeError with the install instruction."""
    try:
        import torch
    except ImportError as exc:
        raise RuntimeError(INSTALL_HINT) from exc
    return torch


def make_folder_dataset(
    samples: Sequence[tuple[Path, int]], input_size: int, augment: bool = False, seed: int = 0
):
    """torch Dataset of (CHW float tensor, class index) decoded with load_texture + ai.textures.preprocess."""
    torch = require_torch()

    class TextureFolderDataset(torch.utils.data.Dataset):
        def __init__(self):
            self.samples = list(samples)
            self.rng = np.random.default_rng(seed)
            self.cache: dict[int, np.ndarray] = {}

        def __len__(self):
            return len(self.samples)

        def __getitem__(self, index):
            rgba = self.cache.get(index)
            if rgba is None:
                # Decoding dominates; small datasets are kept decoded (at ≤ 2× the input size).
                rgba = load_rgba(self.samples[index][0], max_side=max(2 * input_size, 64))
                if len(self.cache) < 20000:
                    self.cache[index] = rgba
            if augment:
                rgba = augment_rgba(rgba, self.rng)
            x = normalize(to_model_rgb(rgba, input_size))
            return torch.from_numpy(x), int(self.samples[index][1])

    return TextureFolderDataset()


def build_classifier(backbone, feature_dim: int, num_classes: int):
    """backbone ([N, D] features) + L2 normalisation + linear head → model returning (logits, embedding)."""
    torch = require_torch()
    nn = torch.nn

    class EmbeddingClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.backbone = backbone
            self.head = nn.Linear(feature_dim, num_classes)

        def forward(self, x):
            embedding = nn.functional.normalize(self.backbone(x), dim=1, eps=1e-6)
            return self.head(embedding), embedding

    return EmbeddingClassifier()


def create_small_cnn(num_classes: int, width: int = 32):
    """A small CNN trained from scratch (no pretrained weights needed): ~0.5 M parameters at width 32."""
    torch = require_torch()
    nn = torch.nn

    def block(cin, cout):
        return nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
            nn.Conv2d(cout, cout, 3, padding=1, groups=cout, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )

    widths = [width, width * 2, width * 4, width * 8]
    layers, cin = [], 3
    for cout in widths:
        layers.append(block(cin, cout))
        cin = cout
    backbone = nn.Sequential(
        *layers, nn.Conv2d(cin, cin * 2, 1), nn.ReLU(inplace=True), nn.AdaptiveAvgPool2d(1), nn.Flatten()
    )
    return build_classifier(backbone, cin * 2, num_classes)
