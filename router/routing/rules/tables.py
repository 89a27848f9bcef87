"""rule-engine's parser tables, built once and shipped (``_parsetab.py``).

rule-engine builds its PLY parser when it is imported, and PLY, without a
table module, computes the LALR tables from the grammar each time: ~0.3 s
on an idle core, ~0.8 s on a busy one, paid by every ``omnirouter run``.
PLY reads ready tables from ``rule_engine.parser.parsetab`` when that module
exists and its signature is the grammar's, so ``install`` has Python find
ours under that name (loaded only when PLY asks: ``omnirouter --help``
never reads it). A rule-engine whose grammar differs finds
another signature and PLY builds its own tables as before: slower, never
wrong. ``python -m router.routing.rules.tables`` writes the tables of the installed
rule-engine (tests/router/routing/rules/test_tables.py says when that is due).
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from importlib.abc import MetaPathFinder
from importlib.machinery import ModuleSpec
from pathlib import Path
from types import ModuleType
from typing import Any

# where PLY looks for rule-engine's tables (its tabmodule, in the package of its Parser)
TABLE_MODULE = "rule_engine.parser.parsetab"
SHIPPED = Path(__file__).with_name("_parsetab.py")


class _ShippedTables(MetaPathFinder):
    """Finds our table file when PLY imports rule-engine's table module."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != TABLE_MODULE:
            return None
        return importlib.util.spec_from_file_location(fullname, SHIPPED)


def install() -> None:
    """Offer our tables to rule-engine (once; harmless after it is imported)."""
    if not any(isinstance(finder, _ShippedTables) for finder in sys.meta_path):
        sys.meta_path.insert(0, _ShippedTables())


def grammar_signature() -> str:
    """The signature PLY computes over the installed rule-engine's grammar."""
    from rule_engine._vendor.ply import yacc  # noqa: PLC0415
    from rule_engine.parser import Parser  # noqa: PLC0415

    parser = Parser.__new__(Parser)
    reflect = yacc.ParserReflect({name: getattr(parser, name) for name in dir(parser)})
    reflect.get_all()
    signature: str = reflect.signature()
    return signature


def shipped_signature() -> str:
    from router.routing.rules import _parsetab  # noqa: PLC0415

    signature: str = _parsetab._lr_signature
    return signature


def regenerate(folder: Path = SHIPPED.parent) -> Path:
    """Write the installed rule-engine's tables to ``folder/_parsetab.py``."""
    from rule_engine._vendor.ply import yacc  # noqa: PLC0415
    from rule_engine.parser import Parser  # noqa: PLC0415

    parser: Any = Parser.__new__(Parser)
    # a module name PLY cannot find, so it builds the tables and writes them
    yacc.yacc(module=parser, debug=False, write_tables=True, outputdir=str(folder), tabmodule="_parsetab")
    return folder / "_parsetab.py"


if __name__ == "__main__":
    print(regenerate())
