"""``wallboard:`` in omnirouter.yaml: the shipped setting mirrors the shipped
rule for valuable customers, and a bad value is refused with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.server.settings import load_settings
from router.yamlconf import ConfigError

CONFIG = Path(__file__).parents[3] / "config"


def test_the_shipped_setting_is_the_shipped_rules_valuable_condition() -> None:
    valuable = load_settings(CONFIG).wallboard.valuable
    rules = (CONFIG / "rules.yaml").read_text(encoding="utf-8")
    assert "when: customer_tier in ['gold', 'platinum'] or customer_ltv >= 5000" in rules
    assert (valuable.tiers, valuable.min_ltv) == (["gold", "platinum"], 5000)


@pytest.mark.parametrize(("text", "expected"), [
    ("wallboard:\n  interval: 0\n", ":2: wallboard.interval: Input should be greater than or equal to 0.1"),
    ("wallboard:\n  valuable: {tiers: gold}\n", ":2: wallboard.valuable.tiers: Input should be a valid list"),
    ("wallboard:\n  valuable:\n    min_ltv: -1\n", ":3: wallboard.valuable.min_ltv: Input should be greater"),
    ("wallboard:\n  colour: red\n", ":2: wallboard.colour: unknown key: the keys here are "),
])
def test_bad_values_are_refused_with_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "omnirouter.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_settings(tmp_path)
    assert any(expected in p and p.startswith(str(tmp_path / "omnirouter.yaml")) for p in info.value.problems), (
        info.value.problems
    )
