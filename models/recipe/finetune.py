"""Partial fine-tuning of the backbone's last blocks, compared with the frozen backbone.

The activations at the end of the sixth stage are computed once per image and view (they do
not change while only the later blocks learn), so each held-out game trains just the tail (the
seventh stage and the 1×1 head convolution, BatchNorm statistics frozen) and the linear head.
Even so one fold costs minutes on two cores, so the comparison runs on the comparison subset and
on FOLDS held-out games only, against the frozen backbone on the same images and folds.
"""

from __future__ import annotations

import copy
import logging
import time
from pathlib import Path

import numpy as np

from ai.textures.preprocess import IMAGENET_MEAN, IMAGENET_STD, normalize, to_model_rgb
from ai.training_pytorch import require_torch
from models.recipe import backbone, dataset, evaluate, heads, views

log = logging.getLogger(__name__)

FOLDS = ("ufoai", "wesnoth", "flightgear", "supertux")
TRAIN_VIEWS = (0, 2, 3)  # plain, PS2-like, augmented
EPOCHS = 2
TAIL_LR = 1e-4
HEAD_LR = 1e-3
BATCH = 128


def mid_activations(work_dir: Path, rows: list[dict], view_ids, input_size: int, variant: str) -> np.ndarray:
    """[images, len(view_ids), C, H, W] float16 activations at the end of the sixth stage."""
    import io
    import warnings

    from ai.inference import OnnxInferenceSession

    torch = require_torch()
    cnn = backbone.build_backbone(variant=variant).eval()

    class Front(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.cnn = cnn

        def forward(self, x):
            return self.cnn.forward_mid(x)

    # onnxruntime runs the frozen front ~10× faster than torch on these shared cores.
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Front().eval(),
            (torch.zeros(1, 3, input_size, input_size),),
            buffer,
            input_names=["input"],
            output_names=["mid"],
            dynamic_axes={"input": {0: "batch"}, "mid": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    onnx_path = work_dir / f"front_{variant}_{input_size}.onnx"
    onnx_path.write_bytes(buffer.getvalue())
    session = OnnxInferenceSession(onnx_path, num_threads=2)
    out = []
    for start in range(0, len(rows), 16):
        batch = []
        for row in rows[start : start + 16]:
            all_views = views.make_views(dataset.load_cached(work_dir, row), row["digest"])
            batch += [
                normalize(to_model_rgb(all_views[v], input_size), IMAGENET_MEAN, IMAGENET_STD)
                for v in view_ids
            ]
        act = session.run(np.stack(batch), ["mid"])["mid"].astype(np.float16)
        out.append(act.reshape(-1, len(view_ids), *act.shape[1:]))
    return np.concatenate(out)


def _fold(data, act, held_out, variant):
    """Fine-tune tail + head on the other games; top-3 of the held-out images on plain and PS2 views."""
    torch = require_torch()
    nn = torch.nn
    train = np.flatnonzero(~held_out)
    frozen_head = evaluate.fit_head(data, ~held_out, TRAIN_VIEWS)
    weight, bias, normaliser = frozen_head
    cnn = backbone.build_backbone(variant=variant).eval()
    tail = nn.Sequential(*copy.deepcopy(list(cnn.blocks[cnn.mid_blocks :])), copy.deepcopy(cnn.head))
    tail.eval()  # BatchNorm keeps its ImageNet statistics; the weights still learn
    linear = nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(weight))
        linear.bias.copy_(torch.from_numpy(bias))
    stats_mean, stats_std = (torch.from_numpy(v) for v in normaliser)

    def forward(images, view_slot, view_id):
        x = torch.from_numpy(act[images, view_slot].astype(np.float32))
        pooled = tail(x).mean(dim=(2, 3))
        mid = torch.from_numpy(data.mid[images, view_id].astype(np.float32))
        stats = torch.from_numpy(data.stats[images, view_id])
        z = (stats - stats_mean) / stats_std * backbone.STATS_WEIGHT
        l2 = nn.functional.normalize
        emb = l2(torch.cat([l2(pooled, dim=1), l2(mid, dim=1), z], dim=1), dim=1)
        return linear(emb)

    pairs = [(i, slot) for slot in range(len(TRAIN_VIEWS)) for i in train]
    labels = torch.from_numpy(data.labels)
    weights = torch.from_numpy(
        heads.sample_weights(data.labels[[p[0] for p in pairs]], data.games[[p[0] for p in pairs]], "game")
    )
    optimiser = torch.optim.AdamW(
        [{"params": tail.parameters(), "lr": TAIL_LR}, {"params": linear.parameters(), "lr": HEAD_LR}],
        weight_decay=heads.WEIGHT_DECAY,
    )
    rng = np.random.default_rng(0)
    for _ in range(EPOCHS):
        order = rng.permutation(len(pairs))
        for start in range(0, len(order), BATCH):
            chunk = order[start : start + BATCH]
            loss = 0.0
            for slot in range(len(TRAIN_VIEWS)):
                sel = [k for k in chunk if pairs[k][1] == slot]
                if not sel:
                    continue
                images = np.asarray([pairs[k][0] for k in sel])
                logits = forward(images, slot, TRAIN_VIEWS[slot])
                per = nn.functional.cross_entropy(logits, labels[images], reduction="none")
                loss = loss + (per * weights[sel]).sum()
            optimiser.zero_grad()
            (loss / weights[chunk].sum()).backward()
            optimiser.step()
    test = np.flatnonzero(held_out)
    out = {}
    with torch.no_grad():
        for name, slot in (("plain", 0), ("ps2", 1)):
            logits = forward(test, slot, TRAIN_VIEWS[slot]).numpy()
            out[name] = np.argsort(-logits, axis=1)[:, :3]
    frozen = {
        name: np.argsort(-evaluate.predict(data, frozen_head, test, (v,)), axis=1)[:, :3]
        for name, v in (("plain", 0), ("ps2", 2))
    }
    return test, out, frozen


def compare(work_dir: Path, subset: list[dict], args) -> dict:
    """Frozen vs partially fine-tuned on FOLDS, same images: macro top-1/top-3 over those folds."""
    started = time.perf_counter()
    require_torch().set_num_threads(1)  # see heads.train_softmax: a second thread only contends here
    data = evaluate.load_data(work_dir, args.variant, args.size, rows=subset)
    act = mid_activations(work_dir, subset, TRAIN_VIEWS, args.size, args.variant)
    log.info("fine-tune: activations of %d images in %.0f s", len(subset), time.perf_counter() - started)
    result = {"folds": list(FOLDS), "epochs": EPOCHS, "images": len(subset), "frozen": {}, "finetuned": {}}
    scores = {"frozen": {"plain": [], "ps2": []}, "finetuned": {"plain": [], "ps2": []}}
    for game in FOLDS:
        t0 = time.perf_counter()
        test, tuned, frozen = _fold(data, act, data.games == game, args.variant)
        truth = data.labels[test]
        for kind, top3 in (("frozen", frozen), ("finetuned", tuned)):
            for view, t in top3.items():
                scores[kind][view].append(((t[:, 0] == truth).mean(), (t == truth[:, None]).any(1).mean()))
        log.info(
            "fine-tune fold %s: %.0f s, %s",
            game,
            time.perf_counter() - t0,
            {k: scores[k]["plain"][-1] for k in scores},
        )
    for kind in scores:
        for view, values in scores[kind].items():
            arr = np.asarray(values)
            result[kind][view] = {
                "macro_games_top1": round(float(arr[:, 0].mean()), 4),
                "macro_games_top3": round(float(arr[:, 1].mean()), 4),
            }
    result["seconds"] = round(time.perf_counter() - started)
    return result
