"""Markdown tables for models/README.md from evaluation.json and the training counts."""

from __future__ import annotations

import json
from pathlib import Path

from ai.taxonomy import default_categories
from models.recipe.label_rules import GAMES

GAME_NAMES = {
    "0ad": "0 A.D.",
    "megaglest": "MegaGlest",
    "redeclipse": "Red Eclipse",
    "supertuxkart": "SuperTuxKart",
}


def _pct(value) -> str:
    return "–" if value is None else f"{100 * value:.0f} %"


def counts_table(rows: list[dict]) -> str:
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        counts[(row["category"], row["game"])] = counts.get((row["category"], row["game"]), 0) + 1
    head = "| category | " + " | ".join(GAME_NAMES[g] for g in GAMES) + " | total |"
    lines = [head, "|" + " --- |" * (len(GAMES) + 2)]
    for category in default_categories():
        per = [counts.get((category, g), 0) for g in GAMES]
        lines.append(f"| {category} | " + " | ".join(str(n) for n in per) + f" | {sum(per)} |")
    totals = [sum(counts.get((c, g), 0) for c in default_categories()) for g in GAMES]
    lines.append("| **all** | " + " | ".join(str(n) for n in totals) + f" | {sum(totals)} |")
    return "\n".join(lines)


def accuracy_tables(evaluation: dict) -> str:
    model, rules = evaluation["model"], evaluation["rules"]
    lines = [
        "| held-out game | images | model top-1 | model top-3 | rules top-1 | rules top-3 |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for game in GAMES:
        m, r = model["per_game"][game], rules["per_game"][game]
        lines.append(
            f"| {GAME_NAMES[game]} | {m['n']} | {_pct(m['top1'])} | {_pct(m['top3'])} | "
            f"{_pct(r['top1'])} | {_pct(r['top3'])} |"
        )
    mo, ro = model["overall"], rules["overall"]
    lines.append(
        f"| **all four (pooled)** | {mo['n']} | **{_pct(mo['top1'])}** | **{_pct(mo['top3'])}** | "
        f"{_pct(ro['top1'])} | {_pct(ro['top3'])} |"
    )
    lines.append(
        f"| mean over categories | | {_pct(mo['macro_top1'])} | {_pct(mo['macro_top3'])} | "
        f"{_pct(ro['macro_top1'])} | {_pct(ro['macro_top3'])} |"
    )
    lines += [
        "",
        "| category | images | model top-1 | model top-3 | rules top-1 | rules top-3 | model top-1 by held-out "
        "game (0AD / MG / RE / STK) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for category in default_categories():
        m, r = model["per_category"][category], rules["per_category"][category]
        if not m["n"]:
            lines.append(f"| {category} | 0 | – | – | – | – | no training images |")
            continue
        by_game = " / ".join(_pct(m["per_game"].get(g)) for g in GAMES)
        lines.append(
            f"| {category} | {m['n']} | {_pct(m['top1'])} | {_pct(m['top3'])} | {_pct(r.get('top1'))} | "
            f"{_pct(r.get('top3'))} | {by_game} |"
        )
    lines += ["", "Most frequent confusions (true → predicted, held-out images):", ""]
    lines += [f"- {c['true']} → {c['predicted']}: {c['n']}" for c in model["confusions"][:10]]
    return "\n".join(lines)


def render(work_dir: Path, models_dir: Path) -> str:
    rows = json.loads((work_dir / "cache.json").read_text())
    evaluation = json.loads((models_dir / "evaluation.json").read_text())
    return (
        "## Training images per category and game\n\n"
        + counts_table(rows)
        + "\n\n## Leave-one-game-out accuracy\n\n"
        + accuracy_tables(evaluation)
        + "\n"
    )
