"""Game Texture Sorter's headless core: decoding, models and learning (no Qt, no app imports).

`from ai import ModelManager, IncrementalLearner, ModelExporter, ModelImporter` works as the seed
document shows; the names load on first use, so importing one small module of ai/ stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SEED_NAMES = {
    "ModelManager": "ai.model_manager",
    "IncrementalLearner": "ai.learning.learner",
    "TrainingDataStore": "ai.learning.store",
    "ModelExporter": "ai.packages.exporter",
    "ModelImporter": "ai.packages.exporter",
}

__all__ = ["__version__", *_SEED_NAMES]


def __getattr__(name: str) -> Any:
    module = _SEED_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module 'ai' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
