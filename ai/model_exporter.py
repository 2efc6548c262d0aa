"""Seed name of the package tools: `from ai.model_exporter import ModelExporter, ModelImporter`.

The code lives in ai.packages; this module keeps the seed document's imports working.
"""

from ai.packages.exporter import ModelExporter, ModelImporter

__all__ = ["ModelExporter", "ModelImporter"]
