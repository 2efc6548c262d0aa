"""Benchmark of the real folder pipeline against its ceilings and a naive one-at-a-time baseline.

Every figure comes from one run on the same files and the same model:
- pipeline: `classify_files` end to end (no cache), files/s;
- decode ceiling: decode + prepare only, on all decode threads, in turn with the old decoder's;
- inference ceiling: the model alone on pre-made tensors at the pipeline's batch size;
- shared-core ceiling: 1 / (1/decode + 1/inference), what the two stages allow on the same cores;
- naive: one file at a time, full decode, preprocess, `session.run` at batch 1, one thread;
- warm: a second pipeline run answered from a fresh prediction cache.
The pipeline and the two ceilings are each the best of PASSES passes: on a shared machine a
change of load only ever slows a pass down (the CPU time per file of the decode ceiling is the
least of its passes, for the same reason).
Optional, in the same run: other models through the same pipeline (`compare`), the pipeline on one
worker against the default (`scaling`), the upstream classifier's way (`upstream`: CLIP
ViT-B/32 in eager PyTorch at batch 1, ai.training_pytorch.reference_vit), and where decode time
goes (`profile`: decode and prepare per format on one thread, also with the old decoder).
The old decoder (`old_decoder`) is the decode + prepare stage before issue 18's work: PNG by
Pillow, the rule views by Pillow's full box resampler and the model's input resized premultiplied
(ai.textures.preprocess.resize_then_composite); its ceiling is measured in every run.
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from ai import rules
from ai.inference import OnnxInferenceSession
from ai.model_manager import ModelManager
from ai.prediction_cache import PredictionCache
from ai.textures import DEFAULT_MAX_PIXELS, load_texture, png, preprocess
from ai.textures.preprocess import normalize
from app.pipeline import (
    DEFAULT_BATCH,
    PipelineStats,
    _prepare_chunk,
    classify_files,
    default_threads,
)
from app.scan import ScannedFile, scan_textures

log = logging.getLogger(__name__)

NAIVE_MAX_FILES = 300  # the baseline is slow by design; a sample is enough for its rate


def reset_peak_rss() -> bool:
    """Start a new peak-RSS window (Linux: clear_refs 5 resets VmHWM); False where unsupported."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def peak_rss_mb() -> float:
    """Peak resident memory since the last reset_peak_rss (Linux) or since the process started."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    # ru_maxrss is KiB on Linux, bytes on macOS.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if os.uname().sysname == "Darwin" else peak / 1024


def _rate(count: int, seconds: float) -> float:
    return count / max(seconds, 1e-9)


def measure_pipeline(files, manager, threads, batch, cache=None) -> tuple[float, PipelineStats, float]:
    """(files/s, stage times, CPU seconds per file of every thread of this process)."""
    stats = PipelineStats()
    cpu, start = time.process_time(), time.perf_counter()
    count = 0
    for results in classify_files(
        files, manager, threads=threads, batch_size=batch, cache=cache, stats=stats
    ):
        count += len(results)
    seconds = time.perf_counter() - start
    return _rate(count, seconds), stats, (time.process_time() - cpu) / max(count, 1)


def measure_decode_ceiling(files, manager, threads, batch: int) -> tuple[float, list, float]:
    """Decode + prepare everything in the pipeline's batches on all threads; keep one batch.
    (files/s, the kept batch, CPU seconds per file of every thread of this process)."""
    kept = []
    stop = threading.Event()
    batches = [[(f, None) for f in files[i : i + batch]] for i in range(0, len(files), batch)]

    def prepare(items):
        return _prepare_chunk(items, manager, "", DEFAULT_MAX_PIXELS, None, "", None, stop)

    cpu, start = time.process_time(), time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for chunk in pool.map(prepare, batches):
            kept.extend(d for _, d in chunk if d.prepared is not None and len(kept) < batch)
    seconds = time.perf_counter() - start
    return _rate(len(files), seconds), kept, (time.process_time() - cpu) / max(len(files), 1)


def measure_inference_ceiling(manager, decoded, batch, total, threads) -> float:
    """The model alone, called the way the pipeline calls it: `threads` batches at a time."""
    model = manager.offline_model
    prepared = [d.prepared for d in decoded if d.prepared is not None][:batch]
    if model is None or not prepared:
        return float("inf")
    while len(prepared) < batch:
        prepared = prepared + prepared[: batch - len(prepared)]
    tensors = normalize(np.stack([p.rgb for p in prepared]), model.mean, model.std)
    runs = max(3 * threads, total // batch)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        # Warm-up: the first run in each thread allocates.
        list(pool.map(lambda _: model.predict_arrays(tensors), range(threads)))
        start = time.perf_counter()
        list(pool.map(lambda _: model.predict_arrays(tensors), range(runs)))
        return _rate(runs * batch, time.perf_counter() - start)


def measure_naive(files, manager) -> tuple[float, float]:
    """(files/s, CPU seconds per file) of one file at a time; loading the session is not counted."""
    model = manager.offline_model
    sample = files[:NAIVE_MAX_FILES]
    session = OnnxInferenceSession(model.model_path, num_threads=1) if model else None
    cpu, start = time.process_time(), time.perf_counter()
    for f in sample:
        try:
            texture = load_texture(f.path)
        except Exception:  # the baseline counts failed files like the pipeline does
            continue
        if session is not None:
            x = model.preprocess(texture.pixels)[None]
            session.run(x)
        else:
            manager.predict(texture.pixels)
    seconds = time.perf_counter() - start
    return _rate(len(sample), seconds), (time.process_time() - cpu) / max(len(sample), 1)


PROFILE_ROUNDS = 3  # best of, per format: one thread on a shared machine is noisy


def profile_decoders(files, manager, batch: int) -> dict:
    """Decode and prepare time per file by format on one thread (best of PROFILE_ROUNDS), as the
    pipeline does them and with the old decoder (`old_decoder`). Shares are of the summed decode
    time."""

    def timed(group) -> tuple[float, float]:
        best = (float("inf"), float("inf"))
        for _ in range(PROFILE_ROUNDS):
            stats = PipelineStats()
            for i in range(0, len(group), batch):
                items = [(f, None) for f in group[i : i + batch]]
                _prepare_chunk(items, manager, "", DEFAULT_MAX_PIXELS, None, "", stats, threading.Event())
            if stats.decode_s + stats.prepare_s < sum(best):
                best = (stats.decode_s, stats.prepare_s)
        return best[0] / len(group) * 1000, best[1] / len(group) * 1000

    by_format: dict[str, list] = {}
    for f in files:
        by_format.setdefault(Path(f.path).suffix.lower().lstrip(".") or "?", []).append(f)
    formats = {}
    for name, group in sorted(by_format.items()):
        decode_ms, prepare_ms = timed(group)
        formats[name] = {"files": len(group), "decode_ms": round(decode_ms, 3), "prepare_ms": round(prepare_ms, 3)}
        with old_decoder():
            old_decode_ms, old_prepare_ms = timed(group)
        formats[name]["old_prepare_ms"] = round(old_prepare_ms, 3)
        if name == "png" and png.available():
            formats[name]["pillow_decode_ms"] = round(old_decode_ms, 3)
            formats[name]["speedup"] = round(old_decode_ms / max(decode_ms, 1e-9), 2)
    total = sum(v["decode_ms"] * v["files"] for v in formats.values())
    for v in formats.values():
        v["share_of_decode"] = round(v["decode_ms"] * v["files"] / total, 3) if total else 0.0
    return {"threads": 1, "formats": formats}


def _manager(model_path: str | None, providers: str | None) -> ModelManager:
    config = {"providers": providers, "rule_evidence": True}
    if model_path:
        config["model_path"] = model_path
    return ModelManager.create_default(config)


class Beside:
    """Our own pipeline and inference rates, measured just before and just after each other run,
    so a shared machine whose load changes during the bench moves both sides of a ratio alike.
    One run's "after" is the next one's "before": back-to-back runs are not measured twice."""

    def __init__(self, measure):
        self._measure = measure
        self._last: tuple[float, ...] | None = None

    def around(self, run):
        """(run's result, (our files/s, our inference images/s, our CPU s per file) as the mean of
        before and after)."""
        before = self._last or self._measure()
        result = run()
        self._last = self._measure()
        return result, tuple((b + a) / 2 for b, a in zip(before, self._last, strict=True))


@contextlib.contextmanager
def old_decoder():
    """Decode and prepare as before: PNG by Pillow, rule views by the full box resampler, the
    model's input resized premultiplied and composited after."""
    with png.pillow_only(), rules.full_box_views(), preprocess.resize_then_composite():
        yield


def compare_model(files, path: str, providers, threads: int, batch: int, beside: Beside, old: bool = False) -> dict:
    """Another model through the very same pipeline, files and settings; ratios are ours ÷ its,
    with ours measured around it (`Beside`). `old` runs it with the old decoder (the old setup)."""
    manager = _manager(path, providers)
    if manager.offline_model is None:
        return {"path": path, "error": manager.offline_error or "the model could not be loaded"}

    def run():
        with old_decoder() if old else contextlib.nullcontext():
            measure_pipeline(files[: min(len(files), 16)], manager, threads, batch)  # warm-up
            rate, _, cpu = measure_pipeline(files, manager, threads, batch)
            decode_rate, decoded, _ = measure_decode_ceiling(files, manager, threads, batch)
            return rate, cpu, decode_rate, measure_inference_ceiling(manager, decoded, batch, len(files), threads)

    (rate, cpu, decode_rate, inference_rate), (ours_rate, ours_inference, ours_cpu) = beside.around(run)
    return {
        "path": path,
        "model": manager.describe(),
        "old_decoder": old,
        "pipeline_files_per_s": round(rate, 1),
        "decode_ceiling_files_per_s": round(decode_rate, 1),
        "inference_ceiling_files_per_s": round(inference_rate, 1),
        "cpu_ms_per_file": round(cpu * 1000, 4),
        "ours_adjacent_files_per_s": round(ours_rate, 1),
        "ours_adjacent_inference_files_per_s": round(ours_inference, 1),
        "ours_over_it_pipeline": round(ours_rate / max(rate, 1e-9), 2),
        "ours_over_it_inference": round(ours_inference / max(inference_rate, 1e-9), 2),
        # CPU per file, its over ours: on a machine of its own the throughput ratio on all cores.
        "ours_adjacent_cpu_ms_per_file": round(ours_cpu * 1000, 4),
        "ours_over_it_cpu": round(cpu / max(ours_cpu, 1e-12), 2),
    }


def measure_upstream(files, count: int, threads: int, categories: list[str], beside: Beside) -> dict:
    """The upstream classifier's way on the first `count` files: eager PyTorch, batch 1 (needs
    torch), with ours measured around it (`Beside`)."""
    from ai.training_pytorch import is_pytorch_available

    if not is_pytorch_available():
        return {"error": "needs PyTorch: pip install 'texture-sorter[training]'"}
    from ai.training_pytorch.reference_vit import upstream_files_per_s

    paths = [f.path for f in files[:count]]
    (rate, done), (ours_rate, _, _) = beside.around(lambda: upstream_files_per_s(paths, categories, threads=threads))
    return {
        "method": "CLIP ViT-B/32 image encoder, PyTorch eager, batch 1, random weights",
        "files": done,
        "files_per_s": round(rate, 2),
        "ours_adjacent_files_per_s": round(ours_rate, 1),
        "ours_over_it": round(ours_rate / max(rate, 1e-9), 1),
    }


# Ours' pipeline and ceilings: the best of this many passes (load only ever slows one). Three, not
# two: on this project's shared 2-core machines one pass of a pair often met a busy moment and the
# old/new decoder ratio of one run moved by ±20 %.
PASSES = 3


def _best_of(passes: int, measure, rate=lambda result: result[0]):
    """The result with the highest rate of `passes` runs of measure()."""
    return max((measure() for _ in range(passes)), key=rate)


def _alternating(passes: int, measure):
    """(ours, with the old decoder) from (rate, kept, CPU per file) passes taken in turn, so both
    see the same load: each side's best rate, its kept batch and its least CPU time per file."""
    ours, old = [], []
    for _ in range(passes):
        ours.append(measure())
        with old_decoder():
            old.append(measure())

    def best(results):
        rate, kept, _ = max(results, key=lambda result: result[0])
        return rate, kept, min(result[2] for result in results)

    return best(ours), best(old)


def run_benchmark(
    files: list[ScannedFile],
    threads: int | None = None,
    batch: int = DEFAULT_BATCH,
    providers: str | None = None,
    model_path: str | None = None,
    with_learner: bool = False,
    *,
    compare: tuple[str, ...] | list[str] = (),
    baseline: str | None = None,
    scaling: bool = False,
    upstream: int = 0,
    profile: bool = False,
) -> dict:
    """All figures of one bench run; `with_learner` attaches an empty in-memory learner, as the GUI
    always does (the pipeline then also computes each file's pixel hash). `compare` lists other
    models to run the same way, `baseline` a model run with the old decoder (the old setup),
    `scaling` also runs the pipeline on one worker, `upstream` runs that many files the upstream
    way, `profile` times decoding per format on one thread."""
    threads = threads or default_threads()
    manager = _manager(model_path, providers)
    if with_learner:
        from ai.learning.learner import IncrementalLearner
        from ai.learning.store import TrainingDataStore

        manager.learner = IncrementalLearner(TrainingDataStore(":memory:"))
    # Order: pipeline first (cold file cache is fair only for the first reader; run it twice and keep the second).
    measure_pipeline(files[: min(len(files), 64)], manager, threads, batch)
    # Each phase's peak starts from what is resident when it begins (model included); on Linux the
    # window is reset per phase, so generating the textures or an earlier phase is not counted.
    phase_peaks: dict[str, float] = {}

    def phase(name: str, run):
        reset_peak_rss()
        result = run()
        phase_peaks[name] = round(peak_rss_mb(), 1)
        return result

    pipeline_rate, stats, pipeline_cpu = phase(
        "pipeline", lambda: _best_of(PASSES, lambda: measure_pipeline(files, manager, threads, batch))
    )
    (decode_rate, decoded, decode_cpu), (old_decode_rate, _, old_decode_cpu) = phase(
        "decode_ceiling",
        lambda: _alternating(PASSES, lambda: measure_decode_ceiling(files, manager, threads, batch)),
    )
    inference_rate = phase(
        "inference_ceiling",
        lambda: _best_of(
            PASSES, lambda: measure_inference_ceiling(manager, decoded, batch, len(files), threads), rate=float
        ),
    )
    sample, decoded = decoded[:batch], None  # one batch is kept for the comparisons' inference runs
    naive_rate, naive_cpu = phase("naive", lambda: measure_naive(files, manager))
    # The naive run uses one core, the pipeline at most min(threads, cores): pipeline/naive cannot
    # exceed that many times naive's CPU cost per file over the pipeline's.
    cores = min(threads, usable_cores())
    naive_bound = cores * naive_cpu / pipeline_cpu if pipeline_cpu > 0 else float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        cache = PredictionCache(Path(tmp) / "bench-cache.sqlite3")
        phase("cache_fill", lambda: measure_pipeline(files, manager, threads, batch, cache=cache))
        warm_rate, _, _ = phase(
            "warm_cache", lambda: measure_pipeline(files, manager, threads, batch, cache=cache)
        )
        cache.close()
    shared_ceiling = 1.0 / (1.0 / decode_rate + 1.0 / inference_rate)
    stage_total = stats.decode_s + stats.prepare_s + stats.model_s + stats.finish_s
    shares = {
        name: round(getattr(stats, f"{name}_s") / stage_total, 3) if stage_total else 0.0
        for name in ("decode", "prepare", "model", "finish")
    }
    model = manager.offline_model
    figures = {
        "files": len(files),
        "threads": threads,
        "batch": batch,
        "with_learner": with_learner,
        "providers": model.session.active_providers if model else [],
        "model": manager.describe(),
        "pipeline_files_per_s": round(pipeline_rate, 1),
        "naive_files_per_s": round(naive_rate, 1),
        "decode_ceiling_files_per_s": round(decode_rate, 1),
        "inference_ceiling_files_per_s": round(inference_rate, 1),
        "shared_core_ceiling_files_per_s": round(shared_ceiling, 1),
        "decode_ceiling_old_decoder_files_per_s": round(old_decode_rate, 1),
        "decoder_speedup": round(decode_rate / old_decode_rate, 2),
        # CPU time is what a busy neighbour moves least: the ceiling of a machine of its own.
        "decode_cpu_ms_per_file": {"new": round(decode_cpu * 1000, 3), "old_decoder": round(old_decode_cpu * 1000, 3)},
        "decoder_cpu_speedup": round(old_decode_cpu / max(decode_cpu, 1e-12), 2),
        "warm_cache_files_per_s": round(warm_rate, 1),
        "ratio_vs_naive": round(pipeline_rate / naive_rate, 2),
        "ratio_vs_ceiling": round(pipeline_rate / shared_ceiling, 3),
        "cpu_ms_per_file": {"pipeline": round(pipeline_cpu * 1000, 4), "naive": round(naive_cpu * 1000, 4)},
        "cores": cores,
        "ratio_vs_naive_bound": round(naive_bound, 2),
        "stage_time_shares": shares,
        # The pipeline's peak while classifying (what a user's run costs); every phase's below.
        "peak_rss_mb": phase_peaks["pipeline"],
        "phase_peak_rss_mb": phase_peaks,
    }
    if scaling:
        one_rate, _, _ = measure_pipeline(files, manager, 1, batch)
        speedup = pipeline_rate / max(one_rate, 1e-9)
        figures["scaling"] = {
            "one_worker_files_per_s": round(one_rate, 1),
            "workers": threads,
            "speedup": round(speedup, 2),
            "efficiency": round(speedup / cores, 3),
        }
    def ours() -> tuple[float, float, float]:
        rate, _, cpu = measure_pipeline(files, manager, threads, batch)
        return rate, measure_inference_ceiling(manager, sample, batch, len(files), threads), cpu

    beside = Beside(ours)
    figures["compare"] = [compare_model(files, path, providers, threads, batch, beside) for path in compare]
    if baseline:
        figures["baseline"] = compare_model(files, baseline, providers, threads, batch, beside, old=True)
    if upstream:
        figures["upstream"] = measure_upstream(files, upstream, cores, manager.categories, beside)
    if profile:  # last: it is not a comparison, so it must not sit between one and its "after"
        figures["decode_profile"] = profile_decoders(files, manager, batch)
    return figures


def scan_for_bench(path: str) -> list[ScannedFile]:
    files, problems = scan_textures([path])
    for p, reason in problems:
        log.warning("bench: %s: %s", p, reason)
    return files
