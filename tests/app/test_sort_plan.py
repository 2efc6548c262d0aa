"""Sort plans: destinations, layouts, unsorted, clashes, OUT inside the source, links, manifests, JSON."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ai.errors import SortError
from ai.textures import load_texture
from ai.textures.hashing import pixel_hash
from ai.textures.phash import perceptual_hash
from ai.textures.synth_dds import write_dds
from ai.types import Prediction
from app.results import FileResult
from app.scan import scan_textures
from app.sorting.plan import SortPlan, build_plan, write_manifest


def _picture(seed: int, size=(64, 64), alpha: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    small = (rng.random((6, 6, 4)) * 255).astype(np.uint8)
    rgba = np.asarray(Image.fromarray(small, "RGBA").resize(size, Image.Resampling.BICUBIC)).copy()
    if not alpha:
        rgba[..., 3] = 255
    return rgba


def _png(path: Path, seed: int = 0, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(_picture(seed, **kw), "RGBA").save(path)
    return path


def _result(path: Path, category: str, confidence: float = 0.9) -> FileResult:
    """A FileResult as the pipeline makes it: real decode, real hashes, the given prediction."""
    texture = load_texture(path)
    st = os.stat(path)
    return FileResult(
        str(path),
        st.st_size,
        st.st_mtime,
        [Prediction(category, confidence), Prediction("other", 1 - confidence)],
        source="rules",
        info=texture.info,
        pixel_hash=pixel_hash(texture.pixels),
        perceptual_hash=perceptual_hash(texture.pixels),
    )


def _rel(plan: SortPlan) -> dict[str, str]:
    return {
        os.path.relpath(e.source, plan.source_root): os.path.relpath(e.dest, plan.out_dir).replace(
            os.sep, "/"
        )
        for e in plan.entries
    }


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")}


def test_files_go_to_their_category_folder_and_nested_ids_become_subfolders(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    results = [
        _result(_png(src / "a" / "wall_n.png", 1), "map/normal"),
        _result(_png(src / "b" / "hud.png", 2), "ui/hud"),
    ]
    plan = build_plan(results, out, source_root=src)
    assert _rel(plan) == {"a/wall_n.png": "map/normal/wall_n.png", "b/hud.png": "ui/hud/hud.png"}
    assert not out.exists(), "planning touches nothing"


def test_low_confidence_goes_to_the_unsorted_folder_under_its_configured_name(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    results = [
        _result(_png(src / "sure.png", 1), "font", 0.8),
        _result(_png(src / "guess.png", 2), "font", 0.3),
    ]
    plan = build_plan(results, out, source_root=src, min_confidence=0.5)
    assert _rel(plan) == {"sure.png": "font/sure.png", "guess.png": "_unsorted/guess.png"}
    plan = build_plan(results, out, source_root=src, min_confidence=0.5, unsorted_name="check me")
    assert _rel(plan)["guess.png"] == "check me/guess.png"
    assert [e.role for e in plan.entries] == ["sorted", "unsorted"]


def test_name_clashes_go_to_numbered_sibling_folders_and_keep_the_exact_name(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    name = "5a3c1e2f7b9d0c4e-00005a49.png"  # PCSX2 replacement names must survive byte for byte
    results = [_result(_png(src / f"dump{n}" / name, n), "ui") for n in range(3)]
    (out / "ui").mkdir(parents=True)
    (out / "ui" / name).write_bytes(b"from an earlier sort")  # already there: never overwritten
    plan = build_plan(results, out, source_root=src)
    assert sorted(_rel(plan).values()) == [f"ui/_clash-{n}/{name}" for n in (2, 3, 4)]
    assert all(os.path.basename(e.dest) == name for e in plan.entries)


def test_case_only_differences_count_as_clashes_for_windows_and_macos(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    results = [_result(_png(src / "a" / "Rock.png", 1), "ui"), _result(_png(src / "b" / "rock.png", 2), "ui")]
    assert sorted(_rel(build_plan(results, out, source_root=src)).values()) == [
        "ui/Rock.png",
        "ui/_clash-2/rock.png",
    ]


def test_category_format_layout_uses_dds_pixel_format_and_alpha(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    write_dds(src / "wall_n.dds", _picture(3), "ATI2")
    Image.fromarray(_picture(6)).convert("RGB").quantize(16).save(src / "indexed.png")
    Image.fromarray(_picture(7)).convert("L").save(src / "grey.png")
    results = [
        _result(src / "wall_n.dds", "map/normal"),
        _result(_png(src / "icon.png", 4, alpha=True), "ui/hud"),
        _result(_png(src / "sky.png", 5), "environment/sky"),
        _result(src / "indexed.png", "ui"),
        _result(src / "grey.png", "ui"),
    ]
    plan = build_plan(results, out, source_root=src, layout="category-format")
    assert _rel(plan) == {
        "wall_n.dds": "map/normal/BC5/wall_n.dds",
        "icon.png": "ui/hud/alpha/icon.png",
        "sky.png": "environment/sky/opaque/sky.png",
        "indexed.png": "ui/opaque-8bit/indexed.png",
        "grey.png": "ui/opaque/grey.png",
    }


def test_structure_layout_keeps_source_folders_under_each_category_and_flat_uses_one_level(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    results = [_result(_png(src / "chr" / "hero" / "face.png", 1), "character/face")]
    assert _rel(build_plan(results, out, source_root=src, layout="structure")) == {
        "chr/hero/face.png": "character/face/chr/hero/face.png"
    }
    assert _rel(build_plan(results, out, source_root=src, layout="flat")) == {
        "chr/hero/face.png": "character-face/face.png"
    }


def test_category_ids_cannot_climb_out_of_the_output_folder(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    results = [
        _result(_png(src / "x.png", 1), "../../etc"),
        _result(_png(src / "y.png", 2), "/abs/../ok"),
        _result(_png(src / "z.png", 3), 'a:b*c?"d"'),
    ]
    plan = build_plan(results, out, source_root=src)
    for entry in plan.entries:
        assert Path(entry.dest).resolve().is_relative_to(out.resolve())
    assert _rel(plan) == {"x.png": "etc/x.png", "y.png": "abs/ok/y.png", "z.png": "a_b_c__d_/z.png"}


def test_output_inside_the_source_is_not_sorted_again(tmp_path):
    src = tmp_path / "src"
    out = src / "sorted"
    _png(src / "new.png", 1)
    _png(out / "ui" / "old.png", 2)  # output of an earlier sort
    files, problems = scan_textures([src], exclude=[out])
    assert [os.path.basename(f.path) for f in files] == ["new.png"] and not problems
    # Even when handed a file from OUT (a stale list, a GUI selection), the plan leaves it alone.
    results = [_result(src / "new.png", "ui"), _result(out / "ui" / "old.png", "ui")]
    plan = build_plan(results, out, source_root=src)
    assert _rel(plan) == {"new.png": "ui/new.png"}
    assert [(os.path.basename(s.path), s.reason) for s in plan.skipped] == [
        ("old.png", "inside the output folder")
    ]


def test_an_output_folder_that_contains_the_source_is_refused(tmp_path):
    src = tmp_path / "out" / "incoming"
    results = [_result(_png(src / "a.png", 1), "ui")]
    with pytest.raises(SortError, match="or contains, the source"):
        build_plan(results, tmp_path / "out", source_root=src)
    with pytest.raises(SortError, match="or contains, the source"):
        build_plan(results, src, source_root=src)


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symlinks")
def test_links_are_not_followed_out_of_the_source_tree(tmp_path):
    src, out, elsewhere = tmp_path / "src", tmp_path / "out", tmp_path / "private"
    secret = _png(elsewhere / "secret.png", 1)
    (elsewhere / "deep").mkdir()
    _png(elsewhere / "deep" / "inner.png", 2)
    real = _png(src / "real.png", 3)
    src.joinpath("outside.png").symlink_to(secret)
    src.joinpath("alias.png").symlink_to(real)
    src.joinpath("linked-folder").symlink_to(elsewhere / "deep", target_is_directory=True)

    files, _ = scan_textures([src], exclude=[out])
    scanned = sorted(os.path.basename(f.path) for f in files)
    assert "secret.png" not in scanned and "inner.png" not in scanned and "outside.png" not in scanned

    # Handed the links directly: the outside one is refused, the inside alias is the real file once.
    results = [_result(src / "outside.png", "ui"), _result(src / "alias.png", "ui"), _result(real, "ui")]
    plan = build_plan(results, out, source_root=src)
    assert [e.source for e in plan.entries] == [str(real.resolve())]
    reasons = sorted(s.reason for s in plan.skipped)
    assert reasons[0] == "a link leading out of the source folder"
    assert reasons[1].startswith("same file as")


def test_unicode_and_very_long_names_are_planned_unchanged(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    long_name = "t" * 240 + ".png"  # 244 bytes: near the 255-byte limit of most file systems
    names = ["ñandú-テクスチャ-текстура.png", long_name, "emoji-🎮.png"]
    results = [_result(_png(src / name, n), "ui") for n, name in enumerate(names)]
    plan = build_plan(results, out, source_root=src)
    assert sorted(os.path.basename(e.dest) for e in plan.entries) == sorted(names)


def test_files_that_failed_to_classify_stay_put_and_are_reported(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    good = _result(_png(src / "ok.png", 1), "ui")
    bad = FileResult(str(src / "broken.dds"), 10, 0.0, [], error="truncated DDS header")
    plan = build_plan([good, bad], out, source_root=src)
    assert [os.path.basename(e.source) for e in plan.entries] == ["ok.png"]
    assert plan.skipped[0].reason == "not classified: truncated DDS header"


def _duplicate_set(src: Path) -> list[FileResult]:
    big = _picture(7, size=(128, 128))
    Image.fromarray(big).save(_png(src / "a" / "rock.png", 0))
    (src / "b").mkdir(exist_ok=True)
    Image.fromarray(big).save(src / "b" / "rock copy.png")
    half = Image.fromarray(big).resize((64, 64), Image.Resampling.BOX)
    half.save(src / "a" / "rock-mip1.png")
    return [
        _result(src / "a" / "rock.png", "environment/rock", 0.9),
        _result(src / "b" / "rock copy.png", "environment/rock", 0.8),
        _result(src / "a" / "rock-mip1.png", "ui", 0.6),  # a worse guess on the small mip
        _result(_png(src / "other.png", 99), "ui", 0.9),
    ]


def test_duplicates_can_go_to_a_group_folder_keeping_one_representative(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    plan = build_plan(_duplicate_set(src), out, source_root=src, dedupe="near")
    assert len(plan.groups) == 1
    group = plan.groups[0]
    rel = _rel(plan)
    assert rel["a/rock.png"] == "environment/rock/rock.png"  # the representative: largest, base level
    assert rel["b/rock copy.png"] == f"_duplicates/{group.id}/rock copy.png"
    assert rel["a/rock-mip1.png"] == f"_duplicates/{group.id}/rock-mip1.png"
    assert rel["other.png"] == "ui/other.png"
    exact = build_plan(_duplicate_set(src), out, source_root=src, dedupe="exact")
    assert [len(g.members) for g in exact.groups] == [2] and exact.groups[0].kind == "exact"
    # The one copy of a pair needs no folder of its own.
    assert _rel(exact)["b/rock copy.png"] == "_duplicates/rock copy.png"
    assert {e.group for e in exact.entries if e.source.endswith("rock copy.png")} == {exact.groups[0].id}


def test_duplicates_can_stay_together_in_the_category_of_their_largest_member(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    plan = build_plan(_duplicate_set(src), out, source_root=src, dedupe="near", duplicates="together")
    rel = _rel(plan)
    assert rel["a/rock-mip1.png"] == "environment/rock/rock-mip1.png"
    assert rel["b/rock copy.png"] == "environment/rock/rock copy.png"
    assert {e.group for e in plan.entries if "rock" in e.source} == {plan.groups[0].id}


def test_plan_round_trips_through_json_with_its_groups(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    plan = build_plan(_duplicate_set(src), out, source_root=src, dedupe="near", mode="move")
    plan.save(tmp_path / "plan.json")
    data = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    assert data["groups"][0]["members"] == plan.groups[0].members
    again = SortPlan.load(tmp_path / "plan.json")
    assert again.to_json() == plan.to_json()
    (tmp_path / "bad.json").write_text('{"version": 99}')
    with pytest.raises(SortError, match="bad.json"):
        SortPlan.load(tmp_path / "bad.json")


def test_manifest_only_writes_csv_and_json_and_touches_no_texture(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    results = _duplicate_set(src) + [_result(_png(src / "ünïcode.png", 5), "font", 0.1)]
    before = _tree(src)
    plan = build_plan(results, out, source_root=src, dedupe="near", min_confidence=0.5)
    csv_path, json_path = write_manifest(plan)
    assert _tree(src) == before
    assert sorted(p.name for p in out.iterdir()) == [
        "texture-sorter-manifest.csv",
        "texture-sorter-manifest.json",
    ]
    with open(csv_path, encoding="utf-8-sig", newline="") as fh:
        rows = {os.path.basename(r["path"]): r for r in csv.DictReader(fh)}
    assert rows["rock.png"]["category"] == "environment/rock"
    assert rows["rock.png"]["group"] == plan.groups[0].id
    assert rows["ünïcode.png"]["category"] == "_unsorted"
    assert float(rows["other.png"]["confidence"]) == pytest.approx(0.9)
    document = json.loads(Path(json_path).read_text(encoding="utf-8"))
    assert len(document["files"]) == 5 and document["groups"][0]["id"] == plan.groups[0].id
