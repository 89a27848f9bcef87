"""How much of the store's SQL would a PostgreSQL port rewrite? (issue 20, point 7)

Finds every SQL statement the SQLite store runs (``router/store/*.py`` and
``router/*/sqlite*.py``): the SQL argument of each ``conn.execute``,
``executemany``, ``executescript`` and of the ``rows`` helpers (``fetch_one``,
``fetch_all``, ``execute``, also when handed to a connection's ``call``),
resolved through string constants, concatenations, f-strings, ``.format`` and
local variables. Prints the number of call sites and of distinct statements
(an f-string's placeholders left as they are: one template), split into the
engine's (PRAGMA, transaction control) and the domain's, and counts the
domain statements using SQLite-only syntax, with what PostgreSQL needs instead.

    python -m bench.sql_census [-v]
"""

from __future__ import annotations

import argparse
import ast
import re
from collections import Counter
from pathlib import Path

HELPERS = {"_one", "_all", "_rows", "_row", "fetch_one", "fetch_all", "_execute", "execute"}
METHODS = {"execute", "executemany", "executescript"}
ENGINE = re.compile(r"^(PRAGMA|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE|ANALYZE)\b")
ROWID = "rowid (→ an identity column: PostgreSQL has none)"
# SQLite-only syntax or semantics, and what PostgreSQL needs instead
SQLITE_ONLY = {
    "INSERT OR IGNORE / OR REPLACE (→ ON CONFLICT ...)": re.compile(r"\bINSERT OR (IGNORE|REPLACE)\b"),
    "json_extract / json_set on TEXT (→ jsonb ->> / jsonb_set)": re.compile(r"\bjson_(extract|set)\("),
    ROWID: re.compile(r"\browid\b"),
    "IS / IS NOT against a value (→ IS [NOT] DISTINCT FROM)": re.compile(r"\bIS(?: NOT)? (?!NOT\b|NULL\b|DISTINCT\b)"),
    "printf() and bare columns beside MAX() (→ format(), DISTINCT ON)": re.compile(r"\bprintf\("),
    "LIKE, case-blind on SQLite (→ ILIKE, or known-case values)": re.compile(r"\bLIKE\b"),
}


def evaluate(node: ast.expr, env: dict[str, list[str]]) -> list[str]:
    """Every text the expression may be; [] when unknown."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Name):
        return list(env.get(node.id, []))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return [a + b for a in evaluate(node.left, env) for b in evaluate(node.right, env)]
    if isinstance(node, ast.IfExp):
        return evaluate(node.body, env) + evaluate(node.orelse, env)
    if isinstance(node, ast.JoinedStr):
        texts = [""]
        for part in node.values:
            if isinstance(part, ast.Constant):
                texts = [t + str(part.value) for t in texts]
            elif isinstance(part, ast.FormattedValue):
                subs = evaluate(part.value, env) or ["{" + ast.unparse(part.value) + "}"]
                texts = [t + s for t in texts for s in subs]
        return texts
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        return _method(node, env)
    return []


def _method(node: ast.Call, env: dict[str, list[str]]) -> list[str]:
    assert isinstance(node.func, ast.Attribute)
    base = evaluate(node.func.value, env)
    if node.func.attr == "replace" and len(node.args) >= 2:
        old, new = evaluate(node.args[0], env), evaluate(node.args[1], env)
        return [b.replace(old[0], new[0], 1) for b in base] if old and new else []
    if node.func.attr == "format":
        fills = {k.arg: (evaluate(k.value, env) or ["{" + ast.unparse(k.value) + "}"])[0]
                 for k in node.keywords if k.arg is not None}
        return [b.format(**fills) for b in base]
    return []


def _assign(nodes: list[ast.stmt], env: dict[str, list[str]]) -> None:
    """The texts each plain name is given anywhere in ``nodes``."""
    for top in nodes:
        for node in ast.walk(top):
            target, value = None, None
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign):
                target, value = node.target, node.value
            if isinstance(target, ast.Name) and value is not None and (texts := evaluate(value, env)):
                known = env.setdefault(target.id, [])
                known += [t for t in texts if t not in known]


def _sql_argument(call: ast.Call) -> ast.expr | None:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name in ("call", "run_alone"):  # conn.call(fetch_one, SQL, params)
        first = call.args[0] if call.args else None
        helper = first.id if isinstance(first, ast.Name) else first.attr if isinstance(first, ast.Attribute) else None
        return call.args[1] if helper in HELPERS and len(call.args) > 1 else None
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "rows":
        return call.args[1] if name in HELPERS and len(call.args) > 1 else None  # rows.fetch_one(conn, SQL)
    if isinstance(func, ast.Attribute) and name in METHODS:
        return call.args[0] if call.args else None  # conn.execute(SQL)
    if isinstance(func, ast.Name) and name in HELPERS:
        return call.args[1] if len(call.args) > 1 else None  # fetch_one(conn, SQL)
    return None


def census(root: Path) -> tuple[int, dict[str, list[str]], list[str]]:
    """(call sites, {statement: where}, sites whose SQL could not be resolved)"""
    files = sorted({*root.glob("router/store/*.py"), *root.glob("router/*/sqlite*.py")})
    sites: set[tuple[str, int, int]] = set()
    found: dict[str, list[str]] = {}
    unknown: list[str] = []
    for path in files:
        tree = ast.parse(path.read_text())
        module_env: dict[str, list[str]] = {}
        _assign([n for n in tree.body if isinstance(n, ast.Assign | ast.AnnAssign)], module_env)
        for fn in (n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)):
            env = {k: list(v) for k, v in module_env.items()}
            _assign(fn.body, env)
            params = {a.arg for a in fn.args.args}
            for node in ast.walk(fn):
                arg = _sql_argument(node) if isinstance(node, ast.Call) else None
                if arg is None or (isinstance(node, ast.Call) and (path.name, node.lineno, node.col_offset) in sites):
                    continue
                if isinstance(arg, ast.Name) and arg.id in params:
                    continue  # a helper passing its caller's SQL on: counted at the caller
                assert isinstance(node, ast.Call)
                sites.add((path.name, node.lineno, node.col_offset))
                where = f"{path.relative_to(root)}:{node.lineno}"
                texts = evaluate(arg, env)
                if not texts:
                    unknown.append(where)
                for text in texts:
                    found.setdefault(" ".join(text.split()), []).append(where)
    return len(sites), found, unknown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-v", "--verbose", action="store_true", help="list every statement")
    args = parser.parse_args(argv)
    root = Path(__file__).resolve().parent.parent
    site_count, found, unknown = census(root)
    engine = [s for s in found if ENGINE.match(s) or "PRAGMA user_version" in s]
    domain = [s for s in found if s not in engine]
    print(f"{site_count} call sites, {len(found)} distinct statements: {len(engine)} the engine's"
          f" (PRAGMA, transaction control, migrations), {len(domain)} the domain's")
    if unknown:
        print(f"  not resolved: {', '.join(unknown)}")
    flagged: Counter[str] = Counter()
    any_flag = only_rowid = 0
    for statement in domain:
        hits = [label for label, pattern in SQLITE_ONLY.items() if pattern.search(statement)]
        flagged.update(hits)
        any_flag += bool(hits)
        only_rowid += hits == [ROWID]
        if args.verbose:
            print(f"  {'*' if hits else ' '} {found[statement][0]}: {statement[:150]}")
    dynamic = sum("{" in s for s in domain)
    marks = sum(bool(re.search(r"\?|:\w+\b(?!')", s)) for s in domain)
    print(f"domain statements with SQLite-only syntax or semantics: {any_flag} of {len(domain)}")
    for label, count in flagged.most_common():
        print(f"  {count:>3}  {label}")
    print(f"  of which {any_flag - only_rowid} remain if PostgreSQL's tables get a column named rowid"
          " (bigint GENERATED ALWAYS AS IDENTITY)")
    print(f"domain statements with parameters (? or :name; asyncpg wants $1..$n): {marks}")
    print(f"domain statements built at run time (f-string or .format holes): {dynamic}")
    ddl = (root / "router/store/migrations.py").read_text()
    print(f"schema (migrations.py): {len(re.findall(r'CREATE (?:UNIQUE )?(?:TABLE|INDEX)|ALTER TABLE', ddl))}"
          " DDL statements; TEXT timestamps and JSON, a BLOB, partial indexes (PostgreSQL has them too)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
