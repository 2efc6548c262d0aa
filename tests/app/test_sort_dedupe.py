"""Duplicate and LOD groups, and the near-duplicate threshold measured on real game textures.

The measurement: every real texture in tests/fixtures plus, made from it, the kinds of copies a
dump holds (smaller mip levels, resized and upscaled copies, copies padded into larger canvases,
other encodings); textures the fixtures hold twice (`skin.jpg` and `skin.dds`) count as one.
Pairwise precision and recall of the groups `find_groups` forms are printed for a range of
thresholds; the default threshold must keep both high.
"""

from __future__ import annotations

import io
import os
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ai.errors import TextureError
from ai.textures import SUPPORTED_EXTENSIONS, TextureInfo, load_texture
from ai.textures.hashing import pixel_hash
from ai.textures.phash import FLAT_HASH, perceptual_hash
from ai.textures.synth_dds import write_dds
from ai.types import Prediction
from app.results import FileResult
from app.sorting.dedupe import DEFAULT_NEAR_THRESHOLD, find_groups, mip_base_name

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
MIN_VARIANT_SIDE = 8  # copies of 8-15 px are made but scored apart: a 64-bit hash of 8x8 texels is a guess
SCORED_SIDE = 16


def _item(path: str, rgba: np.ndarray, truth: str, kind: str, size: int = 0) -> tuple[FileResult, str, str]:
    h, w = rgba.shape[:2]
    info = TextureInfo("PNG", w, h, "RGBA8", bool((rgba[..., 3] < 255).any()), 1, 32)
    result = FileResult(
        path, size or rgba.nbytes, 0.0, [Prediction("x", 1.0)], info=info,
        pixel_hash=pixel_hash(rgba), perceptual_hash=perceptual_hash(rgba),
    )  # fmt: skip
    return result, truth, kind


def _resize(rgba: np.ndarray, w: int, h: int, method) -> np.ndarray:
    return np.asarray(Image.fromarray(np.ascontiguousarray(rgba), "RGBA").resize((w, h), method))


def _pad(rgba: np.ndarray, fill, centred: bool = False) -> np.ndarray:
    h, w = rgba.shape[:2]
    canvas = np.empty((h + max(4, h // 2), w * 2, 4), dtype=np.uint8)
    canvas[:] = fill
    y, x = ((canvas.shape[0] - h) // 2, (canvas.shape[1] - w) // 2) if centred else (0, 0)
    canvas[y : y + h, x : x + w] = rgba
    return canvas


def _jpeg(rgba: np.ndarray) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba[..., :3]), "RGB").save(buf, "JPEG", quality=80)
    rgb = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
    return np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])


def _truth_key(path: Path) -> str:
    """Same folder and stem = the same texture stored twice (skin.jpg / skin.dds, x.png.cached.dds)."""
    name = path.name.lower()
    for suffix in (".cached.dds", *SUPPORTED_EXTENSIONS):
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    return str(path.parent / name)


def _mip_levels(path: Path, info: TextureInfo) -> list[np.ndarray]:
    """The stored lower mip levels of a real DDS file, decoded by the same loader the pipeline uses."""
    levels = []
    for level in range(1, info.mip_count):
        w, h = info.width >> level, info.height >> level
        if min(w, h) < MIN_VARIANT_SIDE:
            break
        levels.append(np.asarray(load_texture(path, min_size=min(w, h)).pixels))
    return [lv for lv in levels if lv.shape[0] < info.height]


def build_evaluation_set(tmp: Path):
    items = []
    skipped = []
    sources = sorted(
        p
        for p in FIXTURES.rglob("*")
        if p.is_file() and p.suffix.lower() in SUPPORTED_EXTENSIONS and FIXTURES / "tim2" not in p.parents
    )  # the real textures: tim2/ holds one synthetic picture in eleven formats
    for n, path in enumerate(sources):
        try:
            texture = load_texture(path)
        except TextureError as exc:
            skipped.append((path.name, exc.reason))
            continue
        rgba, info = np.asarray(texture.pixels), texture.info
        truth = _truth_key(path)
        items.append(_item(str(path), rgba, truth, "original", path.stat().st_size))
        h, w = rgba.shape[:2]
        if min(h, w) < 2 * MIN_VARIANT_SIDE:
            continue  # 2x2 and 1x8 textures have no smaller copies worth the name
        variants = {
            "half size": _resize(rgba, w // 2, h // 2, Image.Resampling.BOX),
            "quarter size": _resize(rgba, w // 4, h // 4, Image.Resampling.BOX) if min(h, w) >= 32 else None,
            "resized 70%": _resize(rgba, round(w * 0.7), round(h * 0.7), Image.Resampling.LANCZOS),
            "upscaled 2x": _resize(rgba, w * 2, h * 2, Image.Resampling.BICUBIC)
            if max(h, w) <= 512
            else None,
            "padded, transparent": _pad(rgba, (0, 0, 0, 0)),
            "padded, black": _pad(rgba, (0, 0, 0, 255)),
            "padded, centred grey": _pad(rgba, (128, 128, 128, 255), centred=True),
            "re-encoded JPEG": _jpeg(rgba) if not info.has_alpha else None,
        }
        if info.format == "DDS" and info.mip_count > 1:
            mips = _mip_levels(path, info)
            kind = "stored DDS mip"
        else:
            dds = tmp / f"{n}.dds"
            write_dds(
                dds, rgba, "DXT5" if info.has_alpha else "DXT1", mip_levels=min(5, int(np.log2(min(h, w))))
            )
            mips = _mip_levels(dds, load_texture(dds).info)
            kind = "BC1/BC3 DDS mip"
        for level, mip in enumerate(mips, start=1):
            variants[f"{kind} {level}" if level <= 3 else f"{kind} 4+"] = mip
        for kind, pixels in variants.items():
            if pixels is not None and min(pixels.shape[:2]) >= MIN_VARIANT_SIDE:
                items.append(_item(f"{path}#{kind}", pixels, truth, kind))
    return items, skipped


def _scored(result: FileResult) -> bool:
    return min(result.info.width, result.info.height) >= SCORED_SIDE


def pair_scores(items, groups) -> tuple[float, float, int, int]:
    """Pairwise precision and recall of `groups` against the truth labels, over images ≥ 16 px."""
    label = {r.path: truth for r, truth, _ in items if _scored(r)}
    by_truth = Counter(label.values())
    true_pairs = sum(n * (n - 1) // 2 for n in by_truth.values())
    found = correct = 0
    for g in groups:
        counts = Counter(label[m] for m in g.members if m in label)
        size = sum(counts.values())
        found += size * (size - 1) // 2
        correct += sum(n * (n - 1) // 2 for n in counts.values())
    precision = correct / found if found else 1.0
    recall = correct / true_pairs if true_pairs else 1.0
    return precision, recall, found, true_pairs


def variant_recall(items, groups) -> dict[str, tuple[int, int]]:
    """Per kind of copy: how many ended up in the same group as their original."""
    group_of = {m: g.id for g in groups for m in g.members}
    original = {truth: r.path for r, truth, kind in items if kind == "original"}
    hits: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for r, truth, kind in items:
        if kind == "original":
            continue
        if not _scored(r):
            kind = "tiny copies (8-15 px)"
        hits[kind][1] += 1
        if group_of.get(r.path) is not None and group_of.get(r.path) == group_of.get(original[truth]):
            hits[kind][0] += 1
    return {k: (v[0], v[1]) for k, v in sorted(hits.items())}


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory):
    items, skipped = build_evaluation_set(tmp_path_factory.mktemp("dedupe-eval"))
    if len({truth for _, truth, _ in items}) < 10:
        pytest.skip("needs the real fixture textures in tests/fixtures")
    return items, skipped


def test_near_duplicate_threshold_measured_on_real_textures(evaluation, capsys):
    items, skipped = evaluation
    results = [r for r, _, _ in items]
    originals = sum(1 for *_, kind in items if kind == "original")
    flat = sum(1 for r, _, kind in items if kind == "original" and r.perceptual_hash == FLAT_HASH)
    table = {}
    for threshold in range(0, 17, 2):
        table[threshold] = pair_scores(items, find_groups(results, "near", threshold=threshold))
    table[DEFAULT_NEAR_THRESHOLD] = pair_scores(items, find_groups(results, "near"))
    per_kind = variant_recall(items, find_groups(results, "near"))
    with capsys.disabled():
        print(
            f"\nnear-duplicate grouping on {originals} real textures ({len({t for _, t, _ in items})} distinct, "
            f"{flat} flat) + {len(items) - originals} copies = {len(items)} images; pairwise scores:"
        )
        for threshold, (p, r, found, true) in sorted(table.items()):
            mark = "  <- default" if threshold == DEFAULT_NEAR_THRESHOLD else ""
            print(
                f"  threshold {threshold:2d}: precision {p:.3f}  recall {r:.3f}  ({found} pairs grouped, {true} true){mark}"
            )
        print("  copies grouped with their original, by kind, at the default threshold:")
        for kind, (hit, total) in per_kind.items():
            print(f"    {kind:24s} {hit:3d}/{total:<3d} {hit / total:.0%}")
        for name, reason in skipped:
            print(f"  (fixture not decodable: {name}: {reason})")
    precision, recall, _, _ = table[DEFAULT_NEAR_THRESHOLD]
    assert precision >= 0.95
    assert recall >= 0.65
    assert table[0][1] < recall, "a zero threshold finds only identical hashes: the threshold must matter"


def test_exact_groups_join_identical_pixels_in_any_container_and_nothing_else(tmp_path):
    rng = np.random.default_rng(5)
    rgba = np.asarray(
        Image.fromarray((rng.random((8, 8, 4)) * 255).astype(np.uint8), "RGBA").resize((64, 64))
    )
    Image.fromarray(rgba).save(tmp_path / "a.png")
    Image.fromarray(rgba).save(tmp_path / "b.tga")
    Image.fromarray(rgba[:, ::-1].copy()).save(tmp_path / "mirrored.png")
    Image.fromarray(_resize(rgba, 32, 32, Image.Resampling.BOX)).save(tmp_path / "small.png")
    results = []
    for name in ("a.png", "b.tga", "mirrored.png", "small.png"):
        t = load_texture(tmp_path / name)
        results.append(
            _item(str(tmp_path / name), np.asarray(t.pixels), name, "x", os.path.getsize(tmp_path / name))[0]
        )
    exact = find_groups(results, "exact")
    assert [sorted(os.path.basename(m) for m in g.members) for g in exact] == [["a.png", "b.tga"]]
    assert exact[0].kind == "exact" and exact[0].to_json()["linked_by"] == ["pixels"]
    near = find_groups(results, "near")
    assert [sorted(os.path.basename(m) for m in g.members) for g in near] == [["a.png", "b.tga", "small.png"]]
    assert near[0].kind == "near" and os.path.basename(near[0].representative) in ("a.png", "b.tga")
    assert find_groups(results, "off") == []


def test_pcsx2_mip_files_join_their_base_texture_by_name(tmp_path):
    base = "5a3c1e2f7b9d0c4e-00000000-00005a49"
    assert mip_base_name(f"/x/{base}-mip2.png") == (f"{base}.png", 2)
    assert mip_base_name(f"/x/{base}.png") is None
    flat = np.full((4, 4, 4), 200, np.uint8)  # tiny flat mips: no perceptual evidence at all
    results = [
        _item(
            f"/d/{base}.png", _resize(np.dstack([np.eye(64, dtype=np.uint8) * 255] * 4), 64, 64, 0), "t", "x"
        )[0],
        _item(f"/d/{base}-mip1.png", flat, "t", "x")[0],
        _item(f"/other/{base}-mip2.png", flat[:2, :2], "t", "x")[0],
        _item("/d/unrelated-mip1.png", np.full((4, 4, 4), 9, np.uint8), "u", "x")[0],
    ]
    groups = find_groups(results, "near")
    assert len(groups) == 1
    assert [os.path.basename(m) for m in groups[0].members] == [
        f"{base}.png",
        f"{base}-mip1.png",
        f"{base}-mip2.png",
    ]
    assert "mip-name" in groups[0].reasons


def test_hashes_missing_from_a_gui_classification_are_filled_for_near_duplicates(tmp_path, tiny_model):
    from ai.learning.learner import IncrementalLearner
    from ai.learning.store import TrainingDataStore
    from ai.model_manager import ModelManager
    from app.pipeline import classify_folder
    from app.sorting import fill_missing_hashes

    rng = np.random.default_rng(9)
    rgba = np.asarray(
        Image.fromarray((rng.random((8, 8, 4)) * 255).astype(np.uint8), "RGBA").resize((64, 64))
    )
    Image.fromarray(rgba).save(tmp_path / "a.png")
    Image.fromarray(_resize(rgba, 32, 32, Image.Resampling.BOX)).save(tmp_path / "a_small.png")
    Image.fromarray(rgba[::-1].copy()).save(tmp_path / "other.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 40)
    manager = ModelManager.create_default({"model_path": tiny_model, "num_threads": 1})
    manager.learner = IncrementalLearner(TrainingDataStore(":memory:"))
    # With a learner attached (the GUI) the pipeline computes pixel hashes only.
    results = [r for batch in classify_folder([tmp_path], manager) for r in batch]
    ok = [r for r in results if not r.error]
    assert len(ok) == 3 and all(r.pixel_hash and r.perceptual_hash is None for r in ok)
    assert find_groups(results, "near") == []

    known: dict = {}
    filled = fill_missing_hashes(results, "near", known)
    groups = find_groups(filled, "near")
    assert [sorted(os.path.basename(m) for m in g.members) for g in groups] == [["a.png", "a_small.png"]]
    assert set(known) == {r.path for r in ok}  # the broken file was not decoded again
    # A second plan reuses what was filled: nothing is decoded again.
    (tmp_path / "a.png").unlink()
    again = fill_missing_hashes(results, "near", known)
    assert [r.perceptual_hash for r in again] == [r.perceptual_hash for r in filled]
    # Sorting from the CLI (hashes=True) gets both hashes from the pipeline itself.
    Image.fromarray(rgba).save(tmp_path / "a.png")
    sorted_run = [
        r for batch in classify_folder([tmp_path], manager, hashes=True) for r in batch if not r.error
    ]
    assert all(r.perceptual_hash is not None for r in sorted_run)
    assert fill_missing_hashes(results, "off", known) == list(results)
