"""Provider `openai`: an OpenAI-compatible `POST {api_url}/chat/completions` with an image and a JSON schema.

The user message carries the texture as an `image_url` content part (data URI) and the category
list as text; `response_format` is a strict `json_schema` whose label is an enum of the category
ids, so the answer is `{"predictions": [{"label": id, "score": number}, ...]}` in
`choices[0].message.content` (a JSON string). Works with OpenAI and with servers that copy its
API (vLLM, llama.cpp server, Ollama, LM Studio) when the model accepts images.
"""

from __future__ import annotations

import json
from typing import Any

from ai.errors import OnlineError
from ai.online.providers.base import EncodedImage, LabelSet, OnlineProvider, label_scores

SCHEMA_NAME = "texture_categories"


class OpenAIProvider(OnlineProvider):
    name = "openai"
    default_api_url = "https://api.openai.com/v1"
    default_model = "gpt-4o-mini"
    needs_api_key = True

    def endpoint(self) -> str:
        return f"{self.api_url}/chat/completions"

    def labels(self, categories: list[str], descriptions: dict[str, str]) -> LabelSet:
        # Ids go in the schema's enum; descriptions go in the prompt text (see build_request).
        notes = (
            {c: descriptions[c] for c in categories if c in descriptions} if self.label_descriptions else {}
        )
        return LabelSet(list(categories), {c: c for c in categories}, notes)

    def build_request(self, image: EncodedImage, labels: LabelSet, top_k: int) -> dict[str, Any]:
        lines = [
            f"- {label}: {labels.notes[label]}" if label in labels.notes else f"- {label}"
            for label in labels.texts
        ]
        prompt = (
            "Classify this game texture into the categories below. Answer with the "
            f"{int(top_k)} most likely labels, best first, each with a probability between 0 and 1.\n"
            "Categories:\n" + "\n".join(lines)
        )
        schema = {
            "type": "object",
            "properties": {
                "predictions": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "label": {"type": "string", "enum": list(labels.texts)},
                            "score": {"type": "number"},
                        },
                        # Strict mode: every property required, no extra keys, at every level.
                        "required": ["label", "score"],
                        "additionalProperties": False,
                    },
                }
            },
            "required": ["predictions"],
            "additionalProperties": False,
        }
        return {
            "model": self.model,
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": prompt},
                        {"type": "image_url", "image_url": {"url": image.data_uri(), "detail": "low"}},
                    ],
                }
            ],
            "response_format": {
                "type": "json_schema",
                "json_schema": {"name": SCHEMA_NAME, "strict": True, "schema": schema},
            },
        }

    def parse_answer(self, payload: Any, labels: LabelSet) -> list[tuple[str, float]]:
        try:
            choice = payload["choices"][0]
            message = choice["message"]
        except (KeyError, IndexError, TypeError):
            raise OnlineError("openai answer: no choices[0].message") from None
        if not isinstance(message, dict):
            raise OnlineError("openai answer: choices[0].message is not an object")
        if message.get("refusal"):
            raise OnlineError(f"openai answer: the model refused: {str(message['refusal'])[:200]}")
        if isinstance(choice, dict) and choice.get("finish_reason") == "length":
            raise OnlineError("openai answer: cut off at the token limit")
        content = message.get("content")
        if isinstance(content, list):  # some compatible servers answer with content parts
            content = "".join(p.get("text", "") for p in content if isinstance(p, dict))
        if not isinstance(content, str):
            raise OnlineError("openai answer: message content is not text")
        try:
            data = json.loads(content)
        except ValueError:
            raise OnlineError("openai answer: message content is not the requested JSON") from None
        if not isinstance(data, dict) or "predictions" not in data:
            raise OnlineError("openai answer: the JSON has no 'predictions'")
        return label_scores(data["predictions"], "openai answer")
