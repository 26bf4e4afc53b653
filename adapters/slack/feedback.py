"""👍/👎 presses on Slack answers: the `feedback_buttons` element or its plain-button fallback.

Both carry `up:<run id>` or `down:<run id>` as their value; the vote is stored for the presser and
acknowledged to them alone (an ephemeral reply through the interaction's response URL).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncBoltContext, AsyncRespond

from adapters.slack.blocks import FEEDBACK_ACTION
from bot.conversation.service import ConversationService
from storage.models import ChannelKey

log = logging.getLogger(__name__)

_VALUE = re.compile(r"(up|down):([0-9]{1,18})")
FAILED = "Sorry — I couldn't record that vote; please try again."


def parse_vote(value: str) -> tuple[bool, int] | None:
    """`up:12` → (True, 12); None for anything else."""
    match = _VALUE.fullmatch(value)
    return (match[1] == "up", int(match[2])) if match else None


def register_feedback(app: AsyncApp, service: ConversationService) -> None:
    """Listen for 👍/👎 on answers (native feedback buttons and plain ones alike)."""

    async def on_feedback(ack: AsyncAck, body: dict[str, Any], context: AsyncBoltContext,
                          respond: AsyncRespond) -> None:
        await ack()
        actions = body.get("actions")
        action = actions[0] if isinstance(actions, list) and actions and isinstance(actions[0], dict) else {}
        vote = parse_vote(str(action.get("value", "")))
        if vote is None:
            return
        team = str(body.get("team_id") or _id(body.get("team")) or context.team_id or "")
        channel, user = _id(body.get("channel")), _id(body.get("user"))
        if not user:  # a vote belongs to a member; Socket Mode bodies skip the HTTP shape check
            log.info("a 👍/👎 press without a member id was refused")
            return
        try:
            text = await service.vote(ChannelKey("slack", team, channel), vote[1], user, vote[0])
        except Exception:  # the presser must hear something
            log.exception("storing a vote failed")
            text = FAILED
        await respond(text=text, response_type="ephemeral", replace_original=False)

    app.action(re.compile(rf"^{FEEDBACK_ACTION}(_up|_down)?$"))(on_feedback)


def _id(obj: Any) -> str:
    """`obj["id"]` when `obj` is an object with a text id, else ""."""
    value = obj.get("id") if isinstance(obj, dict) else None
    return value if isinstance(value, str) else ""
