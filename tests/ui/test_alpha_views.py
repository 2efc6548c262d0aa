"""Alpha that holds data: shown as colour with an "α" badge; RGBA / RGB / alpha views per view, toolbar and keys."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from ai.textures.synth import synth_image, write_png
from ai.textures.synth_dds import write_dds

REAL_DATA_ALPHA = (
    "0ad/public/art/textures/skins/props/shield/kart_round_ah.dds.cached.dds"  # team-colour mask
)


def _pixels(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGBA8888)
    return np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.width(), 4).copy()


@pytest.fixture
def alpha_folder(tmp_path, fixtures_dir):
    folder = tmp_path / "alpha"
    folder.mkdir()
    gloss = synth_image(64, "noise", seed=1)
    gloss[..., 3] = (gloss[..., :3].mean(-1) * 0.15).astype(np.uint8)  # gloss in alpha: "looks empty"
    write_dds(folder / "diffuse_gloss.dds", gloss, "DXT5")
    sprite = synth_image(64, "noise", seed=2)
    y, x = np.mgrid[0:64, 0:64]
    sprite[..., 3] = (np.clip(1.2 - np.hypot(x - 32, y - 32) / 20, 0, 1) * 255).astype(np.uint8)
    write_png(folder / "spark.png", sprite)
    shutil.copy(fixtures_dir / REAL_DATA_ALPHA, folder / "shield.dds")
    return folder


def _open(window, classify, folder, qtbot):
    classify(window, folder)
    model = window.model
    paths = [model.result(r).path for r in range(model.rowCount())]
    for path in paths:
        window.thumbnails.request(path)
    qtbot.waitUntil(
        lambda: all(window.thumbnails.array(p, request=False) is not None for p in paths), timeout=10_000
    )
    return {p.rsplit("/", 1)[1]: model.card(model.result(model.row_of(p))) for p in paths}


def test_data_alpha_shows_as_colour_with_a_badge_and_transparency_stays(
    window, classify, alpha_folder, qtbot
):
    cards = _open(window, classify, alpha_folder, qtbot)

    for name in ("diffuse_gloss.dds", "shield.dds"):
        assert cards[name].alpha_data, name
        assert not cards[name].image.hasAlphaChannel(), name  # colour only: nothing hidden by the gloss
        assert _pixels(cards[name].image)[..., 3].min() == 255
    spark = cards["spark.png"]
    assert not spark.alpha_data and spark.image.hasAlphaChannel()
    # The colour the thumbnail shows is the texture's own colour, not a near-empty checkerboard.
    source = window.thumbnails.array(str(alpha_folder / "diffuse_gloss.dds"))
    assert np.array_equal(_pixels(cards["diffuse_gloss.dds"].image)[..., :3], source[..., :3])


def test_the_grid_draws_the_alpha_badge_only_on_data_alpha(window, classify, alpha_folder, qtbot, paint_cell):
    _open(window, classify, alpha_folder, qtbot)
    corner = []
    for name in ("diffuse_gloss.dds", "spark.png"):
        index = window.proxy.mapFromSource(window.model.index(window.model.row_of(str(alpha_folder / name)), 0))
        canvas, area = paint_cell(window, index)
        corner.append(canvas.pixelColor(area.left() + 4, area.bottom() - 4))  # where the badge goes
    data, spark = corner
    assert data.lightness() < 90  # the dark "α" tag
    assert spark.lightness() > 90


def test_toolbar_keys_and_each_views_own_buttons_switch_channels(
    window, classify, alpha_folder, qtbot, settle
):
    _open(window, classify, alpha_folder, qtbot)
    model = window.model
    path = str(alpha_folder / "diffuse_gloss.dds")
    card = lambda: model.card(model.result(model.row_of(path)))  # noqa: E731

    window.channels_button.click()  # Auto → With Alpha
    assert model.channels == "rgba" and card().image.hasAlphaChannel()
    assert window.channel_actions["rgba"].isChecked() and "RGBA" in window.channels_button.text()
    qtbot.keyClick(window.results_view.grid, Qt.Key.Key_3, Qt.KeyboardModifier.AltModifier)  # Alpha Only
    assert model.channels == "alpha"
    alpha = card().image
    assert alpha.format() == QImage.Format.Format_Grayscale8
    source = window.thumbnails.array(path)
    grey = np.frombuffer(alpha.constBits(), np.uint8).reshape(alpha.height(), alpha.bytesPerLine())[
        :, : alpha.width()
    ]
    assert np.array_equal(grey, source[..., 3])
    qtbot.keyClick(window.results_view.grid, Qt.Key.Key_0, Qt.KeyboardModifier.AltModifier)
    assert model.channels == "auto" and window.settings.get("view/channels") == "auto"

    # The detail pane: it follows the window, and its own buttons change only it.
    window.results_view.select_source_row(model.row_of(path))
    detail = window.detail
    qtbot.waitUntil(lambda: detail.preview.image is not None and detail.results[0].path == path, timeout=5000)
    assert not detail.preview.image.hasAlphaChannel() and detail.alpha_note.isVisible()
    assert "holds data" in detail._fact_labels["Alpha"].text()
    detail.channels.buttons["alpha"].click()
    assert detail.preview.image.format() == QImage.Format.Format_Grayscale8
    assert model.channels == "auto"  # the grid keeps its mode

    # Review: its own buttons and keys (A steps through the modes).
    window.uncertain_spin.setValue(100)
    window.review_action.trigger()
    review = window.review_dialog
    qtbot.waitUntil(lambda: review.isVisible() and review.preview.image is not None, timeout=5000)
    modes = []
    for _ in range(4):
        qtbot.keyClick(review, Qt.Key.Key_A)
        modes.append(review.channels.mode)
    assert modes == ["rgba", "rgb", "alpha", "auto"]
    qtbot.keyClick(review, Qt.Key.Key_3, Qt.KeyboardModifier.AltModifier)
    assert review.channels.mode == "alpha"
    qtbot.waitUntil(lambda: review.preview.image.format() == QImage.Format.Format_Grayscale8, timeout=5000)
    review.close()
    settle(window)
