"""The delivery signature as a receiver checks it (README): HMAC-SHA256 of
``<t>.<body>`` under the subscription's secret; a changed body, another
secret, a stale timestamp or a malformed header are refused."""

from __future__ import annotations

import hashlib
import hmac
import time
from pathlib import Path
from typing import Any

import pytest

from router.webhooks.signing import TOLERANCE, BadSignature, header, new_secret, verify

BODY = b'{"id":"evt_1","type":"message.created","data":{}}'
NOW = 1_800_000_000


def test_a_signature_is_stripes_scheme_and_verifies() -> None:
    secret = new_secret()
    value = header(secret, NOW, BODY)
    expected = hmac.new(secret.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert value == f"t={NOW},v1={expected}"
    assert verify(secret, value, BODY, now=NOW + 10) == NOW


@pytest.mark.parametrize("tamper", ["body", "secret", "stale", "future", "no_t", "no_v1", "garbage", "t_twice",
                                    "t_superscript", "v1_not_ascii"])
def test_anything_else_is_refused(tamper: str) -> None:
    secret, body, now = new_secret(), BODY, NOW
    value = header(secret, NOW, BODY)
    if tamper == "body":
        body = BODY.replace(b"evt_1", b"evt_2")
    elif tamper == "secret":
        secret = new_secret()
    elif tamper == "stale":
        now = NOW + TOLERANCE + 1
    elif tamper == "future":
        now = NOW - TOLERANCE - 1
    elif tamper == "no_t":
        value = value.split(",", 1)[1]
    elif tamper == "no_v1":
        value = value.split(",", 1)[0]
    elif tamper == "garbage":
        value = "sha256=abc"
    elif tamper == "t_twice":
        value = f"t={NOW + 1},{value}"
    elif tamper == "t_superscript":  # isdigit() but not int()-able
        value = value.replace(f"t={NOW}", "t=²")
    elif tamper == "v1_not_ascii":  # compare_digest raises TypeError on such a str
        value = value.replace("v1=", "v1=é")
    with pytest.raises(BadSignature):
        verify(secret, value, body, now=now)


def test_secrets_are_new_each_time() -> None:
    assert len({new_secret() for _ in range(100)}) == 100


def test_the_readmes_verification_accepts_a_delivery_and_refuses_a_changed_one() -> None:
    """The few lines the README gives integrators, run as they are written."""
    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Outbound webhooks (integrations)", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    scope: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), scope)  # our own README's example, run as written
    secret, now = new_secret(), int(time.time())
    value = header(secret, now, BODY)
    assert scope["verify"](secret, value, BODY)
    assert not scope["verify"](secret, value, BODY + b" ")
    assert not scope["verify"](new_secret(), value, BODY)
    assert not scope["verify"](secret, header(secret, now - TOLERANCE - 60, BODY), BODY)
    for hostile in ("t=²,v1=00", f"t={now},v1=é", "t=¹²³,v1=é"):  # total: False, never an exception
        assert not scope["verify"](secret, hostile, BODY)
