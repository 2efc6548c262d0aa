"""Puts this folder on sys.path so the online tests share `online_fakes` (the fake services)."""

import sys
from pathlib import Path

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)
