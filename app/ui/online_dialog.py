"""The Online Classifier dialog: provider, address, model, API key (kept in the OS keyring), limits, test.

It edits `ai.online.config.OnlineSettings` and saves them with `save_settings`, which puts the
key in the keyring when there is one; "Test connection" sends one small image through
`OnlineModel` off the UI thread and says plainly what came back.
"""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ai.errors import OnlineError
from ai.online import secrets
from ai.online.config import OnlineSettings, load_settings, save_settings, settings_path
from ai.online.providers import PROVIDERS, provider_names
from ai.textures.synth import synth_image
from app.ui.worker import Op

log = logging.getLogger(__name__)

PROVIDER_LABELS = {
    "classify": "Texture Sorter server (POST /classify)",
    "huggingface": "Hugging Face Inference (zero-shot image classification)",
    "openai": "OpenAI-compatible chat API (vision)",
}


def test_connection(settings: OnlineSettings, categories: list[str]) -> str:
    """Classify one generated image with these settings; the answer as a sentence (OnlineError if none)."""
    from ai.online.model import OnlineModel

    image = synth_image(64, "gradient", seed=1)
    model = OnlineModel(settings)
    try:
        started = time.perf_counter()
        answer = model.predict(image, categories, top_k=3)
        ms = (time.perf_counter() - started) * 1000
    finally:
        model.close()
    top = answer.predictions[0]
    return f"Connected: {model.describe()} answered in {ms:.0f} ms (top guess {top.category}, {top.confidence:.0%})."


class OnlineDialog(QDialog):
    saved = Signal()

    def __init__(self, categories: list[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Online Classifier")
        self.categories = categories
        current = load_settings()

        self.enabled = QCheckBox("Ask an online service as well as the offline model", self)
        self.enabled.setChecked(current.enabled)
        self.provider = QComboBox(self)
        for name in provider_names():
            self.provider.addItem(PROVIDER_LABELS.get(name, name), name)
        self.provider.setCurrentIndex(max(0, self.provider.findData(current.provider)))
        self.url = QLineEdit(current.api_url, self)
        self.model = QLineEdit(current.model, self)
        self.key = QLineEdit(current.api_key, self)
        self.key.setEchoMode(QLineEdit.EchoMode.Password)
        self.key.setPlaceholderText("API key or token")
        show = QPushButton("Show", self)
        show.setCheckable(True)
        show.toggled.connect(
            lambda on: self.key.setEchoMode(QLineEdit.EchoMode.Normal if on else QLineEdit.EchoMode.Password)
        )
        key_row = QHBoxLayout()
        key_row.addWidget(self.key, 1)
        key_row.addWidget(show)
        self.key_note = QLabel(self)
        self.key_note.setObjectName("muted")
        self.key_note.setWordWrap(True)
        if secrets.keyring_available():
            self.key_note.setText(
                f"The key is kept in the system keyring ({secrets.backend_name()}), not in a file."
            )
        else:
            self.key_note.setText(
                f"No system keyring was found: the key would be stored in plain text in {settings_path()} "
                "(readable only by you)."
            )

        self.per_minute = _spin(self, 0, 100_000, current.max_requests_per_minute, " / minute")
        self.per_hour = _spin(self, 0, 10_000_000, current.max_requests_per_hour, " / hour")
        self.timeout = QDoubleSpinBox(self)
        self.timeout.setRange(1, 300)
        self.timeout.setSuffix(" s")
        self.timeout.setValue(current.timeout)
        self.image_size = _spin(self, 16, 4096, current.image_size, " px")
        self.uncertain_only = QCheckBox("Only when the offline model is unsure", self)
        self.uncertain_only.setChecked(current.uncertain_only)
        self.threshold = _spin(self, 0, 100, int(round(current.threshold * 100)), " %")
        self.threshold.setPrefix("below ")
        self.uncertain_only.toggled.connect(self.threshold.setEnabled)
        self.threshold.setEnabled(current.uncertain_only)
        self.provider.currentIndexChanged.connect(self._provider_changed)

        service = QFormLayout()
        service.addRow("Service:", self.provider)
        service.addRow("Address:", self.url)
        service.addRow("Model:", self.model)
        service.addRow("API key:", key_row)
        service.addRow("", self.key_note)
        service_box = QGroupBox("Service", self)
        service_box.setLayout(service)

        limits = QFormLayout()
        uncertain_row = QHBoxLayout()
        uncertain_row.addWidget(self.uncertain_only)
        uncertain_row.addWidget(self.threshold)
        uncertain_row.addStretch(1)
        limits.addRow("When:", uncertain_row)
        limits.addRow("At most:", _pair(self.per_minute, self.per_hour))
        limits.addRow("Time limit:", self.timeout)
        limits.addRow("Image sent:", self.image_size)
        limits_box = QGroupBox("Requests", self)
        limits_box.setLayout(limits)

        self.test_button = QPushButton("Test Connection", self)
        self.test_button.clicked.connect(self.test)
        self.test_result = QLabel(self)
        self.test_result.setWordWrap(True)
        test_row = QHBoxLayout()
        test_row.addWidget(self.test_button)
        test_row.addWidget(self.test_result, 1)

        self.error = QLabel(self)
        self.error.setObjectName("banner")
        self.error.setWordWrap(True)
        self.error.setVisible(False)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(self.enabled)
        layout.addWidget(service_box)
        layout.addWidget(limits_box)
        layout.addLayout(test_row)
        layout.addWidget(self.error)
        layout.addWidget(buttons)
        self._provider_changed()
        self.resize(560, 0)

    def _provider_changed(self) -> None:
        provider = PROVIDERS[self.provider.currentData()]
        self.url.setPlaceholderText(provider.default_api_url or "the provider's address")
        self.model.setPlaceholderText(provider.default_model or "(server default)")
        self.key.setPlaceholderText("required" if provider.needs_api_key else "optional")

    def settings(self) -> OnlineSettings:
        """The settings as entered; OnlineError when a value is out of range."""
        base = load_settings().to_dict(include_key=False)
        base.update(
            enabled=self.enabled.isChecked(),
            provider=self.provider.currentData(),
            api_url=self.url.text().strip(),
            model=self.model.text().strip(),
            api_key=self.key.text().strip(),
            timeout=self.timeout.value(),
            max_requests_per_minute=self.per_minute.value(),
            max_requests_per_hour=self.per_hour.value(),
            image_size=self.image_size.value(),
            uncertain_only=self.uncertain_only.isChecked(),
            threshold=self.threshold.value() / 100.0,
        )
        return OnlineSettings.from_dict(base)

    def test(self) -> None:
        try:
            settings = self.settings()
        except OnlineError as exc:
            self.test_result.setText(str(exc))
            return
        self.test_button.setEnabled(False)
        self.test_result.setText("Sending one small image…")

        def failed(exc: BaseException) -> None:
            self.test_result.setText(f"<span style='color:#b3261e'>Failed:</span> {exc}")

        Op(self, test_connection, settings, list(self.categories)).success(self.test_result.setText).failure(
            failed
        ).always(lambda: self.test_button.setEnabled(True)).run()

    def save(self) -> None:
        try:
            settings = self.settings()
            save_settings(settings)
        except (OnlineError, OSError) as exc:
            self.error.setText(str(exc))
            self.error.setVisible(True)
            return
        self.saved.emit()
        self.accept()


def _spin(parent: QWidget, low: int, high: int, value: int, suffix: str) -> QSpinBox:
    spin = QSpinBox(parent)
    spin.setRange(low, high)
    spin.setValue(int(value))
    spin.setSuffix(suffix)
    return spin


def _pair(a: QWidget, b: QWidget) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addWidget(a)
    row.addWidget(b)
    row.addStretch(1)
    return row
