"""User filename/path rules: matching, the three combine modes, and the JSON/TOML files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from ai.learning.user_rules import (
    UserRule,
    UserRulesError,
    UserRuleSet,
    apply_user_rules,
    default_rules_path,
    load_rules_file,
    load_user_rules,
    save_user_rules,
)

CATS = ["map/normal", "ui/font", "sky", "surface/rock"]
RULES = UserRuleSet(
    [
        UserRule("*_nm.*", "map/normal"),
        UserRule("*/font*", "ui/font"),
        UserRule("re:sky_?\\d+", "sky"),
        UserRule("textures/rock/*", "surface/rock"),
        UserRule("*.png", "sky", enabled=False),
    ]
)


@pytest.mark.parametrize(
    ("path", "category"),
    [
        ("C:\\Dump\\Rock_NM.DDS", "map/normal"),
        ("/game/fonts/big.png", "ui/font"),
        ("/game/ui/font_atlas.tga", "ui/font"),
        ("/game/SKY_01.png", "sky"),
        ("/game/sky3/x.dds", "sky"),  # a regex searches the whole path
        ("/mods/textures/rock/a/b.dds", "surface/rock"),
        ("textures/rock/c.dds", "surface/rock"),
        ("/game/nm/rock.png", None),  # '*_nm.*' is about the file name, not folders
        ("/game/rock_nm", None),
        ("/game/myfont.png", None),
        ("/game/0a1b2c3d.png", None),  # hash names from emulator dumps match nothing
    ],
)
def test_patterns_match_names_and_path_tails_ignoring_case(path, category):
    rule = RULES.match(path)
    assert (rule.category if rule else None) == category


def test_the_first_matching_rule_wins():
    rules = UserRuleSet([UserRule("*/font*", "ui/font"), UserRule("*_nm.*", "map/normal")])
    assert rules.match("/g/fonts/x_nm.png").category == "ui/font"


PATHS = ["/g/rock_nm.dds", "/g/0xdeadbeef.dds", "/g/fonts/a.png", "/g/sky_1.png"]


def model_probs() -> np.ndarray:
    return np.array(
        [
            [0.10, 0.10, 0.10, 0.70],  # a rock picture named like a normal map
            [0.10, 0.10, 0.10, 0.70],  # no rule
            [0.05, 0.40, 0.45, 0.10],  # torn, named as a font
            [0.01, 0.01, 0.01, 0.97],  # confidently rock, named sky
        ],
        dtype=np.float32,
    )


def test_prior_mode_blends_names_with_content():
    out = apply_user_rules(PATHS, model_probs(), CATS, RULES, "prior")
    assert [CATS[i] for i in out.argmax(axis=1)] == ["map/normal", "surface/rock", "ui/font", "surface/rock"]
    assert np.allclose(out[1], model_probs()[1])
    assert np.allclose(out.sum(axis=1), 1.0)


def test_rules_win_mode_decides_for_every_match():
    out = apply_user_rules(PATHS, model_probs(), CATS, RULES, "rules_win")
    assert [CATS[i] for i in out.argmax(axis=1)] == ["map/normal", "surface/rock", "ui/font", "sky"]
    assert out[0, 0] == 1.0 and out[3, 2] == 1.0


def test_content_wins_mode_uses_rules_only_where_the_model_is_unsure():
    out = apply_user_rules(PATHS, model_probs(), CATS, RULES, "content_wins")
    assert [CATS[i] for i in out.argmax(axis=1)] == [
        "surface/rock",
        "surface/rock",
        "ui/font",
        "surface/rock",
    ]
    assert np.allclose(out[[0, 1, 3]], model_probs()[[0, 1, 3]])


def test_rules_for_categories_the_model_lacks_leave_the_model_alone():
    rules = UserRuleSet([UserRule("*", "misc/logo")], mode="rules_win")
    assert rules.match("/g/a.png").category == "misc/logo"
    assert np.allclose(apply_user_rules(PATHS, model_probs(), CATS, rules), model_probs())


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="mode"):
        apply_user_rules(PATHS, model_probs(), CATS, RULES, "names_only")
    with pytest.raises(ValueError, match="paths"):
        apply_user_rules(PATHS[:2], model_probs(), CATS, RULES)


def test_rules_save_to_the_config_folder_and_load_back(_isolated_user_dirs):
    assert load_user_rules().rules == []  # nothing saved yet
    saved = UserRuleSet([UserRule("*_nm.*", "map/normal")], mode="rules_win", prior_strength=4)
    path = save_user_rules(saved)
    assert path == default_rules_path() and path.parent == _isolated_user_dirs / "config"
    again = load_user_rules()
    assert again.rules == saved.rules and again.mode == "rules_win" and again.prior_strength == 4


def test_a_toml_rules_file_loads(tmp_path):
    path = tmp_path / "rules.toml"
    path.write_text(
        'mode = "content_wins"\n\n[[rules]]\npattern = "*_nm.*"\ncategory = "map/normal"\n\n'
        '[[rules]]\npattern = "re:^.*/fonts?/"\ncategory = "ui/font"\nenabled = false\n',
        encoding="utf-8",
    )
    ruleset = load_rules_file(path)
    assert ruleset.mode == "content_wins"
    assert ruleset.rules == [UserRule("*_nm.*", "map/normal"), UserRule("re:^.*/fonts?/", "ui/font", False)]


def test_a_plain_json_list_of_rules_loads(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps([{"pattern": "*/font*", "category": "ui/font"}]), encoding="utf-8")
    assert load_rules_file(path).rules == [UserRule("*/font*", "ui/font")]


def test_every_problem_in_a_rules_file_is_reported_at_once(tmp_path):
    path = tmp_path / "rules.json"
    document = {
        "mode": "sometimes",
        "rules": [
            {"pattern": "re:([", "category": "sky"},
            {"pattern": "*.png"},
            {"pattern": "a", "category": "b", "x": 1},
        ],
    }
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(UserRulesError) as exc:
        load_rules_file(path)
    message = str(exc.value)
    assert str(path) in message
    for part in (
        "mode 'sometimes'",
        "rule 1: invalid regular expression",
        "rule 2",
        "rule 3: unknown keys x",
    ):
        assert part in message


@pytest.mark.parametrize(("name", "content"), [("r.json", "{nope"), ("r.toml", "mode = ")])
def test_unparseable_files_name_the_file(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UserRulesError, match=name):
        load_rules_file(path)


def test_saving_invalid_rules_is_refused_and_keeps_the_old_file(_isolated_user_dirs):
    save_user_rules(UserRuleSet([UserRule("*_nm.*", "map/normal")]))
    with pytest.raises(UserRulesError, match="empty pattern"):
        save_user_rules(UserRuleSet([UserRule("", "sky")]))
    assert load_user_rules().rules == [UserRule("*_nm.*", "map/normal")]
