"""`texture-sorter correct`, `learn …` and `rules …` from the command line, and the learning curve."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ai.taxonomy import default_categories
from app.cli import main
from app.commands.learn import simulate_corrections


def png(path: Path, colour, size: int = 16, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    pixels = np.clip(np.array(colour, np.int16) + rng.integers(-12, 13, (size, size, 3)), 0, 255).astype(
        np.uint8
    )
    rgba = np.dstack([pixels, np.full((size, size), 255, np.uint8)])
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgba, "RGBA").save(path)
    return path


def stats(capsys) -> dict:
    capsys.readouterr()
    assert main(["learn", "stats", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_correct_records_the_answer_and_the_next_guess_uses_it(tmp_path, tiny_model, capsys):
    texture = png(tmp_path / "rock_01.png", (120, 110, 100))
    assert main(["correct", str(texture), "surface/metal", "--model", str(tiny_model)]) == 0
    out = capsys.readouterr().out
    assert "corrected to surface/metal" in out or "confirmed surface/metal" in out
    assert "now: surface/metal 100%" in out
    first = stats(capsys)
    assert first["total"] == 1 and first["with_embeddings"] == 1
    # Correcting the same picture again replaces the answer; it still counts once.
    copy = tmp_path / "elsewhere" / "same.png"
    copy.parent.mkdir()
    copy.write_bytes(texture.read_bytes())
    assert main(["correct", str(copy), "surface/wood", "--model", str(tiny_model)]) == 0
    assert "said surface/metal; the new answer replaces it" in capsys.readouterr().out
    assert stats(capsys)["total"] == 1


def test_correct_without_a_model_learns_on_top_of_the_rules(tmp_path, capsys, monkeypatch):
    import ai.model_manager

    monkeypatch.setattr(ai.model_manager, "_active_model_path", lambda: None)  # no model installed
    texture = png(tmp_path / "x.png", (30, 30, 200))
    assert main(["correct", str(texture), "sky"]) == 0
    assert "pixel rules" in capsys.readouterr().out
    assert stats(capsys)["total"] == 1


def test_unknown_category_exits_2_and_lists_the_valid_ids(tmp_path, capsys):
    texture = png(tmp_path / "x.png", (30, 30, 200))
    assert main(["correct", str(texture), "surface/cheese"]) == 2
    err = capsys.readouterr().err
    assert "unknown category 'surface/cheese'" in err
    assert all(c in err for c in default_categories())
    assert stats(capsys)["total"] == 0


def test_missing_and_unreadable_files_are_refused_with_their_name(tmp_path, capsys):
    assert main(["correct", str(tmp_path / "gone.png"), "sky"]) == 2
    assert "gone.png: file not found" in capsys.readouterr().err
    broken = tmp_path / "broken.dds"
    broken.write_bytes(b"DDS " + b"\x00" * 20)
    assert main(["correct", str(broken), "sky"]) == 1
    assert "broken.dds" in capsys.readouterr().err


def test_list_undo_remove_and_edit(tmp_path, capsys):
    a = png(tmp_path / "a.png", (200, 30, 30), seed=1)
    b = png(tmp_path / "b.png", (30, 200, 30), seed=2)
    assert main(["correct", str(a), "sky"]) == 0
    assert main(["correct", str(b), "effect"]) == 0
    capsys.readouterr()
    assert main(["learn", "list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert len(listing) == 2 and "→ effect" in listing[0] and "b.png" in listing[0]
    first_id = int(listing[1].split()[0].lstrip("#"))
    assert main(["learn", "undo"]) == 0
    assert "b.png → effect" in capsys.readouterr().out
    assert main(["learn", "edit", str(first_id), "surface/tile"]) == 0
    assert "is now surface/tile" in capsys.readouterr().out
    assert stats(capsys)["categories"]["surface/tile"]["corrected_to"] == 1
    assert main(["learn", "edit", str(first_id), "nope"]) == 2
    assert main(["learn", "remove", "999"]) == 2
    assert main(["learn", "remove", str(first_id)]) == 0
    assert stats(capsys)["total"] == 0
    capsys.readouterr()
    assert main(["learn", "undo"]) == 0
    assert "nothing to undo" in capsys.readouterr().out


def test_export_then_import_into_another_profile(tmp_path, tiny_model, capsys, monkeypatch):
    for i, colour in enumerate([(200, 30, 30), (30, 200, 30), (30, 30, 200)]):
        texture = png(tmp_path / f"{i}.png", colour, seed=i)
        assert main(["correct", str(texture), "sky", "--model", str(tiny_model)]) == 0
    history = tmp_path / "history.json"
    assert main(["learn", "export", str(history)]) == 0
    assert "exported 3 corrections" in capsys.readouterr().out
    monkeypatch.setenv("TEXTURE_SORTER_HOME", str(tmp_path / "another-user"))
    assert stats(capsys)["total"] == 0
    assert main(["learn", "import", str(history)]) == 0
    assert "3 added, 0 already known" in capsys.readouterr().out
    assert main(["learn", "import", str(history)]) == 0
    assert "0 added, 3 already known" in capsys.readouterr().out
    imported = stats(capsys)
    assert imported["total"] == 3 and imported["with_embeddings"] == 3
    not_json = tmp_path / "notes.txt"
    not_json.write_text("hello")
    assert main(["learn", "import", str(not_json)]) == 1
    assert "notes.txt" in capsys.readouterr().err
    assert main(["learn", "import", str(tmp_path / "missing.json")]) == 2


def test_rules_add_list_test_remove_mode_and_import(tmp_path, capsys):
    assert main(["rules", "add", "*_nm.*", "map/normal"]) == 0
    assert main(["rules", "add", "*/font*", "ui/font", "--at", "1"]) == 0
    capsys.readouterr()
    assert main(["rules", "list"]) == 0
    out = capsys.readouterr().out
    assert "mode: prior" in out and out.index("*/font*") < out.index("*_nm.*")
    assert main(["rules", "test", "/g/fonts/a_nm.png", "/g/rock_nm.dds", "/g/0xab12.dds"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "/g/fonts/a_nm.png: rule 1 (*/font*) → ui/font",
        "/g/rock_nm.dds: rule 2 (*_nm.*) → map/normal",
        "/g/0xab12.dds: no rule",
    ]
    assert main(["rules", "add", "*.png", "surface/cheese"]) == 2
    assert main(["rules", "add", "re:([", "sky"]) == 2
    assert main(["rules", "remove", "5"]) == 2
    assert main(["rules", "remove", "1"]) == 0
    assert main(["rules", "mode", "rules_win"]) == 0
    capsys.readouterr()
    assert main(["rules", "list"]) == 0
    out = capsys.readouterr().out
    assert "mode: rules_win" in out and "*/font*" not in out
    toml = tmp_path / "mine.toml"
    toml.write_text(
        'mode = "content_wins"\n[[rules]]\npattern = "sky_*"\ncategory = "sky"\n', encoding="utf-8"
    )
    assert main(["rules", "import", str(toml)]) == 0
    capsys.readouterr()
    assert main(["rules", "list"]) == 0
    out = capsys.readouterr().out
    assert "mode: content_wins" in out and "sky_*" in out and "*_nm.*" not in out
    toml.write_text("mode = [", encoding="utf-8")
    assert main(["rules", "import", str(toml)]) == 1
    assert "mine.toml" in capsys.readouterr().err


def test_a_broken_saved_rules_file_is_reported_not_overwritten(_isolated_user_dirs, capsys):
    saved = _isolated_user_dirs / "config" / "user_rules.json"
    saved.parent.mkdir(parents=True, exist_ok=True)
    saved.write_text("{broken", encoding="utf-8")
    assert main(["rules", "add", "*_nm.*", "map/normal"]) == 1
    assert "user_rules.json" in capsys.readouterr().err
    assert saved.read_text(encoding="utf-8") == "{broken"


# -- learning curve -------------------------------------------------------------------------------


def test_simulated_user_corrects_the_most_confident_wrong_guesses_per_category():
    categories = ["a", "b", "c"]
    probs = np.array(
        [
            [0.9, 0.05, 0.05],
            [0.8, 0.1, 0.1],
            [0.7, 0.2, 0.1],
            [0.6, 0.3, 0.1],
            [0.1, 0.8, 0.1],
            [0.1, 0.2, 0.7],
        ],
        np.float32,
    )
    labels = np.array([1, 2, 1, 0, 2, 2])  # wrong: rows 0, 1, 2 (model said a) and 4 (model said b)
    rows = simulate_corrections(probs, None, labels, categories, (0, 1, 2, 9))
    assert [(r["k"], r["corrections"], r["remaining"]) for r in rows] == [
        (0, 0, 6),
        (1, 2, 4),
        (2, 3, 3),
        (9, 4, 2),
    ]
    # k=1 takes row 0 (most confident wrong "a") and row 4; rows 1, 2, 3, 5 remain: 3 and 5 are right.
    assert rows[1]["model"] == pytest.approx(2 / 4)
    assert rows[0]["model"] == rows[0]["learner"] == pytest.approx(2 / 6)


def make_dataset(root: Path, colours: dict[str, tuple[int, int, int]], per_category: int) -> Path:
    rng = np.random.default_rng(7)
    for n, (category, colour) in enumerate(colours.items()):
        for i in range(per_category):
            shade = np.array(colour) + rng.integers(-25, 26, 3)
            png(root / category / f"{i:03d}.png", shade, size=8, seed=1000 * n + i)
    return root


def test_learning_curve_rises_with_corrections_on_generated_data(tmp_path, model_builder, capsys):
    colours = {
        "map/normal": (128, 128, 255),
        "sky": (90, 160, 230),
        "surface/grass": (60, 150, 40),
        "surface/rock": (120, 115, 110),
        "effect": (250, 160, 30),
        "ui/font": (240, 240, 240),
    }
    categories = list(colours)
    model = model_builder(tmp_path / "tiny.onnx", categories, input_size=8, seed=3)
    data = make_dataset(tmp_path / "data", colours, 70)
    report = tmp_path / "curve.json"
    code = main(["learn", "curve", str(data), "--model", str(model), "--json", str(report), "--threads", "2"])
    out = capsys.readouterr().out
    assert code == 0, out
    print(out)
    rows = json.loads(report.read_text())["rows"]
    assert [r["k"] for r in rows] == [0, 5, 10, 25, 50]
    assert rows[0]["corrections"] == 0 and rows[0]["remaining"] == 6 * 70
    assert rows[0]["learner"] == rows[0]["model"] < 0.9  # the tiny model makes mistakes to learn from
    accuracy = [r["learner"] for r in rows]
    assert accuracy[-1] > accuracy[0]
    assert all(
        later >= earlier - 0.02 for earlier, later in zip(accuracy, accuracy[1:], strict=False)
    )  # rises, give or take
    # Learning, not just fewer hard files left: the learner beats the model on the same remaining files.
    assert all(r["learner"] > r["model"] for r in rows[1:] if r["corrections"])
    assert "| k | corrections | remaining | model alone | + confusion | + kNN | learner |" in out


def test_curve_refuses_a_folder_without_category_folders(tmp_path, tiny_model, capsys):
    png(tmp_path / "data" / "misc" / "a.png", (1, 2, 3))
    assert main(["learn", "curve", str(tmp_path / "data"), "--model", str(tiny_model)]) == 2
    assert "no textures in folders named by the model's categories" in capsys.readouterr().err
    assert (
        main(["learn", "curve", str(tmp_path / "data"), "--model", str(tiny_model), "--set", "bogus=1"]) == 2
    )
