"""A file the service refuses for now goes again by itself, as a typed message
does: the widget still has it, so the customer is told when and is not left a
failed file to choose again. Here the refusal is the visitor's own rate limit
(one message in 20 s, set low for the test): the site chat answers the upload
429 ``rate_limited`` with Retry-After, as it answers 503 ``busy`` when the
pipeline is over its lag bound; the widget treats both alike.

Before, both said "send the file again in N s" and the file was dropped."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from tests.e2e.test_conversation import customer_says
from tests.e2e.test_files import decoded, png
from tests.e2e.test_widget_outage import shop_page

WINDOW = 20  # seconds: far more than a busy machine takes between the typed message and the file
LATER = {"ru": "Слишком много сообщений сразу: файл уйдёт снова через",
         "en": "Too many messages at once: the file will go again in"}


@pytest.fixture
def service_config(tmp_path: Path) -> str:
    return (f"files:\n  folder: {tmp_path / 'files'}\n"
            f"connectors:\n  webchat:\n    type: webchat\n    rate_limit: 1 per {WINDOW} seconds\n")


@pytest.mark.parametrize("lang", ["ru", "en"])
async def test_a_file_refused_as_too_many_at_once_goes_by_itself_when_the_limit_allows(
    service: str, browser: Browser, lang: str,
) -> None:
    page, _ = await shop_page(browser, service, lang)
    await customer_says(page, "hello")  # the one message the window allows
    await expect(page.locator('[data-omr="message"][data-pending="true"]')).to_have_count(0)
    await page.locator('[data-omr="attach-input"]').set_input_files(
        {"name": "photo.png", "mimeType": "image/png", "buffer": png()})
    upload = page.locator('[data-omr="upload"]')
    await expect(upload.locator('[data-omr="upload-state"]')).to_contain_text(LATER[lang])
    await decoded(page, '[data-omr="message"][data-author="customer"] img')  # sent once the window allows
    await expect(upload).to_have_count(0)
    await page.reload()
    await page.locator('[data-omr="launcher"]').click()
    await expect(page.locator('[data-omr="message"][data-author="customer"] img')).to_have_count(1)
