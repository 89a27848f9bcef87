"""The CLI's counts agree with their nouns: "1 rule", "0 rules", "21 rules" (English's rule: one is 1 only)."""

from __future__ import annotations

import pytest

from router.plurals import counted


@pytest.mark.parametrize(("count", "said"), [
    (0, "0 rules"), (1, "1 rule"), (2, "2 rules"), (5, "5 rules"), (11, "11 rules"), (21, "21 rules"),
    (101, "101 rules"), (111, "111 rules"),
])
def test_a_count_agrees_with_its_noun(count: int, said: str) -> None:
    assert counted(count, "rule", "rules") == said
