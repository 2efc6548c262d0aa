"""A real static HTTP server on 127.0.0.1 for the catalog tests, with faults a test can switch on per path.

    server = CatalogServer(folder)          # serves folder/ like any static web server
    server.faults["/big.ps2model"] = ("extra", 5000)
    ...
    server.close()

Faults: ("status", 503) answers that status; ("stall",) sends nothing until the server closes
(a client timeout fires first); ("extra", n) appends n bytes and says so in Content-Length;
("extra-unsized", n) appends n bytes without a Content-Length (the body ends when the
connection closes); ("short", n) promises the whole file but sends only n bytes; ("slow", n, s)
sends n bytes every s seconds (until the server closes).
"""

from __future__ import annotations

import functools
import http.server
import threading
import time
from pathlib import Path


class _Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass  # keep the test output clean

    def do_GET(self):
        server = self.server
        server.requests.append(self.path)
        fault = server.faults.get(self.path)
        if fault is None:
            return super().do_GET()
        kind = fault[0]
        if kind == "status":
            self.send_error(fault[1])
            return None
        if kind == "stall":
            server.release.wait(30)
            return None
        data = (Path(self.directory) / self.path.lstrip("/")).read_bytes()
        if kind in ("extra", "extra-unsized"):
            data += b"\0" * fault[1]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if kind != "extra-unsized":
            self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        if kind == "slow":
            for start in range(0, len(data), fault[1]):
                if server.release.is_set():
                    break
                self.wfile.write(data[start : start + fault[1]])
                self.wfile.flush()
                time.sleep(fault[2])
            return None
        self.wfile.write(data[: fault[1]] if kind == "short" else data)
        self.close_connection = True
        return None


class CatalogServer:
    """http.server in a daemon thread, serving `root`."""

    def __init__(self, root: Path):
        self.root = Path(root)
        handler = functools.partial(_Handler, directory=str(self.root))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.faults = {}
        self.httpd.requests = []
        self.httpd.release = threading.Event()
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="catalog-server", daemon=True)
        self.thread.start()

    @property
    def faults(self) -> dict:
        return self.httpd.faults

    @property
    def requests(self) -> list[str]:
        return self.httpd.requests

    def url(self, name: str = "index.json") -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def close(self) -> None:
        self.httpd.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)


def make_package(folder: Path, builder, name: str, version: str, *, keys=None, key: str | None = None,
                 seed: int = 0) -> Path:  # fmt: skip
    """A real .ps2model of a tiny model (default categories), signed with `keys`' key `key` if given."""
    from ai.packages.exporter import ModelExporter
    from ai.packages.signing import sign_package
    from ai.taxonomy import default_categories

    folder.mkdir(parents=True, exist_ok=True)
    model = builder(folder / f"{name}-{version}.onnx", default_categories(), seed=seed)
    path = folder / f"{name.lower().replace(' ', '-')}-{version}.ps2model"
    ModelExporter().export_model(model, path, name, version, author="a modder", description=f"{name} {version}")
    model.unlink()
    if key is not None:
        sign_package(path, key, keys)
    return path
