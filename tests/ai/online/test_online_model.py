"""OnlineModel against real HTTP servers on 127.0.0.1 speaking the huggingface and openai formats.

Each server checks that requests have the documented shape, then behaves as told: normal,
slow, 429 with Retry-After, 500, garbage, wrong JSON shape, unknown labels, huge answers,
disconnects. Every failure must end in ModelManager's offline answer, with the reason in its
stats, within timeout + 1 s (the issue's bound), and the API key must never reach a log line
or an error message.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import socket
import threading
import time
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from PIL import Image

from ai.errors import OnlineError
from ai.model_manager import ModelManager
from ai.online.model import OnlineModel, encode_image, parse_retry_after
from ai.online.providers import get_provider, provider_names
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


# -- normal answers ----------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_normal_answer_is_blended_and_request_has_the_documented_shape(provider, tiny_model):
    offline_only = ModelManager.create_default({"model_path": tiny_model, "rule_evidence": False})
    base = offline_only.predict(texture(), top_k=3)
    with FakeService(provider) as service, online(service) as model:
        result, _ = timed_predict(manager_with(tiny_model, model), texture())
        assert service.problems == []
        assert len(service.requests) == 1
    target = result.categories.index(TARGET)
    assert result.source == "blend"
    assert result.probabilities[target] > base.probabilities[target]
    assert model.get_stats()["ok"] == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_online_predict_returns_probabilities_over_the_given_categories(provider):
    categories = default_categories()
    with FakeService(provider) as service, online(service) as model:
        answer = model.predict(texture(), categories, 3)
    assert answer.source == "online" and answer.categories == categories
    assert answer.top.category == TARGET and answer.top.confidence == pytest.approx(0.9, abs=1e-6)
    assert len(answer.predictions) == 3 and answer.probabilities.shape == (len(categories),)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_unknown_labels_are_ignored_when_known_ones_remain(provider):
    with FakeService(provider, "some-unknown-labels") as service, online(service) as model:
        answer = model.predict(texture(), default_categories(), 3)
    assert answer.top.category == TARGET and answer.extra["ignored_labels"] == 2


def test_429_with_a_short_retry_after_is_honoured_then_answered(tiny_model):
    with (
        FakeService("huggingface", "rate-limited", "normal", retry_after="1") as service,
        online(service) as model,
    ):
        result, elapsed = timed_predict(manager_with(tiny_model, model), texture())
        assert len(service.requests) == 2
    assert result.source == "blend"
    assert elapsed < TIMEOUT + 1


# -- every failure ends offline, in time -------------------------------------------------------

FAILURES = [
    ("slow", "no answer within"),
    ("server-error", "HTTP 500"),
    ("garbage", "not JSON"),
    ("wrong-shape", "answer"),
    ("unknown-labels", "known category"),
    ("huge", "limit"),
    ("huge-unannounced", "limit"),
    ("disconnect", "failed"),
    ("drop", "failed"),
    ("drip", "within"),
    ("unauthorized", "credentials"),
]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("behaviour", "reason"), FAILURES, ids=[f[0] for f in FAILURES])
def test_failure_falls_back_to_offline_within_the_timeout(provider, behaviour, reason, tiny_model, caplog):
    caplog.set_level(logging.DEBUG)
    offline_only = ModelManager.create_default({"model_path": tiny_model, "rule_evidence": False})
    expected = offline_only.predict(texture(), top_k=3)
    with FakeService(provider, behaviour) as service, online(service) as model:
        manager = manager_with(tiny_model, model)
        result, elapsed = timed_predict(manager, texture())
        assert service.problems == []
    assert elapsed < TIMEOUT + 1
    assert result.source == "offline"
    np.testing.assert_allclose(result.probabilities, expected.probabilities, rtol=1e-5)
    stats = manager.get_stats()
    assert stats["fallbacks"] == {"online->offline": 1}
    assert reason in stats["last_fallback_reason"]
    assert KEY not in stats["last_fallback_reason"]
    assert KEY not in caplog.text
    assert f"fallback online->offline: {stats['last_fallback_reason']}" in caplog.text


def test_long_retry_after_fails_at_once_and_pauses_further_requests(tiny_model):
    with FakeService("openai", "rate-limited", retry_after="120") as service, online(service) as model:
        manager = manager_with(tiny_model, model)
        first, elapsed = timed_predict(manager, texture())
        second, _ = timed_predict(manager, texture())
        assert len(service.requests) == 1  # the pause kept the second request off the wire
    assert first.source == second.source == "offline"
    assert elapsed < 1.0  # did not sleep towards a retry that cannot fit the budget
    assert "paused" in manager.get_stats()["last_fallback_reason"]


def test_repeated_failures_pause_the_service_instead_of_waiting_each_time(tiny_model):
    with FakeService("huggingface", "server-error") as service, online(service, failure_threshold=3) as model:
        manager = manager_with(tiny_model, model)
        for _ in range(5):
            assert manager.predict(texture()).source == "offline"
        assert len(service.requests) == 3
    stats = model.get_stats()
    assert stats["failed"] == 3 and stats["not_sent"] == 2 and stats["paused_for_s"] > 0


def test_client_side_rate_limit_ends_offline_without_sending(tiny_model):
    with FakeService("openai") as service, online(service, max_requests_per_minute=2) as model:
        manager = manager_with(tiny_model, model)
        sources = [timed_predict(manager, texture())[0].source for _ in range(3)]
        assert len(service.requests) == 2
    assert sources == ["blend", "blend", "offline"]
    assert "2 requests per minute" in manager.get_stats()["last_fallback_reason"]
    assert model.get_stats()["failed"] == 0  # our own limit is not the service's fault


def test_unreachable_service_falls_back(tiny_model):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    model = OnlineModel({"provider": "openai", "api_url": f"http://127.0.0.1:{port}/v1", "timeout": TIMEOUT})
    with model:
        result, elapsed = timed_predict(manager_with(tiny_model, model), texture())
    assert result.source == "offline" and elapsed < TIMEOUT + 1


# -- uncertain-only mode -----------------------------------------------------------------------


def test_uncertain_only_mode_asks_only_below_the_threshold(tiny_model):
    with FakeService("huggingface") as service, online(service) as model:
        sure = ModelManager.create_default(
            {
                "model_path": tiny_model,
                "online": model,
                "online_uncertain_only": True,
                "online_threshold": 0.0,
            }
        )
        assert sure.predict(texture()).source == "offline"
        assert service.requests == []
        unsure = ModelManager.create_default(
            {
                "model_path": tiny_model,
                "online": model,
                "online_uncertain_only": True,
                "online_threshold": 1.0,
            }
        )
        assert unsure.predict(texture()).source == "blend"
        assert len(service.requests) == 1


# -- the key stays secret ----------------------------------------------------------------------


def test_api_key_never_appears_in_logs_reprs_or_errors(caplog):
    caplog.set_level(logging.DEBUG)  # httpx and httpcore debug logs included
    messages = []
    for behaviour in ("normal", "unauthorized", "server-error", "garbage", "disconnect"):
        with FakeService("openai", behaviour) as service, online(service) as model:
            assert KEY not in repr(model) and KEY not in repr(model.settings)
            try:
                model.predict(texture(), default_categories(), 3)
            except OnlineError as exc:
                messages.append(str(exc))
                # A logged traceback shows no chained httpx error (whose request holds the header).
                assert exc.__cause__ is None and exc.__suppress_context__
                assert KEY not in "".join(traceback.format_exception(exc))
            assert KEY not in json.dumps(model.get_stats())
    assert len(messages) == 4
    assert any("credentials" in m for m in messages)
    assert not any(KEY in m for m in messages)
    assert KEY not in caplog.text
    assert "POST http://127.0.0.1" in caplog.text  # the debug log was really captured


# -- pieces ------------------------------------------------------------------------------------


def test_images_are_shrunk_and_encoded_png_with_alpha_else_jpeg():
    opaque = encode_image(texture(size=600), 224)
    assert opaque.mime == "image/jpeg" and max(opaque.width, opaque.height) == 224
    cutout = encode_image(texture(alpha=100, size=100), 224)
    assert cutout.mime == "image/png" and (cutout.width, cutout.height) == (100, 100)
    with Image.open(io.BytesIO(cutout.data)) as image:
        assert image.mode == "RGBA"
    assert encode_image(texture(), 64, "png").mime == "image/png"
    assert opaque.data_uri().startswith("data:image/jpeg;base64,")
    with pytest.raises(OnlineError):
        encode_image(np.zeros((4, 4, 3), np.uint8), 64)


def test_retry_after_reads_seconds_and_http_dates():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0


def test_provider_registry_knows_the_three_formats():
    assert provider_names() == ["classify", "huggingface", "openai"]
    assert (
        get_provider("openai")("http://127.0.0.1:1/v1").endpoint() == "http://127.0.0.1:1/v1/chat/completions"
    )
    hf = get_provider("huggingface")("http://127.0.0.1:1/models", "org/clip")
    assert hf.endpoint() == "http://127.0.0.1:1/models/org/clip"
    with pytest.raises(OnlineError, match="unknown online provider"):
        get_provider("clip")
    with pytest.raises(OnlineError, match="http"):
        OnlineModel({"provider": "classify", "api_url": "ftp://example"})


def test_a_closed_model_still_fails_with_online_error():
    model = OnlineModel({"provider": "classify", "api_url": "http://127.0.0.1:9", "timeout": TIMEOUT})
    model.close()
    with pytest.raises(OnlineError, match="unexpected RuntimeError"):
        model.predict(texture(), default_categories(), 3)
