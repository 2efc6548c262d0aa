"""User rules: an ordered list of filename/path patterns → category, combined with the image model.

Patterns are globs (`*_nm.*`, `*/font*`) or regular expressions (`re:...`), matched without
regard to case against the path with '/' separators. A glob without '/' matches the file name;
one with '/' matches the end of the path (`ui/*.png` matches `.../textures/ui/a.png`). The first
matching rule wins. Names are an add-on: emulator dumps have hash names, so the model never
sees them and rules only adjust its probabilities afterwards, in one of three modes:

- "prior" (default): the rule's category is a prior `prior_strength` times more likely than the
  others, multiplied into the model's probabilities. A clear image still beats a wrong name.
- "rules_win": a matching rule decides (confidence 1.0).
- "content_wins": the model decides unless its top confidence is below `uncertain_below`;
  then a matching rule decides.

Rules live in `user_rules.json` in the user config folder; a JSON or TOML file can be imported.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ai.errors import TextureSorterError
from ai.paths import user_config_dir

log = logging.getLogger(__name__)

RULES_FILE_NAME = "user_rules.json"
COMBINE_MODES = ("prior", "rules_win", "content_wins")
DEFAULT_MODE = "prior"
REGEX_PREFIX = "re:"


class UserRulesError(TextureSorterError):
    """A rules file or rule is invalid; the message names the file and every problem found."""


def normalise_path(path: str | os.PathLike[str]) -> str:
    return os.fspath(path).replace("\\", "/").lower()


@dataclass(frozen=True)
class UserRule:
    pattern: str
    category: str
    enabled: bool = True

    def compile(self) -> re.Pattern[str]:
        """The pattern as a case-insensitive regex over normalised paths; raises ValueError if invalid."""
        if not isinstance(self.pattern, str) or not self.pattern.strip():
            raise ValueError("empty pattern")
        if not isinstance(self.category, str) or not self.category.strip():
            raise ValueError(f"pattern {self.pattern!r} has no category")
        if self.pattern.startswith(REGEX_PREFIX):
            try:
                return re.compile(self.pattern[len(REGEX_PREFIX) :], re.IGNORECASE)
            except re.error as exc:
                raise ValueError(f"invalid regular expression {self.pattern!r}: {exc}") from None
        glob = normalise_path(self.pattern)
        body = fnmatch.translate(glob.lstrip("/"))  # '(?s:...)\\Z'
        # A glob names a file, or with '/' a path tail: anchor it at a path-component boundary.
        prefix = r"(?:^|.*/)" if "/" in glob else r"(?:^|.*/)(?=[^/]*\Z)"
        return re.compile(prefix + body, re.IGNORECASE)

    def matches(self, path: str | os.PathLike[str]) -> bool:
        return self.enabled and _match(self.compile(), self.pattern, normalise_path(path))


def _match(regex: re.Pattern[str], pattern: str, path: str) -> bool:
    if pattern.startswith(REGEX_PREFIX):
        return regex.search(path) is not None
    return regex.match(path) is not None


@dataclass
class UserRuleSet:
    """The ordered rules and how they combine with the model."""

    rules: list[UserRule] = field(default_factory=list)
    mode: str = DEFAULT_MODE
    prior_strength: float = 10.0
    uncertain_below: float = 0.5

    def __post_init__(self) -> None:
        self._compiled: tuple[tuple[UserRule, ...], list[tuple[UserRule, re.Pattern[str]]]] | None = None

    def validate(self) -> list[str]:
        """Every problem with these rules, as readable lines (empty when all is well)."""
        problems = []
        if self.mode not in COMBINE_MODES:
            problems.append(f"mode {self.mode!r} is not one of {', '.join(COMBINE_MODES)}")
        if not isinstance(self.prior_strength, (int, float)) or self.prior_strength < 1:
            problems.append(f"prior_strength must be a number ≥ 1, not {self.prior_strength!r}")
        if not isinstance(self.uncertain_below, (int, float)) or not 0 <= self.uncertain_below <= 1:
            problems.append(f"uncertain_below must be between 0 and 1, not {self.uncertain_below!r}")
        for number, rule in enumerate(self.rules, start=1):
            try:
                rule.compile()
            except ValueError as exc:
                problems.append(f"rule {number}: {exc}")
        return problems

    def compiled(self) -> list[tuple[UserRule, re.Pattern[str]]]:
        key = tuple(self.rules)  # the list may have been edited since the last compile
        if self._compiled is None or self._compiled[0] != key:
            self._compiled = (key, [(r, r.compile()) for r in self.rules if r.enabled])
        return self._compiled[1]

    def match(self, path: str | os.PathLike[str]) -> UserRule | None:
        """The first enabled rule matching `path`, if any."""
        normalised = normalise_path(path)
        for rule, regex in self.compiled():
            if _match(regex, rule.pattern, normalised):
                return rule
        return None

    def to_json(self) -> dict:
        return {
            "version": 1,
            "mode": self.mode,
            "prior_strength": self.prior_strength,
            "uncertain_below": self.uncertain_below,
            "rules": [asdict(r) for r in self.rules],
        }


def apply_user_rules(
    paths: Sequence[str | os.PathLike[str]],
    probs: np.ndarray,
    categories: Sequence[str],
    rules: UserRuleSet | Sequence[UserRule],
    mode: str | None = None,
) -> np.ndarray:
    """Combine rules with a batch of model probabilities [N, C] → adjusted probabilities [N, C].

    Rules naming a category the model does not have are skipped here (see `UserRuleSet.match`).
    """
    ruleset = rules if isinstance(rules, UserRuleSet) else UserRuleSet(list(rules))
    mode = mode or ruleset.mode
    if mode not in COMBINE_MODES:
        raise ValueError(f"unknown combine mode {mode!r}; use one of {', '.join(COMBINE_MODES)}")
    probs = np.asarray(probs, dtype=np.float32)
    if probs.ndim != 2 or probs.shape != (len(paths), len(categories)):
        raise ValueError(
            f"probabilities {probs.shape} do not match {len(paths)} paths × {len(categories)} categories"
        )
    column = {c: i for i, c in enumerate(categories)}
    hits = np.full(len(paths), -1, np.int64)
    for row, path in enumerate(paths):
        rule = ruleset.match(path) if ruleset.rules else None
        if rule is not None:
            hits[row] = column.get(rule.category, -1)
    rows = np.flatnonzero(hits >= 0)
    if len(rows) == 0:
        return probs
    out = probs.copy()
    if mode == "prior":
        out[rows, hits[rows]] *= float(ruleset.prior_strength)
    else:
        if mode == "content_wins":
            rows = rows[out[rows].max(axis=1) < ruleset.uncertain_below]
        out[rows] = 0.0
        out[rows, hits[rows]] = 1.0
    out /= np.maximum(out.sum(axis=1, keepdims=True), 1e-12)
    return out


# -- files ---------------------------------------------------------------------------------------


def default_rules_path() -> Path:
    return user_config_dir() / RULES_FILE_NAME


def _parse(document, source: str) -> UserRuleSet:
    if not isinstance(document, dict):
        if isinstance(document, list):
            document = {"rules": document}
        else:
            raise UserRulesError(f"{source}: expected a table with a 'rules' list")
    problems = []
    rules = []
    for number, entry in enumerate(document.get("rules") or [], start=1):
        if not isinstance(entry, dict):
            problems.append(f"rule {number}: expected a table with pattern and category")
            continue
        unknown = set(entry) - {"pattern", "category", "enabled"}
        if unknown:
            problems.append(f"rule {number}: unknown keys {', '.join(sorted(unknown))}")
        rules.append(
            UserRule(entry.get("pattern", ""), entry.get("category", ""), bool(entry.get("enabled", True)))
        )
    ruleset = UserRuleSet(
        rules,
        mode=document.get("mode", DEFAULT_MODE),
        prior_strength=document.get("prior_strength", 10.0),
        uncertain_below=document.get("uncertain_below", 0.5),
    )
    problems = ruleset.validate() + problems
    if problems:
        raise UserRulesError(f"{source}: " + "; ".join(problems))
    return ruleset


def load_rules_file(path: str | os.PathLike[str]) -> UserRuleSet:
    """Read rules from a .json or .toml file (TOML needs Python 3.11+); errors name the file."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise UserRulesError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if path.suffix.lower() == ".toml":
        if sys.version_info < (3, 11):
            raise UserRulesError(f"{path}: TOML rules files need Python 3.11 or newer; use JSON")
        import tomllib

        try:
            document = tomllib.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UserRulesError(f"{path}: not valid TOML: {exc}") from exc
    else:
        try:
            document = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise UserRulesError(f"{path}: not valid JSON: {exc}") from exc
    return _parse(document, str(path))


def load_user_rules(path: str | os.PathLike[str] | None = None) -> UserRuleSet:
    """The user's saved rules; none saved yet → an empty set. A broken file raises UserRulesError."""
    path = Path(path) if path is not None else default_rules_path()
    if not path.exists():
        return UserRuleSet()
    return load_rules_file(path)


def save_user_rules(ruleset: UserRuleSet, path: str | os.PathLike[str] | None = None) -> Path:
    """Validate and write the rules as JSON, atomically."""
    problems = ruleset.validate()
    path = Path(path) if path is not None else default_rules_path()
    if problems:
        raise UserRulesError(f"{path}: " + "; ".join(problems))
    temporary = path.with_name(path.name + ".part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary.write_text(
            json.dumps(ruleset.to_json(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        os.replace(temporary, path)
    except OSError as exc:
        raise UserRulesError(f"{path}: cannot write: {exc.strerror or exc}") from exc
    log.info("saved %d user rules to %s", len(ruleset.rules), path)
    return path
