"""Rebuild models/default.onnx from scratch: `python -m models.recipe.build --stage all`.

Stages (each reads the previous stage's files in the work folder, default /work/data or
$TEXTURE_SORTER_DATA): fetch → label → cache → sheets → embed → evaluate → compare → train →
export → verify → quantize → report. `export` writes the float model (models/default-float.onnx),
`quantize` its int8 copy, the shipped models/default.onnx (models/recipe/quantize.py).
The game data and every intermediate file stay in the work folder; only the two models and the
JSON figures beside them (evaluation, comparison, quantization) are written into the repository.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

import numpy as np

from ai.paths import model_path
from models.recipe import backbone, compare, dataset, embed, evaluate, quantize, report, ship, sources

log = logging.getLogger("models.recipe")

STAGES = [
    "fetch",
    "label",
    "cache",
    "sheets",
    "embed",
    "evaluate",
    "compare",
    "train",
    "export",
    "verify",
    "quantize",
    "report",
]
FLOAT_MODEL = "default-float.onnx"  # the float32 export (Conv weights stored as float16)
SHIPPED_MODEL = "default.onnx"  # its int8 copy, what the app loads
DEFAULT_INPUT_SIZE = 160


def _write_json(path: Path, data) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")


def run_stage(stage: str, args: argparse.Namespace) -> None:
    work: Path = args.work_dir
    head_path = work / f"head_{args.variant}_{args.size}.npz"
    if stage == "fetch":
        sources.fetch(work)
    elif stage == "label":
        _write_json(work / "label_report.json", dataset.label_stage(work))
    elif stage == "cache":
        _write_json(work / "cache_report.json", dataset.cache_stage(work, cap=args.cap, workers=args.workers))
    elif stage == "sheets":
        for path in dataset.sheets_stage(work):
            log.info("contact sheet %s", path)
    elif stage == "embed":
        embed.embed_stage(work, input_size=args.size, variant=args.variant, threads=args.workers)
    elif stage == "evaluate":
        data = evaluate.load_data(work, args.variant, args.size)
        model = evaluate.leave_one_game_out(data, balance=args.balance)
        games = model["games"]
        rules = evaluate.rule_predictions(work, data.rows)
        seen = evaluate.seen_games_cross_validation(data, balance=args.balance)
        result = {
            "model": {
                name: evaluate.metrics(data.rows, np.asarray(t), games) for name, t in model["top3"].items()
            },
            "rules": evaluate.metrics(data.rows, np.asarray(rules["top3"]), games),
            "seen_games_5fold": evaluate.metrics(data.rows, np.asarray(seen["top3"]), games)["overall"],
            "setup": {
                "variant": args.variant,
                "input_size": args.size,
                "balance": args.balance,
                "train_views": [evaluate.views.VIEW_NAMES[v] for v in evaluate.views.TRAIN_VIEWS],
                "epochs": evaluate.heads.EPOCHS,
                "games": games,
            },
        }
        _write_json(
            work / f"evaluation_{args.variant}_{args.size}.json", {**result, "model_top3": model["top3"]}
        )
        _write_json(args.models_dir / "evaluation.json", result)
        log.info("leave-one-game-out: %s", {k: v["overall"] for k, v in result["model"].items()})
    elif stage == "compare":
        _write_json(args.models_dir / "comparison.json", compare.compare_stage(work, args))
    elif stage == "train":
        ship.train_head(work, args.variant, args.size, balance=args.balance)
    elif stage == "export":
        out = ship.export_model(work, head_path, args.models_dir / FLOAT_MODEL)
        log.info("exported %s (%.1f MB)", out, out.stat().st_size / 1e6)
    elif stage == "verify":
        checks = ship.verify(work, args.models_dir / FLOAT_MODEL, head_path, threads=2)
        _write_json(work / "verify_report.json", checks)
        print(json.dumps(checks, indent=1))
    elif stage == "quantize":
        figures = quantize.ship(
            work, args.models_dir / FLOAT_MODEL, args.models_dir / SHIPPED_MODEL, args.variant, args.size
        )
        _write_json(args.models_dir / "quantization.json", figures)
        log.info("int8: %s", figures["recipe_run"])
    elif stage == "report":
        text = report.render(work, args.models_dir)
        (work / "report.md").write_text(text)
        print(text)
    else:  # pragma: no cover - argparse restricts the choices
        raise ValueError(stage)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.recipe.build", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--stage",
        action="append",
        choices=[*STAGES, "all"],
        required=True,
        help="stage to run (repeatable); 'all' runs every stage in order",
    )
    parser.add_argument("--work-dir", type=Path, default=sources.default_work_dir())
    parser.add_argument("--models-dir", type=Path, default=model_path())
    parser.add_argument(
        "--size", type=int, default=DEFAULT_INPUT_SIZE, help="model input size (multiple of 32)"
    )
    parser.add_argument("--variant", choices=sorted(backbone.VARIANTS), default=ship.SHIPPED_VARIANT)
    parser.add_argument(
        "--balance", choices=evaluate.heads.BALANCE_MODES, default=ship.SHIPPED_BALANCE, help="loss weighting"
    )
    parser.add_argument(
        "--cap", type=int, default=dataset.CAP_PER_GAME_AND_CATEGORY, help="max images per (game, category)"
    )
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    if args.size % 32:
        parser.error("--size must be a multiple of 32 (the exported padding assumes it)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    stages = STAGES if "all" in args.stage else [s for s in STAGES if s in args.stage]
    args.work_dir.mkdir(parents=True, exist_ok=True)
    total = time.perf_counter()
    for stage in stages:
        started = time.perf_counter()
        log.info("stage %s", stage)
        run_stage(stage, args)
        log.info("stage %s done in %.0f s", stage, time.perf_counter() - started)
    log.info("all done in %.0f s", time.perf_counter() - total)
    return 0


if __name__ == "__main__":
    sys.exit(main())
