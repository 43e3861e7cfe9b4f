"""Issuing a matter's result certificate when its task is approved (wired to esign)."""

from __future__ import annotations

from typing import Any


def issuer(state: Any):  # noqa: ANN201
    async def issue(conn, task, application, fields, now):  # noqa: ANN001, ANN202
        raise NotImplementedError("result certificates are issued through esign")

    return issue
