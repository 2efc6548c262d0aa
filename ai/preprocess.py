"""Image → model tensor: the one preprocessing shared by inference, training and benchmarks."""

from __future__ import annotations

import numpy as np
from PIL import Image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Transparent texels are shown to the model on mid grey, so cut-outs keep their silhouette
# without pretending the hidden RGB (often garbage in dumps) is visible.
ALPHA_BACKGROUND = 128


def to_model_rgb(rgba: np.ndarray, size: int) -> np.ndarray:
    """Resize an RGBA uint8 image to size×size (aspect squashed) and composite alpha; → uint8 HxWx3."""
    if rgba.ndim != 3 or rgba.shape[2] != 4 or rgba.dtype != np.uint8:
        raise ValueError(f"expected HxWx4 uint8, got {rgba.shape} {rgba.dtype}")
    image = Image.fromarray(rgba, "RGBA")
    if image.size != (size, size):
        image = image.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    small = np.asarray(image)
    alpha = small[:, :, 3:4]
    if alpha.min() == 255:
        return np.ascontiguousarray(small[:, :, :3])
    a = alpha.astype(np.uint16)
    rgb = (small[:, :, :3].astype(np.uint16) * a + ALPHA_BACKGROUND * (255 - a) + 127) // 255
    return rgb.astype(np.uint8)


def normalize(rgb: np.ndarray, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> np.ndarray:
    """uint8 HxWx3 (or NxHxWx3) → float32 CHW (or NCHW) standardised with mean/std."""
    x = rgb.astype(np.float32) * (1.0 / 255.0)
    x -= np.asarray(mean, dtype=np.float32)
    x /= np.asarray(std, dtype=np.float32)
    return np.ascontiguousarray(np.moveaxis(x, -1, -3))


def preprocess(rgba: np.ndarray, size: int, mean=IMAGENET_MEAN, std=IMAGENET_STD) -> np.ndarray:
    """RGBA uint8 → float32 CHW model input."""
    return normalize(to_model_rgb(rgba, size), mean, std)
