"""A call that must finish, made in a child process.

A regular expression that backtracks without end holds its interpreter's lock
for as long as it runs, so neither a thread nor a timer of the test's own
process can give up on it: only another process can be killed. The code
before a fix then fails its test instead of hanging the suite. The ceiling is
for liveness, not a timing: a correct call takes milliseconds."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any

import pytest

CEILING = 120  # seconds


def finishes(function: Callable[..., Any], *args: Any) -> Any:
    """``function(*args)``'s result; the test fails if it has not returned
    after ``CEILING`` seconds. ``function`` must be importable by name (a
    module's top-level function) and its arguments and result picklable."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        pending = pool.apply_async(function, args)
        try:
            return pending.get(CEILING)
        except multiprocessing.TimeoutError:
            pytest.fail(f"{function.__qualname__} had not returned after {CEILING} s")
