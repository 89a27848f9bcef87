"""The identity slice's rules, in plain Python: each backend's transaction
calls them, so a second backend implements storage only. Tested without a
database (tests/router/identity/test_rules.py)."""

from __future__ import annotations

from typing import Any

from router.identity.types import AttributeMergePolicy


def _attribute_rank(meta: dict[str, Any], policy: AttributeMergePolicy, rule: str) -> tuple[Any, ...]:
    at = str(meta.get("at", ""))
    if rule == "source_priority":
        order = policy.source_priority
        source = meta.get("source")
        rank = order.index(source) if source in order else len(order)
        return (-rank, at)
    return (at,)


def merge_attributes(
    survivor: tuple[dict[str, Any], dict[str, Any]], merged: tuple[dict[str, Any], dict[str, Any]],
    policy: AttributeMergePolicy,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(attributes, meta)`` after a merge, each attribute settled on its own:
    the most recently set wins, or the better source (ties: the more recent);
    on a full tie the survivor's value stays."""
    (s_attrs, s_meta), (m_attrs, m_meta) = survivor, merged
    attrs, meta = dict(s_attrs), dict(s_meta)
    rules = dict(policy.per_attribute)
    for name, value in m_attrs.items():
        theirs = m_meta.get(name, {})
        if name in attrs:
            rule = rules.get(name, policy.default)
            if _attribute_rank(theirs, policy, rule) <= _attribute_rank(meta.get(name, {}), policy, rule):
                continue
        attrs[name] = value
        if theirs:
            meta[name] = theirs
    return attrs, meta
