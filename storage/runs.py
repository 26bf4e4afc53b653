"""MoA runs and every proposer output, so "show layers" works on any stored answer."""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from typing import Literal

from storage.backend import Connection, Row
from storage.models import ChannelKey, ProposerRecord, RunRecord, RunStatus, UnfinishedRun


class UnknownRun(LookupError):
    """finish() or set_answer_messages() named a run that is not stored (e.g. pruned or forgotten)."""


_RUN_COLUMNS = """
    r.id, r.platform, r.workspace, r.channel, r.thread, r.trigger_message_id, r.config_json,
    r.status, r.question, r.answer, r.error, r.started_at, r.finished_at, r.total_s,
    r.prompt_tokens, r.completion_tokens, r.cost_usd, r.cached_tokens, r.usage_estimated, r.answer_model
"""

_IN_CHANNEL = "r.platform = ? AND r.workspace = ? AND r.channel = ?"

_ANSWER_IDS_SQL = "SELECT message_id FROM answer_messages WHERE run_id = ? ORDER BY position"

_PROPOSERS_SQL = (
    "SELECT layer, agent, model, text, latency_s, prompt_tokens, completion_tokens, error, cached_tokens, cut,"
    " usage_estimated, queued_s FROM proposer_outputs WHERE run_id = ? ORDER BY layer, seq"
)


def _channel_params(channel: ChannelKey) -> tuple[str, str, str]:
    return (channel.platform, channel.workspace, channel.channel)


def _owned_by(owner: str | None) -> tuple[str, tuple[str, ...]]:
    """The WHERE clause (and its parameter) that keeps a write to runs still owned by `owner` (None: any)."""
    if owner is None:
        return "", ()
    return " AND owner = ?", (owner,)


def _proposer(p: Row) -> ProposerRecord:
    layer, agent, model, text, latency_s, prompt_tokens, completion_tokens, error, cached_tokens, cut, guessed, \
        queued_s = p
    return ProposerRecord(layer, agent, model, text, latency_s, prompt_tokens, completion_tokens, error,
                          cached_tokens=cached_tokens, cut=bool(cut), usage_estimated=bool(guessed),
                          queued_s=queued_s or 0.0)


def _record(row: Row, answer_ids: list[Row], proposers: list[Row]) -> RunRecord:
    return RunRecord(
        id=row[0],
        channel=ChannelKey(row[1], row[2], row[3]),
        thread=row[4],
        trigger_message_id=row[5],
        answer_message_ids=tuple(a[0] for a in answer_ids),
        config_json=row[6],
        status=row[7],
        question=row[8],
        answer=row[9],
        error=row[10],
        started_at=row[11],
        finished_at=row[12],
        total_s=row[13],
        prompt_tokens=row[14],
        completion_tokens=row[15],
        cost_usd=row[16],
        cached_tokens=row[17],
        usage_estimated=bool(row[18]),
        answer_model=row[19],
        proposers=tuple(_proposer(p) for p in proposers),
    )


class RunRepository:
    """One row per MoA answer plus its proposer outputs and the messages that carry it."""

    def __init__(self, shared: Connection) -> None:
        self._db = shared

    async def start(
        self,
        channel: ChannelKey,
        thread: str,
        trigger_message_id: str,
        question: str,
        config_json: str,
        started_at: float | None = None,
        *,
        status: Literal["queued", "running"] = "running",
        owner: str | None = None,
        author: str = "",
        author_name: str = "",
        config_label: str = "",
    ) -> int:
        """Record a run as 'running' (or 'queued', before it waits for a slot); returns its id. `author`
        (who asked) counts toward member budgets; `config_label` names the config in `/moa usage`."""
        return await self._db.insert(
            "INSERT INTO runs (platform, workspace, channel, thread, trigger_message_id, config_json,"
            " status, question, started_at, owner, author, author_name, config_label)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                *_channel_params(channel),
                thread,
                trigger_message_id,
                config_json,
                status,
                question,
                time.time() if started_at is None else started_at,
                owner,
                author,
                author_name,
                config_label,
            ),
        )

    async def set_running(self, run_id: int, config_json: str, *, owner: str | None = None) -> bool:
        """A queued run got its slot: it runs now, with the config it loaded. False (nothing changed) when
        `owner` is given and the run is no longer its own: another process took it over."""
        mine, params = _owned_by(owner)
        return bool(await self._db.execute("UPDATE runs SET status = 'running', config_json = ? WHERE id = ?" + mine,
                                           (config_json, run_id, *params)))

    async def discard(self, run_id: int) -> None:
        """Forget a question that was refused before it ran (e.g. over budget while it waited)."""
        await self._db.execute("DELETE FROM runs WHERE id = ? AND status = 'queued'", (run_id,))

    async def set_surface(self, run_id: int, surface: str) -> None:
        """Where the run's status message lives (the adapter's JSON handle), to replace it after a crash."""
        await self._db.execute("UPDATE runs SET surface = ? WHERE id = ?", (surface, run_id))

    async def finish(
        self,
        run_id: int,
        *,
        status: RunStatus,
        answer: str | None,
        error: str | None,
        proposers: Sequence[ProposerRecord],
        total_s: float | None,
        prompt_tokens: int | None,
        completion_tokens: int | None,
        cost_usd: float | None,
        owner: str | None = None,
        cached_tokens: int | None = None,
        usage_estimated: bool = False,
        answer_model: str | None = None,
    ) -> bool:
        """Store the outcome and all proposer outputs in one transaction (all or nothing).

        With `owner`, only while the run is still that owner's: False (nothing stored) when another process
        took it over — the same row condition the take-over claims by, so exactly one of them wins.
        """
        mine, params = _owned_by(owner)
        async with self._db.transaction() as tx:
            updated = await tx.execute(
                "UPDATE runs SET status = ?, answer = ?, error = ?, finished_at = ?, total_s = ?,"
                " prompt_tokens = ?, completion_tokens = ?, cost_usd = ?, cached_tokens = ?,"
                " usage_estimated = ?, answer_model = ? WHERE id = ?" + mine,
                (
                    status,
                    answer,
                    error,
                    time.time(),
                    total_s,
                    prompt_tokens,
                    completion_tokens,
                    cost_usd,
                    cached_tokens,
                    int(usage_estimated),
                    answer_model,
                    run_id,
                    *params,
                ),
            )
            if not updated:
                if owner is not None and await tx.fetchall("SELECT 1 FROM runs WHERE id = ?", (run_id,)):
                    return False  # taken over by another process
                raise UnknownRun(run_id)
            # Replace, so that finishing twice never duplicates layers.
            await tx.execute("DELETE FROM proposer_outputs WHERE run_id = ?", (run_id,))
            await tx.executemany(
                "INSERT INTO proposer_outputs (run_id, seq, layer, agent, model, text, latency_s,"
                " prompt_tokens, completion_tokens, error, cached_tokens, cut,"
                " usage_estimated, queued_s) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        run_id,
                        seq,
                        p.layer,
                        p.agent,
                        p.model,
                        p.text,
                        p.latency_s,
                        p.prompt_tokens,
                        p.completion_tokens,
                        p.error,
                        p.cached_tokens,
                        int(p.cut),
                        int(p.usage_estimated),
                        p.queued_s,
                    )
                    for seq, p in enumerate(proposers)
                ],
            )
        return True

    async def set_status(self, run_id: int, status: RunStatus, error: str | None, *,
                         owner: str | None = None) -> bool:
        """Just the outcome, without layers: what is kept when a full finish() could not be. With `owner`,
        only while the run is still its own (False: taken over, nothing changed)."""
        mine, params = _owned_by(owner)
        return bool(await self._db.execute(
            "UPDATE runs SET status = ?, error = ?, finished_at = ? WHERE id = ?" + mine,
            (status, error, time.time(), run_id, *params)))

    async def set_answer_messages(self, run_id: int, message_ids: Sequence[str]) -> None:
        """Attach the messages that carry the answer; ids already attached are kept (calls accumulate)."""
        async with self._db.transaction() as tx:
            # Touching the run locks its row (PostgreSQL), so two calls can't pick the same positions.
            if not await tx.execute("UPDATE runs SET status = status WHERE id = ?", (run_id,)):
                raise UnknownRun(run_id)
            rows = await tx.fetchall(
                "SELECT COALESCE(MAX(position) + 1, 0) FROM answer_messages WHERE run_id = ?", (run_id,))
            first = rows[0][0]
            await tx.executemany(
                "INSERT INTO answer_messages (run_id, position, message_id) VALUES (?, ?, ?)"
                " ON CONFLICT (run_id, message_id) DO NOTHING",
                [(run_id, first + i, message_id) for i, message_id in enumerate(dict.fromkeys(message_ids))],
            )

    async def get(self, run_id: int, channel: ChannelKey) -> RunRecord | None:
        """The run with its proposer outputs — None unless it belongs to this channel."""
        return await self._load(
            f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.id = ? AND {_IN_CHANNEL}",
            (run_id, *_channel_params(channel)),
        )

    async def find_by_message(self, channel: ChannelKey, message_id: str) -> RunRecord | None:
        """The run (newest, if several) answered in, or triggered by, message_id within this channel."""
        # Start from the message id (an index hit, a handful of rows) and then check the channel: both
        # SQLite and PostgreSQL probe the channel's index once per candidate rather than scanning its runs.
        return await self._load(
            f"SELECT {_RUN_COLUMNS} FROM runs r WHERE r.id IN ("
            " SELECT run_id FROM answer_messages WHERE message_id = ?"
            " UNION ALL SELECT id FROM runs WHERE trigger_message_id = ?)"
            f" AND {_IN_CHANNEL} ORDER BY r.id DESC LIMIT 1",
            (message_id, message_id, *_channel_params(channel)),
        )

    async def latest(self, channel: ChannelKey, thread: str | None = None) -> RunRecord | None:
        """The newest run in the channel (or in one of its threads)."""
        if thread is None:
            sql = f"SELECT {_RUN_COLUMNS} FROM runs r WHERE {_IN_CHANNEL} ORDER BY r.id DESC LIMIT 1"
            return await self._load(sql, _channel_params(channel))
        sql = f"SELECT {_RUN_COLUMNS} FROM runs r WHERE {_IN_CHANNEL} AND r.thread = ? ORDER BY r.id DESC LIMIT 1"
        return await self._load(sql, (*_channel_params(channel), thread))

    async def take_cut_off(self, live_since: float, now: float | None = None,
                           platforms: Collection[str] | None = None, by: str | None = None) -> list[UnfinishedRun]:
        """Claim every queued or running run whose owner is not alive: mark it 'interrupted', return it.

        An owner is alive while its heartbeat is newer than `live_since` (see OwnerRepository). One
        UPDATE … RETURNING claims each run once, even when several processes ask at the same moment.
        `platforms` limits the claim to runs this process can answer or tell. The claimed runs become
        `by`'s, so an owner that was only stalled, not dead, finds them no longer its own (see finish()).
        """
        only = "" if platforms is None else f" AND platform IN ({', '.join('?' for _ in platforms) or 'NULL'})"
        # Never its own: a process knows its runs are alive even when its heartbeat could not be stored.
        not_mine = "" if by is None else " AND (owner IS NULL OR owner <> ?)"
        rows = await self._db.fetchall_write(
            "UPDATE runs SET status = 'interrupted', finished_at = ?, owner = ?"
            " WHERE status IN ('queued', 'running')"
            " AND (owner IS NULL OR owner NOT IN (SELECT id FROM owners WHERE heartbeat_at >= ?))" + only + not_mine +
            " RETURNING id, platform, workspace, channel, thread, trigger_message_id, question, author,"
            " author_name, started_at, surface",
            (time.time() if now is None else now, by, live_since, *(platforms or ()), *(() if by is None else (by,))))
        runs = [UnfinishedRun(row[0], ChannelKey(row[1], row[2], row[3]), row[4], row[5], row[6], row[7],
                              row[8], row[9], row[10]) for row in rows]
        return sorted(runs, key=lambda run: run.id)

    async def taken_from(self, owner: str, run_ids: Collection[int]) -> set[int]:
        """Which of `run_ids` are no longer `owner`'s: another process claimed them (see take_cut_off)."""
        if not run_ids:
            return set()
        rows = await self._db.fetchall(
            f"SELECT id FROM runs WHERE id IN ({', '.join('?' for _ in run_ids)}) AND (owner IS NULL OR owner <> ?)",
            (*run_ids, owner))
        return {row[0] for row in rows}

    async def _load(self, sql: str, params: Sequence[object]) -> RunRecord | None:
        # All reads in one snapshot, so a concurrent finish() can't land between them.
        async with self._db.snapshot() as reads:
            rows = await reads.fetchall(sql, params)
            if not rows:
                return None
            answer_ids = await reads.fetchall(_ANSWER_IDS_SQL, (rows[0][0],))
            proposers = await reads.fetchall(_PROPOSERS_SQL, (rows[0][0],))
        return _record(rows[0], answer_ids, proposers)
