"""The rules of a customer write by keys (a CRM's write, an import's row), in
plain Python: which customer the keys name, which keys are set aside, and
what the write does to the profile. The SQLite transaction
(router/identity/sqlite_upsert.py) reads the rows these ask for and writes
what they decide. Tested without a database
(tests/router/identity/test_rules_upsert.py).

A write by key lands on the one customer the keys name, or on nobody: a
phone/email held by several customers (a family's phone, an office line)
names nobody. A CRM's write is refused then; an import's row is applied
without that key, and the key is noted as shared, so that no later write by
it lands on either of them."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from router.identity.errors import KeyShared
from router.identity.types import CustomerUpsert, KeyRef
from router.store.errors import ConflictError

# the kinds of key several people share (a family's phone); an external id is one customer's by definition
PERSON_KEYS = ("phone", "email")

Aside = list[tuple[KeyRef, str]]


def may_be_shared(key: KeyRef) -> bool:
    """A key whose holders are counted before a write by it."""
    return key.kind in PERSON_KEYS


def sort_keys(upsert: CustomerUpsert, holders: Mapping[KeyRef, Sequence[str]]) -> tuple[list[KeyRef], Aside]:
    """The keys that may name the customer, and those set aside with the
    reason: a key held by several customers (``holders``, of the keys that
    :func:`may_be_shared`) refuses the write (``KeyShared``) or is set aside."""
    usable: list[KeyRef] = []
    aside: Aside = []
    for key in upsert.keys:
        held = tuple(holders.get(key, ()))
        if len(held) > 1:
            if upsert.shared_keys == "refuse":
                raise KeyShared(key, held)
            aside.append((key, f"held by {len(held)} customers ({', '.join(held)})"))
        else:
            usable.append(key)
    return usable, aside


def keys_customer(owners: Mapping[KeyRef, Collection[str]]) -> str | None:
    """The one customer the usable keys' ``owners`` name, None for nobody;
    ``ConflictError`` when they name several."""
    found = set().union(*owners.values())
    if len(found) > 1:
        held = "; ".join(f"{k.kind} {k.value}: {', '.join(sorted(ids))}" for k, ids in owners.items() if ids)
        raise ConflictError(f"these keys belong to different customers ({held}); merge them first or use the id")
    return next(iter(found), None)


def external_clash(upsert: CustomerUpsert, usable: Sequence[KeyRef], owners: Mapping[KeyRef, Collection[str]],
                   customer_id: str, theirs: str | None) -> tuple[str | None, list[KeyRef], Aside]:
    """``(customer, usable keys, keys set aside)`` once the external id is
    checked: a customer has one id in the CRM, so when the row's external id
    differs from the one ``customer_id`` has (``theirs``), the row's
    phone/email is another customer's (a family's phone) or two records of
    the CRM collide: the keys naming them refuse the write
    (``ConflictError``) or are set aside, and the row is for nobody yet."""
    given = next((k.value for k in usable if k.kind == "external"), None)
    naming = [k for k in usable if customer_id in owners[k]]
    if given is None or theirs == given:
        return customer_id, list(usable), []
    if theirs is None:
        # a customer a channel made (no external id) holds it: theirs, unless the caller knows the
        # key is several customers' (the file gives a family's phone to the son and the father)
        if not naming or any(k not in upsert.shared for k in naming):
            return customer_id, list(usable), []
        why = {k: f"{upsert.shared[k]}, and customer {customer_id} (no external id) holds it: the row is "
                  f"not theirs" for k in naming}
    else:
        reason = f"customer {customer_id} has external id {theirs!r} already, not {given!r}"
        why = {k: f"{reason}: the {k.kind} is theirs" for k in naming}
    kept, aside = list(usable), []
    for key in naming:
        if upsert.shared_keys == "refuse":
            raise ConflictError(why[key])
        aside.append((key, why[key]))
        kept.remove(key)
    return None, kept, aside


def check_named(usable: Sequence[KeyRef], aside: Aside) -> None:
    """``ConflictError`` when no key of the row is left to name a customer."""
    if not usable:
        raise ConflictError("no key of the row names one customer: "
                            + "; ".join(f"{k.kind} {k.value}: {why}" for k, why in aside))


# where attribute_meta notes that the business named the customer (no attribute's name starts with "@")
NAME_META = "@display_name"


def written_profile(name: str | None, attributes: Mapping[str, Any], meta: Mapping[str, Any],
                    upsert: CustomerUpsert, now: str) -> tuple[str | None, dict[str, Any], dict[str, Any]]:
    """``(display name, attributes, attribute meta)`` after the write: each
    attribute given is set (noting when and by which source, for a merge's
    conflicts) or, given as None, removed; the name is replaced when given."""
    attrs, notes = dict(attributes), dict(meta)
    if upsert.display_name is not None:  # the business's name: a channel's profile name no longer replaces it
        notes[NAME_META] = {"at": now, "source": upsert.source}
    for key, value in upsert.attributes:
        if value is None:
            attrs.pop(key, None)
            notes.pop(key, None)
        else:
            attrs[key] = value
            notes[key] = {"at": now, "source": upsert.source}
    return (upsert.display_name if upsert.display_name is not None else name), attrs, notes
