"""The committed texture fixtures as test support: one list every test that walks them shares."""

from __future__ import annotations

from pathlib import Path

from ai.textures import SUPPORTED_EXTENSIONS

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture_textures() -> list[Path]:
    """Every committed fixture the texture loader reads, in a stable order."""
    return sorted(p for p in FIXTURES.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_EXTENSIONS)
