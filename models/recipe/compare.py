"""The leave-one-game-out comparisons that chose the shipped setup (models/comparison.json).

Each setting is scored like the shipped model (evaluate.leave_one_game_out) and summarised by
its macro means over held-out games on the plain and PS2-like views:
- backbones EfficientNet-Lite0/1/2 on a subset (at most SUBSET_CAP images per game and category,
  the same images for all three, so that Lite1/Lite2 cost minutes rather than an hour to embed);
- on every image with the shipped backbone: class balancing (none, by class, by class and game)
  and the training views (plain only; plain + augmented; plain + augmented + PS2-like).
Test-time views (plain vs plain + seam crop) are in every entry.
"""

from __future__ import annotations

import json
import logging
import random
from pathlib import Path

from models.recipe import embed, evaluate, finetune, views

log = logging.getLogger(__name__)

SUBSET_CAP = 20
VARIANTS = ("lite0", "lite1", "lite2")
TRAIN_VIEW_SETS = {
    "plain": (0,),
    "plain+augmented": (0, 3),
    "plain+augmented+ps2": views.TRAIN_VIEWS,
}


def summary(data: evaluate.Data, result: dict) -> dict:
    out = {}
    for name, top3 in result["top3"].items():
        overall = evaluate.metrics(data.rows, top3, result["games"])["overall"]
        out[name] = {k: round(v, 4) for k, v in overall.items() if k != "n"}
    return out


def subset_rows(rows: list[dict], cap: int = SUBSET_CAP) -> list[dict]:
    rng = random.Random(7)
    shuffled = rows[:]
    rng.shuffle(shuffled)
    taken: dict[tuple[str, str], int] = {}
    out = []
    for row in shuffled:
        key = (row["game"], row["category"])
        if taken.get(key, 0) < cap:
            taken[key] = taken.get(key, 0) + 1
            out.append(row)
    return sorted(out, key=lambda r: (r["game"], r["relpath"]))


def compare_stage(work_dir: Path, args) -> dict:
    rows = json.loads((work_dir / "cache.json").read_text())
    out: dict = {"setup": {"input_size": args.size, "subset_cap": SUBSET_CAP}}
    subset = subset_rows(rows)
    out["setup"]["subset_images"] = len(subset)
    out["backbone"] = {}
    for variant in VARIANTS:
        embed.embed_stage(work_dir, input_size=args.size, variant=variant, threads=args.workers, rows=subset)
        data = evaluate.load_data(work_dir, variant, args.size, rows=subset)
        out["backbone"][variant] = summary(data, evaluate.leave_one_game_out(data, balance=args.balance))
        log.info("backbone %s: %s", variant, out["backbone"][variant])
    full = evaluate.load_data(work_dir, args.variant, args.size)
    out["balance"] = {}
    for mode in evaluate.heads.BALANCE_MODES:
        out["balance"][mode] = summary(full, evaluate.leave_one_game_out(full, balance=mode))
        log.info("balance %s: %s", mode, out["balance"][mode])
    out["train_views"] = {}
    for name, train_views in TRAIN_VIEW_SETS.items():
        result = evaluate.leave_one_game_out(full, balance=args.balance, train_views=train_views)
        out["train_views"][name] = summary(full, result)
        log.info("train views %s: %s", name, out["train_views"][name])
    out["finetune"] = finetune.compare(work_dir, subset, args)
    return out
