"""What the README's Get Models and Statistics screenshots show: a folder catalog and a simulated session.

Used only by `app.ui.screenshots`, in its temporary user folder. The catalog is a folder of real
packages made from the shipped model (one publisher key trusted, one unknown, one unsigned, one
update for an installed model); the session answers 240 generated textures through the window,
as a user would, with a colour rule as the truth (reddish: wood, greenish: vegetation, bluish: sky).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ai.packages.exporter import ModelExporter
from ai.packages.keys import KeyStore
from ai.packages.library import ModelLibrary
from ai.packages.publish import publish
from ai.packages.signing import sign_package
from ai.paths import model_path
from ai.textures.synth import write_colour_squares

PACKAGES = (
    # name, version, description, signer ("team": trusted, "forum": unknown, None: unsigned)
    ("PS2 Racing Textures", "1.0", "Cars, tracks and HUDs of PS2 racing games", "team"),
    ("PS2 Racing Textures", "1.2", "More tracks; better at HUD fonts", "team"),
    ("Stone and Wood", "2.0", "Surfaces of medieval games", "forum"),
    ("Font Finder", "0.9", "Only tells font atlases from the rest", None),
)
COLOUR_TRUTH = ("surface/wood", "vegetation", "sky")


def make_catalog(home: Path) -> ModelLibrary:
    """A folder catalog the library follows, with Racing 1.0 installed so that 1.2 is an update."""
    team, forum = KeyStore(home / "team-keys"), KeyStore(home / "forum-keys")
    team.generate("Texture Sorter team")
    forum.generate("a forum user")
    made = home / "made"
    made.mkdir(exist_ok=True)
    files = []
    for name, version, description, signer in PACKAGES:
        path = made / f"{name.lower().replace(' ', '-')}-{version}.ps2model"
        ModelExporter().export_model(model_path("default.onnx"), path, name, version, author="modder",
                                     description=description, license="CC-BY-4.0")  # fmt: skip
        if signer:
            keys = team if signer == "team" else forum
            sign_package(path, keys.own()[0].key_id, keys)
        files.append(path)
    KeyStore().trust(team.own()[0])
    publish(home / "catalog", files, name="Community models")
    library = ModelLibrary()
    library.add(str(home / "catalog"))
    library.install(library.find("PS2 Racing Textures", "1.0"))
    return library


def generated_textures(folder: Path, n: int = 240) -> dict[str, str]:
    """n small textures of random colours → path: the answer the simulated user gives."""
    squares = write_colour_squares(folder, n, size=24)
    return {path: COLOUR_TRUTH[int(np.argmax(colour))] for path, colour in squares.items()}


def answer_all(window, truth: dict[str, str], wait) -> int:
    """Answer every texture in turn through the session, waiting for each re-rank as a user would."""
    session = window.session
    for path, category in truth.items():
        session.correct([path], category)
        session._writer.waitForDone(30_000)
        wait(0.01)
    return len(truth)
