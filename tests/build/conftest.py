"""Shared by the build tests: the build/ scripts as importable modules, and the repository paths."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BUILD_DIR = ROOT / "build"
INSTALLER_DIR = ROOT / "installer"

# The build scripts import each other by plain name (`import bundle_rules`, `from build import …`),
# as they do when run as `python build/<script>.py`.
if str(BUILD_DIR) not in sys.path:
    sys.path.insert(0, str(BUILD_DIR))


@pytest.fixture(scope="session")
def rules():
    import bundle_rules

    return bundle_rules


@pytest.fixture(scope="session")
def build_script():
    import build

    assert Path(build.__file__).resolve() == BUILD_DIR / "build.py", build.__file__
    return build
