"""The classifier users would otherwise run, for side-by-side benchmarks: CLIP ViT-B/32's image encoder.

The tool this project replaces classifies each texture with CLIP ViT-B/32 in PyTorch, one image at
a time: CLIP's preprocessing (shorter side to 224 bicubic, centre crop, CLIP mean/std), the image
encoder (patch 32, width 768, 12 layers, 12 heads, QuickGELU, pre-norm), and a zero-shot head
(cosine similarity with one text embedding per category, scaled by 100). The architecture here is
that one; the weights are random (no model hub is reachable, and speed does not depend on them).

`build_clip_vit_image_classifier` makes the torch module (returns `(logits, embedding)` like our
own models, so `export_to_onnx` can write it for `bench --compare`); `upstream_files_per_s`
measures the upstream way: eager PyTorch, batch 1.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ai.training_pytorch.nets import require_torch

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)


@dataclass(frozen=True)
class VitConfig:
    """CLIP ViT-B/32's visual tower by default; smaller values make test-sized models of the same shape."""

    image_size: int = 224
    patch: int = 32
    width: int = 768
    layers: int = 12
    heads: int = 12
    embed_dim: int = 512


def build_clip_vit_image_classifier(num_categories: int, config: VitConfig | None = None, seed: int = 0):
    """A torch module: NCHW image (CLIP-normalised) → (zero-shot logits [N, C], image embedding [N, D])."""
    torch = require_torch()
    nn = torch.nn
    torch.manual_seed(seed)
    cfg = config or VitConfig()

    class QuickGELU(nn.Module):
        def forward(self, x):
            return x * torch.sigmoid(1.702 * x)

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1 = nn.LayerNorm(cfg.width)
            self.attn = nn.MultiheadAttention(cfg.width, cfg.heads)
            self.ln_2 = nn.LayerNorm(cfg.width)
            self.mlp = nn.Sequential(
                nn.Linear(cfg.width, cfg.width * 4), QuickGELU(), nn.Linear(cfg.width * 4, cfg.width)
            )

        def forward(self, x):
            y = self.ln_1(x)
            x = x + self.attn(y, y, y, need_weights=False)[0]
            return x + self.mlp(self.ln_2(x))

    class ClipVisionClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            scale = cfg.width**-0.5
            grid = cfg.image_size // cfg.patch
            self.conv1 = nn.Conv2d(3, cfg.width, cfg.patch, stride=cfg.patch, bias=False)
            self.class_embedding = nn.Parameter(scale * torch.randn(cfg.width))
            self.positional_embedding = nn.Parameter(scale * torch.randn(grid * grid + 1, cfg.width))
            self.ln_pre = nn.LayerNorm(cfg.width)
            self.blocks = nn.Sequential(*[Block() for _ in range(cfg.layers)])
            self.ln_post = nn.LayerNorm(cfg.width)
            self.proj = nn.Parameter(scale * torch.randn(cfg.width, cfg.embed_dim))
            # The category prompts' text embeddings, computed once by the upstream tool.
            text = torch.randn(num_categories, cfg.embed_dim)
            self.register_buffer("text_embeddings", text / text.norm(dim=1, keepdim=True))

        def forward(self, x):
            x = self.conv1(x).flatten(2).transpose(1, 2)  # [N, grid², width]
            cls = self.class_embedding.expand(x.shape[0], 1, -1)
            x = self.ln_pre(torch.cat([cls, x], dim=1) + self.positional_embedding)
            x = self.blocks(x.transpose(0, 1)).transpose(0, 1)  # MultiheadAttention is sequence-first
            image = self.ln_post(x[:, 0]) @ self.proj
            image = image / image.norm(dim=1, keepdim=True)
            return 100.0 * image @ self.text_embeddings.t(), image

    return ClipVisionClassifier().eval()


def clip_preprocess(rgba: np.ndarray, size: int = 224) -> np.ndarray:
    """CLIP's preprocessing of one image: shorter side to `size` (bicubic), centre crop, mean/std → CHW."""
    image = Image.fromarray(np.ascontiguousarray(rgba[..., :3]), "RGB")
    w, h = image.size
    scale = size / min(w, h)
    image = image.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.Resampling.BICUBIC)
    left, top = (image.width - size) // 2, (image.height - size) // 2
    rgb = np.asarray(image.crop((left, top, left + size, top + size)), np.float32) / 255.0
    return ((rgb - CLIP_MEAN) / CLIP_STD).transpose(2, 0, 1).astype(np.float32)


def upstream_files_per_s(
    paths: Sequence[str], categories: Sequence[str], threads: int | None = None, config: VitConfig | None = None
) -> tuple[float, int]:
    """(files/s, files classified) the upstream way: decode, CLIP preprocessing, eager forward at batch 1."""
    from ai.errors import TextureError
    from ai.textures import load_texture

    config = config or VitConfig()
    torch = require_torch()
    if threads:
        torch.set_num_threads(threads)
    model = build_clip_vit_image_classifier(len(categories), config)
    with torch.inference_mode():
        model(torch.zeros(1, 3, config.image_size, config.image_size))  # first call allocates
        done = 0
        start = time.perf_counter()
        for path in paths:
            try:
                pixels = load_texture(path).pixels
            except TextureError:
                continue
            logits, _ = model(torch.from_numpy(clip_preprocess(pixels, config.image_size))[None])
            int(logits.argmax())
            done += 1
        seconds = time.perf_counter() - start
    return done / max(seconds, 1e-9), done
