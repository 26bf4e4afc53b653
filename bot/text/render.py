"""Platform-neutral text: progress lines, the layer view, failures, a readable config.

The text is the Markdown subset Slack mrkdwn and Discord share (`code`, ```fences```, > quotes, emoji);
the one difference that matters, bold, comes from a `Style` each adapter passes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from bot.surface import AgentProgress, Progress
from bot.text.chunking import close_open_fence, split_text
from moa.config.schema import MoaConfig
from moa.durations import agent_time, measured, rounded
from moa.errors import MoaError, ModelUnavailable
from moa.events import LEFT_OUT, BudgetWaiting
from moa.judge.agreement import measure
from moa.pace.pacer import Pacer
from moa.plan.demand import answer_demand, budget_pace
from moa.run.early_exit import skipped_note
from storage.models import ProposerRecord, RunRecord


@dataclass(frozen=True)
class Style:
    """How one platform marks text up."""

    bold_mark: str

    def bold(self, text: str) -> str:
        return f"{self.bold_mark}{text}{self.bold_mark}" if text else text

    @staticmethod
    def code(text: str) -> str:
        return f"`{text}`"


DISCORD = Style("**")
SLACK = Style("*")
PLAIN = Style("")  # the terminal and logs


def style_for(platform: str) -> Style:
    """The style of a platform named as in ChannelKey.platform ("slack", "discord"); plain otherwise."""
    return {"slack": SLACK, "discord": DISCORD}.get(platform, PLAIN)


QUESTION_PREVIEW = 300  # the layer view's header quotes at most this much of the question

_ICONS = {"waiting": "▫️", "running": "🔄", "done": "✅", "failed": "❌"}


def plural(count: int, word: str) -> str:
    """'1 agent', '3 agents'."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def tokens(prompt: int | None, completion: int | None, estimated: bool = False) -> str:
    """'1,204 → 356 tokens' (in → out), '≈1,204 → ≈356 tokens' when counted from the text (the server
    reported none), or '' when there is no count at all."""
    if prompt is None and completion is None:
        return ""
    mark = "≈" if estimated else ""
    return f"{mark}{prompt or 0:,} → {mark}{completion or 0:,} tokens"


def _agent_progress_line(agent: AgentProgress) -> str:
    line = f"{_ICONS[agent.state]} {agent.name} ({agent.model})"
    if agent.state == "failed":
        return f"{line} — {agent.error or 'failed'}"
    if agent.state == "done" and agent.latency_s is not None:
        return f"{line} {agent_time(agent.latency_s, agent.queued_s)}"
    return line


def waiting_line(layer: int, total_layers: int, left: int, agents: int) -> str:
    """The terminal's one-line status while a layer runs: "Layer 1/3: waiting for 2 of 3 agents…"."""
    return f"Layer {layer}/{total_layers}: waiting for {left} of {plural(agents, 'agent')}…"


def writing_line(model: str | None) -> str:
    """The terminal's one-line status while the aggregator writes."""
    return f"{model or 'The aggregator'} is writing the answer…"


def budget_wait_line(note: BudgetWaiting) -> str:
    """'⏳ waiting for Groq's token budget for gpt-oss-20b — about 40 s'."""
    provider = "Groq" if note.provider in ("groq", "") else note.provider
    what = "token" if note.resource == "tokens" else "request"
    model = note.model.rsplit("/", 1)[-1]
    return f"⏳ waiting for {provider}'s {what} budget for {model} — about {rounded(note.wait_s)}"


def _listed(names: tuple[str, ...], most: int = 3) -> str:
    """"a.txt, b.pdf and this thread"; beyond `most`, "a.txt, b.pdf, c.txt and 2 more"."""
    if len(names) > most:
        return ", ".join(names[:most]) + f" and {len(names) - most} more"
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def render_progress(progress: Progress, style: Style = PLAIN) -> str:
    """The status message while an answer is being made: queue place, layer, each agent's state, and
    any wait for a model's rate limit."""
    waits = [budget_wait_line(n) for n in progress.budget_waits]
    if progress.reading:
        return f"📎 Reading {_listed(progress.reading)}…"
    if progress.queued_ahead is not None:
        ahead = progress.queued_ahead
        return "⏳ Queued — you're next" if ahead <= 0 else f"⏳ Queued — {ahead} ahead of you"
    if progress.aggregating:
        line = f"✍️ Writing the final answer with {progress.aggregator_model or 'the aggregator'}…"
        failed = [a for a in progress.agents if a.state == "failed"]
        if failed:  # say so now rather than let the answer look like it used every agent
            names = ", ".join(f"{a.name} ({a.error or 'failed'})" for a in failed)
            line += f"\n⚠️ {len(failed)} of {len(progress.agents)} agents failed in the last layer: {names}"
        return "\n".join([line, *waits])
    layer = style.bold(f"Layer {progress.layer}/{progress.total_layers}")
    header = f"⏳ {layer} · {plural(len(progress.agents), 'agent')}"
    return "\n".join([header, *waits, *(_agent_progress_line(a) for a in progress.agents)])


def _layers_of(run: RunRecord) -> int | None:
    """The run's layer count, from the config it ran with."""
    try:
        return int(json.loads(run.config_json)["cycles"])
    except (ValueError, TypeError, KeyError):
        return None


def _proposer_block(rec: ProposerRecord, style: Style) -> str:
    facts = [style.code(rec.model), agent_time(rec.latency_s, rec.queued_s)]
    usage = tokens(rec.prompt_tokens, rec.completion_tokens, rec.usage_estimated)
    if usage:
        facts.append(usage)
    if rec.cut:
        facts.append("✂️ cut at its max_tokens")
    header = f"{style.bold(rec.agent)} · " + " · ".join(facts)
    if rec.error is not None and rec.error.startswith(LEFT_OUT):  # a straggler, not a failure
        return f"{header}\n⏭️ {rec.error}"
    if rec.error is not None:
        return f"{header}\n❌ failed: {rec.error}"
    # An answer cut off inside a code block (max_tokens) would turn everything after it into code.
    body = close_open_fence(rec.text.strip()) or "_(empty answer)_"
    return f"{header}\n{body}"


def _final_line(run: RunRecord, aggregator: str, style: Style) -> str:
    model = style.code(aggregator) if aggregator else "the aggregator"
    if run.status == "running":
        return f"🔄 Still running: {model} has not finished the final answer yet."
    if run.status == "interrupted":
        # Stopped by the person (Ctrl-C in the console) or by a restart: the record cannot tell which.
        return f"⚠️ Stopped before {model} wrote the final answer (interrupted, or the bot restarted)."
    if run.status == "failed":
        return f"❌ No final answer: {run.error or 'the run failed'}"
    facts = [f"✍️ Final answer by {model}"]
    if run.total_s is not None:
        facts.append(f"{measured(run.total_s)} total")
    usage = tokens(run.prompt_tokens, run.completion_tokens, run.usage_estimated)
    if usage:
        facts.append(f"{usage} in all")
    if run.cost_usd is not None:
        facts.append(f"${run.cost_usd:.4f}")
    return " · ".join(facts)


def _skipped_line(run: RunRecord, layers: dict[int, list[ProposerRecord]], total: int) -> str | None:
    """"⏭️ layers 2–3 skipped: 3 of 3 agents agreed" for a finished run that stopped early (its config
    had early_exit on and it ran fewer layers), measured again from the stored answers."""
    last = max(layers, default=0)
    if run.status != "done" or not last or last >= total:
        return None
    try:
        early_exit = json.loads(run.config_json).get("early_exit") is True
    except (ValueError, AttributeError):
        return None
    if not early_exit:
        return None
    agreement = measure([r.text if r.error is None else None for r in layers[last]])
    return f"⏭️ {skipped_note(last, total, agreement)}" if agreement is not None else None


def render_layers(run: RunRecord, style: Style = PLAIN) -> str:
    """Every intermediate answer of a run, layer by layer, then the aggregator's line. Never shortened
    except the quoted question in the header (its full text is the user's own message)."""
    aggregator, stored_layers = run.aggregator, _layers_of(run)
    layers = run.layers()
    total = stored_layers or max(layers, default=0)
    question = " ".join(run.question.split())
    if len(question) > QUESTION_PREVIEW:
        question = question[: QUESTION_PREVIEW - 1].rstrip() + "…"
    blocks = [f"🔍 {style.bold('Intermediate answers')} · run {run.id}" + (f"\n> {question}" if question else "")]
    if not layers:
        blocks.append("No agent had answered yet.")
    for number in sorted(layers):
        records = layers[number]
        failed = sum(1 for r in records if r.error is not None)
        header = f"{style.bold(f'Layer {number} of {total}')} · {plural(len(records), 'agent')}"
        if failed:
            header += f" · {failed} failed"
        blocks.append(header)
        blocks.extend(_proposer_block(r, style) for r in records)
    if (skipped := _skipped_line(run, layers, total)) is not None:
        blocks.append(skipped)
    blocks.append(_final_line(run, aggregator, style))
    return "\n\n".join(blocks)


def render_layers_pages(run: RunRecord, limit: int, style: Style = PLAIN) -> list[str]:
    """The layer view as messages of at most `limit` characters each, in order."""
    return split_text(render_layers(run, style), limit)


def render_failure(error: BaseException) -> str:
    """One sentence for a failed answer. Only our own errors are shown; anything else may carry
    internals (URLs, keys), so it becomes a generic sentence and the details stay in the log."""
    if isinstance(error, ModelUnavailable):
        text = f"❌ {error}"
        if error.alternatives and not all(alt in text for alt in error.alternatives):
            text += " Live models: " + ", ".join(error.alternatives) + "."
        return text
    if isinstance(error, MoaError):
        return f"❌ {error}"
    return "❌ Something went wrong on my side while answering; the details are in the bot's log. Try again."


def render_config(config: MoaConfig, source: str, style: Style = PLAIN) -> str:
    """A config as people read it: layers, aggregator, agents, call count, where it comes from."""
    agents = len(config.layer_agent_config)
    lines = [
        f"{style.bold('MoA setup')} — {source}",
        f"• Layers: {config.layers}",
        f"• Aggregator: {style.code(config.main_model)} (temperature {config.temperature:g}, "
        f"max {config.max_tokens:,} tokens)",
        f"• Agents ({agents}):",
    ]
    for name, agent in config.agents:
        lines.append(f"    – {style.bold(name)}: {style.code(agent.model_name)}, temperature "
                     f"{agent.temperature:g}, max {agent.max_tokens:,} tokens")
    lines.append(f"• {describe_calls(config)}")
    fallback = config.fallback()
    if fallback:
        lines.append(f"• If the aggregator fails, {style.code(fallback)} writes the answer")
    if config.early_exit or config.early_answer:  # default off: said only when a channel turned one on
        lines.append(f"• Early exit: {'on' if config.early_exit else 'off'} · early answer: "
                     f"{'on' if config.early_answer else 'off'}")
    return "\n".join(lines)


def describe_budget(config: MoaConfig, pacer: Pacer | None) -> list[str]:
    """What one answer counts against rate limits and, once limits are known, how fast they let it go."""
    demand = answer_demand(config)
    total = sum(d.tokens for d in demand.values())
    per_model = ", ".join(f"{model} {d.tokens:,}" for model, d in demand.items())
    cached = sum(d.cached for d in demand.values())
    counted = "prompt − cached + max_tokens" if cached else "prompt + max_tokens"
    lines = [f"About {total:,} tokens per answer count against rate limits ({counted}): {per_model}"]
    if cached:
        share = cached / (total + cached)
        lines.append(f"About {cached:,} more prompt tokens ({share:.0%} of what is sent) are expected from the "
                     f"providers' prefix cache (prompt_layout {config.prompt_layout}), which Groq does not count")
    pace = budget_pace(demand, pacer) if pacer is not None else None
    if pace is not None:
        window = "minute" if pace.window_s >= 59 else f"{pace.window_s:g} s"
        rate = pace.answers_per_window
        why = f"({pace.model}: {pace.limit} a {window})"
        if rate >= 1:
            lines.append(f"Known limits allow about {rate:.1f} answers a {window} {why}")
        else:
            wait = rounded(pace.window_s / rate - pace.window_s)
            lines.append(f"Known limits make one answer take at least about {wait} {why}")
    return lines


def describe_calls(config: MoaConfig) -> str:
    """'10 model calls per answer (3 layers × 3 agents + the aggregator)'."""
    agents = plural(len(config.layer_agent_config), "agent")
    return f"{config.call_count} model calls per answer ({plural(config.layers, 'layer')} × {agents} + the aggregator)"
