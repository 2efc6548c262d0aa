"""OnlineModel's parts: the API key never leaves it, image encoding, Retry-After, the provider registry."""

from __future__ import annotations

import io
import json
import logging
import traceback

import numpy as np
import pytest
from online_fakes import KEY, TIMEOUT, FakeService, online, texture
from PIL import Image

from ai.errors import OnlineError
from ai.online.model import OnlineModel, encode_image, parse_retry_after
from ai.online.providers import get_provider, provider_names
from ai.taxonomy import default_categories

# -- the key stays secret ----------------------------------------------------------------------


def test_api_key_never_appears_in_logs_reprs_or_errors(caplog):
    caplog.set_level(logging.DEBUG)  # httpx and httpcore debug logs included
    messages = []
    for behaviour in ("normal", "unauthorized", "server-error", "garbage", "disconnect"):
        with FakeService("openai", behaviour) as service, online(service) as model:
            assert KEY not in repr(model) and KEY not in repr(model.settings)
            try:
                model.predict(texture(), default_categories(), 3)
            except OnlineError as exc:
                messages.append(str(exc))
                # A logged traceback shows no chained httpx error (whose request holds the header).
                assert exc.__cause__ is None and exc.__suppress_context__
                assert KEY not in "".join(traceback.format_exception(exc))
            assert KEY not in json.dumps(model.get_stats())
    assert len(messages) == 4
    assert any("credentials" in m for m in messages)
    assert not any(KEY in m for m in messages)
    assert KEY not in caplog.text
    assert "POST http://127.0.0.1" in caplog.text  # the debug log was really captured


@pytest.mark.parametrize("length", [164, 1000])
@pytest.mark.parametrize("behaviour", ["echo-headers", "unauthorized", "server-error"])
def test_a_long_key_echoed_by_the_service_is_redacted_before_anything_is_cut(length, behaviour, caplog):
    caplog.set_level(logging.DEBUG)
    key = "sk-" + "".join(f"{i:x}" for i in range(length))[: length - 3]
    with FakeService("openai", behaviour) as service, online(service, api_key=key) as model:
        with pytest.raises(OnlineError) as caught:
            model.predict(texture(), default_categories(), 3)
        said = " ".join([str(caught.value), json.dumps(model.get_stats()), caplog.text])
    assert service.headers[0]["Authorization"] == f"Bearer {key}"  # the service did get it
    pieces = [key[i : i + 8] for i in range(0, len(key) - 8, 4)]
    assert not [p for p in pieces if p in said], said  # not the key, nor any 8 characters of it
    assert "HTTP 40" in str(caught.value) or "HTTP 500" in str(caught.value)


# -- pieces ------------------------------------------------------------------------------------


def test_images_are_shrunk_and_encoded_png_with_alpha_else_jpeg():
    opaque = encode_image(texture(size=600), 224)
    assert opaque.mime == "image/jpeg" and max(opaque.width, opaque.height) == 224
    cutout = encode_image(texture(alpha=100, size=100), 224)
    assert cutout.mime == "image/png" and (cutout.width, cutout.height) == (100, 100)
    with Image.open(io.BytesIO(cutout.data)) as image:
        assert image.mode == "RGBA"
    assert encode_image(texture(), 64, "png").mime == "image/png"
    assert opaque.data_uri().startswith("data:image/jpeg;base64,")
    with pytest.raises(OnlineError):
        encode_image(np.zeros((4, 4, 3), np.uint8), 64)


def test_retry_after_reads_seconds_and_http_dates():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == pytest.approx(10.0)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0


def test_provider_registry_knows_the_three_formats():
    assert provider_names() == ["classify", "huggingface", "openai"]
    assert (
        get_provider("openai")("http://127.0.0.1:1/v1").endpoint() == "http://127.0.0.1:1/v1/chat/completions"
    )
    hf = get_provider("huggingface")("http://127.0.0.1:1/models", "org/clip")
    assert hf.endpoint() == "http://127.0.0.1:1/models/org/clip"
    with pytest.raises(OnlineError, match="unknown online provider"):
        get_provider("clip")
    with pytest.raises(OnlineError, match="http"):
        OnlineModel({"provider": "classify", "api_url": "ftp://example"})


def test_a_closed_model_still_fails_with_online_error():
    model = OnlineModel({"provider": "classify", "api_url": "http://127.0.0.1:9", "timeout": TIMEOUT})
    model.close()
    with pytest.raises(OnlineError, match="unexpected RuntimeError"):
        model.predict(texture(), default_categories(), 3)
