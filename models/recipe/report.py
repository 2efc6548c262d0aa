"""Markdown tables for models/README.md from evaluation.json, comparison.json and the training counts."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ai.taxonomy import default_categories
from models.recipe import sources

GAME_NAMES = {
    "0ad": ("0 A.D.", "0AD"),
    "megaglest": ("MegaGlest", "MG"),
    "redeclipse": ("Red Eclipse", "RE"),
    "supertuxkart": ("SuperTuxKart", "STK"),
    "ufoai": ("UFO: Alien Invasion", "UFO"),
    "flightgear": ("FlightGear", "FG"),
    "wesnoth": ("Battle for Wesnoth", "WES"),
    "torcs": ("TORCS", "TRC"),
    "minetest": ("Minetest", "MT"),
    "freedroidrpg": ("FreedroidRPG", "FD"),
    "scorched3d": ("Scorched 3D", "S3D"),
    "hedgewars": ("Hedgewars", "HW"),
    "endlesssky": ("Endless Sky", "ES"),
    "naev": ("Naev", "NV"),
    "openclonk": ("OpenClonk", "OC"),
    "warzone2100": ("Warzone 2100", "WZ"),
    "widelands": ("Widelands", "WL"),
    "unknownhorizons": ("Unknown Horizons", "UH"),
    "supertux": ("SuperTux", "ST"),
}
VIEW_TITLES = {"plain": "plain", "plain_tta": "plain + seam", "ps2": "PS2-like"}


def _pct(value) -> str:
    return "–" if value is None else f"{100 * value:.0f} %"


def _pct1(value) -> str:
    return "–" if value is None else f"{100 * value:.1f} %"


def counts_table(rows: list[dict]) -> str:
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        counts[(row["category"], row["game"])] = counts.get((row["category"], row["game"]), 0) + 1
    games = [g for g in sources.GAMES if any(k[1] == g for k in counts)]
    head = "| category | " + " | ".join(GAME_NAMES[g][1] for g in games) + " | total |"
    lines = [head, "| --- |" + " ---: |" * (len(games) + 1)]
    for category in default_categories():
        per = [counts.get((category, g), 0) for g in games]
        lines.append(f"| {category} | " + " | ".join(str(n) for n in per) + f" | {sum(per)} |")
    totals = [sum(counts.get((c, g), 0) for c in default_categories()) for g in games]
    lines.append("| **all** | " + " | ".join(str(n) for n in totals) + f" | {sum(totals)} |")
    key = ", ".join(f"{GAME_NAMES[g][1]} = {GAME_NAMES[g][0]}" for g in games)
    return "\n".join(lines) + f"\n\n{key}."


def game_table(evaluation: dict) -> str:
    model, rules = evaluation["model"], evaluation["rules"]
    views = [v for v in VIEW_TITLES if v in model]
    lines = [
        "| held-out game | images | "
        + " | ".join(f"{VIEW_TITLES[v]} top-1 | top-3" for v in views)
        + " | rules top-1 | top-3 |",
        "| --- | ---: |" + " ---: |" * (2 * len(views) + 2),
    ]
    for game in evaluation["setup"]["games"]:
        cells = [
            f"{_pct(model[v]['per_game'][game]['top1'])} | {_pct(model[v]['per_game'][game]['top3'])}"
            for v in views
        ]
        r = rules["per_game"][game]
        lines.append(
            f"| {GAME_NAMES[game][0]} | {model['plain']['per_game'][game]['n']} | "
            + " | ".join(cells)
            + f" | {_pct(r['top1'])} | {_pct(r['top3'])} |"
        )
    for label, key in (
        ("**macro mean over games**", "macro_games"),
        ("mean over categories", "macro_categories"),
        ("pooled over images", None),
    ):

        def cell(o, k=key):
            if k is None:
                return f"{_pct1(o['top1'])} | {_pct1(o['top3'])}"
            return f"{_pct1(o[k + '_top1'])} | {_pct1(o[k + '_top3'])}"

        lines.append(
            f"| {label} | {model['plain']['overall']['n'] if key is None else ''} | "
            + " | ".join(cell(model[v]["overall"]) for v in views)
            + f" | {cell(rules['overall'])} |"
        )
    return "\n".join(lines)


def category_table(evaluation: dict) -> str:
    model, rules = evaluation["model"], evaluation["rules"]
    lines = [
        "| category | images | games | plain top-1 | plain top-3 | PS2-like top-1 | PS2-like top-3 | rules top-1 | rules top-3 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for category in default_categories():
        m, p, r = (x["per_category"][category] for x in (model["plain"], model["ps2"], rules))
        if not m["n"]:
            lines.append(f"| {category} | 0 | 0 | – | – | – | – | – | – |")
            continue
        lines.append(
            f"| {category} | {m['n']} | {len(m['per_game'])} | {_pct(m['top1'])} | {_pct(m['top3'])} | "
            f"{_pct(p['top1'])} | {_pct(p['top3'])} | {_pct(r.get('top1'))} | {_pct(r.get('top3'))} |"
        )
    lines += ["", "Most frequent confusions (true → predicted, plain view of held-out images):", ""]
    lines += [f"- {c['true']} → {c['predicted']}: {c['n']}" for c in model["plain"]["confusions"][:10]]
    return "\n".join(lines)


def comparison_table(comparison: dict) -> str:
    lines = [
        "| setting | images | plain top-1 | plain top-3 | plain + seam top-1 | top-3 | PS2-like top-1 | top-3 |",
        "| --- | --- |" + " ---: |" * 6,
    ]

    def row(title, images, entry):
        cells = []
        for view in ("plain", "plain_tta", "ps2"):
            o = entry[view]
            cells.append(f"{_pct1(o['macro_games_top1'])} | {_pct1(o['macro_games_top3'])}")
        lines.append(f"| {title} | {images} | " + " | ".join(cells) + " |")

    subset = f"subset ({comparison['setup']['subset_images']})"
    for variant, entry in comparison.get("backbone", {}).items():
        row(f"backbone EfficientNet-{variant.replace('lite', 'Lite')}", subset, entry)
    for mode, entry in comparison.get("balance", {}).items():
        row(f"balance: {mode}", "all", entry)
    for name, entry in comparison.get("train_views", {}).items():
        row(f"training views: {name}", "all", entry)
    text = "\n".join(lines)
    ft = comparison.get("finetune")
    if ft:
        text += (
            f"\n\nPartial fine-tuning (last stage + head convolution, {ft['epochs']} epochs) against the frozen "
            f"backbone, same {ft['images']} images, held-out games {', '.join(GAME_NAMES[g][0] for g in ft['folds'])} "
            f"({ft['seconds']} s):\n\n| backbone | plain top-1 | plain top-3 | PS2-like top-1 | PS2-like top-3 |\n"
            "| --- | ---: | ---: | ---: | ---: |\n"
        )
        for kind in ("frozen", "finetuned"):
            p, q = ft[kind]["plain"], ft[kind]["ps2"]
            text += (
                f"| {kind} | {_pct1(p['macro_games_top1'])} | {_pct1(p['macro_games_top3'])} | "
                f"{_pct1(q['macro_games_top1'])} | {_pct1(q['macro_games_top3'])} |\n"
            )
    return text


def licence_table(work_dir: Path) -> str:
    """Each package's version and the licence of its `Files: *` stanza (or its first licence line)."""
    versions = sources.package_versions(work_dir)
    lines = ["| game | package | version | main licence (debian/copyright) |", "| --- | --- | --- | --- |"]
    for game, parts in sources.GAME_PARTS.items():
        for part in parts:
            path = sources.copyright_file(work_dir, part.package)
            text = path.read_text(errors="replace") if path.exists() else ""
            match = re.search(r"^Files: \*[ \t]*\n(?:[^\n]+\n)*?License: *([^\n]+)", text, re.M)
            licence = match.group(1).strip() if match else "see the copyright file (not machine-readable)"
            lines.append(
                f"| {GAME_NAMES[game][0]} | `{part.package}` | {versions.get(part.package, '?')} | {licence} |"
            )
    return "\n".join(lines)


def render(work_dir: Path, models_dir: Path) -> str:
    rows = json.loads((work_dir / "cache.json").read_text())
    evaluation = json.loads((models_dir / "evaluation.json").read_text())
    text = (
        "## Training images per category and game\n\n"
        + counts_table(rows)
        + "\n\n## Leave-one-game-out accuracy per held-out game\n\n"
        + game_table(evaluation)
        + "\n\n## Leave-one-game-out accuracy per category\n\n"
        + category_table(evaluation)
        + "\n"
    )
    if (models_dir / "comparison.json").exists():
        comparison = json.loads((models_dir / "comparison.json").read_text())
        text += "\n## Comparisons (macro mean over held-out games)\n\n" + comparison_table(comparison) + "\n"
    return text + "\n## Packages and licences\n\n" + licence_table(work_dir) + "\n"
