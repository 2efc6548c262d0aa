"""The recipe's label rules, object collapsing and archive readers (no game data needed)."""

from __future__ import annotations

import gzip
import struct
import zipfile

import numpy as np
from PIL import Image

from models.recipe import archives, dataset, label_rules


def test_torcs_n_suffix_means_no_mipmap_not_normal_map():
    assert label_rules.label("torcs", "tracks/road/e-track-3/tr-grass5_n.rgb") == "surface/grass"
    assert label_rules.label("torcs", "tracks/road/e-track-3/tr-grass5_n.rgb") != "map/normal"


def test_ufoai_glow_and_specular_suffixes():
    assert label_rules.label("ufoai", "models/aircraft/ufo_fighter/ufo_fighter_hull_gm.png") == "map/emissive"
    assert label_rules.label("ufoai", "textures/tex_lights/light005off_sm.png") == "map/specular"
    assert label_rules.label("ufoai", "textures/tex_doors/door006_nm.png") == "map/normal"


def test_normal_is_a_button_state_in_ui_heavy_games():
    assert label_rules.label("naev", "gfx/gui/slim/button_normal.png") == "ui/hud"
    assert label_rules.label("widelands", "images/ui_basic/but1_normal.png") == "ui/hud"
    assert label_rules.label("redeclipse", "textures/wall_normal.png") == "map/normal"


def test_flightgear_light_maps_and_liveries():
    assert label_rules.label("flightgear", "Models/Geometry/Nimitz/h_deck_lm.png") == "map/emissive"
    assert label_rules.label("flightgear", "AI/Aircraft/A320/Models/A320-tex.png") == "vehicle"
    assert label_rules.label("flightgear", "Textures/Terrain/dunes-lencois.png") == "surface/ground"


def test_animation_frames_and_rotations_share_one_object():
    key = label_rules.object_key
    assert key("wesnoth", "core/images/units/elves-wood/archer-attack-se-3.png") == key(
        "wesnoth", "core/images/units/elves-wood/archer-attack-se-12.png"
    )
    assert key("unknownhorizons", "gfx/units/inhabitant/sailor/as_male/idle/90/0000.png") == key(
        "unknownhorizons", "gfx/units/inhabitant/sailor/as_male/move/225/0003.png"
    )
    assert key("endlesssky", "asteroid/gold/spin-39.png") == key("endlesssky", "asteroid/gold/spin-03.png")
    assert key("0ad", "art/textures/terrain/grass01.png") != key("0ad", "art/textures/terrain/sand01.png")


def test_collapse_keeps_small_variant_sets_and_one_frame_of_an_animation():
    frames = [{"game": "g", "category": "c", "object": "walk", "relpath": f"walk_{i}.png"} for i in range(8)]
    variants = [{"game": "g", "category": "c", "object": "rock", "relpath": f"rock{i}.png"} for i in range(3)]
    kept, collapsed = dataset.collapse_objects(frames + variants)
    assert collapsed == 7
    assert sorted(r["relpath"] for r in kept if r["object"] == "rock") == [
        "rock0.png",
        "rock1.png",
        "rock2.png",
    ]
    assert len([r for r in kept if r["object"] == "walk"]) == 1


def _c4group(entries: dict[str, bytes]) -> bytes:
    """An OpenClonk group as the game writes it: scrambled header, entry table, data, gzip'd."""
    header = bytearray(archives.C4_HEADER)
    header[: len(archives.C4_ID)] = archives.C4_ID
    header[28:40] = struct.pack("<iii", 1, 2, len(entries))
    scrambled = bytearray(header)
    for i in range(0, len(scrambled) - 2, 3):  # the inverse of archives._unscramble
        scrambled[i], scrambled[i + 2] = scrambled[i + 2], scrambled[i]
    scrambled = bytes(b ^ 237 for b in scrambled)
    table, data = b"", b""
    for name, payload in entries.items():
        entry = bytearray(archives.C4_ENTRY)
        entry[: len(name)] = name.encode()
        entry[260:280] = struct.pack("<iiiii", 1, 0, len(payload), 0, len(data))
        table += bytes(entry)
        data += payload
    packed = bytearray(gzip.compress(scrambled + table + data))
    packed[:2] = archives.C4_MAGIC
    return bytes(packed)


def test_c4group_members_are_extracted(tmp_path):
    png = tmp_path / "x.png"
    Image.new("RGBA", (4, 4), (255, 0, 0, 255)).save(png)
    group = tmp_path / "Objects.ocd"
    group.write_bytes(_c4group({"Rock.png": png.read_bytes(), "Script.c": b"func f() {}"}))
    out = tmp_path / "out"
    assert archives.extract_textures(group, out, (".png",)) == 1
    assert (out / "Objects.ocd" / "Rock.png").read_bytes() == png.read_bytes()


def test_zip_members_outside_the_folder_are_refused(tmp_path):
    archive = tmp_path / "base.wz"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("texpages/page-1.png", b"\x89PNG fake")
        zf.writestr("../evil.png", b"x")
    out = tmp_path / "out"
    assert archives.extract_textures(archive, out, (".png",)) == 1
    assert not (tmp_path / "evil.png").exists()


def test_sgi_images_convert_to_png(tmp_path):
    pixels = np.zeros((8, 8, 4), np.uint8)
    pixels[..., 1] = 200
    pixels[..., 3] = 128
    source = tmp_path / "car.rgba"
    Image.fromarray(pixels, "RGBA").save(source, format="SGI")
    assert archives.sgi_to_png(source, tmp_path / "car.rgba.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "car.rgba.png")), pixels)
    (tmp_path / "broken.rgb").write_bytes(b"not an sgi file")
    assert not archives.sgi_to_png(tmp_path / "broken.rgb", tmp_path / "broken.png")
