"""Each command imports what it needs: ``omnirouter --help`` and the help of
every command load no web server, no models, no rules engine; a connector
that is off never loads its platform's library."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest

HEAVY = ["aiohttp", "pydantic", "rule_engine", "numpy", "onnxruntime", "aiogram", "argon2", "yaml", "twilio"]


def imported_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return {name.split(".")[0] for name in out.splitlines()}


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["rules", "--help"], ["rules", "explain", "--help"],
                                  ["customers", "import", "--help"], ["db", "copy", "--help"]])
def test_help_imports_nothing_heavy(argv: list[str]) -> None:
    code = f"from router.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass"
    assert imported_after(code).isdisjoint(HEAVY)


def test_a_telegram_connector_without_a_token_never_imports_aiogram() -> None:
    code = ("import os\nos.environ.pop('OMNIROUTER_TELEGRAM_TOKEN', None)\n"
            "from connectors import connector_class\ncls = connector_class('telegram')\n"
            "assert cls.parse_options({}).disabled_reason() is not None")
    assert "aiogram" not in imported_after(code)


@pytest.mark.parametrize("command", [["rules", "schema", "rules"], ["rules", "facts"]])
def test_a_reader_that_goes_away_ends_a_command_without_a_traceback(command: list[str]) -> None:
    """``omnirouter rules explain … | head`` ended in a BrokenPipeError traceback."""
    process = subprocess.Popen([sys.executable, "-m", "router.cli", *command], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before the command writes
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 141
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_twilios_request_log_is_quiet_unless_debugging() -> None:
    """Ten INFO lines of headers for every SMS sent buried the service's own log."""
    code = ("import logging, sys; from router.cli import main; main(sys.argv[1:]); "
            "print(logging.getLogger('twilio.async_http_client').getEffectiveLevel())")
    quiet = subprocess.run([sys.executable, "-c", code, "rules", "facts"], capture_output=True, text=True, check=True)
    assert quiet.stdout.splitlines()[-1] == str(logging.WARNING)
    loud = subprocess.run([sys.executable, "-c", code, "--log-level", "DEBUG", "rules", "facts"], capture_output=True,
                          text=True, check=True)
    assert loud.stdout.splitlines()[-1] == str(logging.DEBUG)
