"""Waiting on a page's script state from the test's side.

``Page.wait_for_function`` evaluates its predicate once through the DevTools
protocol, but when it must poll it compiles the predicate with the page's own
``eval``, which the console's Content-Security-Policy (no 'unsafe-eval')
refuses. So a wait that is true at once passes, and the same wait on a busy
machine, where it has to poll, fails. ``until_true`` polls ``page.evaluate``
(the protocol, outside the page's CSP) with the suite's hang ceiling instead."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Page

from tests.conftest import eventually


async def until_true(page: Page, expression: str, arg: Any = None) -> None:
    """Wait until ``expression`` (an expression, or a function of ``arg``) is truthy in ``page``."""

    async def probe() -> bool | None:
        return True if await page.evaluate(expression, arg) else None

    await eventually(probe, expression)
