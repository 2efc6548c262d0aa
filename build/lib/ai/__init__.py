"""Game Texture Sorter's headless core: decoding, models and learning (no Qt, no app imports)."""

__version__ = "0.1.0"
