"""``omnirouter customers import``: messy CSV in, a report of what was refused."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from router.cli import main
from router.customers import RowError, parse_row
from router.identity import IdentityConfig, IdentityRules
from router.models import IdentityRef
from router.store.sqlite import SQLiteStore

CSV = """\
external_id,phone,email,name,tier,lifetime_value,tags,city
crm-1,8 (912) 345-67-89,Anna@Mail.RU,Анна,gold,12500.50,vip;loyal,Пермь
crm-2,not a phone,,Борис,silver,10,,
crm-3,,,Вера,,abc,,
,,,,gold,,,
crm-4,+7 913 000 00 01,,Глеб,bronze,0,,Казань,extra
crm-5,+7 913 000 00 02,anna@mail.ru,Дина,gold,1,,
crm-1,,,,platinum,,,
"""


@pytest.fixture
def config_dir(tmp_path: Path) -> Path:
    config = tmp_path / "config"
    config.mkdir()
    (config / "omnirouter.yaml").write_text(f"store:\n  path: {tmp_path / 'crm.db'}\n", encoding="utf-8")
    return config


def run_import(tmp_path: Path, config_dir: Path, text: str) -> int:
    path = tmp_path / "customers.csv"
    path.write_text(text, encoding="utf-8")
    return main(["customers", "import", str(path), "--config", str(config_dir), "--quiet"])


def test_import_creates_and_updates_and_reports_each_bad_row_by_line(
    tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_import(tmp_path, config_dir, CSV) == 1
    out, err = capsys.readouterr()
    assert "2 row(s) imported (1 new customer(s)), 5 rejected" in out
    lines = [line.split(": ", 1) for line in err.strip().splitlines() if "customers.csv:" in line]
    where = {loc.rsplit(":", 1)[1]: reason for loc, reason in lines}
    assert "not a phone number" in where["3"]
    assert "lifetime_value" in where["4"]
    assert "no external_id, phone or email" in where["5"]
    assert "9 fields where the header has 8" in where["6"]
    # row 7's email is Анна's already: refused whole, its new phone not linked either
    assert "has external id 'crm-1' already, not 'crm-5'" in where["7"]
    asyncio.run(check_store(tmp_path / "crm.db"))


async def check_store(path: Path) -> None:
    async with SQLiteStore(path) as store:
        anna = await store.find_identity(IdentityRef(kind="phone", value="+79123456789"))
        assert anna is not None and anna.display_name == "Анна"
        assert anna.attributes == {"tier": "platinum", "lifetime_value": 12500.5, "tags": ["loyal", "vip"],
                                   "city": "Пермь"}
        assert await store.find_identity(IdentityRef(kind="email", value="anna@mail.ru")) == anna
        for kind, value in [("phone", "+79130000002"), ("external", "crm-2"), ("external", "crm-4")]:
            assert await store.find_identity(IdentityRef(kind=kind, value=value)) is None


def test_a_file_without_a_key_column_imports_nothing(
    tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_import(tmp_path, config_dir, "name,tier\nАнна,gold\n") == 1
    assert "customers.csv:1: the header names no external_id, phone or email column" in capsys.readouterr().err


def test_a_missing_file_is_a_clear_error(tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["customers", "import", str(tmp_path / "nope.csv"), "--config", str(config_dir)]) == 1
    assert "nope.csv: cannot read" in capsys.readouterr().err


def test_rules_reject_blocked_keys_in_rows() -> None:
    rules = IdentityRules(IdentityConfig.model_validate({"email": {"kinds": ["email"], "blocked": ["info@*"]}}))
    with pytest.raises(RowError, match="blocked"):
        parse_row(rules, {"email": "info@shop.ru"}, 1, 2)
