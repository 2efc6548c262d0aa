"""`texture-sorter bench`: measure the classification pipeline on a folder or on generated textures."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

import numpy as np

from app.pipeline import DEFAULT_BATCH

log = logging.getLogger(__name__)

# (format, weight) of a realistic dump: mostly PNG rips and DXT packs, some BC7, TGA and PS2 TIM2.
GENERATED_MIX = (("png", 4), ("dds:DXT1", 2), ("dds:DXT5", 2), ("dds:DX10_BC7", 1), ("tga", 1), ("tim2", 1))
GENERATED_SIZES = (64, 128, 256, 256, 256, 512, 1024)


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "bench",
        help="measure classification speed (pipeline, ceilings, naive baseline, cache)",
        description="Benchmark the classification pipeline on PATH or on generated textures.",
    )
    p.add_argument("path", nargs="?", help="folder of textures (omit with --generate)")
    p.add_argument("--generate", type=int, metavar="N", help="generate N textures of a realistic mix")
    p.add_argument("--size", type=int, metavar="PX", help="generated texture size (default: mixed 64–1024)")
    p.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="workers, each decoding a batch then running the model (default: cores, 2–16)",
    )
    p.add_argument("--batch", type=int, default=DEFAULT_BATCH, metavar="N", help="model batch size")
    p.add_argument("--providers", metavar="LIST", help="onnxruntime providers, e.g. cuda,cpu")
    p.add_argument("--model", metavar="FILE.onnx", help="model to measure (default: the active model)")
    p.add_argument(
        "--with-learner",
        action="store_true",
        help="attach an (empty) learner as the GUI does: the pipeline then also hashes each file's pixels",
    )
    p.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="MODEL.onnx",
        help="also run this model through the same pipeline on the same files and print the ratio (repeatable)",
    )
    p.add_argument(
        "--baseline",
        metavar="MODEL.onnx",
        help="also run the old setup (this model with the old decoder: PNGs by Pillow, rule views by the full "
        "box resampler) and print the speed-up over it",
    )
    p.add_argument(
        "--scaling", action="store_true", help="also run the pipeline on one worker: speed-up and efficiency"
    )
    p.add_argument(
        "--profile",
        action="store_true",
        help="also time decoding and preparing per format on one thread (also with the old decoder)",
    )
    p.add_argument(
        "--upstream",
        type=int,
        nargs="?",
        const=100,
        default=0,
        metavar="N",
        help="also classify N files (default 100) the way the upstream tool does: CLIP ViT-B/32 in eager "
        "PyTorch, batch 1 (needs the training extra)",
    )
    p.add_argument(
        "--gui",
        type=int,
        nargs="?",
        const=5000,
        default=0,
        metavar="N",
        help="instead: open the main window (offscreen works) on N generated textures (default 5000) and "
        "report the event loop's longest gaps and any decoding or model work done on the UI thread",
    )
    p.add_argument("--json", metavar="FILE", help="write the figures as JSON ('-' = stdout)")
    p.set_defaults(func=run)


def generate_textures(folder: Path, count: int, size: int | None = None, seed: int = 0) -> list[Path]:
    """Write `count` textures of GENERATED_MIX into folder; deterministic for a seed."""
    from ai.textures.synth import IMAGE_KINDS, synth_image, write_dds, write_png, write_tga, write_tim2

    rng = np.random.default_rng(seed)
    kinds, weights = zip(*GENERATED_MIX, strict=True)
    probs = np.array(weights, float) / sum(weights)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for i in range(count):
        kind = kinds[rng.choice(len(kinds), p=probs)]
        side = size or int(rng.choice(GENERATED_SIZES))
        picture = synth_image(side, IMAGE_KINDS[i % len(IMAGE_KINDS)], seed=seed * 100_003 + i)
        sub = folder / f"set{i % 10}"
        sub.mkdir(exist_ok=True)
        if kind == "png":
            path = sub / f"tex{i:06}.png"
            write_png(path, picture)
        elif kind == "tga":
            path = sub / f"tex{i:06}.tga"
            write_tga(path, picture)
        elif kind == "tim2":
            path = sub / f"tex{i:06}.tm2"
            write_tim2(path, picture[: min(side, 512), : min(side, 512)], "PSMT8")
        else:
            path = sub / f"tex{i:06}.dds"
            levels = max(1, int(np.log2(side)) - 1)
            write_dds(path, picture, kind.split(":", 1)[1], mip_levels=levels)
        written.append(path)
    return written


def run(args: argparse.Namespace) -> int:
    from app.bench import run_benchmark, scan_for_bench

    if args.gui:
        return _run_gui(args)
    if not args.path and not args.generate:
        print("texture-sorter bench: give a folder or --generate N", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="texture-sorter-bench-") as tmp:
        folder = Path(args.path) if args.path else Path(tmp) / "textures"
        if args.generate:
            print(f"generating {args.generate} textures in {folder} …", file=sys.stderr)
            generate_textures(folder, args.generate, args.size)
        files = scan_for_bench(str(folder))
        if not files:
            print(f"texture-sorter bench: no textures found in {folder}", file=sys.stderr)
            return 2
        print(f"measuring {len(files)} files …", file=sys.stderr)
        figures = run_benchmark(
            files, args.threads, args.batch, args.providers, args.model, args.with_learner,
            compare=args.compare, baseline=args.baseline, scaling=args.scaling, upstream=args.upstream,
            profile=args.profile,
        )  # fmt: skip
    _print_table(figures, sys.stderr if args.json == "-" else sys.stdout)
    _write_json(figures, args.json)
    return 0


def _run_gui(args: argparse.Namespace) -> int:
    from app.ui.responsiveness import measure_gui

    print(f"classifying {args.gui} generated textures in the main window …", file=sys.stderr)
    f = measure_gui(args.gui, args.model)
    out = sys.stderr if args.json == "-" else sys.stdout
    print(
        f"{f['files']} files in {f['seconds']:.1f} s ({f['files_per_s']:.0f} files/s) with the window open\n"
        f"event loop: {f['heartbeats']} heartbeats of 10 ms, longest gap {f['max_gap_ms']:.1f} ms, "
        f"99th percentile {f['p99_gap_ms']:.1f} ms, median {f['median_gap_ms']:.1f} ms\n"
        f"memory: +{f['rss_growth_mb']:.0f} MB while classifying\n"
        f"on the UI thread: {f['ui_thread_calls'] or 'no decoding, model or learner calls'}; "
        f"on workers: {f['worker_calls']}",
        file=out,
    )
    _write_json(f, args.json)
    return 0


def _write_json(figures: dict, target: str | None) -> None:
    """The figures as JSON to `target` ('-' = stdout), when asked for."""
    if not target:
        return
    text = json.dumps(figures, indent=2)
    if target == "-":
        print(text)
    else:
        Path(target).write_text(text + "\n", encoding="utf-8")


def _print_table(f: dict, out) -> None:
    lines = [
        f"model: {f['model']}  providers: {', '.join(f['providers']) or 'none'}",
        f"files: {f['files']}  threads: {f['threads']}  batch: {f['batch']}"
        + ("  learner attached (the GUI's path)" if f.get("with_learner") else ""),
        f"pipeline            {f['pipeline_files_per_s']:>9.1f} files/s",
        f"naive baseline      {f['naive_files_per_s']:>9.1f} files/s   (pipeline ×{f['ratio_vs_naive']:.2f}; "
        f"at most ×{f['ratio_vs_naive_bound']:.2f} on {f['cores']} cores: CPU per file "
        f"{f['cpu_ms_per_file']['pipeline']:.2f} ms pipeline, {f['cpu_ms_per_file']['naive']:.2f} ms naive)",
        f"decode ceiling      {f['decode_ceiling_files_per_s']:>9.1f} files/s"
        + f"   (old decoder, i.e. PNG by Pillow and the earlier, slower resizing: {f['decode_ceiling_old_decoder_files_per_s']:.1f}; "
        f"now ×{f['decoder_speedup']:.2f}; CPU per file {f['decode_cpu_ms_per_file']['new']:.2f} against "
        f"{f['decode_cpu_ms_per_file']['old_decoder']:.2f} ms: ×{f['decoder_cpu_speedup']:.2f})",
        f"inference ceiling   {f['inference_ceiling_files_per_s']:>9.1f} files/s",
        f"shared-core ceiling {f['shared_core_ceiling_files_per_s']:>9.1f} files/s   "
        f"(pipeline at {f['ratio_vs_ceiling']:.0%})",
        f"warm (cached) run   {f['warm_cache_files_per_s']:>9.1f} files/s",
        "stage shares        " + ", ".join(f"{k} {v:.0%}" for k, v in f["stage_time_shares"].items()),
        f"peak RSS            {f['peak_rss_mb']:>9.1f} MB while classifying (the bench's other steps: "
        + ", ".join(
            f"{k.replace('_', ' ')} {v:.0f}" for k, v in f["phase_peak_rss_mb"].items() if k != "pipeline"
        )
        + " MB)",
    ]
    scaling = f.get("scaling")
    if scaling:
        lines.append(
            f"one worker          {scaling['one_worker_files_per_s']:>9.1f} files/s   ({scaling['workers']} workers: "
            f"×{scaling['speedup']:.2f}, efficiency {scaling['efficiency']:.0%} of {f['cores']} cores)"
            + ("; over 100 %: the machine's load changed between the two runs" if scaling["efficiency"] > 1 else "")
        )
    for other in f.get("compare", []):
        if "error" in other:
            lines.append(f"compare {other['path']}: {other['error']}")
            continue
        lines.append(
            f"compare             {other['pipeline_files_per_s']:>9.1f} files/s   {other['model']} in the same pipeline "
            f"(ours ×{other['ours_over_it_pipeline']:.2f}, ours run just before and after it: {other['ours_adjacent_files_per_s']:.1f}; inference ceiling "
            f"{other['inference_ceiling_files_per_s']:.1f}, ours ×{other['ours_over_it_inference']:.2f}; its CPU time "
            f"per file ×{other['ours_over_it_cpu']:.2f} ours)"
        )
    base = f.get("baseline")
    if base:
        lines.append(
            f"baseline {base['error']}" if "error" in base else
            f"old setup           {base['pipeline_files_per_s']:>9.1f} files/s   {base['model']}, old decoder "
            f"(now ×{base['ours_over_it_pipeline']:.2f}, ours run just before and after it: {base['ours_adjacent_files_per_s']:.1f}; its ceilings: decode {base['decode_ceiling_files_per_s']:.1f}, "
            f"inference {base['inference_ceiling_files_per_s']:.1f}; its CPU time per file ×{base['ours_over_it_cpu']:.2f} ours)"
        )
    profile = f.get("decode_profile")
    if profile:
        lines.append("decode profile, one thread, ms per file (decode + prepare, share of decode time):")
        for name, v in profile["formats"].items():
            pillow = (f"; Pillow {v['pillow_decode_ms']:.2f} ms, libpng ×{v['speedup']:.2f}"
                      if "pillow_decode_ms" in v else "")  # fmt: skip
            lines.append(
                f"  {name:<6} {v['files']:>6} files  {v['decode_ms']:.2f} + {v['prepare_ms']:.2f} ms  "
                f"(old prepare {v['old_prepare_ms']:.2f} ms; {v['share_of_decode']:.0%}{pillow})"
            )
    upstream = f.get("upstream")
    if upstream:
        if "error" in upstream:
            lines.append(f"upstream way: {upstream['error']}")
        else:
            lines.append(
                f"upstream way        {upstream['files_per_s']:>9.2f} files/s   ({upstream['method']}, "
                f"{upstream['files']} files; ours ×{upstream['ours_over_it']:.1f})"
            )
    print("\n".join(lines), file=out)
