"""A Hypothesis state machine: two devices of one person against the real server.

Steps: edit or delete a draft on a device (online or not), push (in order, with its response
dropped, twice, or shuffled), pull, go on- or offline, lose the device's storage, and write on the
server behind the devices' backs (a department putting a certificate into the wallet or taking it
out). After every step the ledger, replayed in commit order with the mutations the devices sent,
must produce exactly the drafts the server holds — so every mutation the server accepted took
effect once and nothing else did — and every answer a device saw must match the ledger. Every few
steps, and at the end, both devices come online and sync, and must then hold exactly the server's
state.

The machine runs in a worker thread; its steps run on the test's event loop, where the app lives.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections.abc import Coroutine
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from litestar.testing import AsyncTestClient

from tests.auth.helpers import claims
from tests.people import citizen, id_number
from tests.sync.helpers import device_drafts, person_of, server_drafts, wallet_write
from tests.sync_client import SyncClient

EXAMPLES, STEPS = 24, 25
_people = itertools.count(100)

devices = st.integers(0, 1)
drafts = st.integers(0, 3)


class Harness:
    def __init__(
        self, loop: asyncio.AbstractEventLoop, client: AsyncTestClient, pool: asyncpg.Pool, clerk: str, redis: Any
    ) -> None:
        self.loop, self.client, self.pool, self.clerk, self.redis = loop, client, pool, clerk, redis

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=120)

    async def new_person(self, n: int) -> dict[str, Any]:
        # Each example is another person on another phone: the per-address login limits of the last
        # one (30 codes an hour) do not apply to it.
        async for key in self.redis.scan_iter("zb:rl:{ip:*"):
            await self.redis.delete(key)
        return await citizen(self.client, self.clerk, name="测试", id_number=id_number("19850101", n))


def machine(h: Harness) -> type[RuleBasedStateMachine]:
    class TwoDevices(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            n = next(_people)
            pair = h.run(h.new_person(n))
            self.token = pair["access_token"]
            self.person = person_of(self.token)
            self.account = uuid.UUID(claims(self.token)["sub"])
            self.devices = [
                SyncClient(h.client, self.token, page_size=4),
                SyncClient(h.client, self.token, page_size=4),
            ]
            self.draft_ids = [str(uuid.uuid4()) for _ in range(4)]
            self.items = [uuid.uuid4() for _ in range(3)]
            self.wallet: dict[str, Any] = {}
            self.sent: dict[str, dict[str, Any]] = {}  # every mutation either device ever made
            self.seen: dict[str, dict[str, Any]] = {}  # every final answer a device saw
            self.edits = itertools.count()

        def _remember(self, device: SyncClient) -> None:
            self.sent.update(device.sent)
            self.seen.update(device.outcomes)

        # --- what a user and the world do ---------------------------------------------------------

        @rule(d=devices, k=drafts)
        def edit(self, d: int, k: int) -> None:
            self.devices[d].save_draft(self.draft_ids[k], {"edit": next(self.edits), "device": d})
            self._remember(self.devices[d])

        @rule(d=devices, k=drafts)
        def delete(self, d: int, k: int) -> None:
            self.devices[d].delete_draft(self.draft_ids[k])
            self._remember(self.devices[d])

        @rule(d=devices)
        def toggle_network(self, d: int) -> None:
            self.devices[d].online = not self.devices[d].online

        @rule(d=devices)
        def push(self, d: int) -> None:
            h.run(self.devices[d].push())
            self._remember(self.devices[d])

        @rule(d=devices)
        def push_response_lost(self, d: int) -> None:
            h.run(self.devices[d].push(drop_response=True))

        @rule(d=devices)
        def push_twice(self, d: int) -> None:
            h.run(self.devices[d].push(drop_response=True))
            h.run(self.devices[d].push())
            self._remember(self.devices[d])

        @rule(d=devices, seed=st.integers(0, 2**16))
        def push_reordered(self, d: int, seed: int) -> None:
            h.run(self.devices[d].push(shuffle=random.Random(seed)))
            self._remember(self.devices[d])

        @rule(d=devices)
        def pull(self, d: int) -> None:
            h.run(self.devices[d].pull())

        @rule(d=devices)
        def lose_device(self, d: int) -> None:
            self._remember(self.devices[d])
            self.devices[d].lose_everything()

        @rule(k=st.integers(0, 2), present=st.booleans())
        def server_write(self, k: int, present: bool) -> None:
            key = str(self.items[k])
            data = {"title": f"证照 {k}", "rev": next(self.edits)} if present else None
            h.run(wallet_write(h.pool, self.person, self.items[k], data))
            if data is None:
                self.wallet.pop(key, None)
            else:
                self.wallet[key] = data

        @rule()
        def settle(self) -> None:
            """Both devices online, in turns, until nothing is queued; then they hold the server's state."""
            for device in self.devices:
                device.online = True
            first, second = self.devices
            for device in (first, second, first):  # the last pull brings the second's pushes to the first
                h.run(device.sync())
                self._remember(device)
            server = h.run(self._server())
            for device in self.devices:
                assert not device.queue
                assert device_drafts(device.records) == server["drafts"]
                assert {i: v for (e, i), v in device.records.items() if e == "wallet_item"} == server["wallet"]
                assert {e for e, _ in device.records} <= {"draft", "wallet_item"}
            # Caught up: one more poll is a 304.
            assert h.run(self.devices[0].pull()) == 0

        async def _server(self) -> dict[str, Any]:
            async with h.pool.acquire() as conn:
                return {
                    "drafts": await server_drafts(conn, h.client.app.state.keyring, self.person),
                    "wallet": self.wallet,
                }

        # --- what must always hold -----------------------------------------------------------------

        @invariant()
        def every_accepted_mutation_took_effect_once(self) -> None:
            ledger, drafts_now = h.run(self._ledger())
            replay: dict[str, dict[str, Any]] = {}
            for row in ledger:
                if row["status"] != "applied":
                    continue
                m = self.sent[str(row["id"])]
                draft = replay.setdefault(m["args"]["draft_id"], {"version": 0, "form": None})
                if m["name"] == "draft.save":
                    draft.update(version=draft["version"] + 1, form=m["args"]["form"])
                elif draft["form"] is not None:
                    draft.update(version=draft["version"] + 1, form=None)
            assert replay == drafts_now
            by_id = {str(r["id"]): r for r in ledger}
            for mid, answer in self.seen.items():
                row = by_id[mid]
                expected = {"applied": ("applied", "duplicate"), "rejected": ("rejected",), "conflict": ("conflict",)}
                assert answer["status"] in expected[row["status"]], (answer, dict(row))
                assert answer.get("code") == row["code"]

        async def _ledger(self) -> tuple[list[asyncpg.Record], dict[str, dict[str, Any]]]:
            async with h.pool.acquire() as conn:
                ledger = await conn.fetch(
                    "SELECT id, name, status, code FROM sync_mutation WHERE account_id = $1 ORDER BY n", self.account
                )
                live = await server_drafts(conn, h.client.app.state.keyring, self.person)
                rows = await conn.fetch(
                    "SELECT id, version FROM sync_draft WHERE person_id = $1 AND deleted_at IS NOT NULL", self.person
                )
            return ledger, live | {str(r["id"]): {"version": r["version"], "form": None} for r in rows}

        def teardown(self) -> None:
            self.settle()

    return TwoDevices


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_two_devices_converge_and_apply_every_mutation_once(
    client: AsyncTestClient, pool: asyncpg.Pool, clerk: str, redis_url: str
) -> None:
    redis = aioredis.from_url(redis_url)
    h = Harness(asyncio.get_running_loop(), client, pool, clerk, redis)
    run = settings(
        max_examples=EXAMPLES,
        stateful_step_count=STEPS,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    try:
        await asyncio.to_thread(run_state_machine_as_test, machine(h), settings=run)
    finally:
        await redis.aclose()
