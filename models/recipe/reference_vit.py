"""Recipe step: CLIP ViT-B/32's image encoder with random weights as ONNX, for `bench --compare`.

`python -m models.recipe.reference_vit [--out FILE]` writes the upstream classifier's architecture
(ai.training_pytorch.reference_vit: 224², patch 32, width 768, 12 layers, zero-shot head over the
26 taxonomy categories) as one self-contained .onnx with the metadata `OfflineModel` reads, so it
runs through the very same pipeline as our model. Speed does not depend on the weights, and
nothing is downloaded. About 350 MB; written to the recipe's work folder by default.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from ai.taxonomy import default_categories
from ai.training_pytorch import export_to_onnx
from ai.training_pytorch.reference_vit import CLIP_MEAN, CLIP_STD, VitConfig, build_clip_vit_image_classifier
from models.recipe import sources

log = logging.getLogger("models.recipe.reference_vit")
FILE_NAME = "clip-vit-b32-random.onnx"


def build_reference_onnx(out: Path, config: VitConfig | None = None) -> Path:
    """Export the reference classifier (random weights, seed 0) to `out`."""
    config = config or VitConfig()
    categories = default_categories()
    model = build_clip_vit_image_classifier(len(categories), config)
    return export_to_onnx(
        model,
        out,
        categories,
        input_size=config.image_size,
        mean=CLIP_MEAN,
        std=CLIP_STD,
        version="0",
        name="clip-vit-b32-random",
        description="CLIP ViT-B/32 image encoder architecture with random weights (speed reference only)",
        extra_metadata={"architecture": f"ViT-B/{config.patch} width {config.width}, {config.layers} layers"},
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m models.recipe.reference_vit", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=sources.default_work_dir() / FILE_NAME)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    path = build_reference_onnx(args.out)
    log.info("wrote %s (%.0f MB) in %.0f s", path, path.stat().st_size / 1e6, time.perf_counter() - started)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
