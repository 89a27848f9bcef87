"""A file the service refuses for now goes again by itself, as a typed message
does: the widget still has it, so the customer is told when and is not left a
failed file to choose again. Here the refusal is the visitor's own rate limit
(one message in 20 s, set low for the test): the site chat answers the upload
429 ``rate_limited`` with Retry-After, as it answers 503 ``busy`` when the
pipeline is over its lag bound; the widget treats both alike.

Before, both said "send the file again in N s" and the file was dropped; so
was a file whose upload the network broke ("The file was not sent")."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, Route, expect

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


async def test_a_file_whose_upload_the_network_broke_goes_again_by_itself(service: str, browser: Browser) -> None:
    """The connection breaks mid-upload (the request is reset, as in a train's tunnel): the file is
    sent again, once stored, rather than said to have failed at the first break."""
    page, _ = await shop_page(browser, service, "en")
    broken: list[str] = []

    async def reset_once(route: Route) -> None:
        if route.request.method == "POST" and not broken:
            broken.append(route.request.url)
            await route.abort("connectionreset")
        else:
            await route.continue_()

    await page.route(f"{service}/chat/files", reset_once)
    await customer_says(page, "hello")
    await expect(page.locator('[data-omr="message"][data-pending="true"]')).to_have_count(0)
    await page.locator('[data-omr="attach-input"]').set_input_files(
        {"name": "photo.png", "mimeType": "image/png", "buffer": png()})
    await decoded(page, '[data-omr="message"][data-author="customer"] img')
    assert len(broken) == 1
    await page.reload()
    await page.locator('[data-omr="launcher"]').click()
    await expect(page.locator('[data-omr="message"][data-author="customer"] img')).to_have_count(1)
