"""OnlineModel against real HTTP servers on 127.0.0.1 speaking the huggingface and openai formats.

Each server checks that requests have the documented shape, then behaves as told: normal,
slow, 429 with Retry-After, 500, garbage, wrong JSON shape, unknown labels, huge answers,
disconnects. Every failure must end in ModelManager's offline answer, with the reason in its
stats, within timeout + 1 s (the issue's bound), and the API key must never reach a log line
or an error message.
"""

from __future__ import annotations

import logging
import socket

import numpy as np
import pytest
from online_fakes import (
    KEY,
    PROVIDERS,
    TARGET,
    TIMEOUT,
    FakeService,
    manager_with,
    online,
    texture,
    timed_predict,
)

from ai.model_manager import ModelManager
from ai.online.model import OnlineModel
from ai.taxonomy import default_categories

# -- normal answers ----------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_normal_answer_is_blended_and_request_has_the_documented_shape(provider, tiny_model):
    offline_only = ModelManager.create_default({"model_path": tiny_model, "rule_evidence": False})
    base = offline_only.predict(texture(), top_k=3)
    with FakeService(provider) as service, online(service) as model:
        result, _ = timed_predict(manager_with(tiny_model, model), texture())
        assert service.problems == []
        assert len(service.requests) == 1
    target = result.categories.index(TARGET)
    assert result.source == "blend"
    assert result.probabilities[target] > base.probabilities[target]
    assert model.get_stats()["ok"] == 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_online_predict_returns_probabilities_over_the_given_categories(provider):
    categories = default_categories()
    with FakeService(provider) as service, online(service) as model:
        answer = model.predict(texture(), categories, 3)
    assert answer.source == "online" and answer.categories == categories
    assert answer.top.category == TARGET and answer.top.confidence == pytest.approx(0.9, abs=1e-6)
    assert len(answer.predictions) == 3 and answer.probabilities.shape == (len(categories),)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_unknown_labels_are_ignored_when_known_ones_remain(provider):
    with FakeService(provider, "some-unknown-labels") as service, online(service) as model:
        answer = model.predict(texture(), default_categories(), 3)
    assert answer.top.category == TARGET and answer.extra["ignored_labels"] == 2


def test_429_with_a_short_retry_after_is_honoured_then_answered(tiny_model):
    with (
        FakeService("huggingface", "rate-limited", "normal", retry_after="1") as service,
        online(service) as model,
    ):
        result, elapsed = timed_predict(manager_with(tiny_model, model), texture())
        assert len(service.requests) == 2
    assert result.source == "blend"
    assert elapsed < TIMEOUT + 1


# -- every failure ends offline, in time -------------------------------------------------------

FAILURES = [
    ("slow", "no answer within"),
    ("server-error", "HTTP 500"),
    ("garbage", "not JSON"),
    ("wrong-shape", "answer"),
    ("unknown-labels", "known category"),
    ("huge", "limit"),
    ("huge-unannounced", "limit"),
    ("disconnect", "failed"),
    ("drop", "failed"),
    ("drip", "within"),
    ("unauthorized", "credentials"),
    ("huge-score", "not a finite number"),
]


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(("behaviour", "reason"), FAILURES, ids=[f[0] for f in FAILURES])
def test_failure_falls_back_to_offline_within_the_timeout(provider, behaviour, reason, tiny_model, caplog):
    caplog.set_level(logging.DEBUG)
    offline_only = ModelManager.create_default({"model_path": tiny_model, "rule_evidence": False})
    expected = offline_only.predict(texture(), top_k=3)
    with FakeService(provider, behaviour) as service, online(service) as model:
        manager = manager_with(tiny_model, model)
        result, elapsed = timed_predict(manager, texture())
        assert service.problems == []
    assert elapsed < TIMEOUT + 1
    assert result.source == "offline"
    np.testing.assert_allclose(result.probabilities, expected.probabilities, rtol=1e-5)
    stats = manager.get_stats()
    assert stats["fallbacks"] == {"online->offline": 1}
    assert reason in stats["last_fallback_reason"]
    assert KEY not in stats["last_fallback_reason"]
    assert KEY not in caplog.text
    assert f"fallback online->offline: {stats['last_fallback_reason']}" in caplog.text


def test_long_retry_after_fails_at_once_and_pauses_further_requests(tiny_model):
    with FakeService("openai", "rate-limited", retry_after="120") as service, online(service) as model:
        manager = manager_with(tiny_model, model)
        first, elapsed = timed_predict(manager, texture())
        second, _ = timed_predict(manager, texture())
        assert len(service.requests) == 1  # the pause kept the second request off the wire
    assert first.source == second.source == "offline"
    assert elapsed < 1.0  # did not sleep towards a retry that cannot fit the budget
    assert "paused" in manager.get_stats()["last_fallback_reason"]


def test_repeated_failures_pause_the_service_instead_of_waiting_each_time(tiny_model):
    with FakeService("huggingface", "server-error") as service, online(service, failure_threshold=3) as model:
        manager = manager_with(tiny_model, model)
        for _ in range(5):
            assert manager.predict(texture()).source == "offline"
        assert len(service.requests) == 3
    stats = model.get_stats()
    assert stats["failed"] == 3 and stats["not_sent"] == 2 and stats["paused_for_s"] > 0


def test_client_side_rate_limit_ends_offline_without_sending(tiny_model):
    with FakeService("openai") as service, online(service, max_requests_per_minute=2) as model:
        manager = manager_with(tiny_model, model)
        sources = [timed_predict(manager, texture())[0].source for _ in range(3)]
        assert len(service.requests) == 2
    assert sources == ["blend", "blend", "offline"]
    assert "2 requests per minute" in manager.get_stats()["last_fallback_reason"]
    assert model.get_stats()["failed"] == 0  # our own limit is not the service's fault


def test_unreachable_service_falls_back(tiny_model):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again below: nothing listens there
    model = OnlineModel({"provider": "openai", "api_url": f"http://127.0.0.1:{port}/v1", "timeout": TIMEOUT})
    with model:
        result, elapsed = timed_predict(manager_with(tiny_model, model), texture())
    assert result.source == "offline" and elapsed < TIMEOUT + 1


# -- uncertain-only mode -----------------------------------------------------------------------


def test_uncertain_only_mode_asks_only_below_the_threshold(tiny_model):
    with FakeService("huggingface") as service, online(service) as model:
        sure = ModelManager.create_default(
            {
                "model_path": tiny_model,
                "online": model,
                "online_uncertain_only": True,
                "online_threshold": 0.0,
            }
        )
        assert sure.predict(texture()).source == "offline"
        assert service.requests == []
        unsure = ModelManager.create_default(
            {
                "model_path": tiny_model,
                "online": model,
                "online_uncertain_only": True,
                "online_threshold": 1.0,
            }
        )
        assert unsure.predict(texture()).source == "blend"
        assert len(service.requests) == 1


