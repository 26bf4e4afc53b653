"""Slack's files as `Attachment`s: `url_private` downloaded with the bot token — only from Slack's own host.

An event names each file's URL; the bot token goes with the download only when that URL is on
files.slack.com or on the host of SLACK_API_URL (a self-hosted gateway, or the tests' fake). Any other
URL is not fetched at all. Without a valid token Slack answers 200 with an HTML login page (or a
redirect), so a download that comes back as HTML for a file that is not HTML is refused, and redirects
are not followed (they could carry the token elsewhere).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlsplit

from bot.conversation.attachments import Attachment, Fetch, FetchRefused
from bot.conversation.downloads import download

log = logging.getLogger(__name__)

SLACK_FILE_HOST = "files.slack.com"


def file_hosts(api_url: str) -> frozenset[str]:
    """The hosts the bot token may be sent to for a download."""
    host = urlsplit(api_url).hostname
    return frozenset({SLACK_FILE_HOST, *([host] if host else [])})


def slack_attachments(files: Any, token: str, api_url: str) -> tuple[Attachment, ...]:
    """The files of one message event. An odd shape (`files` a string, `[null]`, a file without
    `url_private`) is left out with a log line: the question is still answered."""
    if files is None:
        return ()
    if not isinstance(files, list):
        log.warning("ignoring a Slack event's files: a %s, not a list", type(files).__name__)
        return ()
    hosts = file_hosts(api_url)
    out = []
    for file in files:
        if not isinstance(file, dict):
            log.warning("ignoring a Slack file that is a %s, not an object", type(file).__name__)
            continue
        url = file.get("url_private_download") or file.get("url_private")
        if not isinstance(url, str) or not url:
            log.warning("ignoring a Slack file without url_private (id %r)", file.get("id"))
            continue
        name = str(file.get("name") or file.get("title") or file.get("id") or "a file")
        size = file.get("size")
        mimetype = str(file.get("mimetype") or "")
        out.append(Attachment(name=name, mimetype=mimetype, size=size if isinstance(size, int) else None,
                              fetch=_fetcher(url, mimetype, token, hosts)))
    return tuple(out)


def _fetcher(url: str, mimetype: str, token: str, hosts: frozenset[str]) -> Fetch:
    async def fetch(max_bytes: int) -> bytes:
        if urlsplit(url).hostname not in hosts:
            raise FetchRefused("its address is not on Slack's file host, so it was not downloaded")
        return await download(url, {"Authorization": f"Bearer {token}"}, max_bytes, expect=mimetype,
                              login_page="Slack answered a sign-in page instead of the file (does the app "
                                         "have the files:read scope?)")
    return fetch
