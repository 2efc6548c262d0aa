"""The Training tab: always there; usable when PyTorch is installed, otherwise greyed out with the reason.

Data: the user's corrections and/or a folder with one sub-folder per category. Fine-tuning trains
a new classifier head on the active model's embeddings (fast); "from scratch" trains the small
CNN. The run happens in a worker (`app.ui.training_job`), with a live loss/accuracy plot; the
result can be saved as .onnx or installed and made the active model.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
import threading
from datetime import datetime

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.ui.plot import TrainingPlot
from app.ui.settings import Settings
from app.ui.training_job import TrainingConfig, training_events
from app.ui.worker import GeneratorWorker, Op, start_worker

log = logging.getLogger(__name__)

INSTALL_COMMAND = "pip install 'texture-sorter[training]'"
STAGES = {
    "embedding": "Reading the textures through the model",
    "embedding (validation)": "Reading the validation textures",
    "training": "Training",
    "batch": "Training",
}


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


def package_and_install(model_path: str, name: str) -> dict:
    """Wrap a trained .onnx in a .ps2model, install it and make it active."""
    from ai.packages.exporter import ModelExporter, ModelImporter

    version = datetime.now().strftime("%Y.%m.%d-%H%M%S")
    with tempfile.TemporaryDirectory() as tmp:
        package = os.path.join(tmp, "trained.ps2model")
        ModelExporter().export_model(model_path, package, name, version,
                                     description="trained in the Training tab")  # fmt: skip
        return ModelImporter().import_model(package, activate=True)


class TrainingTab(QWidget):
    modelActivated = Signal()
    trainingDone = Signal(object)  # the result, or None when it failed or stopped before a model

    def __init__(self, settings: Settings, session=None, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("trainingTab")
        self.settings = settings
        self.session = session
        self.available: bool | None = None
        self.reason = ""
        self.result: dict | None = None
        self._worker: GeneratorWorker | None = None
        self._stop: threading.Event | None = None

        self.banner = QLabel(self)
        self.banner.setObjectName("banner")
        self.banner.setWordWrap(True)
        self.banner.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.intro = QLabel(
            "Teach the classifier your categories. <b>Fine-tuning</b> keeps the active model's eyes and "
            "trains a new last layer on your examples (seconds to minutes); <b>from scratch</b> trains a "
            "small network on the examples alone (needs many per category).",
            self,
        )
        self.intro.setWordWrap(True)

        self.form = QWidget(self)
        self.use_corrections = QCheckBox(self.form)
        self.use_folder = QCheckBox(
            "Labelled folder (one sub-folder per category, e.g. a sort output):", self.form
        )
        self.folder = QLineEdit(settings.get("training/folder"), self.form)
        self.folder.setPlaceholderText("Folder with category sub-folders")
        self.use_folder.setChecked(bool(self.folder.text()))
        browse = QPushButton("Browse…", self.form)
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(browse)
        data_layout = QVBoxLayout()
        data_layout.addWidget(self.use_corrections)
        data_layout.addWidget(self.use_folder)
        data_layout.addLayout(folder_row)
        data_box = QGroupBox("Examples", self.form)
        data_box.setLayout(data_layout)

        self.fine_tune = QRadioButton("Fine-tune the active model (recommended)", self.form)
        self.scratch = QRadioButton("Train a small network from scratch", self.form)
        group = QButtonGroup(self.form)
        group.addButton(self.fine_tune)
        group.addButton(self.scratch)
        (self.scratch if settings.get("training/mode") == "scratch" else self.fine_tune).setChecked(True)
        self.epochs = QSpinBox(self.form)
        self.epochs.setRange(1, 500)
        self.epochs.setValue(settings.get("training/epochs"))
        self.epochs.setMaximumWidth(120)
        self.learning_rate = QDoubleSpinBox(self.form)
        self.learning_rate.setDecimals(5)
        self.learning_rate.setRange(0.00001, 1.0)
        self.learning_rate.setSingleStep(0.0005)
        self.learning_rate.setValue(settings.get("training/learning_rate"))
        self.learning_rate.setMaximumWidth(120)
        model_form = QFormLayout()
        model_form.addRow(self.fine_tune)
        model_form.addRow(self.scratch)
        model_form.addRow("Epochs:", self.epochs)
        model_form.addRow("Learning rate:", self.learning_rate)
        model_box = QGroupBox("Training", self.form)
        model_box.setLayout(model_form)

        self.start_button = QPushButton("Start Training", self.form)
        self.start_button.setObjectName("primary")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop", self.form)
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        self.export_button = QPushButton("Save as ONNX…", self.form)
        self.export_button.setEnabled(False)
        self.export_button.clicked.connect(self.export_onnx)
        self.activate_button = QPushButton("Install and Use", self.form)
        self.activate_button.setEnabled(False)
        self.activate_button.setToolTip("Install the trained model and make it the active one")
        self.activate_button.clicked.connect(self.activate)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.stop_button)
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.activate_button)

        self.stage = QLabel("", self.form)
        self.stage.setObjectName("muted")
        self.progress = QProgressBar(self.form)
        self.progress.setVisible(False)
        self.plot = TrainingPlot(self.form)
        self.plot.reset(self.epochs.value())
        self.outcome = QLabel("", self.form)
        self.outcome.setWordWrap(True)

        top = QHBoxLayout()
        top.addWidget(data_box, 3)
        top.addWidget(model_box, 2)
        form_layout = QVBoxLayout(self.form)
        form_layout.setContentsMargins(0, 0, 0, 0)
        form_layout.addLayout(top)
        form_layout.addLayout(buttons)
        form_layout.addWidget(self.stage)
        form_layout.addWidget(self.progress)
        form_layout.addWidget(self.plot, 1)
        form_layout.addWidget(self.outcome)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(14, 12, 14, 12)
        layout.addWidget(self.banner)
        layout.addWidget(self.intro)
        layout.addWidget(self.form, 1)
        self.banner.setVisible(False)
        self.refresh_corrections()

    # -- availability ---------------------------------------------------------------------------

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        if self.available is None:
            self.check_availability()
        self.refresh_corrections()

    def check_availability(self) -> bool:
        """Look for PyTorch (imports it: done when the tab is first shown, not at start-up)."""
        self.available, self.reason = availability()
        import gc

        gc.freeze()  # torch's many module objects: out of the collector's sight (see main_window.freeze_heap)
        self.banner.setText(self.reason)
        self.banner.setVisible(not self.available)
        self.intro.setVisible(self.available)
        self.form.setEnabled(self.available)
        if not self.available:
            self.form.setToolTip(self.reason)
        self._sync_buttons()
        return self.available

    def refresh_corrections(self) -> None:
        n = self._corrections_count()
        self.use_corrections.setText(f"My corrections ({n:,} textures)")
        if n == 0:
            self.use_corrections.setChecked(False)
        elif not self.use_folder.isChecked():
            self.use_corrections.setChecked(True)

    def _learner(self):
        manager = getattr(self.session, "manager", None)
        return getattr(manager, "learner", None)

    def _corrections_count(self) -> int:
        learner = self._learner()
        return len(learner) if learner is not None else 0

    # -- running ----------------------------------------------------------------------------------

    @property
    def is_running(self) -> bool:
        return self._worker is not None and self._worker.running

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Labelled folder", self.folder.text())
        if folder:
            self.folder.setText(folder)
            self.use_folder.setChecked(True)

    def config(self) -> TrainingConfig:
        mode = "scratch" if self.scratch.isChecked() else "fine-tune"
        base = None
        manager = getattr(self.session, "manager", None)
        offline = getattr(manager, "offline_model", None)
        if offline is not None and offline.has_embedding:
            base = str(offline.model_path)
        corrections = []
        learner = self._learner()
        if self.use_corrections.isChecked() and learner is not None:
            corrections = learner.store.current(with_embeddings=False)
        folder = self.folder.text().strip() if self.use_folder.isChecked() else None
        return TrainingConfig(mode=mode, epochs=self.epochs.value(), learning_rate=self.learning_rate.value(),
                              base_model=base, folder=folder or None, corrections=corrections)  # fmt: skip

    def start(self) -> GeneratorWorker | None:
        if self.is_running or not self.available:
            return None
        config = self.config()
        if config.folder and not os.path.isdir(config.folder):
            self.outcome.setText(f"{config.folder} is not a folder.")
            return None
        if not config.folder and not config.corrections:
            self.outcome.setText("Choose the examples: your corrections and/or a labelled folder.")
            return None
        s = self.settings
        s.set("training/mode", config.mode)
        s.set("training/epochs", config.epochs)
        s.set("training/learning_rate", config.learning_rate)
        if config.folder:
            s.set("training/folder", config.folder)
        self.result = None
        self.plot.reset(config.epochs)
        self.outcome.setText("")
        self.stage.setText("Preparing the examples…")
        self.progress.setVisible(True)
        self.progress.setRange(0, 0)
        stop = threading.Event()
        self._stop = stop
        self._worker = start_worker(lambda: training_events(config, stop), on_yield=self._event,
                                    on_finish=self._finished, on_error=self._failed,
                                    on_done=self._sync_buttons)  # fmt: skip
        self._sync_buttons()
        return self._worker

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
            self.stage.setText("Stopping after this batch; the best model so far is kept…")
            self.stop_button.setEnabled(False)

    def _event(self, event: dict) -> None:
        kind = event["kind"]
        if kind == "dataset":
            counts = event["counts"]
            text = f"{sum(counts.values()):,} examples in {len(counts)} categories"
            if event["missing"]:
                text += f" ({event['missing']:,} corrected files are gone and were left out)"
            self.stage.setText(text)
        elif kind == "stage":
            self.stage.setText(
                f"{STAGES.get(event['stage'], event['stage'])}: {event['done']:,} of {event['total']:,}"
            )
            self.progress.setRange(0, max(1, event["total"]))
            self.progress.setValue(event["done"])
        elif kind == "epoch":
            metrics = event["metrics"]
            self.plot.add(metrics)
            text = f"Epoch {event['done']} of {event['total']}: loss {metrics['loss']:.3f}, accuracy {metrics['accuracy']:.0%}"
            if metrics.get("val_accuracy") is not None:
                text += f", validation accuracy {metrics['val_accuracy']:.0%}"
            self.stage.setText(text)
            self.progress.setRange(0, event["total"])
            self.progress.setValue(event["done"])

    def _finished(self, result: dict | None) -> None:
        self.progress.setVisible(False)
        if result is None:
            self.stage.setText("Stopped.")
            self.trainingDone.emit(None)
            return
        self.result = result
        summary = result["summary"]
        accuracy = summary.get("val_accuracy", summary.get("best_val_accuracy"))
        parts = [f"Trained on {summary.get('images', 0):,} textures"]
        if accuracy is not None:
            parts.append(f"validation accuracy {accuracy:.0%}")
        if result.get("stopped"):
            parts.append("stopped early: the best epoch so far was kept")
        self.stage.setText("Done.")
        self.outcome.setText("; ".join(parts) + ". Save it as ONNX or install it to use it.")
        self.trainingDone.emit(result)

    def _failed(self, exc: BaseException) -> None:
        self.progress.setVisible(False)
        self.stage.setText("")
        self.outcome.setText(f"<b>Training failed:</b> {exc}")
        window = self.window()
        if hasattr(window, "report_error"):
            window.report_error("Training", exc)
        self.trainingDone.emit(None)

    def _sync_buttons(self) -> None:
        running = self.is_running
        self.start_button.setEnabled(bool(self.available) and not running)
        self.stop_button.setEnabled(running)
        has_model = self.result is not None and not running
        self.export_button.setEnabled(has_model)
        self.activate_button.setEnabled(has_model)

    # -- using the result -------------------------------------------------------------------------

    def export_onnx(self) -> None:
        if self.result is None:
            return
        source = self.result["model_path"]
        target, _ = QFileDialog.getSaveFileName(
            self, "Save trained model", os.path.basename(source), "ONNX models (*.onnx)"
        )
        if not target:
            return
        try:
            shutil.copy2(source, target)
        except OSError as exc:
            QMessageBox.warning(self, "Cannot save", f"{target}: {exc.strerror or exc}")
            return
        self.outcome.setText(f"Saved {target}.")

    def activate(self) -> Op | None:
        if self.result is None:
            return None
        name = "My trained model"

        def done(info: dict) -> None:
            self.outcome.setText(f"Installed {info['name']} {info['version']}; it is now the active model.")
            self.modelActivated.emit()

        op = (
            Op(self, package_and_install, self.result["model_path"], name)
            .success(done)
            .failure(lambda exc: QMessageBox.warning(self, "Cannot install the model", str(exc)))
        )
        op.run()
        return op

    def shutdown(self) -> None:
        if self._stop is not None:
            self._stop.set()
