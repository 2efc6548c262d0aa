"""The default category list (resources/taxonomy.json), loaded once."""

from __future__ import annotations

import functools
import json

from ai.paths import resource_path


@functools.lru_cache(maxsize=1)
def load_taxonomy() -> dict:
    with open(resource_path("taxonomy.json"), encoding="utf-8") as fh:
        return json.load(fh)


def default_categories() -> list[str]:
    """Category ids of the default taxonomy, in the shipped model's output order."""
    return [entry["id"] for entry in load_taxonomy()["categories"]]


def category_descriptions() -> dict[str, str]:
    return {entry["id"]: entry["desc"] for entry in load_taxonomy()["categories"]}
