"""What `POST /classify` does with hostile uploads: only texture decoders run, and every request ends.

Servers are real (uvicorn in a thread, or the `serve` command in a child process); clients are
httpx or a raw socket where a misbehaving client is the point.
"""

from __future__ import annotations

import base64
import io
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from ai.model_manager import ModelManager
from app.commands.serve import READY_PREFIX
from app.server import BackgroundServer, ServerConfig, create_app

ROOT = Path(__file__).resolve().parents[2]

# A valid EPS: Pillow's EPS plugin would hand it to Ghostscript to render.
EPS = (
    b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 16 16\n%%EndComments\n"
    b"0 0 1 setrgbcolor 0 0 16 16 rectfill showpage\n%%EOF\n"
)


def _pillow_bytes(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), (10, 200, 30)).save(buf, fmt)
    return buf.getvalue()


def _uri(raw: bytes, media: str = "image/png") -> str:
    return f"data:{media};base64,{base64.b64encode(raw).decode()}"


@pytest.fixture
def manager(tiny_model):
    return ModelManager.create_default({"model_path": tiny_model})


UNSUPPORTED = "not a supported texture format"


@pytest.mark.parametrize(
    ("raw", "media", "reason"),
    [
        (_pillow_bytes("GIF"), "image/gif", UNSUPPORTED),
        (_pillow_bytes("PPM"), "image/x-portable-pixmap", UNSUPPORTED),
        (_pillow_bytes("TIFF"), "image/tiff", UNSUPPORTED),
        (_pillow_bytes("ICO"), "image/x-icon", UNSUPPORTED),
        (_pillow_bytes("WEBP"), "image/webp", UNSUPPORTED),
        (EPS, "application/postscript", UNSUPPORTED),
        (EPS, "image/png", "cannot decode PNG"),  # the media type picks only among texture decoders
    ],
    ids=["gif", "ppm", "tiff", "ico", "webp", "eps", "eps-as-png"],
)
def test_classify_decodes_only_the_texture_formats(manager, raw, media, reason):
    with BackgroundServer(create_app(manager)) as server:
        reply = httpx.post(f"{server.url}/classify", json={"image": _uri(raw, media)})
        assert reply.status_code == 400, reply.text
        assert reason in reply.json()["error"]
        tga = io.BytesIO()
        Image.new("RGBA", (32, 32), (10, 200, 30, 255)).save(tga, "TGA")
        ok = httpx.post(f"{server.url}/classify", json={"image": _uri(tga.getvalue(), "image/x-tga")})
        assert ok.status_code == 200, ok.text  # TGA has no magic: the media type names it


def test_a_postscript_upload_never_starts_ghostscript(tiny_model, tmp_path):
    # A `gs` first on PATH that leaves a mark: Pillow's EPS plugin runs `gs --version`, then gs itself.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    mark = tmp_path / "gs-ran"
    gs = bin_dir / "gs"
    gs.write_text(f'#!/bin/sh\necho "$@" >> "{mark}"\nexit 1\n')
    gs.chmod(0o755)
    env = dict(os.environ, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "app.cli", "serve", "--port", "0", "--model", str(tiny_model)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        line = proc.stdout.readline()
        assert line.startswith(READY_PREFIX), line + proc.stderr.read()
        url = line[len(READY_PREFIX) :].split()[0]
        for media in ("application/postscript", "image/png", "image/jpeg"):
            reply = httpx.post(f"{url}/classify", json={"image": _uri(EPS, media)}, timeout=20)
            assert reply.status_code == 400, reply.text
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
    assert not mark.exists(), mark.read_text()


def _raw_request(url: str, body_sent: bytes, declared: int) -> bytes:
    """POST /classify from a client that declares `declared` body bytes, sends `body_sent`, then stalls."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=60) as sock:
        head = (
            f"POST /classify HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {declared}\r\n\r\n"
        )
        sock.sendall(head.encode() + body_sent)
        reply = b""
        while b"\r\n\r\n" not in reply:
            chunk = sock.recv(65536)  # the test fails with a socket timeout if no answer comes
            if not chunk:
                break
            reply += chunk
        return reply


def test_a_client_that_stops_sending_gets_408_within_the_request_limit(manager):
    config = ServerConfig(request_timeout_s=0.5)
    with BackgroundServer(create_app(manager, config)) as server:
        reply = _raw_request(server.url, b'{"image": "data:image/png;base64,', declared=10_000)
        assert reply.startswith(b"HTTP/1.1 408"), reply
        # The server is still there for well-behaved clients.
        rgba = np.full((16, 16, 4), 120, np.uint8)
        buf = io.BytesIO()
        Image.fromarray(rgba, "RGBA").save(buf, "PNG")
        assert httpx.post(f"{server.url}/classify", json={"image": _uri(buf.getvalue())}).status_code == 200
