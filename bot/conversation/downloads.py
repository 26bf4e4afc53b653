"""Downloading a person's file over HTTP: bounded, no redirects followed, a login page not taken for it."""

from __future__ import annotations

from collections.abc import Mapping

import aiohttp

from bot.conversation.attachments import FetchRefused

CHUNK = 64 * 1024


async def download(url: str, headers: Mapping[str, str], max_bytes: int, *, expect: str,
                   login_page: str) -> bytes:
    """At most `max_bytes` + 1 bytes of `url` (the caller sees it is over); FetchRefused on a refusal."""
    async with aiohttp.ClientSession() as session, \
            session.get(url, headers=dict(headers), allow_redirects=False) as response:
        if 300 <= response.status < 400:
            raise FetchRefused(login_page)
        if response.status != 200:
            raise FetchRefused(f"the download was refused (HTTP {response.status})")
        if response.content_type == "text/html" and not expect.startswith("text/html"):
            raise FetchRefused(login_page)
        if response.content_length is not None and response.content_length > max_bytes:
            raise FetchRefused(f"it is over the {max_bytes / 1_000_000:.1f} MB limit (MOA_FILE_MAX_BYTES)")
        data = bytearray()
        async for chunk in response.content.iter_chunked(CHUNK):
            data += chunk
            if len(data) > max_bytes:
                break
        return bytes(data)
