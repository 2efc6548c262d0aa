"""Build the ModelManager the way the user set things up: active model, corrections, rules, online.

The CLI, the GUI and the benchmark call `create_manager` so they classify alike.
"""

from __future__ import annotations

import logging

from ai.model_manager import ModelManager

log = logging.getLogger(__name__)


def create_manager(
    model_path: str | None = None,
    *,
    providers: str | None = None,
    learn: bool = True,
    rules: bool = True,
    online: bool = True,
    always_learn: bool = False,
    min_confidence: float = 0.0,
) -> ModelManager:
    """The user's manager. The learner is attached when corrections exist (or `always_learn`,
    for the GUI, where the first click must count); path rules when the user has any."""
    config: dict = {"providers": providers, "min_confidence": min_confidence}
    if model_path:
        config["model_path"] = model_path
    if rules:
        from ai.learning.user_rules import UserRulesError, load_user_rules

        try:
            ruleset = load_user_rules()
            config["user_rules"] = ruleset if ruleset.rules else None
        except UserRulesError as exc:
            log.warning("user rules not used: %s", exc)
    if online:
        config.update(_online_options())
    manager = ModelManager.create_default(config)
    if learn:
        from ai.errors import StoreError
        from ai.learning.learner import IncrementalLearner

        try:
            learner = IncrementalLearner()
        except StoreError as exc:  # a database that cannot even be read must not stop classifying
            log.warning("classifying without your corrections: %s", exc)
            return manager
        if always_learn or len(learner):
            learner.set_model(manager.model_id, None, manager.categories)
            manager.learner = learner
        else:
            learner.store.close()
    return manager


def online_enabled() -> bool:
    """Whether the user turned online classification on (reads the settings file only: no keyring)."""
    from ai.online.config import load_settings

    return load_settings(with_key=False).enabled


def _online_options() -> dict:
    from ai.online.config import load_settings

    try:
        settings = load_settings(with_key=False)
        if not settings.enabled:
            return {}  # neither httpx nor the keyring backend is loaded for nothing
        from ai.online.model import manager_options

        return manager_options(settings)  # reads the key from the keyring
    except Exception as exc:  # a broken online setting must not stop offline classification
        log.warning("online classifier not used: %s", exc)
        return {}
