"""A leave-one-game-out model and its held-out images as a folder-per-category dataset.

Used to measure what corrections buy on a game the model has never seen:
`python -m models.recipe.holdout --game redeclipse` writes `WORK/holdout-redeclipse/model.onnx`
(head trained on every other game) and `WORK/holdout-redeclipse/data/<category id>/…png`,
then `texture-sorter learn curve WORK/holdout-redeclipse/data --model WORK/holdout-redeclipse/model.onnx`.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

from models.recipe import evaluate, ship, sources


def build_holdout(
    work_dir: Path,
    game: str,
    size: int = 160,
    variant: str = ship.SHIPPED_VARIANT,
    balance: str = ship.SHIPPED_BALANCE,
) -> Path:
    data = evaluate.load_data(work_dir, variant, size)
    rows = data.rows
    train_mask = data.games != game
    if train_mask.all():
        raise SystemExit(f"no images of game {game!r} in {work_dir / 'cache.json'}")
    head = evaluate.fit_head(data, train_mask, balance=balance)
    out_dir = work_dir / f"holdout-{game}"
    out_dir.mkdir(exist_ok=True)
    head_path = ship.save_head(out_dir / "head.npz", head, variant, size)
    ship.export_model(work_dir, head_path, out_dir / "model.onnx")
    data = out_dir / "data"
    for row in rows:
        if row["game"] != game:
            continue
        target = data / row["category"] / Path(row["file"]).name
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            # Hard links, not symlinks: the scanner never follows a link out of the chosen folder.
            try:
                os.link(work_dir / row["file"], target)
            except OSError:
                shutil.copy2(work_dir / row["file"], target)
    return out_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.recipe.holdout", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--game", required=True, choices=sources.GAMES)
    parser.add_argument("--work-dir", type=Path, default=sources.default_work_dir())
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--variant", default=ship.SHIPPED_VARIANT)
    args = parser.parse_args(argv)
    print(build_holdout(args.work_dir, args.game, args.size, args.variant))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
