"""The layout rules CI enforces: module size, a docstring that says what each module owns, the
import-linter contracts (layers, no Qt in the core, no import circles) and lazy torch."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 500
PACKAGES = ("ai", "app", "models", "build", "tests")


def _tracked_python_files() -> list[Path]:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
            cwd=ROOT, capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: every file below the packages
        listed = [str(p.relative_to(ROOT)) for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    return [ROOT / name for name in listed if name.split("/")[0] in PACKAGES and (ROOT / name).is_file()]


def test_no_module_is_longer_than_500_lines():
    lengths = {p.relative_to(ROOT).as_posix(): len(p.read_text(encoding="utf-8").splitlines())
               for p in _tracked_python_files()}  # fmt: skip
    too_long = {name: n for name, n in lengths.items() if n > MAX_LINES}
    assert lengths, "no Python files found"
    assert not too_long, f"split these modules (over {MAX_LINES} lines): {too_long}"


def test_every_core_module_starts_with_a_docstring_saying_what_it_owns():
    missing = []
    for path in _tracked_python_files():
        name = path.relative_to(ROOT).as_posix()
        if not name.startswith(("ai/", "app/")):
            continue
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
        if not doc or len(doc.splitlines()[0].strip()) < 10:
            missing.append(name)
    assert not missing, f"modules without a first docstring line: {missing}"


def test_import_contracts_hold():
    """Layers of ai/, no Qt outside app/ui, no circles (the contracts in pyproject.toml)."""
    lint = Path(sys.executable).with_name("lint-imports")
    if not lint.exists():
        pytest.skip("import-linter is not installed (the dev extra)")
    done = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "BROKEN" not in done.stdout
    assert re.search(r"Contracts: \d+ kept, 0 broken", done.stdout), done.stdout


def test_torch_is_imported_only_inside_functions():
    top_level = re.compile(r"^(from|import) torch\b", re.M)
    offenders = [p.relative_to(ROOT).as_posix() for p in _tracked_python_files()
                 if p.relative_to(ROOT).parts[0] in ("ai", "app") and top_level.search(p.read_text(encoding="utf-8"))]  # fmt: skip
    assert not offenders, f"module-level torch import: {offenders}"
