"""`texture-sorter classify`: output shapes, exit codes, and hostile inputs."""

from __future__ import annotations

import json
import os
import random
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from fixture_files import fixture_textures
from PIL import Image

from app.cli import main

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


def make_folder(root: Path) -> Path:
    for i, colour in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        Image.new("RGBA", (32, 32), (*colour, 255)).save(root / f"t{i}.png")
    (root / "bad.tga").write_bytes(b"\x00\x00\x02" + b"\xff" * 10)
    return root


def test_json_to_stdout_has_the_stable_shape(tmp_path, tiny_model, capsys):
    folder = make_folder(tmp_path)
    assert main(["classify", str(folder), "--json", "-", "--model", str(tiny_model), "--top-k", "2"]) == 0
    captured = capsys.readouterr()
    records = json.loads(captured.out)
    assert len(records) == 4
    for rec in records:
        assert set(rec) == {"path", "predictions", "error", "source"}
        if rec["error"]:
            assert rec["predictions"] == [] and rec["source"] is None
            assert os.path.basename(rec["path"]) == "bad.tga"
        else:
            assert rec["source"] == "offline" and len(rec["predictions"]) == 2
            assert set(rec["predictions"][0]) == {"category", "confidence"}
    assert "4 files, 1 error," in captured.err
    assert "bad.tga" in captured.err


def test_jsonl_file_and_human_output(tmp_path, tiny_model, capsys):
    folder = make_folder(tmp_path)
    out = tmp_path / "out.jsonl"
    assert main(["classify", str(folder), "--jsonl", str(out), "--model", str(tiny_model)]) == 0
    lines = out.read_text().splitlines()
    assert len(lines) == 4 and all(json.loads(line)["path"] for line in lines)
    assert main(["classify", str(folder / "t0.png"), "--model", str(tiny_model)]) == 0
    assert "t0.png: " in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv",
    [["classify"], ["classify", ".", "--top-k", "0"], ["classify", ".", "--batch", "x"], ["classify", ".", "--bogus"]],
)
def test_bad_arguments_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


def test_unloadable_model_is_a_usage_error(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"nope")
    assert main(["classify", str(tmp_path), "--model", str(bad)]) == 2
    assert "not a loadable ONNX model" in capsys.readouterr().err


def _corrupt_variants(sources: list[Path], out: Path, count: int) -> list[Path]:
    """Truncations, header bit flips, wrong and huge declared sizes, garbage behind valid magic."""
    rng = random.Random(1234)
    made = []
    for n in range(count):
        src = sources[n % len(sources)]
        data = bytearray(src.read_bytes())
        kind = n % 6
        if kind == 0:
            data = data[: rng.randrange(0, max(len(data), 2))]
        elif kind == 1:
            for _ in range(rng.randint(1, 8)):
                pos = rng.randrange(0, min(len(data), 160))
                data[pos] ^= 1 << rng.randrange(8)
        elif kind == 2 and src.suffix.lower() == ".dds" and len(data) > 20:
            struct.pack_into("<II", data, 12, rng.choice([0, 1, 65535, 2**31 - 1]), rng.choice([0, 3, 65535]))
        elif kind == 2 and src.suffix.lower() == ".png" and len(data) > 24:
            struct.pack_into(">II", data, 16, rng.choice([0, 65535, 2**31 - 1]), rng.choice([1, 2**30]))
        elif kind == 3:
            data = data[:16] + bytes(rng.randrange(256) for _ in range(rng.randint(0, 400)))
        elif kind == 4:
            cut = rng.randrange(16, max(len(data), 17))
            data = data[:cut] + b"\0" * rng.randint(1, 64)
        else:
            pos = rng.randrange(0, len(data)) if data else 0
            data[pos:pos + 32] = bytes(rng.randrange(256) for _ in range(32))
        path = out / f"v{n:03}{src.suffix}"
        path.write_bytes(bytes(data))
        made.append(path)
    return made


def test_300_corrupted_fixtures_each_get_one_clean_error_or_a_result(tmp_path, tiny_model, capsys):
    sources = fixture_textures()
    if len(sources) < 5:
        pytest.skip("real fixtures not present")
    variants = _corrupt_variants(sources, tmp_path, 300)
    out = tmp_path / "res.json"
    assert main(["classify", str(tmp_path), "--json", str(out), "--model", str(tiny_model)]) == 0
    records = json.loads(out.read_text())
    assert sorted(r["path"] for r in records) == sorted(str(v) for v in variants)
    errors = [r for r in records if r["error"]]
    for rec in records:
        assert bool(rec["error"]) != bool(rec["predictions"])
    assert not [r for r in errors if r["error"].startswith("unexpected error")]
    stderr_lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error: ")]
    assert len(stderr_lines) == len(errors)  # one line per bad file, naming it
    print(f"\n300 corrupted variants: {len(errors)} clean errors, {300 - len(errors)} still decodable")


def test_fresh_process_classifies_the_fixture_folder(tmp_path):
    if not any(FIXTURES.rglob("*.dds")):
        pytest.skip("real fixtures not present")
    env = dict(os.environ, TEXTURE_SORTER_HOME=str(tmp_path))
    proc = subprocess.run(
        [sys.executable, "-m", "app.cli", "classify", str(FIXTURES), "--json", "-"],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    records = json.loads(proc.stdout)
    assert len(records) >= 5 and all(r["error"] is None for r in records)


def test_a_correction_from_the_cli_changes_the_next_classify(tmp_path, tiny_model, capsys):
    folder = make_folder(tmp_path)
    assert main(["classify", str(folder / "t1.png"), "--json", "-", "--model", str(tiny_model)]) == 0
    before = json.loads(capsys.readouterr().out)[0]["predictions"][0]["category"]
    target = "sky" if before != "sky" else "effect"
    assert main(["correct", str(folder / "t1.png"), target]) == 0
    capsys.readouterr()
    assert main(["classify", str(folder), "--json", "-", "--model", str(tiny_model)]) == 0
    records = {os.path.basename(r["path"]): r for r in json.loads(capsys.readouterr().out)}
    assert records["t1.png"]["predictions"][0] == {"category": target, "confidence": 1.0}
    assert main(["classify", str(folder), "--json", "-", "--model", str(tiny_model), "--no-learn"]) == 0
    plain = {os.path.basename(r["path"]): r for r in json.loads(capsys.readouterr().out)}
    assert plain["t1.png"]["predictions"][0]["category"] == before


def test_a_fallback_to_the_pixel_rules_is_said_in_the_summary(tmp_path, tiny_model, capsys):
    # The active model is installed, then damaged on disk: the app falls back to the pixel rules,
    # and every summary says so, not only the log.
    from ai.packages.exporter import ModelExporter, ModelImporter

    package = tmp_path / "mine.ps2model"
    ModelExporter().export_model(tiny_model, package, "Mine", "1.0")
    installed = ModelImporter().import_model(package, activate=True)
    installed["model_path"].write_bytes(b"damaged after install")
    (tmp_path / "in").mkdir()
    folder = make_folder(tmp_path / "in")
    assert main(["classify", str(folder), "--json", str(tmp_path / "out.json")]) == 0
    summary = capsys.readouterr().out.strip().splitlines()[-1]
    assert "pixel rules only" in summary and "model.onnx" in summary, summary
    assert main(["sort", str(folder), "--out", str(tmp_path / "sorted"), "--dry-run"]) == 0
    said = capsys.readouterr().out
    assert "pixel rules only" in said and "model.onnx" in said, said
