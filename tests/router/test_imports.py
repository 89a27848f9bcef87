"""Every module imports on its own, whatever was imported before it: an import
cycle shows only when one of its modules is imported first (``import
router.identity`` once failed, while the app, importing another first, ran)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from tests.conftest import HANG

PACKAGES = ("router", "connectors", "agents_ui")

_SCRIPT = textwrap.dedent(f"""
    import importlib, pkgutil, sys
    ours = {PACKAGES!r}
    names = []
    for package in ours:
        module = importlib.import_module(package)
        names += [m.name for m in pkgutil.walk_packages(module.__path__, package + ".")]
    failed = []
    for name in sorted(names):
        for loaded in [m for m in sys.modules if m.split(".")[0] in ours]:
            del sys.modules[loaded]
        try:
            importlib.import_module(name)
        except ImportError as exc:
            failed.append(f"{{name}}: {{exc}}")
    print(len(names))
    print("\\n".join(failed))
""")


# the script imports the whole package graph once per module (~400 times): ~30 s of CPU on an idle
# 2-core machine, and over HANG (120 s) in a busy CI run with both cores taken. The limit only
# stops a hang, so it is a multiple of the work, not of a readiness wait
IMPORTS_HANG = HANG * 5


def test_every_module_imports_first() -> None:
    done = subprocess.run([sys.executable, "-c", _SCRIPT], capture_output=True, text=True, timeout=IMPORTS_HANG,
                          check=True)
    count, *failed = done.stdout.strip().split("\n")
    assert int(count) > 100
    assert [f for f in failed if f] == []
