"""`texture-sorter train`: train or fine-tune a classifier on a folder-per-category tree (needs PyTorch)."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from ai.errors import ModelError, TextureSorterError
from app.argtypes import positive_float, positive_int

FROM_DEFAULT = "default"


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train",
        help="train a model on folders of labelled textures (needs PyTorch)",
        description=(
            "Train a classifier on DATA_DIR, where every sub-folder is a category (nested folders "
            "give ids like surface/wood, as a sort writes them). With --from, a new classifier head is "
            "trained on the embeddings of an existing model (fast, needs few images per category, "
            "keeps the model's categories and adds new folder names); without it, a small CNN is "
            "trained from scratch. Needs the training extra: pip install 'texture-sorter[training]'."
        ),
    )
    p.add_argument("data_dir", metavar="DATA_DIR", help="folder with one sub-folder of textures per category")
    p.add_argument("--out", required=True, metavar="MODEL.onnx", help="where to write the trained model")
    p.add_argument(
        "--from",
        dest="base",
        metavar="MODEL.onnx",
        help=f"fine-tune this model ('{FROM_DEFAULT}' = the shipped default model)",
    )
    p.add_argument(
        "--epochs", type=positive_int, metavar="N", help="passes over the data (30 with --from, else 20)"
    )
    p.add_argument(
        "--lr", type=positive_float, metavar="X", help="learning rate (3e-3 with --from, else 2e-3)"
    )
    p.add_argument("--batch", type=positive_int, default=32, metavar="N", help="batch size (default 32)")
    p.add_argument(
        "--size",
        type=positive_int,
        default=128,
        metavar="PX",
        help="input size of a model trained from scratch (default 128)",
    )
    p.add_argument(
        "--views",
        type=positive_int,
        default=4,
        metavar="N",
        help="with --from: augmented views per image (default 4)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.set_defaults(func=run)


_NESTED = ("batch",)  # drawn under the "training" bar, not a stage of its own


class _Bars:
    """One tqdm bar per stage ("embedding", "training", …), closed when the next stage starts."""

    def __init__(self):
        from tqdm import tqdm

        self._tqdm = tqdm
        self._bars: dict[str, object] = {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        bar = self._bars.get(stage)
        if bar is None and stage not in _NESTED:
            self.close()  # a new stage: the previous one is over
        if bar is None or bar.total != total:
            if bar is not None:
                bar.close()
            bar = self._bars[stage] = self._tqdm(
                total=total, desc=stage, unit="", leave=stage != "batch", file=sys.stderr, dynamic_ncols=True
            )
        bar.update(done - bar.n)

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()


def _default_model_path() -> Path:
    from ai.paths import model_path

    return Path(model_path("default.onnx"))


def run(args: argparse.Namespace) -> int:
    from ai import training_pytorch as tp

    if not tp.is_pytorch_available():
        print(f"texture-sorter: {tp.INSTALL_HINT}", file=sys.stderr)
        return 1
    data_dir = Path(args.data_dir)
    if not data_dir.is_dir():
        print(f"texture-sorter: {data_dir}: not a folder", file=sys.stderr)
        return 2
    base = None
    if args.base:
        base = _default_model_path() if args.base == FROM_DEFAULT else Path(args.base)
        if not base.is_file():
            print(f"texture-sorter: {base}: model file not found", file=sys.stderr)
            return 2
    bars = _Bars()
    started = time.perf_counter()
    try:
        if base is not None:
            summary = tp.fine_tune_from_onnx(
                base,
                data_dir,
                args.out,
                epochs=args.epochs or 30,
                learning_rate=args.lr or 3e-3,
                batch_size=args.batch,
                views=args.views,
                seed=args.seed,
                progress=bars,
            )
        else:
            summary = tp.train_from_scratch(
                data_dir,
                args.out,
                epochs=args.epochs or 20,
                learning_rate=args.lr or 2e-3,
                batch_size=args.batch,
                input_size=args.size,
                seed=args.seed,
                progress=bars,
            )
    except (ValueError, FileNotFoundError, ModelError, TextureSorterError, RuntimeError) as exc:
        bars.close()
        print(f"texture-sorter: training failed: {exc}", file=sys.stderr)
        return 1
    bars.close()
    shown = {k: v for k, v in summary.items() if k not in ("history", "folders")}
    print(json.dumps(shown, indent=2, default=str))
    print(f"wrote {args.out} in {time.perf_counter() - started:.0f} s")
    return 0
