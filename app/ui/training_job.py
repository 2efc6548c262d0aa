"""What the Training tab runs: a dataset from corrections and/or a labelled folder, then train and report.

Qt-free. `training_events` turns the callback-style trainers of `ai.training_pytorch` into a
generator of progress events for the GUI worker (the training itself runs in one extra thread,
so the generator can hand events over as they happen). torch is only imported inside those
trainers, when a training starts.
"""

from __future__ import annotations

import logging
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from ai.learning.records import CorrectionRecord
from ai.paths import user_data_dir
from app.sorting.plan import safe_folder_parts

log = logging.getLogger(__name__)

INSTALL_COMMAND = "pip install 'texture-sorter[training]'"
MODES = ("fine-tune", "scratch")
_EVENT_INTERVAL_S = 0.1
MIN_PER_CATEGORY = 10  # fewer examples of a category than this train a model that cannot be trusted on it


@dataclass
class TrainingConfig:
    mode: str  # "fine-tune" (new head on the base model's embeddings) or "scratch" (small CNN)
    epochs: int
    learning_rate: float
    base_model: str | None = None  # fine-tune only
    folder: str | None = None  # a folder with one sub-folder of textures per category
    corrections: Sequence[CorrectionRecord] = ()
    work_dir: str | None = None  # where the dataset links and the model are written
    name: str = "My trained model"  # the model's one name: in its metadata, its package, menus, status bar
    version: str = ""  # empty: the time the training starts (every run installs as its own version)


def availability() -> tuple[bool, str]:
    """(can train here, why not). A frozen build never trains: PyTorch is not bundled."""
    if getattr(sys, "frozen", False):
        return False, (
            "Training is not available in this packaged build: PyTorch is too large to bundle. "
            f"Install Texture Sorter with Python to train models:\n{INSTALL_COMMAND}"
        )
    from ai import training_pytorch

    if not training_pytorch.is_pytorch_available():
        return False, f"Training needs PyTorch, which is not installed. Install it with:\n{INSTALL_COMMAND}"
    return True, ""


def package_and_install(model_path: str, name: str, version: str) -> dict:
    """Wrap a trained .onnx in a .ps2model under the name and version it was trained with, install it, use it."""
    from ai.packages.exporter import ModelExporter, ModelImporter

    with tempfile.TemporaryDirectory() as tmp:
        package = os.path.join(tmp, "trained.ps2model")
        ModelExporter().export_model(model_path, package, name, version,
                                     description="trained in the Training tab")  # fmt: skip
        return ModelImporter().import_model(package, activate=True)


def thin_categories(counts: Counter | dict, minimum: int = MIN_PER_CATEGORY) -> list[tuple[str, int]]:
    """Categories with fewer than `minimum` examples, fewest first."""
    return sorted(((c, n) for c, n in counts.items() if n < minimum), key=lambda item: (item[1], item[0]))


def trained_models_dir() -> Path:
    return user_data_dir() / "trained"


def _place(src: str, dest: Path) -> bool:
    """Hard-link (or copy) one file into the dataset tree; False when the source is gone."""
    if not os.path.isfile(src):
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copy2(src, dest)
    return True


def build_dataset(
    corrections: Sequence[CorrectionRecord], folder: str | None, dest: Path
) -> tuple[Path, Counter, int]:
    """A folder-per-category tree of the corrected textures and the labelled folder's files.

    Returns (root, files per category, corrections whose file is gone). With only a folder and
    no corrections the folder itself is the dataset (nothing is linked).
    """
    from ai.training_pytorch.data import scan_image_folders

    counts: Counter = Counter()
    if folder and not corrections:
        samples, categories = scan_image_folders(folder)
        counts.update(categories[i] for _, i in samples)
        return Path(folder), counts, 0
    missing = 0
    n = 0
    for record in corrections:
        n += 1
        target = dest.joinpath(
            *safe_folder_parts(record.corrected_category), f"c{n:06d}-{Path(record.texture_path).name}"
        )
        if _place(record.texture_path, target):
            counts[record.corrected_category] += 1
        else:
            missing += 1
    if folder:
        samples, categories = scan_image_folders(folder)
        for path, i in samples:
            n += 1
            category = categories[i]
            if _place(str(path), dest.joinpath(*safe_folder_parts(category), f"f{n:06d}-{path.name}")):
                counts[category] += 1
    return dest, counts, missing


def training_events(config: TrainingConfig, stop: threading.Event) -> Iterator[dict]:
    """Train as configured; yields {"kind": "stage"|"epoch"|"dataset", ...}; returns the result.

    Setting `stop` ends the training after the current batch; the best weights so far are still
    exported, so a stopped run gives a usable model.
    """
    from ai import training_pytorch as tp

    if config.mode not in MODES:
        raise ValueError(f"unknown training mode {config.mode!r}")
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    version = config.version or datetime.now().strftime("%Y.%m.%d-%H%M%S")
    work = Path(config.work_dir) if config.work_dir else trained_models_dir() / f"run-{stamp}"
    work.mkdir(parents=True, exist_ok=True)
    root, counts, missing = build_dataset(config.corrections, config.folder, work / "dataset")
    yield {"kind": "dataset", "counts": dict(counts), "missing": missing, "root": str(root),
           "thin": thin_categories(counts)}  # fmt: skip
    if sum(counts.values()) == 0:
        raise ValueError("no textures to train on: make some corrections or choose a labelled folder")
    if len(counts) < 2 and config.mode == "scratch":
        raise ValueError("training from scratch needs textures of at least two categories")
    out_path = work / f"trained-{stamp}.onnx"

    events: queue.Queue = queue.Queue()
    trainers: list = []

    def hook(trainer) -> None:
        trainers.append(trainer)
        if stop.is_set():
            trainer.cancel()

    def progress(stage: str, done: int, total: int) -> None:
        event = {"kind": "stage", "stage": stage, "done": done, "total": total}
        if stage == "training" and trainers and trainers[-1].history:
            event = {"kind": "epoch", "metrics": dict(trainers[-1].history[-1]), "done": done, "total": total}
        events.put(event)

    def target() -> None:
        try:
            if config.mode == "fine-tune":
                if not config.base_model:
                    raise ValueError("fine-tuning needs a model with an embedding output; none is active")
                summary = tp.fine_tune_from_onnx(
                    config.base_model, root, out_path, epochs=config.epochs,
                    learning_rate=config.learning_rate, progress=progress, trainer_hook=hook,
                    name=config.name, version=version,
                )  # fmt: skip
            else:
                summary = tp.train_from_scratch(
                    root, out_path, epochs=config.epochs, learning_rate=config.learning_rate,
                    progress=progress, trainer_hook=hook, name=config.name, version=version,
                )  # fmt: skip
            events.put({"kind": "done", "summary": summary})
        except BaseException as exc:  # reported through the generator to the UI's error panel
            events.put({"kind": "error", "error": exc})

    thread = threading.Thread(target=target, name="training", daemon=True)
    thread.start()
    last_stage = 0.0
    try:
        while True:
            try:
                event = events.get(timeout=0.1)
            except queue.Empty:
                if stop.is_set():
                    for trainer in trainers:
                        trainer.cancel()
                continue
            kind = event["kind"]
            if kind == "done":
                return {
                    "model_path": str(out_path),
                    "summary": event["summary"],
                    "stopped": stop.is_set(),
                    "counts": dict(counts),
                    "name": config.name,
                    "version": version,
                }
            if kind == "error":
                raise event["error"]
            if kind == "stage":
                now = time.monotonic()
                if now - last_stage < _EVENT_INTERVAL_S and event["done"] != event["total"]:
                    continue  # many per-image events: a few per second are enough to show
                last_stage = now
            yield event
    finally:
        stop.set()
        for trainer in trainers:
            trainer.cancel()
        thread.join()
