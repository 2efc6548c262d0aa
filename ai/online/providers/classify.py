"""Provider `classify`: the project's own `POST {api_url}/classify` (what `texture-sorter serve` answers).

Request: `{"model": str, "image": "data:image/...;base64,...", "labels": [category ids], "top_k": int}`.
Answer: `{"predictions": [{"label": id, "score": number}, ...]}` (extra keys are ignored).
"""

from __future__ import annotations

from typing import Any

from ai.errors import OnlineError
from ai.online.providers.base import EncodedImage, LabelSet, OnlineProvider, label_scores


class ClassifyProvider(OnlineProvider):
    name = "classify"
    default_api_url = "http://127.0.0.1:8765"
    needs_api_key = False  # a studio server may run without a token

    def endpoint(self) -> str:
        return f"{self.api_url}/classify"

    def build_request(self, image: EncodedImage, labels: LabelSet, top_k: int) -> dict[str, Any]:
        # Category ids travel as they are: the server's model speaks the same taxonomy.
        return {"model": self.model, "image": image.data_uri(), "labels": labels.texts, "top_k": int(top_k)}

    def parse_answer(self, payload: Any, labels: LabelSet) -> list[tuple[str, float]]:
        if not isinstance(payload, dict) or "predictions" not in payload:
            raise OnlineError("classify answer: expected an object with 'predictions'")
        return label_scores(payload["predictions"], "classify answer")
