"""An earlier revision's pipeline against this checkout's, on the same files, in turns.

    python build/bench_revision.py REV [--rounds 3] [--generate 1500] [--folder DIR]

Checks REV out into a temporary git worktree, generates one set of textures with this checkout's
generator (or takes --folder), then runs `texture-sorter bench FOLDER --json` from each in turn,
REV first, with this checkout's Python environment and REV's code first on the import path (REV
must run on today's dependencies). Prints every round and the ratios of the means for the
pipeline, the decode ceiling and the inference ceiling (each with its own default model).

This is what a same-run `bench --baseline` cannot show: everything that changed since REV, not
only the model and the decoders; and it checks that the baseline's "old decoder" is a fair
stand-in for the code it replaced. Run it on an otherwise idle machine: each round takes about as
long as two plain benches.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURES = {
    "pipeline": "pipeline_files_per_s",
    "decode ceiling": "decode_ceiling_files_per_s",
    "inference ceiling": "inference_ceiling_files_per_s",
}
_BENCH = "import sys; from app.cli import main; sys.argv[0] = 'texture-sorter'; sys.exit(main())"


def bench(code_root: Path, folder: Path, out: Path) -> dict:
    """One `texture-sorter bench FOLDER` run of the code in code_root; its JSON figures."""
    env = dict(os.environ, PYTHONPATH=str(code_root))
    subprocess.run(
        [sys.executable, "-c", _BENCH, "bench", str(folder), "--json", str(out)],
        cwd=code_root,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rev", help="the earlier revision (anything git rev-parse accepts)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--generate", type=int, default=1500, metavar="N")
    parser.add_argument("--folder", type=Path, help="textures to measure instead of generated ones")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-revision-") as tmp:
        work = Path(tmp)
        old = work / "old"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(old), args.rev], check=True)
        try:
            folder = args.folder
            if folder is None:
                sys.path.insert(0, str(ROOT))
                from app.commands.bench import generate_textures

                folder = work / "textures"
                folder.mkdir()
                generate_textures(folder, args.generate)
            runs: dict[str, list[dict]] = {"old": [], "new": []}
            for i in range(args.rounds):
                for side, code in (("old", old), ("new", ROOT)):
                    figures = bench(code, folder, work / f"{side}{i}.json")
                    runs[side].append(figures)
                    shown = "  ".join(f"{name} {figures[key]:7.1f}" for name, key in FIGURES.items())
                    print(f"round {i + 1} {side}: {shown}", flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(old)], check=False)
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    print(f"{args.rev} -> this checkout ({head.stdout.strip()}), {args.rounds} rounds, means and ratio:")
    for name, key in FIGURES.items():
        before = statistics.mean(r[key] for r in runs["old"])
        after = statistics.mean(r[key] for r in runs["new"])
        pairs = ", ".join(f"×{n[key] / o[key]:.2f}" for o, n in zip(runs["old"], runs["new"], strict=True))
        print(f"  {name:18s} {before:7.1f} -> {after:7.1f} files/s  ×{after / before:.2f}  (rounds: {pairs})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
