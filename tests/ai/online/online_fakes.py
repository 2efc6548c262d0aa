"""Test support for the online tests: fake huggingface/openai/classify services on 127.0.0.1.

Each server checks that requests have the documented shape, then behaves as told: normal,
slow, 429 with Retry-After, 500, garbage, wrong JSON shape, unknown labels, huge answers,
disconnects. tests/ai/online/conftest.py puts this folder on sys.path.
"""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
from PIL import Image

from ai.model_manager import ModelManager
from ai.online.model import OnlineModel
from ai.taxonomy import category_descriptions, default_categories

KEY = "sk-live-4f1c2b9e8d7a6f5e"
TIMEOUT = 2.0
TARGET = "surface/metal"  # the category the fake services favour
PROVIDERS = ["huggingface", "openai"]


# -- the fake services -------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output clean
        pass

    def do_POST(self):
        service: FakeService = self.server.service
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        request = json.loads(body)
        service.record(self.path, dict(self.headers), request)
        behaviour = service.next_behaviour()
        getattr(self, "b_" + behaviour.replace("-", "_"))(service, request)

    # -- helpers
    def send_json(self, status: int, payload, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def answer(self, service, request, pairs) -> None:
        """Send (label, score) pairs in the provider's answer format."""
        items = [{"label": label, "score": score} for label, score in pairs]
        if service.provider == "huggingface":
            self.send_json(200, items)
        else:
            content = json.dumps({"predictions": items})
            self.send_json(
                200,
                {
                    "id": "chatcmpl-test",
                    "object": "chat.completion",
                    "model": request.get("model"),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": content, "refusal": None},
                            "finish_reason": "stop",
                        }
                    ],
                },
            )

    def labels_of(self, service, request) -> list[str]:
        if service.provider == "huggingface":
            return request["parameters"]["candidate_labels"]
        schema = request["response_format"]["json_schema"]["schema"]
        return schema["properties"]["predictions"]["items"]["properties"]["label"]["enum"]

    # -- behaviours
    def b_normal(self, service, request):
        labels = self.labels_of(service, request)
        target = labels[default_categories().index(TARGET)]
        rest = [lab for lab in labels if lab != target]
        self.answer(service, request, [(target, 0.9)] + [(lab, 0.1 / len(rest)) for lab in rest])

    def b_slow(self, service, request):
        service.release.wait(TIMEOUT + 3)
        self.b_normal(service, request)

    def b_rate_limited(self, service, request):
        self.send_json(429, {"error": "rate limit"}, {"Retry-After": service.retry_after})

    def b_server_error(self, service, request):
        # A careless service that echoes the request headers in its error page.
        self.send_json(500, {"error": f"internal; request had {self.headers.get('Authorization')}"})

    def b_unauthorized(self, service, request):
        # A careless service that echoes the credentials it got.
        self.send_json(401, {"error": f"invalid token {self.headers.get('Authorization')}"})

    def b_echo_headers(self, service, request):
        # Echoes every request header, as JSON and as text, in a long error page: a key longer
        # than any snippet the client keeps is cut somewhere inside it.
        lines = "; ".join(f"{name}: {value}" for name, value in self.headers.items())
        echoed = {k.lower(): v for k, v in self.headers.items()}
        key = echoed["authorization"].removeprefix("Bearer ")
        self.send_json(400, {"error": f"bad request ({lines})", "headers": echoed, "api_key": key})

    def b_huge_score(self, service, request):
        labels = self.labels_of(service, request)
        target = labels[default_categories().index(TARGET)]
        self.answer(service, request, [(target, 1e39), (labels[0], 0.1)])  # a float32 infinity

    def b_garbage(self, service, request):
        data = b"\x00\xff<html>502 Bad Gateway</html>"
        self.send_response(200)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def b_wrong_shape(self, service, request):
        if service.provider == "huggingface":
            self.send_json(200, {"labels": ["a"], "scores": "high"})
        else:
            self.send_json(200, {"choices": [{"message": {"role": "assistant", "content": '{"answer": 3}'}}]})

    def b_unknown_labels(self, service, request):
        self.answer(service, request, [("banana", 0.7), ("spaceship", 0.3)])

    def b_some_unknown_labels(self, service, request):
        labels = self.labels_of(service, request)
        target = labels[default_categories().index(TARGET)]
        self.answer(service, request, [("banana", 0.5), (target, 0.45), ("spaceship", 0.05)])

    def b_huge(self, service, request):
        pairs = [(f"label-{i:07d}", 1e-7) for i in range(60_000)]  # ≈ 2.5 MB of JSON
        self.answer(service, request, pairs)

    def b_huge_unannounced(self, service, request):
        # No Content-Length: the body runs until the server closes the connection.
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(b"[" + b'{"label": "x", "score": 0.0},' * 100_000)
        self.close_connection = True

    def b_disconnect(self, service, request):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "5000")
        self.end_headers()
        self.wfile.write(b'[{"label": "surf')
        self.wfile.flush()
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def b_drop(self, service, request):
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)

    def b_drip(self, service, request):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        for _ in range(100):  # one byte every 0.2 s: each read is quick, the whole answer is not
            if service.release.wait(0.2):
                break
            self.wfile.write(b" ")
            self.wfile.flush()
        self.close_connection = True


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # disconnect behaviours break pipes on purpose


class FakeService:
    """A real HTTP server on 127.0.0.1 speaking `provider`'s format, behaving as listed (last repeats)."""

    def __init__(self, provider: str, *behaviours: str, retry_after: str = "1"):
        self.provider = provider
        self.behaviours = list(behaviours) or ["normal"]
        self.retry_after = retry_after
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.paths: list[str] = []
        self.problems: list[str] = []
        self.release = threading.Event()
        self._lock = threading.Lock()
        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.service = self
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        base = f"http://{host}:{port}"
        return f"{base}/models" if self.provider == "huggingface" else f"{base}/v1"

    def next_behaviour(self) -> str:
        with self._lock:
            index = min(len(self.requests), len(self.behaviours)) - 1
            return self.behaviours[index]

    def record(self, path: str, headers: dict, request: dict) -> None:
        with self._lock:
            self.paths.append(path)
            self.headers.append(headers)
            self.requests.append(request)
        self.problems.extend(check_request(self.provider, path, headers, request))

    def __enter__(self) -> FakeService:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def _image_ok(raw: bytes, problems: list[str]) -> None:
    with Image.open(io.BytesIO(raw)) as image:
        if image.format not in ("PNG", "JPEG") or max(image.size) > 224:
            problems.append(f"unexpected image {image.format} {image.size}")


def check_request(provider: str, path: str, headers: dict, request: dict) -> list[str]:
    """What the documented formats require of a request; an empty list when it complies."""
    problems: list[str] = []
    if headers.get("Authorization") != f"Bearer {KEY}":
        problems.append("no bearer key")
    if provider == "huggingface":
        if path != "/models/openai/clip-vit-base-patch32":
            problems.append(f"model not in the URL path: {path}")
        if set(request) != {"inputs", "parameters"}:
            problems.append(f"top-level keys {sorted(request)}")
        _image_ok(base64.b64decode(request["inputs"], validate=True), problems)
        labels = request["parameters"]["candidate_labels"]
        descriptions = category_descriptions()
        if labels != [descriptions[c] for c in default_categories()]:
            problems.append("candidate_labels are not the category descriptions")
        if "{}" not in request["parameters"].get("hypothesis_template", "{}"):
            problems.append("hypothesis_template without {}")
    else:
        if path != "/v1/chat/completions":
            problems.append(f"path {path}")
        if not request.get("model"):
            problems.append("no model")
        parts = request["messages"][0]["content"]
        kinds = {p["type"] for p in parts}
        if kinds != {"text", "image_url"}:
            problems.append(f"content parts {kinds}")
        url = next(p["image_url"]["url"] for p in parts if p["type"] == "image_url")
        header, _, payload = url.partition(",")
        if header not in ("data:image/png;base64", "data:image/jpeg;base64"):
            problems.append(f"image is not a data URI: {header}")
        _image_ok(base64.b64decode(payload, validate=True), problems)
        fmt = request["response_format"]
        schema = fmt["json_schema"]["schema"]
        item = schema["properties"]["predictions"]["items"]
        if fmt["type"] != "json_schema" or fmt["json_schema"]["strict"] is not True:
            problems.append("response_format is not a strict json_schema")
        if item["properties"]["label"]["enum"] != default_categories():
            problems.append("label enum is not the category list")
        for obj in (schema, item):  # strict mode: all properties required, no extra keys
            if obj.get("additionalProperties") is not False or set(obj["required"]) != set(obj["properties"]):
                problems.append("schema object not strict-compatible")
    return problems


# -- helpers -----------------------------------------------------------------------------------


def texture(colour=(120, 130, 140), alpha: int = 255, size: int = 300) -> np.ndarray:
    rgba = np.zeros((size, size, 4), np.uint8)
    rgba[..., :3] = colour
    rgba[..., 3] = alpha
    return rgba


def online(service: FakeService, **settings) -> OnlineModel:
    config = {"provider": service.provider, "api_url": service.url, "api_key": KEY, "timeout": TIMEOUT}
    return OnlineModel({**config, **settings})


def manager_with(tiny_model, model: OnlineModel) -> ModelManager:
    return ModelManager.create_default(
        {"model_path": tiny_model, "online": model, "online_uncertain_only": False, "rule_evidence": False}
    )


def timed_predict(manager: ModelManager, image: np.ndarray):
    started = time.monotonic()
    result = manager.predict(image, top_k=3)
    return result, time.monotonic() - started


