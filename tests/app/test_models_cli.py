"""`texture-sorter export-model`, `import-model` and `models`, run in-process: output and exit codes."""

from __future__ import annotations

import json
import zipfile

import pytest

from ai.packages.registry import ModelRegistry
from app.cli import main

CATEGORIES = ["wood", "metal", "map/normal"]


def cli(*argv: str) -> int:
    """main(argv)'s exit code, including argparse's SystemExit(2) for malformed arguments."""
    try:
        return main([str(a) for a in argv])
    except SystemExit as exc:
        return int(exc.code)


@pytest.fixture
def model(tmp_path, model_builder):
    return model_builder(tmp_path / "wood.onnx", CATEGORIES)


@pytest.fixture
def package(tmp_path, model):
    """package(version="1.0", name="Wood Pack") → path of a package exported through the CLI."""

    def _package(version="1.0", name="Wood Pack"):
        out = tmp_path / f"{name}-{version}.ps2model"
        assert cli("export-model", model, "--out", out, "--name", name, "--version", version) == 0
        return out

    return _package


def test_export_writes_a_package_with_all_the_given_parts(tmp_path, model, capsys):
    (tmp_path / "cats.json").write_text(json.dumps(CATEGORIES))
    (tmp_path / "train.json").write_text('{"corrections": []}')
    (tmp_path / "README.md").write_text("# Wood pack\n")
    out = tmp_path / "wood.ps2model"
    code = cli(
        "export-model", model, "--out", out, "--name", "Wood Pack", "--version", "1.2",
        "--author", "Ada", "--description", "woods and metals", "--license", "CC0-1.0",
        "--tags", "ps2, surfaces,", "--categories", tmp_path / "cats.json",
        "--training-data", tmp_path / "train.json", "--readme", tmp_path / "README.md",
    )  # fmt: skip
    assert code == 0
    assert f"Wrote {out}: Wood Pack 1.2, 3 categories" in capsys.readouterr().out
    with zipfile.ZipFile(out) as zf:
        meta = json.loads(zf.read("metadata.json"))
        assert set(zf.namelist()) == {
            "model.onnx",
            "metadata.json",
            "categories.json",
            "training_data.json",
            "README.md",
        }
    assert (meta["author"], meta["license"], meta["tags"]) == ("Ada", "CC0-1.0", ["ps2", "surfaces"])


def test_import_list_use_and_remove(package, capsys):
    path = package()
    assert cli("import-model", path) == 0
    out = capsys.readouterr().out
    assert "Installed Wood Pack 1.0 (3 categories) in " in out
    assert "texture-sorter models use wood-pack@1.0" in out

    assert cli("models") == 0
    rows = capsys.readouterr().out.splitlines()
    assert rows[0].split() == ["NAME", "VERSION", "AUTHOR", "CATEGORIES", "SIZE", "SOURCE"]
    assert rows[1].startswith("*") and "built-in" in rows[1]
    assert "Wood Pack" in rows[2] and not rows[2].startswith("*") and f"imported from {path.name}" in rows[2]

    assert cli("models", "use", "Wood Pack") == 0
    assert capsys.readouterr().out == "Active model: Wood Pack 1.0\n"
    assert cli("models", "list", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(m["key"], m["active"]) for m in listed][1:] == [("wood-pack@1.0", True)]
    assert listed[1]["categories"] == CATEGORIES

    assert cli("models", "remove", "wood-pack@1.0") == 0
    out = capsys.readouterr().out
    assert "Removed Wood Pack 1.0" in out and "Active model is now" in out and "(built-in)" in out
    assert [r.builtin for r in ModelRegistry().list_models()] == [True]


def test_reimport_needs_replace(package, capsys):
    path = package()
    assert cli("import-model", path) == 0
    capsys.readouterr()
    assert cli("import-model", path) == 1
    assert "already installed" in capsys.readouterr().err
    assert cli("import-model", path, "--replace", "--use") == 0
    out = capsys.readouterr().out
    assert "Reinstalled Wood Pack 1.0" in out and "It is now the active model." in out


def test_importing_a_newer_version_upgrades_the_active_model_and_list_offers_it(package, capsys):
    assert cli("import-model", package("1.0"), "--use") == 0
    assert cli("import-model", package("2.0")) == 0
    assert "Active model upgraded from 1.0 to 2.0." in capsys.readouterr().out
    assert cli("models", "use", "wood-pack@1.0") == 0
    capsys.readouterr()
    assert cli("models") == 0
    assert "Newer version installed: Wood Pack 2.0; switch with: texture-sorter models use wood-pack@2.0" in (
        capsys.readouterr().out
    )


def test_a_refused_package_exits_1_with_the_reason(tmp_path, capsys):
    bad = tmp_path / "holiday.ps2model"
    bad.write_bytes(b"GIF89a" + bytes(100))
    assert cli("import-model", bad) == 1
    err = capsys.readouterr().err
    assert f"import refused: {bad}: not a ZIP archive" in err
    assert [r.builtin for r in ModelRegistry().list_models()] == [True]


def test_the_builtin_model_cannot_be_removed(capsys):
    assert cli("models", "remove", "default") == 1
    assert "the built-in model cannot be removed" in capsys.readouterr().err


def test_unknown_models_exit_1(capsys):
    assert cli("models", "use", "ghost") == 1
    assert "no installed model named 'ghost'" in capsys.readouterr().err


def test_export_failures_exit_1(tmp_path, model, capsys):
    (tmp_path / "two.json").write_text('["a", "b"]')
    out = tmp_path / "x.ps2model"
    args = ["export-model", model, "--out", out, "--name", "X", "--version", "1"]
    assert cli(*args, "--categories", tmp_path / "two.json") == 1
    assert "outputs 3 scores but there are 2 categories" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["models", "use"], "'models use' needs NAME[@VERSION]"),
        (["models", "remove", "wood-pack"], "needs the version too"),
        (["models", "use", "wood-pack@"], "write NAME[@VERSION]"),
        (["models", "list", "extra"], "takes no NAME"),
        (["import-model", "no-such-file.ps2model"], "file not found"),
        (
            ["export-model", "no-such.onnx", "--out", "x.ps2model", "--name", "X", "--version", "1"],
            "file not found",
        ),
    ],
)
def test_bad_arguments_exit_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert cli(*argv) == 2
    assert message in capsys.readouterr().err


def test_unreadable_argument_files_exit_2(tmp_path, model, capsys):
    (tmp_path / "cats.json").write_text("{oops")
    (tmp_path / "dict.json").write_text('{"a": 1}')
    base = ["export-model", model, "--out", tmp_path / "x.ps2model", "--name", "X", "--version", "1"]
    assert cli(*base, "--categories", tmp_path / "cats.json") == 2
    assert "not valid JSON" in capsys.readouterr().err
    assert cli(*base, "--categories", tmp_path / "dict.json") == 2
    assert "must be a JSON list of category ids" in capsys.readouterr().err
    assert cli(*base, "--readme", tmp_path / "absent.md") == 2
    assert "absent.md" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv",
    [
        ["export-model", "m.onnx", "--name", "X", "--version", "1"],  # no --out
        ["models", "frobnicate"],
        ["import-model"],
    ],
)
def test_malformed_command_lines_exit_2(argv, capsys):
    assert cli(*argv) == 2
    assert "usage:" in capsys.readouterr().err
