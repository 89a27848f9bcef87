"""Value attributes: tier, lifetime value, tags and custom attributes, kept
current by a CRM (the API) or a CSV import, found by id, external id, phone
or email. Routing rules read them from ``Customer.attributes``."""

from __future__ import annotations

import asyncio
import csv
import itertools
import logging
import math
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator
from pydantic_core import ErrorDetails

from router.controls import customer_name
from router.identity.service import IdentityRules, InvalidIdentifier
from router.identity.store import CustomerStore
from router.identity.types import CustomerUpsert, KeyRef, Upserted
from router.models import utcnow
from router.store.errors import ConflictError, NotFound

log = logging.getLogger(__name__)

LookupKind = Literal["id", "external", "phone", "email"]


def _printable(value: str) -> str:
    # a control character is no part of a tier, a tag or a name, and chars 29-31 separate the records a
    # report's cycles pack these into (router/reports/cycles_schema.py)
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must not contain control characters (U+0000-U+001F, U+007F: a tab, a newline, ...)")
    return value


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64),
                 AfterValidator(_printable)]
Scalar = str | int | float | bool | None
# the attributes with a meaning of their own; anything else is custom
VALUE_FIELDS = ("tier", "lifetime_value", "tags")
# rows handed to the store together: each is its own savepoint in one transaction
_IMPORT_CHUNK = 200


class ValueAttributes(BaseModel):
    """What a CRM may set. A field left out is left alone; ``null`` removes it."""

    model_config = ConfigDict(extra="forbid")

    display_name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)] | None = None
    tier: Name | None = None
    lifetime_value: Annotated[float, Field(ge=0)] | None = None
    tags: Annotated[list[Name], Field(max_length=50)] | None = None
    attributes: Annotated[dict[Name, Scalar], Field(max_length=100)] = Field(default_factory=dict)

    @field_validator("display_name")
    @classmethod
    def _shown_name(cls, value: str | None) -> str | None:
        """A name as agents read it: its line breaks and tabs one space each, without control and
        bidi characters (a U+202E override reads it backwards), as every channel's names are."""
        if value is None:
            return None
        shown = customer_name(" ".join(value.split()))
        if shown is None:
            raise ValueError("has nothing but control or format characters")
        return shown

    @field_validator("lifetime_value")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @field_validator("attributes")
    @classmethod
    def _not_reserved(cls, value: dict[str, Scalar]) -> dict[str, Scalar]:
        clash = sorted(set(value) & set(VALUE_FIELDS))
        if clash:
            raise ValueError(f"{', '.join(clash)}: set these as fields of their own, not custom attributes")
        return value

    def changes(self) -> tuple[tuple[str, Any], ...]:
        given = {name: getattr(self, name) for name in VALUE_FIELDS if name in self.model_fields_set}
        if given.get("tags") is not None:
            given["tags"] = sorted(set(given["tags"]))
        return tuple({**given, **self.attributes}.items())


def lookup_key(rules: IdentityRules, kind: LookupKind, value: str) -> KeyRef:
    """The key a customer is found by; ``InvalidIdentifier`` for a bad phone/email."""
    if kind in ("phone", "email"):
        return rules.key(kind, value)
    text = value.strip()
    if not text or len(text) > 256:
        raise InvalidIdentifier(f"{kind} must be 1 to 256 characters")
    return KeyRef(kind=kind, value=text)


async def upsert(
    store: CustomerStore, rules: IdentityRules, kind: LookupKind, value: str, attrs: ValueAttributes, source: str,
    extra_keys: Iterable[KeyRef] = (), now: datetime | None = None,
) -> Upserted:
    """Create or update the customer ``kind``/``value`` names. ``KeyRefused``
    for a phone/email that is nobody's key, ``KeyShared`` for one several
    customers hold: a write by it could land on the wrong person."""
    if kind == "id":
        request = CustomerUpsert(source, customer_id=value, display_name=attrs.display_name,
                                 attributes=attrs.changes())
    else:
        keys = (lookup_key(rules, kind, value), *extra_keys)
        request = CustomerUpsert(source, keys=keys, display_name=attrs.display_name, attributes=attrs.changes())
    return await store.upsert_customer(request, now or utcnow())


# -- CSV import ---------------------------------------------------------------------

KEY_COLUMNS: tuple[LookupKind, ...] = ("external", "phone", "email")
_COLUMN_ALIASES = {"external_id": "external", "name": "display_name"}
# the file's own words in the report
_COLUMN_NAMES = {field: column for column, field in _COLUMN_ALIASES.items()}


@dataclass
class ImportReport:
    imported: int = 0
    created: int = 0
    # (line, reason): a row that changed nothing, with what it would have set
    rejected: list[tuple[int, str]] = field(default_factory=list)
    # (line, field, reason): a field left out of a row that was imported
    dropped: list[tuple[int, str, str]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Row:
    line: int
    keys: tuple[KeyRef, ...]
    attrs: ValueAttributes
    # what the row gave, for saying what was not applied when it is not
    given: tuple[tuple[str, str], ...]


class RowError(ValueError):
    pass


def _cells(raw: dict[str | None, Any], header_len: int) -> dict[str, str]:
    if None in raw:
        raise RowError(f"{header_len + len(raw[None])} fields where the header has {header_len}")
    if any(v is None for v in raw.values()):
        raise RowError(f"fewer fields than the header's {header_len}")
    return {_COLUMN_ALIASES.get(str(k), str(k)): str(v).strip() for k, v in raw.items() if str(v).strip()}


def _keys(rules: IdentityRules, cells: dict[str, str], dropped: list[tuple[str, str]]) -> tuple[KeyRef, ...]:
    keys = []
    for kind in KEY_COLUMNS:
        if kind not in cells:
            continue
        try:
            keys.append(lookup_key(rules, kind, cells.pop(kind)))
        except InvalidIdentifier as exc:
            dropped.append((_COLUMN_NAMES.get(kind, kind), str(exc)))
    return tuple(keys)


def _attributes(cells: dict[str, str], dropped: list[tuple[str, str]]) -> ValueAttributes:
    """The row's attributes; one that does not validate is left out (and reported), not the row."""
    data: dict[str, Any] = {k: cells.pop(k) for k in ("display_name", "tier", "lifetime_value") if k in cells}
    written = data.get("lifetime_value")  # as the file has it, for a problem to quote
    if "lifetime_value" in data:
        data["lifetime_value"] = _amount(data["lifetime_value"])
    if "tags" in cells:
        data["tags"] = [t for t in (t.strip() for t in cells.pop("tags").replace(",", ";").split(";")) if t]
    data["attributes"] = cells
    while True:
        try:
            return ValueAttributes.model_validate(data)
        except ValidationError as exc:
            left = dict(data, attributes=dict(data["attributes"]))
            for error in exc.errors():
                loc = [str(p) for p in error["loc"]]
                if loc[0] == "attributes" and len(loc) > 1:
                    name = loc[1]
                    left["attributes"].pop(name, None)
                else:
                    name = loc[0]
                    if name == "attributes":  # the whole set (too many): none of it
                        left["attributes"] = {}
                    else:
                        left.pop(name, None)
                dropped.append((_COLUMN_NAMES.get(name, name), _said(error, written)))
            if left == data:
                raise RowError(f"{exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from None
            data = left


# a currency before or after an amount: its sign or its code, as CRMs and spreadsheets export it
_SIGN = r"(?:[₽$€£¥]|(?:RUB|USD|EUR|руб(?:лей|ля|ль)?|р)\.?)"
_CURRENCY = re.compile(rf"^{_SIGN}\s*|\s*{_SIGN}$", re.IGNORECASE)


def _said(error: ErrorDetails, amount: str | None) -> str:
    """A field's problem in an admin's words, not pydantic's ("unable to parse string as a number")."""
    if error["type"] == "float_parsing":
        return f"{(amount or '')[:64]!r} is no amount: write it as 12500.50 or «12 500,50»"
    return str(error["msg"]).removeprefix("Value error, ")


def _amount(text: str) -> str:
    """An amount as a spreadsheet in a Russian locale writes it («1 200,50», with
    a no-break space), or «1,200.50», with or without its currency («5 000 ₽»,
    «$1,200», «1200 руб.»): as ``1200.50``. Anything else is left to the number's
    own check."""
    plain = _CURRENCY.sub("", text.strip())
    plain = re.sub(r"[\s\u00a0\u202f']", "", plain)
    if "," in plain and "." in plain:  # the last one marks the decimals
        decimal_comma = plain.rfind(",") > plain.rfind(".")
        plain = plain.replace(".", "").replace(",", ".") if decimal_comma else plain.replace(",", "")
    elif plain.count(",") == 1 and not re.fullmatch(r"\d{1,3},\d{3}", plain):  # «1,200»: 1.2 or 1200? said so
        plain = plain.replace(",", ".")
    return plain


def parse_row(rules: IdentityRules, raw: dict[str | None, Any], header_len: int, line: int,
              report: ImportReport) -> _Row:
    """One CSV row as its good keys and attributes (the fields left out go to
    ``report``), or ``RowError`` when no key is left to find the customer by."""
    cells = _cells(raw, header_len)
    given = tuple(sorted(cells.items()))
    dropped: list[tuple[str, str]] = []
    keys = _keys(rules, cells, dropped)
    attrs = _attributes(cells, dropped)
    if not keys:
        why = "; ".join(f"{name}: {reason}" for name, reason in dropped
                        if _COLUMN_ALIASES.get(name, name) in KEY_COLUMNS)
        raise RowError(f"no usable external_id, phone or email to find the customer by{': ' + why if why else ''}"
                       f"{_not_applied(given)}")
    report.dropped += [(line, name, reason) for name, reason in dropped]
    return _Row(line, keys, attrs, given)


def _not_applied(given: tuple[tuple[str, str], ...]) -> str:
    shown = ", ".join(f"{_COLUMN_NAMES.get(name, name)}={value[:64]!r}" for name, value in given)
    return f"; not applied: {shown}" if shown else ""


def read_rows(rules: IdentityRules, lines: Iterable[str], report: ImportReport) -> Iterator[_Row]:
    """The rows with a usable key; the others go to ``report`` with their line number."""
    lines = iter(lines)
    first = next(lines, "")
    reader = csv.DictReader(itertools.chain([first], lines), delimiter=_delimiter(first))
    try:
        header = reader.fieldnames or []
    except csv.Error as exc:
        report.rejected.append((reader.line_num or 1, f"the header is no CSV ({exc})"))
        return
    # "Phone", " email": our columns whatever their case and spaces (they were custom attributes, and the
    # customer got no key); a custom attribute's name is kept as written
    header = reader.fieldnames = [_our_column(h) for h in header]
    if not header:  # an empty file, or a blank first line, was said to have a header without keys
        report.rejected.append((1, "the file is empty or its first line is blank: the first line must be the "
                                   "header, naming an external_id, phone or email column"))
        return
    if not any(_COLUMN_ALIASES.get(h, h) in KEY_COLUMNS for h in header):
        report.rejected.append((1, "the header names no external_id, phone or email column"))
        return
    names = [_COLUMN_ALIASES.get(h, h) for h in header]
    if twice := sorted({h for h, n in zip(header, names, strict=True) if n and names.count(n) > 1}):
        # the row's last value of such a column silently won
        report.rejected.append((1, f"the header names {', '.join(twice)} more than once: keep one of each"))
        return
    rows = iter(reader)
    while True:
        try:
            raw = next(rows)
        except StopIteration:
            return
        except csv.Error as exc:  # a field past the csv module's limit, a NUL in a quoted field
            # the line it failed on is not counted yet
            report.rejected.append((reader.line_num + 1, f"the file is no CSV from here ({exc}); nothing after it "
                                                         "was read"))
            return
        try:
            yield parse_row(rules, raw, len(header), reader.line_num, report)
        except RowError as exc:
            report.rejected.append((reader.line_num, str(exc)))


_OUR_COLUMNS = frozenset({*_COLUMN_ALIASES, *KEY_COLUMNS, "display_name", *VALUE_FIELDS})


def _our_column(name: str) -> str:
    """Ours whatever its case, spaces and hyphens: "External ID", "E-mail", " Phone"."""
    plain = name.strip().lower()
    for candidate in (plain, re.sub(r"[\s-]+", "_", plain), re.sub(r"[\s-]+", "", plain)):
        if candidate in _OUR_COLUMNS:
            return candidate
    return name


def _delimiter(header_line: str) -> str:
    """',', or what a header without one separates its columns with: Excel writes
    «CSV» with ';' where the decimal mark is a comma (a Russian locale), or tabs."""
    if "," in header_line:
        return ","
    return next((d for d in (";", "\t") if d in header_line), ",")


def shared_in_file(rows: Iterable[_Row]) -> dict[KeyRef, str]:
    """The phones and emails the file gives to several external ids (a family's
    phone, an office's address), each with why it is set aside. The store
    finds a key shared only once its second customer is written: the first
    row alone landed on whoever held the key then (the father's WhatsApp
    became the son's record), and was never undone."""
    owners: dict[KeyRef, set[str]] = {}
    for row in rows:
        external = next((k.value for k in row.keys if k.kind == "external"), None)
        if external is None:
            continue
        for key in row.keys:
            if key.kind != "external":
                owners.setdefault(key, set()).add(external)
    return {key: f"the file gives it to {len(ids)} customers ({', '.join(sorted(ids)[:5])})"
            for key, ids in owners.items() if len(ids) > 1}


async def _apply(store: CustomerStore, rows: list[_Row], source: str, report: ImportReport,
                 shared: dict[KeyRef, str]) -> None:
    now = utcnow()
    # a phone/email another customer holds too is set aside, not a reason to lose the row
    requests = [CustomerUpsert(source, keys=r.keys, display_name=r.attrs.display_name,
                               attributes=r.attrs.changes(), shared_keys="set_aside",
                               shared={k: shared[k] for k in r.keys if k in shared}) for r in rows]
    # gathered: the store runs them as one transaction, each row its own savepoint
    outcomes = await asyncio.gather(*(store.upsert_customer(q, now) for q in requests), return_exceptions=True)
    for row, outcome in zip(rows, outcomes, strict=True):
        if isinstance(outcome, ConflictError | NotFound):
            report.rejected.append((row.line, f"{outcome}{_not_applied(row.given)}"))
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            report.imported += 1
            report.created += outcome.created
            report.dropped += [(row.line, key.kind, f"{key.kind} {key.value} not linked: {why}")
                               for key, why in outcome.set_aside]


async def import_csv(store: CustomerStore, rules: IdentityRules, path: Path, source: str = "import",
                     progress: Any = None) -> ImportReport:
    """Import ``path``; ``progress`` (a tqdm bar, say) is advanced per row read."""
    report = ImportReport()
    with path.open(encoding="utf-8-sig", newline="") as lines:
        shared = shared_in_file(read_rows(rules, lines, ImportReport()))
    with path.open(encoding="utf-8-sig", newline="") as lines:
        chunk: list[_Row] = []
        rejected = 0
        for row in read_rows(rules, lines, report):
            chunk.append(row)
            if progress is not None:  # rows rejected on the way count as read too
                progress.update(1 + len(report.rejected) - rejected)
                rejected = len(report.rejected)
            if len(chunk) >= _IMPORT_CHUNK:
                await _apply(store, chunk, source, report, shared)
                chunk = []
        if chunk:
            await _apply(store, chunk, source, report, shared)
    report.rejected.sort()
    report.dropped.sort()
    log.info("imported %d customers from %s (%d new), %d rows rejected, %d fields left out", report.imported, path,
             report.created, len(report.rejected), len(report.dropped))
    return report
