"""What the e-certificate domain keeps on ``app.state.esign`` for the life of a process.

- the platform root and the presentation seal (``esign.ca``), loaded at startup;
- decrypted seal signers, by seal id (the key is read and decrypted once per process);
- the last trust list and status lists read back from their signed form (parsing a list checks its
  signature and every seal certificate in it, so it is done once per signed version);
- what signs batches (``esign.batch.jobs``): in ``zhangban worker`` a process pool, started on first
  use; in ``serve``, whose jobs share the process with requests, one thread.

Other domains issue certificates with ``esign.flows.issue_certificate(conn, app.state.esign, ...)``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import UTC, datetime
from urllib.parse import urlsplit
from uuid import UUID

from litestar.datastructures import State

from api.kernel.crypto import Keyring
from api.kernel.db import Conn
from esign import ca
from esign.batch import sign as batch_sign
from esign.codec import keys, qr, statuslist, trustlist
from esign.store.seal import SealRow, get_private_key


class EsignState:
    """Per-process e-certificate state; see the module docstring."""

    def __init__(
        self,
        platform: ca.Platform,
        keyring: Keyring,
        base_url: str,
        *,
        master_keys: tuple[str, str | None] | None = None,
        qr_base: str | None = None,
    ) -> None:
        self.platform = platform
        self.keyring = keyring
        # The signing processes rebuild the keyring from these (esign.batch.sign.init_worker).
        self._master_keys = master_keys
        self.base_url = base_url.rstrip("/")
        # What QR codes' URLs start with (api.config.Settings.qr_base); the base URL upper-cased by default.
        parts = urlsplit(self.base_url)
        self.qr_base = (qr_base or f"{parts.scheme}://{parts.netloc}".upper()).rstrip("/")
        self._signers: dict[UUID, keys.LocalSigner] = {}
        self._trust: tuple[str, trustlist.TrustList] | None = None
        self._status: dict[int, tuple[str, statuslist.StatusList]] = {}
        self._executor: ProcessPoolExecutor | None = None
        self._executor_lock = asyncio.Lock()
        self._thread: ThreadPoolExecutor | None = None

    def __repr__(self) -> str:
        return f"EsignState(platform={self.platform!r}, signers={len(self._signers)})"

    def qr_url(self, token: str) -> str:
        """The URL a token's QR code holds: ``QR_BASE/V/<token>``, which a phone camera or WeChat scan opens."""
        return qr.qr_url(self.qr_base, token)

    def status_list_url(self, list_id: int) -> str:
        return f"{self.base_url}/v1/status-lists/{list_id}"

    async def private_key_der(self, conn: Conn, seal: SealRow) -> bytes:
        """The decrypted PKCS#8 DER of a seal whose key the platform holds."""
        sealed = await get_private_key(conn, seal.id)
        if sealed is None:
            raise ValueError("the department keeps this seal's key")
        return self.keyring.decrypt(sealed, context=ca.SEAL_CONTEXT)

    async def signer(self, conn: Conn, seal: SealRow) -> keys.LocalSigner:
        """A signer for a platform-held seal; the caller has checked that the seal is active."""
        found = self._signers.get(seal.id)
        if found is None:
            key = keys.private_key_from_der(await self.private_key_der(conn, seal))
            found = self._signers[seal.id] = keys.LocalSigner(key, seal.kid)
        return found

    def trust_list(self, token: str) -> trustlist.TrustList:
        """``token`` read back against our own root (cached per signed version)."""
        if self._trust is None or self._trust[0] != token:
            self._trust = (token, trustlist.parse_trust_list(token, self.platform.root_cert))
        return self._trust[1]

    def status_list(self, list_id: int, token: str) -> statuslist.StatusList:
        """A status-list token read back against our root (cached per signed version)."""
        cached = self._status.get(list_id)
        if cached is None or cached[0] != token:
            parsed = statuslist.parse_status_list(
                token, self.platform.root_key.public_key(), url=self.status_list_url(list_id)
            )
            cached = self._status[list_id] = (token, parsed)
        return cached[1]

    def signing_thread(self) -> ThreadPoolExecutor:
        """One thread that signs batches beside the event loop of a process that serves requests."""
        if self._thread is None:
            self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="esign-batch")
        return self._thread

    async def executor(self) -> ProcessPoolExecutor:
        """The signing pool (one process per core), started on first use; for processes that serve no
        requests (``zhangban worker``, benchmarks)."""
        async with self._executor_lock:
            if self._executor is None:
                # spawn, not fork: this process runs an event loop and threads that a fork would copy.
                if self._master_keys is None:
                    raise RuntimeError("no master keys to hand to the signing processes")
                context = multiprocessing.get_context("spawn")
                self._executor = ProcessPoolExecutor(
                    max_workers=os.cpu_count() or 2,
                    mp_context=context,
                    initializer=batch_sign.init_worker,
                    initargs=self._master_keys,
                )
            return self._executor

    def close(self) -> None:
        if self._thread is not None:
            self._thread.shutdown(wait=True, cancel_futures=True)
            self._thread = None
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


async def start(state: State) -> None:
    """Create the platform CA on the first start (race-safe), then load it."""
    now = state.clock() if state.get("clock") else datetime.now(UTC)
    async with state.pool.acquire() as conn:
        async with conn.transaction():
            await ca.ensure_platform(conn, state.keyring, now=now)
        platform = await ca.load_platform(conn, state.keyring)
    settings = state.settings
    state.esign = EsignState(
        platform,
        state.keyring,
        settings.base_url,
        master_keys=(settings.master_key, settings.master_key_previous),
        qr_base=settings.qr_base,
    )


async def stop(state: State) -> None:
    esign = state.get("esign")
    if esign is not None:
        await asyncio.to_thread(esign.close)
