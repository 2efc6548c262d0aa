"""`texture-sorter bench`: the figures it reports, and the speed ratios CI holds the pipeline to."""

from __future__ import annotations

import io
import json
from collections import Counter

import pytest

from ai.paths import model_path
from app.bench import Beside, run_benchmark, scan_for_bench
from app.cli import main
from app.commands.bench import generate_textures

REQUIRED_KEYS = {
    "pipeline_files_per_s",
    "naive_files_per_s",
    "decode_ceiling_files_per_s",
    "inference_ceiling_files_per_s",
    "ratio_vs_naive",
    "ratio_vs_ceiling",
    "peak_rss_mb",
    "files",
    "threads",
    "batch",
    "providers",
}


def test_generated_mix_has_every_format_and_size_range(tmp_path):
    paths = generate_textures(tmp_path, 40, seed=3)
    suffixes = {p.suffix for p in paths}
    assert suffixes == {".png", ".dds", ".tga", ".tm2"}
    files = scan_for_bench(str(tmp_path))
    assert len(files) == 40
    # Deterministic for a seed: the same bytes again.
    again = generate_textures(tmp_path / "again", 5, seed=3)
    assert [p.read_bytes() for p in paths[:5]] == [p.read_bytes() for p in again[:5]]


def test_bench_command_writes_every_required_figure(tmp_path, tiny_model, capsys):
    out = tmp_path / "bench.json"
    code = main(["bench", "--generate", "24", "--size", "64", "--model", str(tiny_model), "--json", str(out)])
    assert code == 0
    figures = json.loads(out.read_text())
    assert figures.keys() >= REQUIRED_KEYS
    assert figures["files"] == 24 and figures["batch"] == 8
    assert figures["providers"] == ["CPUExecutionProvider"]
    for key in ("pipeline_files_per_s", "naive_files_per_s", "peak_rss_mb", "warm_cache_files_per_s"):
        assert figures[key] > 0
    assert figures["cpu_ms_per_file"]["pipeline"] > 0 and figures["cpu_ms_per_file"]["naive"] > 0
    assert 1 <= figures["cores"] <= figures["threads"]
    bound = figures["cores"] * figures["cpu_ms_per_file"]["naive"] / figures["cpu_ms_per_file"]["pipeline"]
    assert figures["ratio_vs_naive_bound"] == pytest.approx(bound, rel=0.05)  # from rounded figures
    ceiling = 1 / (1 / figures["decode_ceiling_files_per_s"] + 1 / figures["inference_ceiling_files_per_s"])
    assert figures["shared_core_ceiling_files_per_s"] == pytest.approx(ceiling, rel=0.01)
    assert figures["ratio_vs_naive"] == pytest.approx(  # rounded to 2 decimals
        figures["pipeline_files_per_s"] / figures["naive_files_per_s"], rel=0.02, abs=0.006
    )
    table = capsys.readouterr().out
    assert "pipeline" in table and "naive baseline" in table and "peak RSS" in table


def test_bench_without_input_is_a_usage_error(capsys):
    assert main(["bench"]) == 2
    assert "give a folder or --generate N" in capsys.readouterr().err


def test_pipeline_stays_near_its_shared_core_ceiling(tmp_path):
    """The CI speed check: a ratio of figures measured in one run on the same files, never a time.

    The pipeline must reach 80 % of what decode and inference allow together on the shared cores
    (1 / (1/decode + 1/inference)): a pipeline that stops overlapping the two stages, or serialises
    its workers, falls well below it. The naive-baseline ratio is reported, not held: on 2 cores
    it is bounded near ×1.6–2 by the CPU cost per file (README "Performance"), so it measures the
    machine's load more than the pipeline.

    Best of up to three runs: a change of load between the pipeline run and the ceilings' runs can
    pull one ratio under the bar (0.776 seen once in CI), while a pipeline that serialises measures
    about 0.5 in every run, so it still fails.
    """
    generate_textures(tmp_path, 200, seed=1)  # the realistic 64²–1024² mix of `bench --generate`
    files = scan_for_bench(str(tmp_path))
    runs = []
    for _ in range(3):
        figures = run_benchmark(files, model_path=str(model_path("default.onnx")))
        runs.append({k: figures[k] for k in sorted(REQUIRED_KEYS)})
        if figures["ratio_vs_ceiling"] >= 0.8:
            break
    assert max(r["ratio_vs_ceiling"] for r in runs) >= 0.8, json.dumps(runs)


def test_bench_can_measure_the_guis_path_with_a_learner(tmp_path, tiny_model):
    out = tmp_path / "bench.json"
    argv = ["bench", "--generate", "12", "--size", "64", "--model", str(tiny_model), "--with-learner"]
    assert main([*argv, "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert figures["with_learner"] is True and figures["pipeline_files_per_s"] > 0


def test_bench_compares_another_model_and_measures_scaling_in_the_same_run(tmp_path, model_builder):
    from ai.taxonomy import default_categories

    ours = model_builder(tmp_path / "ours.onnx", default_categories(), input_size=32)
    other = model_builder(tmp_path / "other.onnx", default_categories(), input_size=96, seed=1)
    generate_textures(tmp_path / "files", 24, size=64, seed=2)
    files = scan_for_bench(str(tmp_path / "files"))
    figures = run_benchmark(files, model_path=str(ours), compare=[str(other), str(tmp_path / "missing.onnx")],
                            baseline=str(other), scaling=True)  # fmt: skip
    baseline = figures["baseline"]
    assert baseline["old_decoder"] is True and baseline["pipeline_files_per_s"] > 0
    assert baseline["ours_over_it_pipeline"] == pytest.approx(
        baseline["ours_adjacent_files_per_s"] / baseline["pipeline_files_per_s"], rel=0.02
    )
    compared, missing = figures["compare"]
    assert compared["path"] == str(other) and compared["pipeline_files_per_s"] > 0
    # Ours is measured again just before and after the other model: the ratios use those runs.
    assert compared["ours_over_it_pipeline"] == pytest.approx(
        compared["ours_adjacent_files_per_s"] / compared["pipeline_files_per_s"], rel=0.02
    )
    assert compared["ours_over_it_inference"] == pytest.approx(
        compared["ours_adjacent_inference_files_per_s"] / compared["inference_ceiling_files_per_s"], rel=0.02
    )
    assert compared["old_decoder"] is False
    assert compared["ours_over_it_cpu"] == pytest.approx(
        compared["cpu_ms_per_file"] / compared["ours_adjacent_cpu_ms_per_file"], rel=0.02
    )
    cpu = figures["decode_cpu_ms_per_file"]
    assert cpu["new"] > 0 and figures["decoder_cpu_speedup"] == pytest.approx(cpu["old_decoder"] / cpu["new"], rel=0.02)
    assert "error" in missing and "missing.onnx" in missing["path"]
    scaling = figures["scaling"]
    assert scaling["speedup"] == pytest.approx(
        figures["pipeline_files_per_s"] / scaling["one_worker_files_per_s"], rel=0.02
    )
    assert scaling["efficiency"] == pytest.approx(scaling["speedup"] / figures["cores"], rel=0.02)


def test_bench_table_prints_the_comparison_lines(tmp_path, tiny_model, capsys):
    argv = ["bench", "--generate", "8", "--size", "64", "--model", str(tiny_model), "--compare", str(tiny_model),
            "--baseline", str(tiny_model), "--scaling"]  # fmt: skip
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert "compare" in table and "in the same pipeline (ours ×" in table
    assert "one worker" in table and "efficiency" in table
    assert "old setup" in table and "old decoder" in table and "its CPU time per file ×" in table


def test_bench_table_explains_an_efficiency_over_100_percent(tmp_path, tiny_model):
    from app.commands.bench import _print_table

    generate_textures(tmp_path / "files", 8, size=64, seed=4)
    figures = run_benchmark(scan_for_bench(str(tmp_path / "files")), model_path=str(tiny_model), scaling=True)
    lines = {}
    for efficiency in (0.8, 1.2):
        figures["scaling"]["efficiency"] = efficiency
        out = io.StringIO()
        _print_table(figures, out)
        (lines[efficiency],) = [line for line in out.getvalue().splitlines() if line.startswith("one worker")]
    assert "efficiency 80%" in lines[0.8] and "load changed" not in lines[0.8]
    assert "the machine's load changed between the two runs" in lines[1.2]


def test_old_decoder_is_pillow_png_full_box_rule_views_and_the_premultiplied_model_input():
    from ai import rules
    from ai.textures import png, preprocess
    from app.bench import old_decoder

    def state():
        return png.accept(b"\x89PNG\r\n\x1a\n"), rules.VIEW_REDUCING_GAP, preprocess._composite_first

    before = state()
    with old_decoder():
        assert not png.accept(b"\x89PNG\r\n\x1a\n")  # PNGs go to Pillow's decoder
        assert rules.VIEW_REDUCING_GAP is None
        assert preprocess._composite_first is False
    assert state() == before
    assert before[1:] == (1.0, True) and (before[0] or not png.available())


def test_bench_profiles_decoding_per_format_on_one_thread(tmp_path, tiny_model, capsys):
    generate_textures(tmp_path / "files", 40, size=64, seed=3)
    files = scan_for_bench(str(tmp_path / "files"))
    figures = run_benchmark(files, model_path=str(tiny_model), profile=True)
    formats = figures["decode_profile"]["formats"]
    counted = Counter(f.path.rsplit(".", 1)[-1].lower() for f in files)
    assert {name: v["files"] for name, v in formats.items()} == counted
    assert all(v["decode_ms"] > 0 and v["prepare_ms"] > 0 and v["old_prepare_ms"] > 0 for v in formats.values())
    assert sum(v["share_of_decode"] for v in formats.values()) == pytest.approx(1.0, abs=0.01)
    png = formats["png"]
    assert png["speedup"] == pytest.approx(png["pillow_decode_ms"] / png["decode_ms"], rel=0.02)
    argv = ["bench", "--generate", "8", "--size", "64", "--model", str(tiny_model), "--profile"]
    assert main(argv) == 0
    assert "decode profile, one thread" in capsys.readouterr().out


def test_bench_runs_the_upstream_way_beside_ours(tmp_path, tiny_model):
    pytest.importorskip("torch")
    generate_textures(tmp_path / "files", 8, size=64, seed=4)
    files = scan_for_bench(str(tmp_path / "files"))
    upstream = run_benchmark(files, model_path=str(tiny_model), upstream=2)["upstream"]
    assert upstream["files"] == 2 and upstream["files_per_s"] > 0
    assert upstream["ours_over_it"] == pytest.approx(
        upstream["ours_adjacent_files_per_s"] / upstream["files_per_s"], rel=0.05
    )


def test_ours_is_measured_around_each_run_and_shared_between_neighbours():
    rates = iter([(100.0, 1000.0), (80.0, 800.0), (60.0, 600.0)])
    measured = []
    beside = Beside(lambda: measured.append(1) or next(rates))
    assert beside.around(lambda: "first") == ("first", (90.0, 900.0))
    assert beside.around(lambda: "second") == ("second", (70.0, 700.0))
    assert len(measured) == 3  # not 4: the first run's "after" is the second's "before"


def test_alternating_passes_keep_each_sides_best_rate_and_least_cpu_time():
    from ai import rules
    from app.bench import _alternating

    passes = iter([(300.0, "a", 3.0), (200.0, "x", 4.5), (350.0, "b", 3.2), (150.0, "y", 4.0),
                   (320.0, "c", 2.9), (210.0, "z", 5.0)])  # fmt: skip
    seen = []

    def measure():
        seen.append(rules.VIEW_REDUCING_GAP is None)  # True while the old decoder is on
        return next(passes)

    ours, old = _alternating(3, measure)
    assert ours == (350.0, "b", 2.9) and old == (210.0, "z", 4.0)
    assert seen == [False, True] * 3
