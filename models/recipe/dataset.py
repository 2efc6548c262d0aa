"""Label, decode, dedupe, cap and cache the game textures; contact sheets for checking labels by eye.

Outputs under the work folder: labels.json (every labelled file), cache/<game>/<hash>.png (RGBA,
longest side ≤ CACHE_SIDE) and cache.json (the kept, deduplicated, capped set), sheets/*.png.
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import random
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ai.errors import TextureError
from ai.taxonomy import default_categories
from ai.textures import load_texture
from models.recipe import label_rules, sources

log = logging.getLogger(__name__)

CACHE_SIDE = 256
MIN_SIDE = 16
CAP_PER_GAME_AND_CATEGORY = 400
SEED = 1234
# An object with this many files of one category is an animation or a set of rotations.
FRAMES_OF_ONE_OBJECT = 4


def collapse_objects(rows: list[dict]) -> tuple[list[dict], int]:
    """One file per animated or rotated object (label_rules.object_key), drawn in a seeded order.

    Files of one game, category and object key are frames or rotations of one thing when there
    are FRAMES_OF_ONE_OBJECT or more of them; smaller groups (grass01–grass03) are kept whole.
    """
    groups: dict[tuple[str, str, str], list[dict]] = collections.defaultdict(list)
    for row in rows:
        groups[(row["game"], row["category"], row["object"])].append(row)
    rng = random.Random(SEED)
    kept = []
    for members in groups.values():
        kept += [rng.choice(members)] if len(members) >= FRAMES_OF_ONE_OBJECT else members
    kept.sort(key=lambda r: (r["game"], r["relpath"]))
    return kept, len(rows) - len(kept)


def label_stage(work_dir: Path) -> dict:
    """Apply the rules to every texture file; write labels.json; return the counts report."""
    labelled, dropped, unmatched = [], 0, 0
    for src in sources.iter_sources(work_dir):
        rule = label_rules.matching_rule(src.game, src.relpath)
        category = label_rules.label(src.game, src.relpath)
        if category is None:
            dropped += rule is not None
            unmatched += rule is None
            continue
        labelled.append(
            {
                "game": src.game,
                "relpath": src.relpath,
                "location": src.location,
                "category": category,
                "rule": rule,
                "object": label_rules.object_key(src.game, src.relpath),
            }
        )
    files = len(labelled)
    labelled, frames = collapse_objects(labelled)
    (work_dir / "labels.json").write_text(json.dumps(labelled, indent=0))
    counts = collections.Counter((row["category"], row["game"]) for row in labelled)
    report = {
        "labelled_files": files,
        "frames_collapsed": frames,
        "labelled": len(labelled),
        "dropped_by_rule": dropped,
        "unmatched": unmatched,
        "counts": {f"{c}|{g}": n for (c, g), n in sorted(counts.items())},
    }
    log.info(
        "labelled %d files, %d after collapsing animation frames (%d dropped by rules, %d matched no rule)",
        files,
        len(labelled),
        dropped,
        unmatched,
    )
    return report


def _decode_one(row: dict, scratch: str) -> dict | None:
    """Decode one labelled file to a ≤CACHE_SIDE RGBA array; None when unreadable or too small."""
    src = sources.SourceFile(row["game"], row["relpath"], row["location"])
    try:
        with sources.local_path(src, Path(scratch)) as path:
            texture = load_texture(path, min_size=CACHE_SIDE)
    except (TextureError, OSError, ValueError) as exc:
        log.warning("skipped %s: %s", src.uid, exc)
        return None
    pixels = texture.pixels
    height, width = pixels.shape[:2]
    if min(height, width) < MIN_SIDE:
        return None
    scale = CACHE_SIDE / max(height, width)
    if scale < 1:
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        pixels = np.asarray(Image.fromarray(pixels, "RGBA").resize(size, Image.Resampling.BOX))
    return {
        **row,
        "pixels": pixels,
        "orig_size": [int(width), int(height)],
        "digest": hashlib.sha1(pixels.tobytes() + str(pixels.shape).encode()).hexdigest(),
    }


def cache_stage(work_dir: Path, cap: int = CAP_PER_GAME_AND_CATEGORY, workers: int = 2) -> dict:
    """Decode labelled files in a seeded random order until each (game, category) has `cap` unique images."""
    rows = json.loads((work_dir / "labels.json").read_text())
    random.Random(SEED).shuffle(rows)
    cache_dir = work_dir / "cache"
    scratch = str(work_dir / "scratch")
    kept: list[dict] = []
    seen: set[str] = set()
    # Files decoded by an earlier run are reused (the rules may have changed, the pixels have not).
    previous = {}
    if (work_dir / "cache.json").exists():
        for row in json.loads((work_dir / "cache.json").read_text()):
            if (work_dir / row["file"]).exists() and row.get("location") != "synthetic":
                previous[(row["game"], row["relpath"])] = row
    taken = collections.Counter()
    skipped = collections.Counter()
    # Decode in chunks, so that full (game, category) buckets stop costing decode time.
    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending = list(rows)
        while pending:
            chunk, pending = pending[:256], pending[256:]
            chunk = [r for r in chunk if taken[(r["game"], r["category"])] < cap]
            reused = [r for r in chunk if (r["game"], r["relpath"]) in previous]
            fresh = [r for r in chunk if (r["game"], r["relpath"]) not in previous]
            results = [{**previous[(r["game"], r["relpath"])], **r, "pixels": None} for r in reused]
            results += list(pool.map(_decode_one, fresh, [scratch] * len(fresh), chunksize=8))
            for result in results:
                if result is None:
                    skipped["unreadable_or_tiny"] += 1
                    continue
                bucket = (result["game"], result["category"])
                if result["digest"] in seen:
                    skipped["duplicate"] += 1
                    continue
                if taken[bucket] >= cap:
                    continue
                seen.add(result["digest"])
                taken[bucket] += 1
                out = cache_dir / result["game"] / f"{result['digest'][:20]}.png"
                out.parent.mkdir(parents=True, exist_ok=True)
                pixels = result.pop("pixels")
                if not out.exists():
                    Image.fromarray(pixels, "RGBA").save(out, compress_level=1)
                result["file"] = str(out.relative_to(work_dir))
                kept.append(result)
            log.info("cache: %d kept, %d left to look at", len(kept), len(pending))
    kept += _synthetic_font_rows(work_dir, seen)
    kept.sort(key=lambda r: (r["game"], r["relpath"]))
    (work_dir / "cache.json").write_text(json.dumps(kept, indent=0))
    counts = collections.Counter((r["category"], r["game"]) for r in kept)
    return {
        "kept": len(kept),
        "skipped": dict(skipped),
        "counts": {f"{c}|{g}": n for (c, g), n in sorted(counts.items())},
    }


def _synthetic_font_rows(work_dir: Path, seen: set[str]) -> list[dict]:
    """Cache rows for the font atlases baked from SuperTuxKart's TTFs (see synthetic_fonts.py)."""
    from models.recipe import synthetic_fonts

    part = sources.GAME_PARTS[synthetic_fonts.GAME][0]
    root = work_dir / "unpacked" / part.package / part.root
    rows = []
    for name, pixels in synthetic_fonts.iter_font_atlases(root):
        orig = [pixels.shape[1], pixels.shape[0]]
        if max(pixels.shape[:2]) > CACHE_SIDE:
            pixels = np.asarray(
                Image.fromarray(pixels, "RGBA").resize((CACHE_SIDE, CACHE_SIDE), Image.Resampling.BOX)
            )
        digest = hashlib.sha1(pixels.tobytes() + str(pixels.shape).encode()).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        out = work_dir / "cache" / synthetic_fonts.GAME / f"{digest[:20]}.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels, "RGBA").save(out, compress_level=1)
        rows.append(
            {
                "game": synthetic_fonts.GAME,
                "relpath": name,
                "location": "synthetic",
                "category": "ui/font",
                "rule": None,
                "orig_size": orig,
                "digest": digest,
                "file": str(out.relative_to(work_dir)),
            }
        )
    return rows


def load_cached(work_dir: Path, row: dict) -> np.ndarray:
    return np.asarray(Image.open(work_dir / row["file"]).convert("RGBA"))


def sheets_stage(work_dir: Path, per_sheet: int = 48, thumb: int = 96) -> list[Path]:
    """One contact sheet per category: a seeded sample across games, captioned game:name."""
    rows = json.loads((work_dir / "cache.json").read_text())
    out_dir = work_dir / "sheets"
    out_dir.mkdir(parents=True, exist_ok=True)
    by_category = collections.defaultdict(list)
    for row in rows:
        by_category[row["category"]].append(row)
    written = []
    rng = random.Random(SEED)
    cols = 8
    for category in default_categories():
        members = by_category.get(category, [])
        if not members:
            continue
        # Every game gets its share of the sheet, so that a small game's labels get looked at too.
        per_game = collections.defaultdict(list)
        for row in members:
            per_game[row["game"]].append(row)
        for rows_of_game in per_game.values():
            rng.shuffle(rows_of_game)
        sample = []
        while len(sample) < min(per_sheet, len(members)):
            for rows_of_game in per_game.values():
                if rows_of_game and len(sample) < per_sheet:
                    sample.append(rows_of_game.pop())
        sample.sort(key=lambda r: r["game"])
        rows_n = (len(sample) + cols - 1) // cols
        sheet = Image.new("RGB", (cols * (thumb + 4), rows_n * (thumb + 26)), (40, 40, 40))
        draw = ImageDraw.Draw(sheet)
        for i, row in enumerate(sample):
            img = Image.fromarray(load_cached(work_dir, row), "RGBA").resize((thumb, thumb))
            # Checkerboard behind alpha, so cut-outs read as cut-outs.
            board = Image.new("RGBA", (thumb, thumb), (128, 128, 128, 255))
            board.alpha_composite(img)
            x, y = (i % cols) * (thumb + 4), (i // cols) * (thumb + 26)
            sheet.paste(board.convert("RGB"), (x, y))
            name = Path(row["relpath"]).name.replace(".cached.dds", "")
            draw.text((x, y + thumb + 1), f"{row['game'][:3]}:{name[:16]}", fill=(230, 230, 230))
            draw.text((x, y + thumb + 12), name[16:32], fill=(230, 230, 230))
        path = out_dir / f"{category.replace('/', '_')}.png"
        sheet.save(path)
        written.append(path)
    return written
