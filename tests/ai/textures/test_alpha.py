"""alpha_usage: which textures' alpha is a cut-out, a transparent background, or data to show as RGB."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ai.textures import load_texture
from ai.textures.alpha import alpha_usage
from ai.textures.synth import synth_image

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("0ad/public/art/textures/skins/props/shield/kart_round_ah.dds.cached.dds", "data"),  # team-colour mask
        ("redeclipse/data/actors/player/RE_Player_mask.tga", "data"),  # a mask in every channel
        ("0ad/public/art/textures/particles/smoke_128a.png.cached.dds", "data"),  # faint: RGB shows the puff
        ("redeclipse/data/particles/hint_bold.png", "transparency"),
        ("0ad/public/art/textures/animated/water/sprites/wave_breaker_a.dds.cached.dds", "transparency"),
        ("0ad/mod/fonts/sans-10.png.cached.dds", "transparency"),
        ("0ad/public/art/textures/skins/skeletal/ptol/linothorax_01_spec.png.cached.dds", "mask"),  # DXT1 1-bit
        ("redeclipse/data/crosshairs/circle-01.png", "mask"),
        ("0ad/public/art/textures/cursors/action-attack.png", "mask"),
        ("redeclipse/data/projectiles/cartridge/skin.dds", "opaque"),
        ("redeclipse/data/nieb/sign_room/normal.png", "opaque"),
    ],
)
def test_real_textures_alpha_kinds(name, kind):
    assert alpha_usage(load_texture(FIXTURES / name).pixels) == kind


def test_gloss_in_the_alpha_of_a_diffuse_is_data_even_when_it_is_dark_everywhere():
    diffuse = synth_image(256, "noise", seed=1)
    diffuse[..., 3] = (diffuse[..., :3].mean(-1) * 0.15).astype(np.uint8)  # the "looks empty" case
    assert alpha_usage(diffuse) == "data"


def test_height_in_the_alpha_of_a_normal_map_is_data():
    normal = synth_image(128, "normal", seed=2)
    normal[..., 3] = synth_image(128, "noise", seed=3)[..., 0] // 2 + 64
    assert alpha_usage(normal) == "data"


def test_a_sprite_on_a_transparent_background_keeps_its_transparency():
    sprite = synth_image(128, "noise", seed=4)
    y, x = np.mgrid[0:128, 0:128]
    glow = np.clip(1.2 - np.hypot(x - 64, y - 64) / 40, 0, 1)  # soft edges: not a cut-out
    sprite[..., 3] = (glow * 255).astype(np.uint8)
    assert alpha_usage(sprite) == "transparency"


def test_cut_outs_stay_masks_at_any_size_and_opaque_images_are_opaque():
    assert alpha_usage(synth_image((1024, 512), "cutout", seed=5)) == "mask"
    assert alpha_usage(synth_image(64, "gradient")) == "opaque"
    assert alpha_usage(np.zeros((0, 0, 4), np.uint8)) == "opaque"
