"""The folder classification pipeline shared by the CLI, the GUI worker and the benchmark.

scan → cache lookup → batches; each batch is one job on a small thread pool: decode + prepare
its files, then one model call (onnxruntime and Pillow release the GIL, so one worker decodes
while another runs the model) → learner and cache writes in the consuming thread → FileResults
streamed in file order. Only `workers + 1` batches are in flight, so memory stays bounded for any
folder size. Model sessions run one intra-op thread by default (ai.inference.default_num_threads):
parallelism comes from the concurrent batches.
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ai.errors import TextureError
from ai.model_manager import ModelManager, ModelOutputs, Prepared
from ai.prediction_cache import CachedPrediction, PredictionCache, file_content_hash
from ai.textures import DEFAULT_MAX_PIXELS, TextureInfo, decode_memory, load_texture, reduction_factor
from ai.textures.base import reduce_rgba
from app.results import FileResult
from app.scan import ScannedFile, scan_textures

log = logging.getLogger(__name__)

# Measured on 2 cores with the shipped model: batch 8 runs 1.4× faster per image than batch 32
# (activations stay in cache) and keeps the onnxruntime arena ~200 MB smaller. GPUs want more (--batch).
DEFAULT_BATCH = 8
_LOOKUP_CHUNK = 256
_INFO_FIELDS = {f.name for f in dataclasses.fields(TextureInfo)}


@dataclass(frozen=True)
class Progress:
    done: int
    total: int
    errors: int
    files_per_s: float
    eta_s: float | None


ProgressCallback = Callable[[Progress], None]


@dataclass
class PipelineStats:
    """Seconds spent per stage (summed over threads) and cache use, for the benchmark and logs."""

    decode_s: float = 0.0
    prepare_s: float = 0.0
    model_s: float = 0.0
    finish_s: float = 0.0
    cache_hits: int = 0
    files: int = 0

    def __post_init__(self):
        self._lock = threading.Lock()

    def add(self, **seconds: float) -> None:
        with self._lock:
            for name, value in seconds.items():
                setattr(self, name, getattr(self, name) + value)


def default_threads() -> int:
    """Pipeline workers: one per core (at least 2, so decoding overlaps the model), at most 16."""
    cores = os.cpu_count() or 2
    return max(2, min(cores, 16))


@dataclass
class _Decoded:
    prepared: Prepared | None
    info: TextureInfo | None
    error: str | None
    pixel_hash: str | None = None
    perceptual_hash: int | None = None
    content_hash: str | None = None
    cached: CachedPrediction | None = None
    pixels: np.ndarray | None = None  # decoded, waiting for the batch's prepare step


def _info_from_json(data: dict | None) -> TextureInfo | None:
    if not data:
        return None
    return TextureInfo(**{k: v for k, v in data.items() if k in _INFO_FIELDS})


def _has_hashes(hit: CachedPrediction, hashes: str) -> bool:
    """Whether a cached row carries the hashes this run needs ("", "pixel" or "all")."""
    if hashes == "all":
        return bool(hit.pixel_hash) and hit.perceptual_hash is not None
    return hashes != "pixel" or bool(hit.pixel_hash)


def _decode_one(
    file: ScannedFile,
    manager: ModelManager,
    hashes: str,
    max_pixels: int,
    cache: PredictionCache | None,
    model_id: str,
    stats: PipelineStats | None,
) -> _Decoded:
    """Decode (and hash) one file; `pixels` is set for the batch's prepare step, or `error`."""
    try:
        content_hash = None
        if cache is not None:
            # A renamed or copied file is recognised by content before paying for a decode.
            content_hash = file_content_hash(file.path)
            hit = cache.get_by_content(model_id, file.size, content_hash)
            if hit is not None and _has_hashes(hit, hashes):
                return _cached_decoded(hit, content_hash)
        t0 = time.perf_counter()
        # The pixel hash (of the full first mip) is taken while decoding, so the decode may still
        # shrink early; the perceptual hash needs the whole picture. The decode's memory stays
        # reserved until only the reduced pixels are left (ai.textures.memory).
        min_size = None if hashes == "all" else manager.input_size
        with decode_memory() as hold:
            texture = load_texture(
                file.path, max_pixels=max_pixels, min_size=min_size, pixel_hash=bool(hashes), hold=hold
            )
            info, digest, phash, pixels = texture.info, texture.pixel_hash, None, texture.pixels
            if hashes == "all":
                from ai.textures.phash import perceptual_hash

                phash = perceptual_hash(pixels)
                # The batch holds its decoded files until they are prepared together: keep only
                # what the model and rules use, as load_texture does when given min_size.
                factor = reduction_factor(pixels.shape[1], pixels.shape[0], manager.input_size)
                if factor > 1:
                    pixels = reduce_rgba(pixels, factor)
            del texture  # the full-size pixels go before their reservation does
        if stats is not None:
            stats.add(decode_s=time.perf_counter() - t0)
        return _Decoded(None, info, None, digest, phash, content_hash, pixels=pixels)
    except TextureError as exc:
        return _Decoded(None, None, exc.reason)
    except OSError as exc:
        return _Decoded(None, None, f"cannot read file: {exc.strerror or exc}")
    except Exception as exc:  # one bad file must never stop the run: report it and go on
        return _Decoded(None, None, _unexpected("decoding", file.path, exc))


def _unexpected(stage: str, path: str, exc: BaseException) -> str:
    """The message for a file that failed for a reason no decoder foresaw (logged with its traceback)."""
    if isinstance(exc, MemoryError):
        return "not enough memory for this texture"
    log.error("unexpected error %s %s", stage, path, exc_info=exc)
    return f"unexpected error: {type(exc).__name__}: {exc}"


def _prepare_chunk(
    items: list[tuple[ScannedFile, CachedPrediction | None]],
    manager: ModelManager,
    hashes: str,
    max_pixels: int,
    cache: PredictionCache | None,
    model_id: str,
    stats: PipelineStats | None,
    stop: threading.Event,
) -> list[tuple[ScannedFile, _Decoded]]:
    """Decode a batch's files one by one, then prepare them together (rule statistics in one go)."""
    chunk = []
    for file, hit in items:
        if stop.is_set():
            break
        if hit is not None and _has_hashes(hit, hashes):
            chunk.append((file, _cached_decoded(hit)))
        else:
            chunk.append((file, _decode_one(file, manager, hashes, max_pixels, cache, model_id, stats)))
    waiting = [(file, d) for file, d in chunk if d.pixels is not None]
    if not waiting:
        return chunk
    t0 = time.perf_counter()
    try:
        prepared = manager.prepare_batch([d.pixels for _, d in waiting], [d.pixel_hash for _, d in waiting])
    except Exception:  # find the file that broke the batch: its neighbours still get classified
        prepared = []
        for file, d in waiting:
            try:
                prepared.append(manager.prepare(d.pixels, d.pixel_hash))
            except Exception as exc:  # one bad file must never stop the run: report it and go on
                prepared.append(None)
                d.error = _unexpected("preparing", file.path, exc)
    for (_, d), p in zip(waiting, prepared, strict=True):
        d.prepared, d.pixels = p, None
    if stats is not None:
        stats.add(prepare_s=time.perf_counter() - t0)
    return chunk


def _cached_decoded(hit: CachedPrediction, content_hash: str | None = None) -> _Decoded:
    return _Decoded(
        None, _info_from_json(hit.info), None, hit.pixel_hash, hit.perceptual_hash, content_hash, hit
    )


@dataclass
class _Job:
    """One batch, decoded and run through the model stage in a worker thread."""

    chunk: list[tuple[ScannedFile, _Decoded]]
    outputs: ModelOutputs | None
    model_s: float


def _run_job(
    items: list[tuple[ScannedFile, CachedPrediction | None]],
    manager: ModelManager,
    top_k: int,
    hashes: str,
    max_pixels: int,
    cache: PredictionCache | None,
    model_id: str,
    stats: PipelineStats | None,
    stop: threading.Event,
) -> _Job:
    chunk = _prepare_chunk(items, manager, hashes, max_pixels, cache, model_id, stats, stop)
    fresh = [d.prepared for _, d in chunk if d.prepared is not None]
    if not fresh or stop.is_set():
        return _Job(chunk, None, 0.0)
    t0 = time.perf_counter()
    outputs = manager.model_outputs(fresh, top_k)
    return _Job(chunk, outputs, time.perf_counter() - t0)


def classify_files(
    files: list[ScannedFile],
    manager: ModelManager,
    *,
    top_k: int = 5,
    batch_size: int = DEFAULT_BATCH,
    threads: int | None = None,
    cancel: threading.Event | None = None,
    progress: ProgressCallback | None = None,
    hashes: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    cache: PredictionCache | None = None,
    stats: PipelineStats | None = None,
) -> Iterator[list[FileResult]]:
    """Classify `files`, yielding results in file order, one list per model batch.

    `hashes` adds pixel and perceptual hashes (for sorting with duplicates); with a learner attached
    the pixel hash is always computed. Cancelling (setting `cancel`, or closing the generator) stops
    after the current batch; decoded-but-unclassified files are dropped, never reported as results.
    """
    batch_size = max(1, int(batch_size))
    workers = max(1, int(threads or default_threads()))
    # Each worker decodes a whole batch and then runs the model on it, so while one worker waits
    # on onnxruntime (which releases the GIL) another decodes: the stages overlap without a
    # hand-off queue. One batch more than workers keeps a core busy while the consumer finishes.
    ahead = workers + 1
    # Sorting (hashes=True) groups duplicates by pixel and perceptual hash; the learner needs only
    # the pixel hash (its exact-match answers), which skips the perceptual hash's ~1.7 ms per file.
    wanted = "all" if hashes else "pixel" if manager.learner is not None else ""
    model_id = manager.model_id
    total = len(files)
    started = time.perf_counter()
    done = errors = 0
    stop = threading.Event()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="classify")
    jobs: deque[Future] = deque()
    upcoming: deque[tuple[ScannedFile, CachedPrediction | None]] = deque()
    queue = iter(files)

    def next_file() -> tuple[ScannedFile, CachedPrediction | None] | None:
        if not upcoming:
            chunk = list(itertools.islice(queue, _LOOKUP_CHUNK))
            hits = cache.get_many(model_id, chunk) if cache is not None and chunk else {}
            upcoming.extend((f, hits.get(f.path)) for f in chunk)
        return upcoming.popleft() if upcoming else None

    def submit() -> None:
        while len(jobs) < ahead:
            items = []
            while len(items) < batch_size and (item := next_file()) is not None:
                items.append(item)
            if not items:
                return
            args = (items, manager, top_k, wanted, max_pixels, cache, model_id, stats, stop)
            jobs.append(pool.submit(_run_job, *args))

    try:
        submit()
        while jobs:
            if cancel is not None and cancel.is_set():
                return
            job = jobs.popleft().result()
            submit()
            results = _classify_chunk(job, manager, top_k, cache, model_id, stats)
            done += len(results)
            errors += sum(1 for r in results if r.error)
            if progress is not None:
                elapsed = max(time.perf_counter() - started, 1e-9)
                rate = done / elapsed
                eta = (total - done) / rate if rate > 0 else None
                progress(Progress(done, total, errors, rate, eta))
            yield results
    finally:
        stop.set()
        for future in jobs:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)


def _classify_chunk(job: _Job, manager: ModelManager, top_k: int, cache, model_id, stats) -> list[FileResult]:
    chunk, outputs = job.chunk, job.outputs
    fresh = [i for i, (_, d) in enumerate(chunk) if d.prepared is not None] if outputs is not None else []
    cached = [i for i, (_, d) in enumerate(chunk) if d.cached is not None]
    t1 = time.perf_counter()
    if cache is not None and outputs is not None and model_id == manager.model_id:
        cache.put_many(
            model_id,
            [
                (
                    chunk[i][0],
                    chunk[i][1].content_hash,
                    outputs.probabilities[j],
                    None if outputs.embeddings is None else outputs.embeddings[j],
                    outputs.sources[j],
                    chunk[i][1].info,
                    chunk[i][1].pixel_hash,
                    chunk[i][1].perceptual_hash,
                )
                for j, i in enumerate(fresh)
            ],
        )
    order = sorted(fresh + cached)
    classified = {}
    if order:
        merged = _merge_outputs(chunk, fresh, cached, outputs, order, manager.categories)
        hashes = [chunk[i][1].pixel_hash for i in order]
        paths = [chunk[i][0].path for i in order]
        finished = manager.finish(merged, hashes, top_k, paths)
        classified = {
            i: (c, merged.probabilities[j]) for j, (i, c) in enumerate(zip(order, finished, strict=True))
        }
    if stats is not None:
        stats.add(
            model_s=job.model_s, finish_s=time.perf_counter() - t1, cache_hits=len(cached), files=len(chunk)
        )
    results = []
    for i, (file, decoded) in enumerate(chunk):
        c, raw = classified.get(i, (None, None))
        results.append(
            FileResult(
                path=file.path,
                size=file.size,
                mtime=file.mtime,
                predictions=c.predictions if c else [],
                source=c.source if c else None,
                error=decoded.error,
                info=decoded.info,
                probabilities=c.probabilities if c else None,
                embedding=None if c is None or c.embedding is None else c.embedding.astype(np.float16),
                model_probabilities=raw,
                pixel_hash=decoded.pixel_hash,
                perceptual_hash=decoded.perceptual_hash,
            )
        )
    return results


def _merge_outputs(chunk, fresh, cached, outputs, order, categories) -> ModelOutputs:
    """Fresh model outputs and cached rows, back in file order."""
    if not cached:
        return outputs
    rows = {}
    for j, i in enumerate(fresh):
        emb = None if outputs.embeddings is None else outputs.embeddings[j]
        rows[i] = (outputs.probabilities[j], emb, outputs.sources[j])
    for i in cached:
        hit = chunk[i][1].cached
        rows[i] = (hit.probabilities, hit.embedding, hit.source)
    probs = np.stack([rows[i][0] for i in order]).astype(np.float32)
    embs = [rows[i][1] for i in order]
    embeddings = None if any(e is None for e in embs) else np.stack(embs).astype(np.float32)
    return ModelOutputs(probs, embeddings, [rows[i][2] for i in order], list(categories))


def rerank(results: list[FileResult], manager: ModelManager, top_k: int = 5) -> list[FileResult]:
    """Re-apply the learner and rules to already classified files (after a correction), no decoding.

    Uses each result's model-stage probabilities and embedding kept in memory; results in error
    or from another model's categories are returned unchanged.
    """
    categories = manager.categories
    usable = [
        i
        for i, r in enumerate(results)
        if r.model_probabilities is not None and len(r.model_probabilities) == len(categories)
    ]
    if not usable:
        return list(results)
    probs = np.stack([results[i].model_probabilities for i in usable]).astype(np.float32)
    embs = [results[i].embedding for i in usable]
    embeddings = None if any(e is None for e in embs) else np.stack(embs).astype(np.float32)
    outputs = ModelOutputs(probs, embeddings, [results[i].source or "offline" for i in usable], categories)
    finished = manager.finish(
        outputs, [results[i].pixel_hash for i in usable], top_k, [results[i].path for i in usable]
    )
    out = list(results)
    for i, c in zip(usable, finished, strict=True):
        out[i] = dataclasses.replace(results[i], predictions=c.predictions, probabilities=c.probabilities)
    return out


def classify_folder(
    paths: Iterable[str | os.PathLike[str]],
    manager: ModelManager,
    *,
    exclude: Iterable[str | os.PathLike[str]] = (),
    **options,
) -> Iterator[list[FileResult]]:
    """Scan `paths` and classify every texture found; unreadable inputs come first as error results."""
    files, problems = scan_textures(paths, exclude=exclude)
    if problems:
        yield [FileResult(path=p, size=0, mtime=0.0, predictions=[], error=reason) for p, reason in problems]
    yield from classify_files(files, manager, **options)
