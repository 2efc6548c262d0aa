"""Start-up on an empty profile: what the first window needs, and nothing that only online or the CLI needs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
from app.ui.main import create_application
from app.ui.main_window import MainWindow
app = create_application()
window = MainWindow()
window.show()
app.processEvents()
print(json.dumps({name: name in sys.modules for name in ("keyring", "httpx", "app.commands.bench", "torch")}))
window.close()
"""


def test_the_first_window_loads_no_keyring_httpx_cli_commands_or_torch(tmp_path):
    env = dict(os.environ, TEXTURE_SORTER_HOME=str(tmp_path), QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout.strip().splitlines()[-1])
    assert loaded == {"keyring": False, "httpx": False, "app.commands.bench": False, "torch": False}


def test_with_online_enabled_the_key_is_read_off_the_ui_thread(window, qtbot, monkeypatch):
    import threading

    from ai.online import secrets
    from ai.online.config import OnlineSettings, save_settings

    save_settings(OnlineSettings(enabled=True, provider="classify", api_url="http://127.0.0.1:9/"))
    readers = []
    real = secrets.load_api_key
    monkeypatch.setattr(
        secrets, "load_api_key", lambda entry: readers.append(threading.current_thread()) or real(entry)
    )

    with qtbot.waitSignal(window.session.managerChanged, timeout=30_000):
        op = window.session.attach_online()
    assert op is not None
    assert window.session.manager.online_model is not None
    assert readers and threading.main_thread() not in readers
