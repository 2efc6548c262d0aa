"""Recipe step: an int8 copy of a model by static quantisation (onnxruntime's tools), and how it compares.

`python -m models.recipe.quantize --model models/default.onnx --out WORK/default_int8.onnx` restores
float32 weights (the shipped file stores Conv weights as float16), runs onnxruntime's pre-processing,
calibrates activation ranges on real training images of every game (the recipe's cache.json),
quantises Conv weights per channel to int8 and activations to uint8 in QDQ form (Clip too, so the
ReLU6 outputs get their own [0, 6] ranges instead of the wider Conv outputs'), and measures in one
run: inference ms per image of both files (batch 8, one thread, interleaved so load hits both
alike), top-1 agreement and probability differences on held-back images, and top-1 against the
labels. `--keep-float` leaves chosen convolutions in float32; measured on the v1 model (987 training
images): with Clip quantised too, keeping the stem and head float bought nothing (agreement 85.6 vs
85.4 %) and cost half the speed-up (1.7x vs 2.6x), so by default every convolution is int8.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ai.offline_model import OfflineModel
from models.recipe import sources

log = logging.getLogger("models.recipe.quantize")
KEEP_FLOAT: tuple[str, ...] = ()  # name parts of convolutions left in float32 (see the docstring)


def float32_copy(model: Path, out: Path) -> Path:
    """`model` with every float16-stored initializer (+ its Cast) turned back into float32."""
    import onnx
    from onnx import numpy_helper

    proto = onnx.load(str(model))
    graph = proto.graph
    inits = {i.name: i for i in graph.initializer}
    nodes = []
    for node in graph.node:
        source = node.input[0] if node.input else ""
        if node.op_type == "Cast" and source in inits and inits[source].data_type == onnx.TensorProto.FLOAT16:
            weights = numpy_helper.to_array(inits[source]).astype(np.float32)
            graph.initializer.remove(inits.pop(source))
            graph.initializer.append(numpy_helper.from_array(weights, node.output[0]))
        else:
            nodes.append(node)
    del graph.node[:]
    graph.node.extend(nodes)
    onnx.save(proto, str(out))
    return out


def load_images(work_dir: Path, count: int, seed: int) -> tuple[list[np.ndarray], list[str], list[str]]:
    """`count` cached training images, drawn evenly over games: (RGBA arrays, categories, games)."""
    from PIL import Image

    rows = json.loads((work_dir / "cache.json").read_text())
    rng = np.random.default_rng(seed)
    by_game: dict[str, list[dict]] = {}
    for row in rows:
        by_game.setdefault(row["game"], []).append(row)
    chosen: list[dict] = []
    per_game = max(1, count // max(1, len(by_game)))
    for game in sorted(by_game):
        members = by_game[game]
        chosen += [members[i] for i in rng.permutation(len(members))[:per_game]]
    chosen = [chosen[i] for i in rng.permutation(len(chosen))][:count]
    images = [np.asarray(Image.open(work_dir / row["file"]).convert("RGBA")) for row in chosen]
    return images, [row["category"] for row in chosen], [row["game"] for row in chosen]


def quantize(
    model_f32: Path,
    out: Path,
    tensors: np.ndarray,
    keep_float: tuple[str, ...] = KEEP_FLOAT,
    op_types: tuple[str, ...] = ("Conv", "Clip"),
    reduce_range: bool = True,
) -> Path:
    """Static QDQ quantisation of `op_types` (per-channel int8 weights, uint8 activations) calibrated on `tensors`.

    `reduce_range` keeps weights to 7 bits: on x86 CPUs without VNNI, onnxruntime multiplies uint8
    by int8 with an instruction whose 16-bit sums can saturate at full range (onnxruntime's
    quantisation guide); 7-bit weights cannot, so the model gives the same answers on every CPU.
    """
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self):
            self._batches = iter({"input": tensors[i : i + 8]} for i in range(0, len(tensors), 8))

        def get_next(self):
            return next(self._batches, None)

    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(model_f32), str(pre), skip_symbolic_shape=True)
        convs = [n.name for n in onnx.load(str(pre)).graph.node if n.op_type == "Conv"]
        excluded = [name for name in convs if any(part in name for part in keep_float)]
        quantize_static(
            str(pre), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True, reduce_range=reduce_range,
            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
            op_types_to_quantize=list(op_types), nodes_to_exclude=excluded,
            # BN-folded convolutions have channels with tiny weights and real biases: an int32 bias
            # would force their weight scale up ("Increased scale … for weight") and ruin them.
            extra_options={"QuantizeBias": False, "QDQDisableWeightAdjustForInt32Bias": True},
        )  # fmt: skip
    source = onnx.load(str(model_f32))
    quantized = onnx.load(str(out))
    del quantized.metadata_props[:]
    quantized.metadata_props.extend(source.metadata_props)
    onnx.save(quantized, str(out))
    log.info("quantised %d of %d convolutions (float: %s)", len(convs) - len(excluded), len(convs), excluded)
    return out


def ms_per_image(paths: list[Path], batch: np.ndarray, rounds: int = 7) -> list[float]:
    """Best ms per image of each model at this batch on one thread, the models run in turn each round."""
    import onnxruntime as ort

    sessions = []
    for path in paths:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sessions.append(ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"]))
    best = [float("inf")] * len(sessions)
    for session in sessions:
        session.run(None, {"input": batch})
    for _ in range(rounds):
        for i, session in enumerate(sessions):
            start = time.perf_counter()
            for _ in range(5):
                session.run(None, {"input": batch})
            best[i] = min(best[i], (time.perf_counter() - start) / (5 * len(batch)) * 1000)
    return best


def compare(float_path: Path, int8_path: Path, images: list[np.ndarray], labels: list[str]) -> dict:
    """Agreement, probability differences and top-1 of the int8 model against the float one."""
    a, b = OfflineModel(float_path, num_threads=2), OfflineModel(int8_path, num_threads=2)
    x = np.stack([a.preprocess(image) for image in images]).astype(np.float32)
    pa = np.concatenate([a.predict_arrays(x[i : i + 32])[0] for i in range(0, len(x), 32)])
    pb = np.concatenate([b.predict_arrays(x[i : i + 32])[0] for i in range(0, len(x), 32)])
    truth = np.array([a.categories.index(c) if c in a.categories else -1 for c in labels])
    speed = ms_per_image([float_path, int8_path], x[:8])
    return {
        "images": len(images),
        "top1_agreement": round(float((pa.argmax(1) == pb.argmax(1)).mean()), 4),
        "max_probability_difference": round(float(np.abs(pa - pb).max()), 4),
        "mean_probability_difference": round(float(np.abs(pa - pb).mean()), 5),
        "top1_float": round(float((pa.argmax(1) == truth).mean()), 4),
        "top1_int8": round(float((pb.argmax(1) == truth).mean()), 4),
        "ms_per_image_float": round(speed[0], 3),
        "ms_per_image_int8": round(speed[1], 3),
        "speedup": round(speed[0] / speed[1], 2),
        "size_mb": {
            "float": round(float_path.stat().st_size / 1e6, 1),
            "int8": round(int8_path.stat().st_size / 1e6, 1),
        },
    }


def leave_one_game_out_int8(
    work_dir: Path, variant: str = "lite0", size: int = 160, calibration: int = 400, reduce_range: bool = True
) -> dict:
    """The recipe's leave-one-game-out test with the backbone in int8: per held-out game, the head is
    trained on the float features of the other games (as the shipped head is), and the held-out
    images are scored on features from the int8 feature extractor (plain and PS2-like views)."""
    from models.recipe import dataset, evaluate, views
    from models.recipe.embed import PARTS

    float_extractor = work_dir / f"features_{variant}_{size}.onnx"
    data = evaluate.load_data(work_dir, variant, size)
    images, _, _ = load_images(work_dir, calibration, seed=1)
    from ai.textures.preprocess import IMAGENET_MEAN, IMAGENET_STD, normalize, to_model_rgb

    def tensor(rgba: np.ndarray) -> np.ndarray:
        return normalize(to_model_rgb(rgba, size), IMAGENET_MEAN, IMAGENET_STD)

    with tempfile.TemporaryDirectory() as tmp:
        int8 = quantize(float_extractor, Path(tmp) / "features_int8.onnx", np.stack([tensor(i) for i in images]),
                        reduce_range=reduce_range)  # fmt: skip
        import onnxruntime as ort

        session = ort.InferenceSession(str(int8), providers=["CPUExecutionProvider"])
        swapped = {name: getattr(data, name).copy() for name in PARTS}
        plain, ps2 = views.VIEW_NAMES.index("plain"), views.VIEW_NAMES.index("ps2")
        for start in range(0, len(data.rows), 256):
            rows = data.rows[start : start + 256]
            batch = []
            for row in rows:
                rgba = dataset.load_cached(work_dir, row)
                rng = np.random.default_rng([int(row["digest"][:15], 16), 77])  # as views.make_views
                batch += [tensor(rgba), tensor(views.ps2_view(rgba, rng))]
            out = session.run(list(PARTS), {"input": np.stack(batch).astype(np.float32)})
            for name, values in zip(PARTS, out, strict=True):
                values = values.reshape(len(rows), 2, -1).astype(swapped[name].dtype)
                swapped[name][start : start + len(rows), plain] = values[:, 0]
                swapped[name][start : start + len(rows), ps2] = values[:, 1]
            if start % 5120 == 0:
                log.info("int8 features: %d/%d images", start + len(rows), len(data.rows))
    data8 = evaluate.Data(data.rows, swapped["pooled"], swapped["mid"], swapped["stats"], data.labels,
                          data.games, data.variant, data.input_size)  # fmt: skip
    games = evaluate.evaluated_games(data)
    top3 = {
        key: np.full((len(data.rows), 3), -1, np.int64) for key in ("float", "int8", "float_ps2", "int8_ps2")
    }
    for game in games:
        held_out = data.games == game
        head = evaluate.fit_head(data, ~held_out)
        idx = np.flatnonzero(held_out)
        for key, source, view in (("float", data, plain), ("int8", data8, plain), ("float_ps2", data, ps2),
                                  ("int8_ps2", data8, ps2)):  # fmt: skip
            top3[key][idx] = np.argsort(-evaluate.predict(source, head, idx, (view,)), axis=1)[:, :3]
        log.info("held out %s: plain top-1 float %.3f int8 %.3f", game,
                 (top3["float"][idx, 0] == data.labels[idx]).mean(), (top3["int8"][idx, 0] == data.labels[idx]).mean())  # fmt: skip
    result = {}
    for key, values in top3.items():
        per_game = evaluate.metrics(data.rows, values, games)["per_game"]
        result[key] = {
            "macro_top1": round(float(np.mean([g["top1"] for g in per_game.values()])), 4),
            "macro_top3": round(float(np.mean([g["top3"] for g in per_game.values()])), 4),
        }
    result["agreement_plain"] = round(
        float((top3["float"][:, 0] == top3["int8"][:, 0])[top3["float"][:, 0] >= 0].mean()), 4
    )
    result["games"] = games
    return result


METHOD = {
    "tool": "onnxruntime.quantization.quantize_static",
    "format": "QDQ",
    "per_channel": True,
    "op_types": ["Conv", "Clip"],
    "weights": "int8, 7-bit range (reduce_range: no saturation on CPUs without VNNI)",
    "activations": "uint8",
    "calibration": "MinMax on 400 training images spread over every game",
}


def ship(
    work_dir: Path, float_model: Path, out: Path, variant: str, size: int, calibration: int = 400
) -> dict:
    """The recipe's quantize stage: `out` = int8 copy of `float_model`, with its figures (speed and
    agreement on held-back training images, the leave-one-game-out test with an int8 backbone, and
    the check on the committed fixtures), as models/quantization.json holds them."""
    images, labels, _ = load_images(work_dir, calibration + 1000, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        f32 = float32_copy(float_model, Path(tmp) / "float32.onnx")
        reference = OfflineModel(f32)
        tensors = np.stack([reference.preprocess(i) for i in images[:calibration]]).astype(np.float32)
        quantize(f32, out, tensors)
        held_back = compare(f32, out, images[calibration:], labels[calibration:])
    logo = leave_one_game_out_int8(work_dir, variant, size, calibration)
    fixtures = Path(__file__).resolve().parents[2] / "tests" / "fixtures"
    return {
        "method": METHOD,
        "recipe_run": {"held_back": held_back, "leave_one_game_out": logo},
        "fixture_check": check_on_folder(float_model, out, fixtures),
    }


def check_on_folder(float_model: Path, int8_model: Path, folder: Path) -> dict:
    """compare() on every texture under `folder` (no labels: agreement, differences and speed only).

    Needs no training data: `--check tests/fixtures` runs it on the committed real game textures.
    """
    from ai.textures import is_texture_path, load_texture

    paths = sorted(p for p in folder.rglob("*") if p.is_file() and is_texture_path(p))
    images = [np.asarray(load_texture(p, min_size=256).pixels) for p in paths]
    with tempfile.TemporaryDirectory() as tmp:
        f32 = float32_copy(float_model, Path(tmp) / "float32.onnx")
        figures = compare(f32, int8_model, images, [""] * len(images))
    for key in ("top1_float", "top1_int8"):  # no labels on these files
        figures.pop(key)
    figures["folder"] = str(folder)
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m models.recipe.quantize", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--model", type=Path, help="the model to quantise (with --out)")
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--logo", action="store_true", help="instead: leave-one-game-out with an int8 backbone"
    )
    parser.add_argument("--work-dir", type=Path, default=sources.default_work_dir())
    parser.add_argument("--calibration", type=int, default=400, help="calibration images (spread over games)")
    parser.add_argument("--test", type=int, default=1000, help="held-back images for the comparison")
    parser.add_argument(
        "--keep-float", default=",".join(KEEP_FLOAT), help="name parts of convolutions kept float"
    )
    parser.add_argument("--ops", default="Conv,Clip", help="operator types to quantise")
    parser.add_argument(
        "--full-range", action="store_true", help="8-bit weights (fast only on CPUs with VNNI)"
    )
    parser.add_argument("--report", type=Path, help="write the comparison as JSON")
    parser.add_argument("--check", type=Path, metavar="FOLDER",
                        help="instead: compare --model (float) with --out (int8, already made) on FOLDER's textures")  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    if args.logo:
        report = leave_one_game_out_int8(
            args.work_dir, calibration=args.calibration, reduce_range=not args.full_range
        )
        text = json.dumps(report, indent=1)
        print(text)
        if args.report:
            args.report.write_text(text + "\n")
        return 0
    if args.model is None or args.out is None:
        parser.error("give --model and --out (or --logo)")
    if args.check:
        report = check_on_folder(args.model, args.out, args.check)
        text = json.dumps(report, indent=1)
        print(text)
        if args.report:
            args.report.write_text(text + "\n")
        return 0
    images, labels, _ = load_images(args.work_dir, args.calibration + args.test, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        f32 = float32_copy(args.model, Path(tmp) / "float32.onnx")
        reference = OfflineModel(f32)
        calibration = np.stack([reference.preprocess(i) for i in images[: args.calibration]]).astype(
            np.float32
        )
        keep = tuple(part for part in args.keep_float.split(",") if part)
        quantize(
            f32, args.out, calibration, keep, tuple(args.ops.split(",")), reduce_range=not args.full_range
        )
        report = compare(f32, args.out, images[args.calibration :], labels[args.calibration :])
    report["keep_float"] = list(keep)
    report["op_types"] = args.ops.split(",")
    report["reduce_range"] = not args.full_range
    text = json.dumps(report, indent=1)
    print(text)
    if args.report:
        args.report.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
