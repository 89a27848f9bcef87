"""``omnirouter customers …``: keeping customers' value attributes current."""

from __future__ import annotations

import argparse
import codecs
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from router.plurals import counted

# registered without importing what the command needs: its handler imports it
if TYPE_CHECKING:
    from router.identity.customers import ImportReport


class NotUtf8(ValueError):
    """The file is not UTF-8 text (from ``line`` on): refused before any row is imported."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line


def _count_lines(path: Path) -> int:
    """The file's rows, once its every line reads as UTF-8: a file that did
    not was imported up to the bad byte (Excel's Windows-1251 export, say),
    the rows after it lost and the summary never printed."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 0
    with path.open("rb") as f:
        for lines, line in enumerate(f, start=1):
            try:
                decoder.decode(line)
            except UnicodeDecodeError as exc:
                hint = " (it reads as Windows-1251: Excel's «CSV», not «CSV UTF-8»)" if _cp1251(line) else ""
                raise NotUtf8(lines, f"not UTF-8 text ({exc.reason} at byte {exc.start} of the line){hint}; "
                                     "save it as UTF-8: nothing was imported") from None
    return max(0, lines - 1)  # the header is no row


def _cp1251(line: bytes) -> bool:
    try:
        return any("\u0400" <= c <= "\u04ff" for c in line.decode("cp1251"))
    except UnicodeDecodeError:
        return False


async def _import(path: Path, config_dir: Path, source: str, bar: Any) -> ImportReport:
    from router.identity.customers import import_csv  # noqa: PLC0415
    from router.identity.service import IdentityRules, load_identity_config  # noqa: PLC0415
    from router.server.app import make_store  # noqa: PLC0415
    from router.server.settings import load_settings  # noqa: PLC0415

    settings = load_settings(config_dir)
    rules = IdentityRules(load_identity_config(config_dir))
    async with make_store(settings, Path.cwd()) as store:
        return await import_csv(store, rules, path, source, bar)


def _print_report(path: Path, report: ImportReport) -> None:
    print(f"{path}: {counted(report.imported, 'row', 'rows')} imported "
          f"({counted(report.created, 'new customer', 'new customers')}), "
          f"{len(report.rejected)} rejected, {counted(len(report.dropped), 'field', 'fields')} left out")
    problems = [(line, f"{name}: {reason}") for line, name, reason in report.dropped] + report.rejected
    for line, text in sorted(problems, key=lambda p: p[0]):
        print(f"{path}:{line}: {text}", file=sys.stderr)


def _import_command(args: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415

    from tqdm import tqdm  # noqa: PLC0415

    from router.store.errors import StoreError  # noqa: PLC0415
    from router.yamlconf import ConfigError  # noqa: PLC0415

    path = Path(args.file)
    try:
        total = _count_lines(path)
    except OSError as exc:
        print(f"{path}: cannot read: {exc.strerror}", file=sys.stderr)
        return 1
    except NotUtf8 as exc:
        print(f"{path}:{exc.line}: {exc}", file=sys.stderr)
        return 1
    try:
        with tqdm(total=total, unit="row", file=sys.stderr, disable=args.quiet or None) as bar:
            report = asyncio.run(_import(path, Path(args.config), args.source, bar))
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 1
    except UnicodeDecodeError as exc:
        print(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); nothing after it was imported",
              file=sys.stderr)
        return 1
    except (StoreError, OSError) as exc:  # the store's folder or disk, not the file (read above)
        rows = counted(total, "row", "rows")
        print(f"{path}: the store failed after {bar.n} of {rows}: {exc}. The rows before it are "
              "imported; run the same import again when the store is back (rows are matched by their keys, "
              "so nothing is imported twice)", file=sys.stderr)
        return 1
    _print_report(path, report)
    return 1 if report.rejected else 0


def add_customer_commands(sub: Any) -> None:
    customers = sub.add_parser("customers", help="customers' value attributes")
    csub = customers.add_subparsers(dest="customers_command", required=True)
    imp = csub.add_parser(
        "import", help="create or update customers from a CSV file",
        description="Columns: external_id, phone, email (at least one, to find the customer by), name, tier, "
                    "lifetime_value, tags (separated by ';'); any other column is a custom attribute. "
                    "A bad field (an invalid phone, a role address such as info@, a phone another customer "
                    "holds) is left out of its row and reported as FILE:LINE: FIELD: REASON; the rest of the row "
                    "is imported. A row with no usable key, or whose keys name two customers, changes nothing "
                    "and is reported with what it would have set. Exit status 1 when a row was rejected.",
    )
    imp.add_argument("file", help="the CSV file (UTF-8, a header row first)")
    imp.add_argument("--config", default="config", help="configuration folder (default: config/)")
    imp.add_argument("--source", default="import", help="provenance recorded on each attribute (default: import)")
    imp.add_argument("--quiet", action="store_true", help="no progress bar")
    imp.set_defaults(func=_import_command)
