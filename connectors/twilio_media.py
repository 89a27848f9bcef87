"""A customer's file on Twilio (a WhatsApp photo, an MMS picture), fetched
for the console with the account's credentials.

Twilio recommends "Enforce HTTP Auth on Media URLs": then a MediaUrl answers
only the account's SID and auth token, so an agent's browser cannot open it
and the console relays it (``GET /api/messages/{id}/attachments/{n}``).
Twilio answers with a redirect to its file store's signed link, which is
followed without the credentials: they are sent to Twilio's API host only,
never to a host a redirect or a form names."""

from __future__ import annotations

import base64
from urllib.parse import urljoin, urlsplit, urlunsplit

import aiohttp

from router.connector import MAX_MEDIA_BYTES, MediaFile, MediaUnavailable

API_HOST = "api.twilio.com"
REDIRECTS = 3
TIMEOUT = aiohttp.ClientTimeout(total=30)


def _api_url(url: str, api_base: str | None) -> str:
    """``url`` when it is Twilio's own media URL (on ``api_base`` where one is set)."""
    parts = urlsplit(url)
    if parts.scheme != "https" or parts.hostname != API_HOST or "/Media/" not in parts.path:
        raise MediaUnavailable("the attachment's address is not a Twilio media URL")
    if api_base is None:
        return url
    base = urlsplit(api_base)
    return urlunsplit((base.scheme, base.netloc, base.path.rstrip("/") + parts.path, parts.query, ""))


async def fetch_media(url: str, account_sid: str, auth_token: str, api_base: str | None) -> MediaFile:
    """The file at Twilio's ``url``; ``MediaUnavailable`` with the reason in our words."""
    target = _api_url(url, api_base)
    token = base64.b64encode(f"{account_sid}:{auth_token}".encode()).decode("ascii")
    headers = {"Authorization": f"Basic {token}"}
    try:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as http:
            for _ in range(REDIRECTS + 1):
                async with http.get(target, headers=headers, allow_redirects=False) as resp:
                    if resp.status in (301, 302, 303, 307, 308) and resp.headers.get("Location"):
                        target, headers = urljoin(target, resp.headers["Location"]), {}
                        continue
                    return await _body(resp)
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise MediaUnavailable(f"Twilio could not be reached for the file ({type(exc).__name__})") from None
    raise MediaUnavailable(f"Twilio redirected the file more than {REDIRECTS} times")


async def _body(resp: aiohttp.ClientResponse) -> MediaFile:
    if resp.status in (401, 403):
        raise MediaUnavailable(f"Twilio refused the file (HTTP {resp.status}): check the account SID and auth token")
    if resp.status == 404:
        raise MediaUnavailable("Twilio no longer has the file (deleted, or past its keeping time)")
    if resp.status >= 400:
        raise MediaUnavailable(f"Twilio's file server answered HTTP {resp.status}")
    if (resp.content_length or 0) > MAX_MEDIA_BYTES:
        raise MediaUnavailable(f"the file is larger than {MAX_MEDIA_BYTES // 2**20} MiB")
    body = await resp.content.read(MAX_MEDIA_BYTES + 1)
    if len(body) > MAX_MEDIA_BYTES:
        raise MediaUnavailable(f"the file is larger than {MAX_MEDIA_BYTES // 2**20} MiB")
    return MediaFile(body, resp.headers.get("Content-Type") or "application/octet-stream")
