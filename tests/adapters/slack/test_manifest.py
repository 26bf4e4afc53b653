"""The committed Slack app manifest asks for exactly what the adapter uses."""

from __future__ import annotations

import re
from pathlib import Path

MANIFEST = Path(__file__).resolve().parents[3] / "adapters" / "slack" / "manifest.yaml"


def _list_under(text: str, key: str) -> list[str]:
    """Items of a YAML block list `key:` (the manifest's simple shape; PyYAML is not a dependency)."""
    match = re.search(rf"^(\s*){key}:\s*\n((?:\1\s+- .*\n)+)", text, re.MULTILINE)
    assert match, f"{key} not found"
    return [line.split("- ", 1)[1].split("#")[0].strip() for line in match.group(2).splitlines()]


def test_manifest_requests_the_scopes_and_events_the_bot_needs() -> None:
    text = MANIFEST.read_text()
    assert set(_list_under(text, "bot")) == {
        "app_mentions:read", "chat:write", "commands", "reactions:read", "channels:history",
        "groups:history", "im:history", "users:read", "files:read", "assistant:write"}
    assert set(_list_under(text, "bot_events")) == {
        "app_mention", "assistant_thread_started", "assistant_thread_context_changed", "message.channels",
        "message.groups", "message.im", "reaction_added"}
    assert "assistant_view:" in text
    assert "- command: /moa" in text
    assert re.search(r"interactivity:\s*\n\s+is_enabled: true", text)
    assert "socket_mode_enabled: true" in text
