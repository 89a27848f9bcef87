"""Loading the service configuration (``config/omnirouter.yaml``) into
``router.config.Settings``, each connector section checked by its own
connector's options model."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from connectors import UnknownConnectorType, connector_class
from router.config import ConnectorConfig, Settings
from router.config_messages import plain
from router.yamlconf import ConfigError, is_folder, present, problem_at, read_yaml, validate

MAIN_FILE = "omnirouter.yaml"
DEFAULT_DIR = Path("config")  # the commands' --config when none is given


def start_problems(settings: Settings) -> list[str]:
    """Why the service must not start as configured: a connector that is on
    and has its token, but not what makes it safe (a webhook mode without its
    secret). ``omnirouter run`` refuses on them and ``config check`` reports
    them, so the check never passes a folder the start refuses."""
    problems: list[str] = []
    for name, section in settings.connectors.items():
        if not section.enabled:
            continue
        options = connector_class(section.type).parse_options(section.options())
        if options.disabled_reason() is None and (error := options.start_error()) is not None:
            problems.append(f"connectors.{name} ({section.type}): {error}")
    return problems


def missing_main_file(config_dir: Path) -> str | None:
    """Why ``omnirouter run`` refuses ``config_dir``: a folder named with
    ``--config`` that holds no ``omnirouter.yaml`` (a mistyped or wrong folder
    started a fresh service on the defaults, a new store and admin account in
    the working folder). The default folder (``config``) may lack it: the
    README's first start runs on the embedded defaults. ``ConfigError`` when
    the folder cannot be read."""
    if config_dir == DEFAULT_DIR or present(config_dir / MAIN_FILE):
        return None
    return (f"{config_dir}: no {MAIN_FILE} here: omnirouter run starts on the embedded defaults only in the "
            f"default folder (config/); name the folder that holds {MAIN_FILE}, or write one")


def load_settings(config_dir: Path) -> Settings:
    """The service's settings from ``config_dir``; the embedded defaults where it holds no
    ``omnirouter.yaml``, or where the default folder (``config``) is not there at all. A folder
    named otherwise that is not there is refused: a mistyped ``--config`` started the service on
    the defaults, with a new, empty store in the working folder and a new admin account."""
    if not is_folder(config_dir) and config_dir != DEFAULT_DIR:
        raise ConfigError([f"{config_dir}: no such configuration folder"])
    path = config_dir / MAIN_FILE
    if not present(path):
        return Settings()
    data, node = read_yaml(path)
    settings = validate(Settings, data, node, str(path))
    if problems := _connector_problems(settings, node, str(path)):
        raise ConfigError(problems)
    return settings


def _connector_problems(settings: Settings, node: yaml.Node | None, filename: str) -> list[str]:
    """Each connector section checked by its own options model now, so a typo
    is refused with file:line at start, not found when the app is built."""
    problems: list[str] = []
    for name, section in settings.connectors.items():
        try:
            cls = connector_class(section.type)
        except UnknownConnectorType as exc:
            problems.append(problem_at(filename, node, ("connectors", name, "type"), str(exc)))
            continue
        try:
            cls.parse_options(section.options())
        except ValidationError as exc:
            problems.extend(problem_at(filename, node, ("connectors", name, *place), message)
                            for place, message in plain(exc.errors(), cls.options_model, ConnectorConfig.SHARED_KEYS))
    return problems
