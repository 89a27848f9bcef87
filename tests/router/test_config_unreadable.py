"""A config folder that cannot be read: one line, ``DIR: cannot read: reason``
and exit 1, from ``config check`` and ``run``, as an unreadable rules.yaml
already was. In Python 3.11 ``Path.exists()`` and ``is_dir()`` raise on a
folder that may not be searched: both commands died with a PermissionError
traceback. Root reads any folder whatever its mode, so there the command runs
as nobody; a name too long is refused by the system for root too."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from router.routing.rules.reload import RulesReloader
from tests.e2e.conftest import START_CEILING, free_port
from tests.router.routing.rules.conftest import write_config
from tests.router.test_serve import REPO

SHIPPED = REPO / "config"
NOBODY = 65534
ROOT = os.geteuid() == 0


def _as_nobody() -> dict[str, Any]:
    """What makes a child process nobody's (root only); skips where nobody cannot run this Python."""
    demote: dict[str, Any] = {"user": NOBODY, "group": NOBODY, "extra_groups": []}
    try:
        probe = subprocess.run([sys.executable, "-c", "import router.cli"], cwd=REPO, capture_output=True,
                               check=False, **demote)
        why = probe.stderr.decode().strip()[-200:] if probe.returncode else ""
    except OSError as exc:  # this Python under /root, say
        why = str(exc)
    if why:
        pytest.skip(f"root reads any folder whatever its mode, and nobody cannot run this Python here ({why}); "
                    "the name-too-long variant checks the same refusal as root")
    return demote


@pytest.fixture(params=["permission denied", "name too long"])
def unreadable(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, str, dict[str, Any]]]:
    """A config folder (the shipped one's files), the reason the system gives, how to start the child."""
    if request.param == "name too long":
        yield tmp_path / ("c" * 300), "File name too long", {}
        return
    folder = tmp_path / "config"
    shutil.copytree(SHIPPED, folder)
    folder.chmod(0o700 if ROOT else 0)  # not nobody's; and not even ours when we are not root
    try:
        yield folder, "Permission denied", _as_nobody() if ROOT else {}
    finally:
        folder.chmod(0o755)


async def omnirouter(*args: str, **demote: Any) -> tuple[int | None, str]:
    env = {k: v for k, v in os.environ.items() if k != "OMNIROUTER_ADMIN_PASSWORD"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "router.cli", *args, cwd=REPO, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, **demote)
    _, err = await asyncio.wait_for(proc.communicate(), START_CEILING)
    return proc.returncode, err.decode()


async def test_config_check_says_the_folder_cannot_be_read(unreadable: tuple[Path, str, dict[str, Any]]) -> None:
    folder, reason, demote = unreadable
    status, err = await omnirouter("config", "check", str(folder), **demote)
    assert status == 1
    assert "Traceback" not in err, err
    assert err.splitlines() == [f"{folder}: cannot read: {reason}", f"{folder}: 1 problem"], err


async def test_run_says_the_folder_cannot_be_read(
    unreadable: tuple[Path, str, dict[str, Any]],
) -> None:
    folder, reason, demote = unreadable
    status, err = await omnirouter("run", "--config", str(folder), "--port", str(free_port()), **demote)
    assert status == 1
    assert "Traceback" not in err, err
    assert err.splitlines() == [f"{folder}: cannot read: {reason}"], err


@pytest.mark.skipif(ROOT, reason="root reads any folder whatever its mode: the service runs as root here")
def test_a_folder_that_becomes_unreadable_is_a_refused_reload(tmp_path: Path) -> None:
    """The running service's watch: the old rules stay, the reason is its problem, nothing raises."""
    from router.bus import EventBus  # noqa: PLC0415
    from router.routing.rules import RulesRouting, load_rules  # noqa: PLC0415

    path = write_config(tmp_path / "config")
    reloader = RulesReloader(RulesRouting(load_rules(path)), EventBus())
    running = reloader.status.version
    path.parent.chmod(0)
    try:
        assert reloader.check() is False
    finally:
        path.parent.chmod(0o755)
    assert reloader.status.version == running
    assert reloader.status.problems == [f"{path}:1: cannot read: Permission denied"], reloader.status.problems
