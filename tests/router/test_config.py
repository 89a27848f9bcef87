"""Config files: bad values are reported with their place in the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from router.cli import main
from router.server.settings import load_settings
from router.yamlconf import ConfigError


def write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "omnirouter.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_shipped_config_loads() -> None:
    settings = load_settings(Path(__file__).parents[2] / "config")
    assert settings.server.port == 8080 and settings.server.lag_bound == 2.0
    assert settings.connectors["webchat"].type == "webchat"


def test_missing_file_means_embedded_defaults(tmp_path: Path) -> None:
    settings = load_settings(tmp_path)
    assert settings.store.path == "var/omnirouter.db" and "webchat" in settings.connectors


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("server:\n  host: 0.0.0.0\n  port: eighty\n", ":3: server.port: Input should be a valid integer"),
        ("server:\n  port: 70000\n", ":2: server.port: Input should be less than or equal to 65535"),
        ("store:\n  path: x.db\n  colour: blue\n", ":3: store.colour: unknown key: the keys here are backend, "),
        ("store:\n  cache_mb: 0\n", ":2: store.cache_mb: Input should be greater than or equal to 1"),
        ("store:\n  cache_mb: true\n", ":2: store.cache_mb: Input should be a valid integer"),
        ("store:\n  group_commit_ms: -1\n", ":2: store.group_commit_ms: Input should be greater than or equal to 0"),
        ("store:\n  group_commit_ms: 500\n", ":2: store.group_commit_ms: Input should be less than or equal to 100"),
        ("store:\n  group_commit_ms: true\n", ":2: store.group_commit_ms: Input should be a valid number"),
        ("outbox:\n  max_attempts: 0\n", ":2: outbox.max_attempts: Input should be greater than or equal to 1"),
        ("connectors:\n  web:\n    enabled: true\n", ":3: connectors.web.type: Field required"),
        ("server:\n  port: [1\n", ":3: "),
        ("- just\n- a list\n", ":1: (top): should be a mapping ({key: value}), not"),
        ("server:\n  trusted_proxies: [127.0.0.1, nginx]\n", ":2: server.trusted_proxies.1: value is not a valid"),
        ("server:\n  port: 80\n  lag_bound: 0\n", ":3: server.lag_bound: Input should be greater than or equal to 0.5"),
        ("server:\n  lag_bound: 0.1\n", ":2: server.lag_bound: Input should be greater than or equal to 0.5"),
        ("server:\n  lag_bound: true\n", ":2: server.lag_bound: Input should be a valid number"),
        ("server:\n  lag_bound: soon\n", ":2: server.lag_bound: Input should be a valid number"),
        ("connectors:\n  webchat:\n    type: webchat\n    rate_limit_per_address: lots\n",
         ":4: connectors.webchat.rate_limit_per_address: 'lots' is not a rate"),
    ],
)
def test_bad_values_are_reported_with_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    assert any(expected in p and p.startswith(str(tmp_path / "omnirouter.yaml")) for p in info.value.problems), (
        info.value.problems
    )


def test_cli_refuses_a_bad_config_with_file_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "server:\n  port: eighty\n")
    assert main(["run", "--config", str(tmp_path)]) == 1
    assert f"{tmp_path / 'omnirouter.yaml'}:2: server.port" in capsys.readouterr().err


def test_connector_options_are_checked_at_load_with_file_and_line(tmp_path: Path) -> None:
    text = ("connectors:\n  webchat:\n    type: webchat\n  tg:\n    type: telegram\n    mode: pigeon\n"
            "  fax:\n    type: fax\n")
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, text))
    path = tmp_path / "omnirouter.yaml"
    assert f"{path}:6: connectors.tg.mode: Input should be 'webhook' or 'polling'" in info.value.problems
    assert any(p.startswith(f"{path}:8: connectors.fax.type: unknown connector type 'fax'")
               for p in info.value.problems), info.value.problems


def test_the_readmes_yaml_examples_load_as_written(tmp_path: Path) -> None:
    """Every ```yaml block of the README that configures omnirouter.yaml loads:
    ``email: off`` (YAML's false, unquoted) refused the start, though the README
    itself wrote it so."""
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in readme.split("```yaml\n")[1:]]
    examples = [b for b in blocks if b.startswith(("connectors:", "store:", "server:"))]
    assert any("email: off" in b for b in examples)
    for n, block in enumerate(examples):
        folder = tmp_path / f"c{n}"
        folder.mkdir()
        (folder / "omnirouter.yaml").write_text(block, encoding="utf-8")
        try:
            load_settings(folder)
        except ConfigError as exc:
            raise AssertionError(f"the README's example {n} does not load:\n{block}\n{exc}") from None


def test_off_unquoted_is_off(tmp_path: Path) -> None:
    (tmp_path / "omnirouter.yaml").write_text("store:\n  synchronous: off\n", encoding="utf-8")
    assert load_settings(tmp_path).store.synchronous == "off"
