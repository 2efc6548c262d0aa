"""The classification server: `POST /classify`, `GET /health`, `GET /categories` over the offline model.

A Starlette app run by uvicorn. Concurrent requests are decoded in worker threads and queued;
a batcher task hands everything queued (up to `max_batch`, waiting at most `batch_wait_ms`
for more) to `ModelManager.classify_prepared` as one model call; `batch_workers` such tasks
may run model calls at once. Desktops point the online provider `classify` at it (see
`ai/online/providers/classify.py` for the wire format).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import hmac
import json
import logging
import math
import socket
import threading
import time
from dataclasses import dataclass

import numpy as np
import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ai import __version__
from ai.errors import TextureError
from ai.model_manager import ModelManager, Prepared
from ai.taxonomy import category_descriptions
from ai.textures import load_texture_bytes
from ai.types import Classification

log = logging.getLogger(__name__)

MAX_LABELS = 4096


@dataclass
class ServerConfig:
    token: str | None = None  # required as "Authorization: Bearer <token>" when set
    max_batch: int = 32  # 1 turns batching off: each request is its own model call
    # Model calls that may run at once, each on its own batch: on CPU one call rarely uses every
    # core well, and two overlapping calls recover the unbatched throughput (README figures).
    batch_workers: int = 2
    batch_wait_ms: float = 2.0  # how long a batch waits for company once the queue is empty
    max_request_bytes: int = 8 << 20
    max_pixels: int = 4096 * 4096  # decoded image size limit
    max_side: int = 512  # images are shrunk to this before classification (clients send ≤ 256)
    # One request, from its first body byte to the answer: a client that stops sending, or a
    # request stuck behind a full queue, gets an answer instead of holding a connection forever.
    request_timeout_s: float = 30.0


class ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


# The data URI's media type stands in for a file extension: TGA has no magic bytes.
_MEDIA_SUFFIXES = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/jpg": ".jpg",
    "image/bmp": ".bmp",
    "image/x-bmp": ".bmp",
    "image/tga": ".tga",
    "image/x-tga": ".tga",
    "image/x-targa": ".tga",
    "image/vnd-ms.dds": ".dds",
    "image/x-dds": ".dds",
    "image/x-tim2": ".tm2",
}


def decode_image(text: object, max_pixels: int, max_side: int) -> np.ndarray:
    """A data URI (or bare base64) of a texture → RGBA uint8, shrunk to `max_side`.

    Decoded by ai.textures' allow-list (DDS, PNG, TGA, BMP, JPEG, TIM2), never by Pillow's
    open-anything: EPS/PostScript would otherwise run Ghostscript on the upload.
    """
    if not isinstance(text, str) or not text:
        raise ApiError(400, "'image' must be a data URI string (data:image/png;base64,...)")
    payload, suffix = text, ""
    if text.startswith("data:"):
        header, sep, payload = text.partition(",")
        if not sep or not header.endswith(";base64"):
            raise ApiError(400, "'image' must be a base64 data URI")
        suffix = _MEDIA_SUFFIXES.get(header[5:].split(";", 1)[0].strip().lower(), "")
    try:
        raw = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise ApiError(400, "'image' is not valid base64") from None
    try:
        texture = load_texture_bytes(raw, "image", suffix=suffix, max_pixels=max_pixels, min_size=max_side)
    except TextureError as exc:
        if exc.reason.startswith("too many"):
            raise ApiError(413, f"'image' is too large: {exc.reason}") from None
        raise ApiError(400, f"'image' is not a readable texture: {exc.reason}") from None
    rgba = texture.pixels
    if max(rgba.shape[:2]) > max_side:
        image = Image.fromarray(rgba, "RGBA")
        image.thumbnail((max_side, max_side), Image.Resampling.BILINEAR, reducing_gap=2.0)
        rgba = np.asarray(image)
    return rgba


class Batcher:
    """Queues prepared images and classifies them in batches: one model call per batch, `workers` at once."""

    def __init__(self, manager: ModelManager, max_batch: int, batch_wait_ms: float, workers: int = 2):
        self.manager = manager
        self.max_batch = max(1, int(max_batch))
        self.wait_s = max(0.0, float(batch_wait_ms)) / 1000.0
        self.top_k = len(manager.categories)
        self.requests = 0
        self.batches = 0
        self._queue: asyncio.Queue | None = None
        self.workers = max(1, int(workers))
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        if self.max_batch > 1:
            self._queue = asyncio.Queue()
            self._tasks = [
                asyncio.create_task(self._run(), name=f"classify-batcher-{i}") for i in range(self.workers)
            ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def classify(self, item: Prepared) -> Classification:
        self.requests += 1
        if self._queue is None:
            self.batches += 1
            return (await run_in_threadpool(self.manager.classify_prepared, [item], self.top_k))[0]
        future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((item, future))
        return await future

    def _drain(self, batch: list) -> None:
        while len(batch) < self.max_batch:
            try:
                batch.append(self._queue.get_nowait())
            except asyncio.QueueEmpty:
                return

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            self._drain(batch)
            if len(batch) < self.max_batch and self.wait_s > 0:
                # Requests that arrived while the previous batch ran are already queued; a short
                # wait gathers the ones in flight without holding a lone request for long.
                await asyncio.sleep(self.wait_s)
                self._drain(batch)
            batch = [(item, fut) for item, fut in batch if not fut.done()]  # client went away
            if not batch:
                continue
            self.batches += 1
            try:
                results = await run_in_threadpool(
                    self.manager.classify_prepared, [item for item, _ in batch], self.top_k
                )
            except Exception as exc:  # handed to every waiting request, which answers 500
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for (_, fut), result in zip(batch, results, strict=True):
                if not fut.done():
                    fut.set_result(result)


def _restrict(result: Classification, labels: list[str] | None, k: int) -> list[dict]:
    """Scores over the requested labels (renormalised), best first, top k."""
    index = {c: i for i, c in enumerate(result.categories)}
    wanted = list(dict.fromkeys(labels)) if labels else list(result.categories)
    known = [c for c in wanted if c in index]
    if not known:
        raise ApiError(400, "none of the requested labels is a category of this server's model")
    scores = np.asarray([float(result.probabilities[index[c]]) for c in known])
    scores = scores / max(float(scores.sum()), 1e-12)
    order = np.argsort(-scores, kind="stable")[: max(1, min(k, len(known)))]
    return [{"label": known[i], "score": round(float(scores[i]), 6)} for i in order]


def create_app(manager: ModelManager, config: ServerConfig | None = None) -> Starlette:
    config = config or ServerConfig()
    batcher = Batcher(manager, config.max_batch, config.batch_wait_ms, config.batch_workers)
    token = (config.token or "").encode()
    started = time.time()

    def authorize(request: Request) -> None:
        if not token:
            return
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(), token):
            raise ApiError(401, "missing or wrong bearer token")

    async def read_json(request: Request) -> dict:
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > config.max_request_bytes:
            raise ApiError(413, f"request body exceeds {config.max_request_bytes} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > config.max_request_bytes:
                raise ApiError(413, f"request body exceeds {config.max_request_bytes} bytes")
        try:
            data = json.loads(bytes(body))
        except (ValueError, RecursionError):
            raise ApiError(400, "the request body is not JSON") from None
        if not isinstance(data, dict):
            raise ApiError(400, "the request body must be a JSON object")
        return data

    def prepare(data: dict) -> Prepared:
        rgba = decode_image(data.get("image"), config.max_pixels, config.max_side)
        return manager.prepare(rgba)

    async def classify(request: Request) -> JSONResponse:
        authorize(request)
        progress = {"body": False}
        try:
            return await asyncio.wait_for(answer(request, progress), config.request_timeout_s)
        except asyncio.TimeoutError:
            limit = f"{config.request_timeout_s:g} s"
            if not progress["body"]:
                raise ApiError(408, f"the request body did not arrive within {limit}") from None
            raise ApiError(503, f"the request was not answered within {limit}; try again later") from None

    async def answer(request: Request, progress: dict) -> JSONResponse:
        data = await read_json(request)
        progress["body"] = True
        labels = data.get("labels")
        if labels is not None and (
            not isinstance(labels, list)
            or len(labels) > MAX_LABELS
            or not all(isinstance(x, str) for x in labels)
        ):
            raise ApiError(400, "'labels' must be a list of category ids")
        top_k = data.get("top_k", 5)
        if (
            isinstance(top_k, bool)
            or not isinstance(top_k, (int, float))
            or not math.isfinite(top_k)
            or top_k < 1
        ):
            raise ApiError(400, "'top_k' must be a positive whole number")
        item = await run_in_threadpool(prepare, data)
        result = await batcher.classify(item)
        return JSONResponse(
            {
                "predictions": _restrict(result, labels, int(top_k)),
                "model": manager.model_id,
                "source": result.source,
            }
        )

    async def health(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "status": "ok",
                "version": __version__,
                "model": manager.model_id,
                "model_description": manager.describe(),
                "categories": len(manager.categories),
                "batching": {"max_batch": batcher.max_batch, "wait_ms": batcher.wait_s * 1000},
                "requests": batcher.requests,
                "batches": batcher.batches,
                "uptime_s": round(time.time() - started, 1),
            }
        )

    async def categories(request: Request) -> JSONResponse:
        authorize(request)
        descriptions = category_descriptions()
        return JSONResponse(
            {
                "model": manager.model_id,
                "categories": [{"id": c, "description": descriptions.get(c, "")} for c in manager.categories],
            }
        )

    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=headers)

    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)

    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("classification request failed")
        return JSONResponse({"error": f"internal error: {type(exc).__name__}"}, status_code=500)

    @contextlib.asynccontextmanager
    async def lifespan(app):
        await batcher.start()
        try:
            yield
        finally:
            await batcher.stop()

    app = Starlette(
        routes=[
            Route("/classify", classify, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/categories", categories, methods=["GET"]),
        ],
        exception_handlers={ApiError: api_error, HTTPException: http_error, Exception: internal_error},
        lifespan=lifespan,
    )
    app.state.batcher = batcher
    return app


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening-ready TCP socket; port 0 picks a free one. Raises OSError (in use, bad address)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted sockets only then; without it every
    # keep-alive answer (headers and body are two writes) waits ~40 ms on delayed ACKs.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server with a hook once it accepts connections (the port is known only then)."""

    def __init__(self, config: uvicorn.Config, on_ready=None):
        super().__init__(config)
        self.on_ready = on_ready
        self.ready = threading.Event()

    async def startup(self, sockets=None) -> None:
        await super().startup(sockets)
        if self.started:
            self.ready.set()
            if self.on_ready is not None:
                self.on_ready()


def uvicorn_config(app: Starlette, verbose: bool = False) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_config=None,  # keep the program's own logging setup
        log_level="info" if verbose else "warning",
        access_log=verbose,
        server_header=False,
        timeout_keep_alive=30,
        limit_concurrency=1024,  # beyond this, new connections get 503 instead of unbounded queues
        lifespan="on",
    )


def run_server(app: Starlette, sock: socket.socket, verbose: bool = False, on_ready=None) -> None:
    """Serve on `sock` until SIGINT/SIGTERM (blocking)."""
    server = _Server(uvicorn_config(app, verbose), on_ready)
    server.run(sockets=[sock])


class BackgroundServer:
    """The app served by uvicorn in a thread, for tests and benchmarks: `with BackgroundServer(app) as s: s.url`."""

    def __init__(self, app: Starlette, host: str = "127.0.0.1", port: int = 0):
        self.sock = bind_socket(host, port)
        self.host = host
        self.port = self.sock.getsockname()[1]
        self._server = _Server(uvicorn_config(app))
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self.sock]}, name="classify-server", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> BackgroundServer:
        self._thread.start()
        if not self._server.ready.wait(timeout):
            raise RuntimeError("the classification server did not start")
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(10)
        self.sock.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
