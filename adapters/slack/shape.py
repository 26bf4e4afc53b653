"""Is a request to /slack/events shaped as Slack sends it? Checked before bolt parses it.

A signed body can still be malformed (a bug upstream, a replayed test, a leaked secret): `actions: null`,
a list where an object belongs, `event: null`, JSON nested thousands deep or cut short, a `user` that is an
object where an id belongs. Bolt and our listeners would raise on those (HTTP 500, a traceback, or a vote
stored for member ""); `malformed` names what is wrong so the endpoint answers 400 instead.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

_MOST_DEPTH = 32  # Slack's payloads nest a dozen levels at most


def malformed(body: bytes, content_type: str) -> str | None:
    """Why `body` is not a Slack request this app can read; None when it is (or is a form without JSON)."""
    if not body:
        return None
    if "json" in content_type:
        return _event_callback(_json(body))
    if "x-www-form-urlencoded" in content_type:
        try:
            fields = parse_qs(body.decode("utf-8"), strict_parsing=False)
        except UnicodeDecodeError:
            return "the form is not UTF-8"
        if "payload" not in fields:
            return None  # a slash command: flat text fields
        return _interaction(_json(fields["payload"][0].encode()))
    return None


class _Bad(str):
    """A reason, told apart from a parsed value."""


def _json(raw: bytes) -> Any:
    if _depth(raw) > _MOST_DEPTH:
        return _Bad("the JSON is nested too deeply")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        return _Bad("the body is not whole JSON")


def _depth(raw: bytes) -> int:
    # An upper bound (brackets inside strings count too): cheap, and json.loads never recurses past it.
    depth = most = 0
    for byte in raw:
        if byte in b"[{":
            depth += 1
            most = max(most, depth)
        elif byte in b"]}":
            depth -= 1
    return most


def _event_callback(payload: Any) -> str | None:
    if isinstance(payload, _Bad):
        return str(payload)
    if not isinstance(payload, dict):
        return "the body is not a JSON object"
    if payload.get("type") != "event_callback":
        return None  # url_verification and the like: bolt handles them
    event = payload.get("event")
    if not isinstance(event, dict):
        return "event_callback without an event object"
    for key in ("user", "channel", "text", "ts", "thread_ts", "type", "subtype", "bot_id"):
        if key in event and event[key] is not None and not isinstance(event[key], str):
            return f"the event's {key} is not text"
    item = event.get("item")
    if item is not None and not isinstance(item, dict):
        return "the event's item is not an object"
    return None


def _interaction(payload: Any) -> str | None:
    if isinstance(payload, _Bad):
        return str(payload)
    if not isinstance(payload, dict):
        return "the payload is not a JSON object"
    for key in ("user", "channel", "team", "container", "message"):
        if key in payload and payload[key] is not None and not isinstance(payload[key], dict):
            return f"the payload's {key} is not an object"
    if payload.get("type") == "block_actions":
        actions = payload.get("actions")
        if not isinstance(actions, list) or not actions or not all(isinstance(a, dict) for a in actions):
            return "block_actions without a list of actions"
        user = payload.get("user")
        if not isinstance(user, dict) or not isinstance(user.get("id"), str) or not user["id"]:
            return "a button press without a member id"
    return None
