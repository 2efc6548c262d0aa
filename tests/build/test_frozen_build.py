"""A real PyInstaller build: what is inside it, what is not, and the frozen smoke test run against it.

The onedir build takes ~20 s here (2 cores) and is reused while no source changed, so it runs in CI.
TEXTURE_SORTER_BUILD_TESTS=0 skips these tests; =all also builds and checks the onefile executable.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MODE = os.environ.get("TEXTURE_SORTER_BUILD_TESTS", "1")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(MODE == "0", reason="TEXTURE_SORTER_BUILD_TESTS=0"),
    pytest.mark.skipif(
        importlib.util.find_spec("PyInstaller") is None,
        reason="PyInstaller is not installed (python build/build.py installs it)",
    ),
]

import smoke_test  # noqa: E402  (tests/build/conftest.py puts build/ on sys.path)


def _ensure_build(build_script, onefile: bool) -> Path:
    if not build_script.is_up_to_date(onefile):
        build_script.build(onefile=onefile, quiet=True)
    return build_script.output_path(onefile)


@pytest.fixture(scope="module")
def onedir(build_script) -> Path:
    return _ensure_build(build_script, onefile=False)


@pytest.fixture(scope="module")
def internal(onedir) -> Path:
    return onedir / "_internal"


@pytest.fixture(scope="module")
def bundled_files(onedir) -> list[str]:
    return sorted(p.relative_to(onedir).as_posix() for p in onedir.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def frozen_modules(build_script, onedir) -> set[str]:
    """Module names in the executable's PYZ archive (the pure-Python part of the build)."""
    from PyInstaller.archive.readers import CArchiveReader

    archive = CArchiveReader(str(build_script.executable_path(False)))
    return set(archive.open_embedded_archive("PYZ.pyz").toc)


def _is_under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_build_has_no_torch_or_training_stack(bundled_files, frozen_modules, rules):
    assert not [f for f in bundled_files if any(part.startswith("torch") for part in f.split("/"))]
    assert not [m for m in frozen_modules if any(_is_under(m, never) for never in rules.NEVER_LOADED)]
    for heavy in ("matplotlib", "scipy", "pandas", "tkinter", "pytest", "IPython"):
        assert not [m for m in frozen_modules if _is_under(m, heavy)], heavy


def test_build_has_no_unused_qt_modules(bundled_files, rules):
    qt_files = [f for f in bundled_files if "PySide6/" in f]
    for word in rules.FORBIDDEN_QT_LIBRARIES:
        assert not [f for f in qt_files if f"Qt6{word}" in f or f"/Qt{word}" in f], word
    assert not [f for f in qt_files if "/translations/" in f]


def test_build_keeps_only_the_chosen_qt_plugins(bundled_files, rules):
    plugins = [f.split("/plugins/", 1)[1] for f in bundled_files if "PySide6/" in f and "/plugins/" in f]
    assert plugins, "no Qt plugin at all: the GUI cannot start"
    for plugin in plugins:
        folder, name = plugin.rsplit("/", 1)
        assert rules.keep_qt_plugin(folder, name), plugin
    names = {p.rsplit("/", 1)[1] for p in plugins}
    assert {"libqoffscreen.so", "libqxcb.so", "libqwayland.so"} <= names or any(
        n.endswith(".dll") for n in names
    )


def test_build_holds_the_default_model_and_every_resource(internal, rules):
    for src, dest in rules.data_files(ROOT):
        bundled = internal / dest / Path(src).name
        assert bundled.is_file(), bundled
        assert bundled.read_bytes() == Path(src).read_bytes(), bundled
    assert (internal / rules.BUNDLED_TAXONOMY).is_file()
    assert (internal / rules.BUNDLED_MODEL).is_file(), "the shipped model is not in the build"


def test_build_holds_every_subcommand_and_online_provider(frozen_modules):
    for package in ("app/commands", "ai/online/providers", "app/sorting", "ai/textures"):
        paths = list((ROOT / package).glob("*.py"))
        assert paths, package
        for path in paths:
            if path.stem != "__init__":
                assert f"{package.replace('/', '.')}.{path.stem}" in frozen_modules, path


def test_build_has_imagecodecs_png_codec_only(bundled_files):
    codecs = {Path(f).name.split(".")[0] for f in bundled_files if "/imagecodecs/_" in f}
    assert {"_png", "_shared"} <= codecs, codecs
    assert not codecs - {"_png", "_shared", "_shared_cython"}, codecs  # not 50 other codecs


def test_onedir_size_within_budget(build_script, onedir):
    if build_script.default_numpy_blas() == "keep":
        pytest.skip("the budget needs numpy without BLAS, which needs Linux and a C compiler")
    assert build_script.tree_size(onedir) / 1e6 <= build_script.SIZE_BUDGET_MB["onedir"]


def test_linux_build_has_numpy_without_openblas_and_trimmed_icu(build_script, bundled_files):
    if build_script.default_numpy_blas() == "keep":
        pytest.skip("numpy keeps BLAS where it cannot be recompiled")
    assert not [f for f in bundled_files if "openblas" in f.lower()]
    for name in [f for f in bundled_files if "libicudata" in f]:  # the library and links to it
        assert (build_script.output_path(False) / name).stat().st_size < 12e6, name


@pytest.mark.skipif(MODE != "all", reason="onefile build only with TEXTURE_SORTER_BUILD_TESTS=all (+40 s)")
def test_onefile_build_runs_and_is_within_budget(build_script, tmp_path):
    exe = _ensure_build(build_script, onefile=True)
    env = {**os.environ, "TEXTURE_SORTER_HOME": str(tmp_path)}
    out = subprocess.run([str(exe), "--version"], capture_output=True, text=True, env=env, check=True).stdout
    assert out.startswith("texture-sorter ")
    assert build_script.tree_size(exe) / 1e6 <= build_script.SIZE_BUDGET_MB["onefile"]


@pytest.fixture(scope="module")
def smoke_results(build_script, onedir, tmp_path_factory) -> dict[str, smoke_test.StepResult]:
    work = tmp_path_factory.mktemp("frozen-smoke")
    results = smoke_test.run_smoke(
        build_script.executable_path(False), onedir / "_internal", work, log=lambda _: None
    )
    return {r.name: r for r in results}


@pytest.mark.parametrize("step", [name for name, _method in smoke_test.STEPS])
def test_frozen_smoke_step(smoke_results, step):
    result = smoke_results[step]
    assert result.passed, result.detail


def test_frozen_app_runs_as_python_m_app_cli(build_script, onedir, tmp_path):
    # serve-bench restarts the app as `sys.executable -m app.cli serve`; frozen, that is the binary itself.
    env = {**os.environ, "TEXTURE_SORTER_HOME": str(tmp_path)}
    exe = str(build_script.executable_path(False))
    out = subprocess.run(
        [exe, "-m", "app.cli", "--version"], env=env, check=True, capture_output=True, text=True
    )
    assert out.stdout.startswith("texture-sorter ")


def test_frozen_start_loads_no_torch(build_script, onedir, rules, tmp_path):
    # Every smoke step checks this too; here the bare start, without any subcommand's imports.
    modules_file = tmp_path / "modules.txt"
    env = {
        **os.environ,
        "TEXTURE_SORTER_HOME": str(tmp_path),
        "QT_QPA_PLATFORM": "offscreen",
        rules.MODULES_OUT_ENV: str(modules_file),
    }
    subprocess.run(
        [str(build_script.executable_path(False)), "--help"], env=env, check=True, capture_output=True
    )
    loaded = modules_file.read_text(encoding="utf-8").split()
    assert "app.cli" in loaded
    assert not [m for m in loaded if smoke_test.is_never_loaded(m)]
