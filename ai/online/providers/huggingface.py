"""Provider `huggingface`: the zero-shot-image-classification task of the Hugging Face inference API.

Request (task spec `zero-shot-image-classification/spec/input.json`):
`{"inputs": "<base64 image>", "parameters": {"candidate_labels": [...], "hypothesis_template"?: str}}`
POSTed to `{api_url}/{model}` (serverless) or to `api_url` itself when no model is set (a
dedicated Inference Endpoint). Answer: `[{"label": str, "score": number}, ...]`.
"""

from __future__ import annotations

from typing import Any

from ai.errors import OnlineError
from ai.online.providers.base import EncodedImage, LabelSet, OnlineProvider, label_scores

# CLIP-style models score a sentence against the image; this reads naturally with our descriptions.
HYPOTHESIS_TEMPLATE = "a game texture: {}"


class HuggingFaceProvider(OnlineProvider):
    name = "huggingface"
    default_api_url = "https://router.huggingface.co/hf-inference/models"
    default_model = "openai/clip-vit-base-patch32"
    needs_api_key = True

    def endpoint(self) -> str:
        return f"{self.api_url}/{self.model}" if self.model else self.api_url

    def labels(self, categories: list[str], descriptions: dict[str, str]) -> LabelSet:
        if not self.label_descriptions:
            return super().labels(categories, descriptions)
        # Zero-shot models match text to pixels: "tangent-space normal maps ..." beats "map/normal".
        return LabelSet.from_pairs([(descriptions.get(c) or c.replace("/", " "), c) for c in categories])

    def build_request(self, image: EncodedImage, labels: LabelSet, top_k: int) -> dict[str, Any]:
        parameters: dict[str, Any] = {"candidate_labels": labels.texts}
        if self.label_descriptions:
            parameters["hypothesis_template"] = HYPOTHESIS_TEMPLATE
        return {"inputs": image.base64(), "parameters": parameters}

    def parse_answer(self, payload: Any, labels: LabelSet) -> list[tuple[str, float]]:
        if isinstance(payload, dict) and "error" in payload:
            # The API reports model loading and quota problems as {"error": "..."}.
            raise OnlineError(f"huggingface error: {str(payload['error'])[:200]}")
        if isinstance(payload, list) and payload and isinstance(payload[0], list):
            payload = payload[0]  # batched form: one list per input image
        return label_scores(payload, "huggingface answer")
