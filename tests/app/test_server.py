"""The classification server (`texture-sorter serve`) on 127.0.0.1: API, limits, batching, CLI, load smoke.

Servers are real: uvicorn in a thread for most tests, the `serve` command in a child process
for the end-to-end ones; clients are httpx and the project's own `classify` provider.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from ai.model_manager import ModelManager
from ai.online.model import OnlineModel
from ai.taxonomy import default_categories
from app.cli import main
from app.commands.serve import READY_PREFIX, _bench_bodies, _load
from app.server import BackgroundServer, ServerConfig, create_app

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "studio-token-123"


def png_uri(colour=(200, 40, 40), size=48, alpha=255, fmt="PNG") -> str:
    image = Image.new("RGBA", (size, size), (*colour, alpha))
    buf = io.BytesIO()
    (image if fmt == "PNG" else image.convert("RGB")).save(buf, fmt)
    mime = "png" if fmt == "PNG" else "jpeg"
    return f"data:image/{mime};base64,{base64.b64encode(buf.getvalue()).decode()}"


@pytest.fixture
def manager(tiny_model):
    return ModelManager.create_default({"model_path": tiny_model})


@pytest.fixture
def server(manager):
    with BackgroundServer(create_app(manager, ServerConfig(token=TOKEN))) as running:
        yield running


def auth(token=TOKEN) -> dict:
    return {"Authorization": f"Bearer {token}"}


# -- API ----------------------------------------------------------------------------------------


def test_health_and_categories_describe_the_served_model(server, manager):
    health = httpx.get(f"{server.url}/health").json()  # open without a token, for load balancers
    assert health["status"] == "ok" and health["model"] == manager.model_id
    assert health["categories"] == len(default_categories())
    categories = httpx.get(f"{server.url}/categories", headers=auth()).json()["categories"]
    assert [c["id"] for c in categories] == default_categories()
    assert categories[0]["description"]


def test_classify_answers_the_seed_schema_over_the_requested_labels(server, manager):
    labels = ["surface/metal", "surface/wood", "sky", "not-a-category"]
    reply = httpx.post(
        f"{server.url}/classify",
        json={"model": "", "image": png_uri(), "labels": labels, "top_k": 2},
        headers=auth(),
    )
    assert reply.status_code == 200
    body = reply.json()
    assert len(body["predictions"]) == 2 and body["source"] == "offline"
    assert {p["label"] for p in body["predictions"]} <= set(labels[:3])
    assert body["predictions"][0]["score"] >= body["predictions"][1]["score"]
    # Scores are the model's probabilities renormalised over the known requested labels.
    local = manager.predict(np.full((48, 48, 4), (200, 40, 40, 255), np.uint8), top_k=26)
    probs = {c: float(p) for c, p in zip(local.categories, local.probabilities, strict=True)}
    total = sum(probs[c] for c in labels[:3])
    top = body["predictions"][0]
    assert top["score"] == pytest.approx(probs[top["label"]] / total, abs=1e-5)


def test_classify_accepts_jpeg_and_bare_base64(server):
    uri = png_uri(fmt="JPEG")
    for image in (uri, uri.split(",", 1)[1]):
        reply = httpx.post(f"{server.url}/classify", json={"image": image}, headers=auth())
        assert reply.status_code == 200 and len(reply.json()["predictions"]) == 5


def test_token_is_required_when_set(server):
    for headers in ({}, auth("wrong"), {"Authorization": TOKEN}):
        reply = httpx.post(f"{server.url}/classify", json={"image": png_uri()}, headers=headers)
        assert reply.status_code == 401
        assert reply.headers["www-authenticate"] == "Bearer" and "token" in reply.json()["error"]
    assert httpx.get(f"{server.url}/categories").status_code == 401


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (b"{not json", "not JSON"),
        (b"[1, 2]", "JSON object"),
        (json.dumps({"image": 5}).encode(), "data URI"),
        (json.dumps({"image": "data:image/png;base64,@@@"}).encode(), "base64"),
        (
            json.dumps({"image": "data:image/png;base64," + base64.b64encode(b"hello").decode()}).encode(),
            "image",
        ),
        (json.dumps({"image": png_uri(), "labels": "sky"}).encode(), "labels"),
        (json.dumps({"image": png_uri(), "labels": ["nope"]}).encode(), "none of the requested labels"),
        (json.dumps({"image": png_uri(), "top_k": 0}).encode(), "top_k"),
    ],
)
def test_bad_requests_get_400_with_a_json_reason(server, body, fragment):
    reply = httpx.post(f"{server.url}/classify", content=body, headers=auth())
    assert reply.status_code == 400
    assert fragment in reply.json()["error"]


def test_size_limits_answer_413(manager):
    config = ServerConfig(max_request_bytes=20_000, max_pixels=64 * 64)
    with BackgroundServer(create_app(manager, config)) as small:
        too_long = httpx.post(f"{small.url}/classify", json={"image": "A" * 30_000})
        assert too_long.status_code == 413 and "exceeds" in too_long.json()["error"]
        too_big = httpx.post(f"{small.url}/classify", json={"image": png_uri(size=100)})
        assert too_big.status_code == 413 and "pixel" in too_big.json()["error"]
        fine = httpx.post(f"{small.url}/classify", json={"image": png_uri(size=64)})
        assert fine.status_code == 200


def test_unknown_routes_and_methods_answer_json(server):
    assert httpx.get(f"{server.url}/nope").json() == {"error": "Not Found"}
    reply = httpx.get(f"{server.url}/classify")
    assert reply.status_code == 405 and "error" in reply.json()


# -- batching -----------------------------------------------------------------------------------


def test_concurrent_requests_share_model_calls_and_get_the_same_answers(manager):
    colours = [(i * 15, 255 - i * 15, (i * 40) % 256) for i in range(16)]
    uris = [png_uri(c) for c in colours]

    def ask_all(url: str) -> list[dict]:
        answers: list = [None] * len(uris)
        with httpx.Client() as client:

            def ask(i):
                answers[i] = client.post(f"{url}/classify", json={"image": uris[i], "top_k": 26}).json()

            threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(uris))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        return answers

    batched_config = ServerConfig(max_batch=8, batch_wait_ms=50)
    with BackgroundServer(create_app(manager, batched_config)) as batched:
        together = ask_all(batched.url)
        health = httpx.get(f"{batched.url}/health").json()
    with BackgroundServer(create_app(manager, ServerConfig(max_batch=1))) as single:
        alone = ask_all(single.url)
        single_health = httpx.get(f"{single.url}/health").json()
    assert health["requests"] == 16 and health["batches"] < 16
    assert single_health["batches"] == single_health["requests"] == 16
    for a, b in zip(together, alone, strict=True):
        scores_a = {p["label"]: p["score"] for p in a["predictions"]}
        scores_b = {p["label"]: p["score"] for p in b["predictions"]}
        assert scores_a.keys() == scores_b.keys()
        assert all(scores_a[k] == pytest.approx(scores_b[k], abs=1e-5) for k in scores_a)


# -- the classify provider against the server ---------------------------------------------------


def test_classify_provider_blends_the_servers_answer(server, tiny_model):
    with OnlineModel(
        {"provider": "classify", "api_url": server.url, "api_key": TOKEN, "timeout": 5}
    ) as online:
        desktop = ModelManager.create_default(
            {"model_path": tiny_model, "online": online, "online_uncertain_only": False}
        )
        result = desktop.predict(np.full((300, 300, 4), (90, 160, 60, 255), np.uint8), top_k=3)
        direct = online.predict(np.full((64, 64, 4), (90, 160, 60, 255), np.uint8), default_categories(), 3)
    assert result.source == "blend"
    assert desktop.get_stats()["fallbacks"] == {}
    assert direct.source == "online" and len(direct.predictions) == 3


def test_classify_provider_without_the_token_falls_back(server, tiny_model):
    with OnlineModel({"provider": "classify", "api_url": server.url, "timeout": 5}) as online:
        desktop = ModelManager.create_default(
            {"model_path": tiny_model, "online": online, "online_uncertain_only": False}
        )
        assert desktop.predict(np.full((32, 32, 4), 128, np.uint8)).source == "offline"
    assert "HTTP 401" in desktop.get_stats()["last_fallback_reason"]


# -- the commands -------------------------------------------------------------------------------


def test_serve_command_runs_a_real_server_until_terminated(tiny_model):
    env = dict(os.environ, TEXTURE_SORTER_SERVE_TOKEN=TOKEN, PYTHONPATH=str(ROOT))
    cmd = [
        sys.executable,
        "-m",
        "app.cli",
        "serve",
        "--port",
        "0",
        "--model",
        str(tiny_model),
        "--max-batch",
        "4",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    try:
        line = proc.stdout.readline()
        assert line.startswith(READY_PREFIX), line + proc.stderr.read()
        url = line[len(READY_PREFIX) :].split()[0]
        with OnlineModel({"provider": "classify", "api_url": url, "api_key": TOKEN, "timeout": 5}) as online:
            answer = online.predict(np.full((64, 64, 4), 200, np.uint8), default_categories(), 3)
        assert answer.source == "online"
        assert httpx.post(f"{url}/classify", json={"image": png_uri()}).status_code == 401
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    # uvicorn shuts down gracefully, then re-raises the signal so the exit status says SIGTERM.
    assert "Traceback" not in err
    if os.name == "posix":
        assert proc.returncode == -signal.SIGTERM, err


def test_serve_refuses_a_broken_model(tmp_path, capsys):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    assert main(["serve", "--model", str(bad), "--port", "0"]) == 2
    assert "no model to serve" in capsys.readouterr().err


def test_load_smoke_has_no_errors(server, manager):
    bodies = _bench_bodies(manager.categories, 64, count=3)
    figures = asyncio.run(_load(server.url, TOKEN, bodies, clients=4, warmup=0.2, seconds=1.5))
    assert figures["errors"] == 0 and figures["requests"] > 0
    assert figures["p99_ms"] >= figures["p50_ms"] > 0


def test_serve_bench_command_reports_both_modes(tiny_model, capsys, tmp_path):
    out = tmp_path / "bench.json"
    argv = ["serve-bench", "--model", str(tiny_model), "--clients", "2", "--seconds", "1", "--warmup", "0.2"]
    assert main([*argv, "--image-size", "32", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "batched:" in printed and "unbatched:" in printed and "req/s" in printed
    figures = json.loads(out.read_text())
    assert set(figures) == {"batched", "unbatched"}
    assert all(f["errors"] == 0 and f["requests"] > 0 for f in figures.values())


def test_online_commands_configure_and_test_the_client(server, capsys, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO(TOKEN + "\n"))
    argv = ["online", "set", "--enable", "--provider", "classify", "--api-url", server.url, "--api-key-stdin"]
    assert main([*argv, "--timeout", "5", "--always"]) == 0
    assert main(["online", "show"]) == 0
    shown = capsys.readouterr().out
    assert TOKEN not in shown and "api_key: set" in shown and "uncertain_only: False" in shown
    assert main(["online", "test"]) == 0
    assert "ok in" in capsys.readouterr().out
    assert main(["online", "set", "--clear-api-key"]) == 0
    assert main(["online", "test"]) == 1
    assert "HTTP 401" in capsys.readouterr().err
    assert main(["online", "set", "--api-url", "ftp://nowhere"]) == 2
