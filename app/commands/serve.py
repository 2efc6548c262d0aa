"""`texture-sorter serve`, `serve-bench` and `online`: host the classifier, load-test it, configure the client.

- `serve` runs the classification server (app/server.py) that desktops reach with provider `classify`.
- `serve-bench` starts `serve` in a child process and measures requests/s, p50/p99 latency and
  errors for N concurrent loopback clients, with and without batching.
- `online show|set|test` reads and writes the online classifier settings and tries one request.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from ai.errors import OnlineError, TextureSorterError
from ai.online import secrets
from ai.online.config import IMAGE_FORMATS, OnlineSettings, load_settings, save_settings, settings_path
from ai.online.providers import get_provider, provider_names
from app.argtypes import non_negative, positive_float, positive_int

TOKEN_ENV = "TEXTURE_SORTER_SERVE_TOKEN"
READY_PREFIX = "texture-sorter serve: listening on "


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "serve",
        help="run the classification server for other machines (provider 'classify')",
        description="Serve POST /classify, GET /health and GET /categories with the offline model.",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 = all)"
    )
    p.add_argument("--port", type=int, default=8765, help="TCP port (default 8765; 0 = any free port)")
    p.add_argument("--model", metavar="FILE.onnx", help="model to serve (default: the active model)")
    p.add_argument("--token", help=f"require 'Authorization: Bearer TOKEN' (or set {TOKEN_ENV})")
    p.add_argument(
        "--max-batch",
        type=positive_int,
        default=32,
        metavar="N",
        help="images per model call; 1 = no batching",
    )
    p.add_argument(
        "--batch-wait-ms", type=non_negative, default=2.0, metavar="MS", help="wait for a fuller batch"
    )
    p.add_argument(
        "--batch-workers", type=positive_int, default=2, metavar="N", help="model calls at once (default 2)"
    )
    p.add_argument(
        "--max-request-mb", type=non_negative, default=8.0, metavar="MB", help="request body limit"
    )
    p.add_argument(
        "--request-timeout",
        type=positive_float,
        default=30.0,
        metavar="S",
        help="answer 408/503 when a request is not done within S seconds (default 30)",
    )
    p.add_argument(
        "--threads", type=positive_int, metavar="N", help="onnxruntime threads per batch worker (default 1)"
    )
    p.add_argument("--providers", metavar="LIST", help="onnxruntime providers, e.g. cuda,cpu")
    p.set_defaults(func=run_serve)

    b = subparsers.add_parser(
        "serve-bench",
        help="load-test the classification server on loopback",
        description="Start 'serve' in a child process (or use --url) and measure N concurrent clients.",
    )
    b.add_argument(
        "--model", metavar="FILE.onnx", help="model for the started server (default: the active model)"
    )
    b.add_argument("--url", help="benchmark a running server instead of starting one (loopback only)")
    b.add_argument("--token", help=f"bearer token of the server (or set {TOKEN_ENV})")
    b.add_argument(
        "--clients", type=positive_int, default=16, metavar="N", help="concurrent clients (default 16)"
    )
    b.add_argument(
        "--seconds", type=non_negative, default=30.0, help="measured seconds per mode (default 30)"
    )
    b.add_argument("--warmup", type=non_negative, default=2.0, help="unmeasured seconds first (default 2)")
    b.add_argument(
        "--max-batch", type=positive_int, default=32, metavar="N", help="batch size of the batched run"
    )
    b.add_argument("--batch-wait-ms", type=non_negative, default=2.0, metavar="MS")
    b.add_argument("--batch-workers", type=positive_int, default=2, metavar="N")
    b.add_argument(
        "--image-size", type=positive_int, default=224, metavar="PX", help="side of the posted images"
    )
    b.add_argument("--threads", type=positive_int, metavar="N", help="onnxruntime threads of the server")
    b.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    b.set_defaults(func=run_bench)

    o = subparsers.add_parser("online", help="configure and test the online classifier")
    osub = o.add_subparsers(dest="online_command", metavar="ACTION")
    show = osub.add_parser("show", help="print the online settings (never the key)")
    show.set_defaults(func=run_online_show)
    s = osub.add_parser("set", help="change online settings; the key is read from standard input")
    s.add_argument("--enable", dest="enabled", action="store_true", default=None)
    s.add_argument("--disable", dest="enabled", action="store_false")
    s.add_argument("--provider", choices=provider_names())
    s.add_argument("--api-url")
    s.add_argument("--model")
    s.add_argument("--timeout", type=float)
    s.add_argument("--per-minute", dest="max_requests_per_minute", type=int)
    s.add_argument("--per-hour", dest="max_requests_per_hour", type=int)
    s.add_argument("--image-size", type=int)
    s.add_argument("--image-format", choices=IMAGE_FORMATS)
    s.add_argument("--uncertain-only", dest="uncertain_only", action="store_true", default=None)
    s.add_argument("--always", dest="uncertain_only", action="store_false", help="ask for every image")
    s.add_argument("--threshold", type=float, help="'uncertain' = offline confidence below this")
    key = s.add_mutually_exclusive_group()
    key.add_argument("--api-key-stdin", action="store_true", help="read the API key from standard input")
    key.add_argument("--clear-api-key", action="store_true")
    s.set_defaults(func=run_online_set)
    t = osub.add_parser("test", help="send one request with the current settings")
    t.add_argument("--image", metavar="FILE", help="texture to send (default: a generated one)")
    t.set_defaults(func=run_online_test)
    o.set_defaults(func=lambda args: (o.print_help(), 2)[1])


# -- serve ----------------------------------------------------------------------------------


def _manager(model: str | None, threads: int | None, providers: str | None):
    from ai.model_manager import ModelManager

    config = {"num_threads": threads, "providers": providers}
    if model:
        config["model_path"] = model
    return ModelManager.create_default(config)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def run_serve(args: argparse.Namespace) -> int:
    try:
        from app.server import ServerConfig, bind_socket, create_app, run_server
    except ImportError as exc:  # starlette/uvicorn are only needed to host, not to classify
        print(
            f"texture-sorter serve: the server packages are missing ({exc}); pip install starlette uvicorn",
            file=sys.stderr,
        )
        return 1
    token = args.token or os.environ.get(TOKEN_ENV) or None
    manager = _manager(args.model, args.threads, args.providers)
    if manager.offline_model is None:
        print(f"texture-sorter serve: no model to serve: {manager.offline_error}", file=sys.stderr)
        return 2 if args.model else 1
    if not token and not _is_loopback(args.host):
        print(
            f"warning: serving on {args.host} without --token: anyone on the network can use it",
            file=sys.stderr,
        )
    config = ServerConfig(
        token=token,
        max_batch=args.max_batch,
        batch_wait_ms=args.batch_wait_ms,
        batch_workers=args.batch_workers,
        max_request_bytes=int(args.max_request_mb * (1 << 20)),
        request_timeout_s=args.request_timeout,
    )
    try:
        sock = bind_socket(args.host, args.port)
    except OSError as exc:
        print(
            f"texture-sorter serve: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}",
            file=sys.stderr,
        )
        return 1
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if ":" in args.host else args.host

    def ready() -> None:
        batching = f"batches of ≤{args.max_batch}" if args.max_batch > 1 else "no batching"
        print(f"{READY_PREFIX}http://{host}:{port} ({manager.describe()}, {batching})", flush=True)

    run_server(create_app(manager, config), sock, verbose=getattr(args, "verbose", False), on_ready=ready)
    return 0


# -- serve-bench ----------------------------------------------------------------------------


def _bench_bodies(categories: list[str], size: int, count: int = 8) -> list[bytes]:
    """A few different textures as /classify bodies, encoded as a desktop client would send them."""
    from ai.online.model import encode_image

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    bodies = []
    for i in range(count):
        colour = rng.integers(0, 256, 3).astype(np.float32)
        wave = 0.5 + 0.5 * np.sin((xx * (i + 1) + yy * (count - i)) * 6.0)
        noise = rng.normal(0, 12, (size, size, 1))
        rgb = np.clip(colour * wave[..., None] + noise, 0, 255).astype(np.uint8)
        rgba = np.dstack([rgb, np.full((size, size), 255, np.uint8)])
        uri = encode_image(rgba, size, "auto").data_uri()
        bodies.append(json.dumps({"model": "", "image": uri, "labels": categories, "top_k": 5}).encode())
    return bodies


async def _load(
    url: str, token: str | None, bodies: list[bytes], clients: int, warmup: float, seconds: float
):
    import httpx

    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    latencies: list[float] = []
    errors: Counter = Counter()
    start = time.perf_counter()
    measure_from, end = start + warmup, start + warmup + seconds
    last_done = measure_from
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=30.0) as client:

        async def worker(i: int) -> None:
            nonlocal last_done
            n = i
            while (t0 := time.perf_counter()) < end:
                body = bodies[n % len(bodies)]
                n += 1
                try:
                    response = await client.post("/classify", content=body)
                    error = None if response.status_code == 200 else f"HTTP {response.status_code}"
                except httpx.HTTPError as exc:
                    error = type(exc).__name__
                t1 = time.perf_counter()
                if t0 >= measure_from:
                    last_done = max(last_done, t1)
                    if error:
                        errors[error] += 1
                    else:
                        latencies.append(t1 - t0)

        await asyncio.gather(*(worker(i) for i in range(clients)))
    window = max(last_done - measure_from, 1e-9)
    lat = np.asarray(latencies) * 1000.0 if latencies else np.zeros(1)
    return {
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / window, 1),
        "p50_ms": round(float(np.percentile(lat, 50)), 2),
        "p99_ms": round(float(np.percentile(lat, 99)), 2),
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
    }


def _start_server(args, max_batch: int, token: str | None) -> tuple[subprocess.Popen, str]:
    root = Path(__file__).resolve().parents[2]
    cmd = [sys.executable, "-m", "app.cli", "serve", "--port", "0", "--max-batch", str(max_batch)]
    cmd += ["--batch-wait-ms", str(args.batch_wait_ms), "--batch-workers", str(args.batch_workers)]
    if args.model:
        cmd += ["--model", args.model]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
    )
    if token:
        env[TOKEN_ENV] = token  # not on the command line, where `ps` shows it
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=None, text=True, env=env, cwd=root)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith(READY_PREFIX):
            return proc, line[len(READY_PREFIX) :].split()[0]
        if not line and proc.poll() is not None:
            break
    proc.kill()
    proc.wait()
    proc.stdout.close()
    raise RuntimeError(f"the server did not start (exit code {proc.returncode})")


def run_bench(args: argparse.Namespace) -> int:
    import httpx

    token = args.token or os.environ.get(TOKEN_ENV) or None
    if args.url:
        host = httpx.URL(args.url).host
        if not _is_loopback(host):
            print(
                "serve-bench: --url must be a loopback address (127.0.0.1, ::1, localhost)", file=sys.stderr
            )
            return 2
    modes = [("batched", args.max_batch), ("unbatched", 1)] if not args.url else [("as running", None)]
    results = {}
    for name, max_batch in modes:
        proc = None
        try:
            if args.url:
                url = args.url.rstrip("/")
            else:
                proc, url = _start_server(args, max_batch, token)
            auth = {"Authorization": f"Bearer {token}"} if token else {}
            categories = [c["id"] for c in httpx.get(f"{url}/categories", headers=auth).json()["categories"]]
            bodies = _bench_bodies(categories, args.image_size)
            figures = asyncio.run(_load(url, token, bodies, args.clients, args.warmup, args.seconds))
            health = httpx.get(f"{url}/health").json()
            figures["mean_batch"] = round(health["requests"] / max(health["batches"], 1), 2)
        except (RuntimeError, httpx.HTTPError, KeyError, ValueError) as exc:
            print(f"serve-bench: {name}: {exc}", file=sys.stderr)
            return 1
        finally:
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                proc.stdout.close()
        results[name] = figures
        print(
            f"{name:>10}: {figures['requests_per_s']:8.1f} req/s  p50 {figures['p50_ms']:7.2f} ms  "
            f"p99 {figures['p99_ms']:7.2f} ms  errors {figures['errors']}  mean batch {figures['mean_batch']}"
            f"  ({args.clients} clients, {args.seconds:g} s, {args.image_size}px images)",
            flush=True,
        )
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0 if all(r["errors"] == 0 for r in results.values()) else 1


# -- online ---------------------------------------------------------------------------------


def _key_state(settings: OnlineSettings) -> str:
    if not settings.api_key:
        return "not set"
    if secrets.load_api_key(settings.keyring_entry) == settings.api_key:
        return f"set (OS keyring: {secrets.backend_name()})"
    return f"set (plain text in {settings_path()})"


def run_online_show(args: argparse.Namespace) -> int:
    settings = load_settings()
    provider = get_provider(settings.provider)
    print(f"settings file: {settings_path()}")
    for name, value in settings.to_dict().items():
        if name == "api_url" and not value:
            value = f"(default) {provider.default_api_url}"
        elif name == "model" and not value and provider.default_model:
            value = f"(default) {provider.default_model}"
        print(f"  {name}: {value}")
    print(f"  api_key: {_key_state(settings)}")
    return 0


def run_online_set(args: argparse.Namespace) -> int:
    settings = load_settings()
    changes = {
        k: v
        for k, v in vars(args).items()
        if v is not None and k in OnlineSettings.__dataclass_fields__ and k != "api_key"
    }
    data = {**settings.to_dict(include_key=True), **changes}
    if args.api_key_stdin:
        data["api_key"] = sys.stdin.readline().strip()
    elif args.clear_api_key:
        data["api_key"] = ""
    try:
        new = OnlineSettings.from_dict(data)
        if new.enabled:
            get_provider(new.provider)(new.api_url, new.model)  # checks the URL before saving
        path = save_settings(new)
    except (OnlineError, OSError) as exc:
        print(f"texture-sorter online: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, OnlineError) else 1
    print(f"saved {path}; API key {_key_state(new)}")
    return 0


def _test_image(path: str | None) -> np.ndarray:
    if path is None:
        yy, xx = np.mgrid[0:128, 0:128]
        rgb = np.stack([xx * 2, yy * 2, np.full_like(xx, 255)], -1).astype(np.uint8)  # normal-map-like
        return np.dstack([rgb, np.full((128, 128), 255, np.uint8)])
    from ai.textures import load_texture

    return load_texture(path).pixels


def run_online_test(args: argparse.Namespace) -> int:
    from ai.model_manager import ModelManager
    from ai.online.model import OnlineModel

    settings = load_settings()
    try:
        rgba = _test_image(args.image)
        manager = ModelManager.create_default({})
        categories = manager.categories
        with OnlineModel(settings) as model:
            print(f"asking {model.describe()} ...")
            started = time.perf_counter()
            answer = model.predict(rgba, categories, 3)
        elapsed = time.perf_counter() - started
    except (TextureSorterError, OSError) as exc:
        print(f"online test failed: {exc}", file=sys.stderr)
        return 1
    guesses = ", ".join(f"{p.category} {p.confidence:.0%}" for p in answer.predictions)
    print(f"ok in {elapsed * 1000:.0f} ms: {guesses}")
    if not settings.enabled:
        print("note: online classification is disabled; enable it with 'texture-sorter online set --enable'")
    return 0
