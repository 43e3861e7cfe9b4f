"""Access tokens, JWKS, refresh rotation with reuse detection, logout, and signing-key rotation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import asyncpg
import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from litestar.testing import AsyncTestClient

from api.app import all_jobs
from api.config import Settings
from api.kernel.crypto import Keyring
from auth import keys, operator
from auth.jobs import prune_refresh_tokens
from auth.revocation import REFRESH, RevokedLogins
from auth.tokens import AccessClaims, encode_access
from tests.auth.helpers import assert_problem, auth, claims, sms_login, wechat_login
from tests.auth.helpers import operator as operator_token

ME = "/v1/me"


def _pin(client: AsyncTestClient, at: datetime) -> None:
    client.app.state.clock = lambda: at


async def test_access_token_is_es256_with_kid_and_verifies_against_the_jwks(
    client: AsyncTestClient, sim: httpx.AsyncClient, settings: Settings
) -> None:
    pair = await wechat_login(client, sim)
    header = jwt.get_unverified_header(pair["access_token"])
    assert header["alg"] == "ES256" and header["typ"] == "at+jwt"
    r = await client.get("/.well-known/jwks.json")
    assert r.status_code == 200 and "max-age" in r.headers["cache-control"]
    [jwk] = r.json()["keys"]
    assert jwk["kid"] == header["kid"] and jwk["kty"] == "EC" and jwk["crv"] == "P-256" and "d" not in jwk
    verified = jwt.decode(pair["access_token"], jwt.PyJWK(jwk).key, algorithms=["ES256"], issuer=settings.base_url)
    assert verified["exp"] - verified["iat"] == 900 and verified["jti"] and verified["auth_time"] <= verified["iat"]


async def test_missing_malformed_and_forged_tokens_are_401(client: AsyncTestClient, sim: httpx.AsyncClient) -> None:
    r = await client.get(ME)
    assert_problem(r, 401, "unauthorized")
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert_problem(await client.get(ME, headers={"Authorization": "Basic abc"}), 401, "unauthorized")
    assert_problem(await client.get(ME, headers=auth("not.a.jwt")), 401, "unauthorized")
    assert_problem(await client.get(ME, headers={"Authorization": "Bearer"}), 401, "unauthorized")

    pair = await wechat_login(client, sim)
    token = pair["access_token"]
    head, body, sig = token.split(".")
    tampered = f"{head}.{body}.{sig[:-4]}AAAA"
    assert_problem(await client.get(ME, headers=auth(tampered)), 401, "unauthorized")
    # Same claims and kid, another key: the signature gives it away.
    kid = jwt.get_unverified_header(token)["kid"]
    forged = jwt.encode(claims(token), ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": kid})
    assert_problem(await client.get(ME, headers=auth(forged)), 401, "unauthorized")
    # alg=none is never accepted.
    unsigned = jwt.encode(claims(token), None, algorithm="none", headers={"kid": kid})
    assert_problem(await client.get(ME, headers=auth(unsigned)), 401, "unauthorized")
    assert (await client.get(ME, headers=auth(token))).status_code == 200


async def test_expired_access_token_is_401(client: AsyncTestClient, sim: httpx.AsyncClient) -> None:
    pair = await wechat_login(client, sim)
    _pin(client, datetime.now(UTC) + timedelta(minutes=14))
    assert (await client.get(ME, headers=auth(pair["access_token"]))).status_code == 200
    _pin(client, datetime.now(UTC) + timedelta(minutes=16))
    assert_problem(await client.get(ME, headers=auth(pair["access_token"])), 401, "unauthorized")


async def test_refresh_rotates_and_reuse_revokes_the_family(
    client: AsyncTestClient, sim: httpx.AsyncClient, conn: asyncpg.Connection
) -> None:
    pair = await wechat_login(client, sim)
    second = (await client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})).json()
    assert second["refresh_token"] != pair["refresh_token"]
    assert claims(second["access_token"])["sid"] == claims(pair["access_token"])["sid"]

    reused = await client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]})
    assert_problem(reused, 401, "refresh_token_reused")
    # The whole family is gone, including the token the legitimate holder still has.
    assert_problem(
        await client.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}),
        401,
        "refresh_token_invalid",
    )
    row = await conn.fetchrow("SELECT revoked_at, revoked_reason FROM auth_refresh_family")
    assert row["revoked_at"] is not None and row["revoked_reason"] == "reuse"
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'auth.refresh_reused'") == 1
    # And so are its access tokens, whoever holds them.
    for token in (pair["access_token"], second["access_token"]):
        assert_problem(await client.get(ME, headers=auth(token)), 401, "unauthorized")


async def test_another_process_refuses_an_ended_login_within_seconds(
    pool: asyncpg.Pool, conn: asyncpg.Connection
) -> None:
    account = uuid.uuid4()
    family = uuid.uuid4()
    now = datetime.now(UTC)
    await conn.execute("INSERT INTO auth_account (id, created_at) VALUES ($1, $2)", account, now)
    await conn.execute(
        "INSERT INTO auth_refresh_family (id, account_id, method, auth_time, created_at) "
        "VALUES ($1, $2, 'sms', $3, $3)",
        family,
        account,
        now,
    )
    revoked = RevokedLogins(pool)
    assert not await revoked.contains(family, now=now)
    await conn.execute(
        "UPDATE auth_refresh_family SET revoked_at = $2, revoked_reason = 'logout' WHERE id = $1", family, now
    )
    assert not await revoked.contains(family, now=now)  # read less than REFRESH seconds ago
    revoked.loaded_at -= REFRESH + 0.1  # as if the seconds had passed
    assert await revoked.contains(family, now=now)
    # Once every access token it had has expired, the set forgets it.
    revoked.stale()
    assert not await revoked.contains(family, now=now + timedelta(hours=1))


async def test_other_logins_survive_a_reuse(client: AsyncTestClient, sim: httpx.AsyncClient) -> None:
    phone_one = await wechat_login(client, sim, openid="o-same")
    phone_two = await wechat_login(client, sim, openid="o-same")
    await client.post("/v1/auth/refresh", json={"refresh_token": phone_one["refresh_token"]})
    await client.post("/v1/auth/refresh", json={"refresh_token": phone_one["refresh_token"]})
    r = await client.post("/v1/auth/refresh", json={"refresh_token": phone_two["refresh_token"]})
    assert r.status_code == 200


async def test_unknown_and_expired_refresh_tokens(client: AsyncTestClient, sim: httpx.AsyncClient) -> None:
    assert_problem(
        await client.post("/v1/auth/refresh", json={"refresh_token": "zbr_nope"}), 401, "refresh_token_invalid"
    )
    assert_problem(await client.post("/v1/auth/refresh", json={}), 422, "validation_failed")
    pair = await wechat_login(client, sim)
    _pin(client, datetime.now(UTC) + timedelta(days=31))
    assert_problem(
        await client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}),
        401,
        "refresh_token_invalid",
    )


async def test_expired_refresh_tokens_are_swept_and_live_ones_kept(
    client: AsyncTestClient, sim: httpx.AsyncClient, pool: asyncpg.Pool
) -> None:
    first = await wechat_login(client, sim)
    second = (await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})).json()
    assert await pool.fetchval("SELECT count(*) FROM auth_refresh_token") == 2
    state = SimpleNamespace(pool=pool)
    assert await prune_refresh_tokens(state) == 0
    # Thirty days on, the spent first token has expired; the second, issued later, is still live.
    await pool.execute(
        "UPDATE auth_refresh_token SET expires_at = now() - interval '1 minute' WHERE used_at IS NOT NULL"
    )
    assert await prune_refresh_tokens(state) == 1
    assert await pool.fetchval("SELECT count(*) FROM auth_refresh_token") == 1
    assert_problem(
        await client.post("/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}),
        401,
        "refresh_token_invalid",
    )
    # Refused as expired, not as reused: the login goes on.
    assert (await client.post("/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})).status_code == 200
    assert "auth.prune_refresh_tokens" in {job.name for job in all_jobs()}


async def test_logout(client: AsyncTestClient, sim: httpx.AsyncClient) -> None:
    assert_problem(await client.post("/v1/auth/logout"), 401, "unauthorized")
    pair = await sms_login(client, "13600000000")
    r = await client.post("/v1/auth/logout", headers=auth(pair["access_token"]))
    assert r.status_code == 204 and r.content == b""
    assert_problem(
        await client.post("/v1/auth/refresh", json={"refresh_token": pair["refresh_token"]}),
        401,
        "refresh_token_invalid",
    )
    # The login's access token ended with it, before its 15 minutes were up...
    assert_problem(await client.get("/v1/me", headers=auth(pair["access_token"])), 401, "unauthorized")
    assert_problem(await client.post("/v1/auth/logout", headers=auth(pair["access_token"])), 401, "unauthorized")
    # ...and logging out again with the refresh token is harmless.
    r = await client.post("/v1/auth/logout", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 204
    # Other logins are untouched.
    other = await sms_login(client, "13600000001")
    assert (await client.get("/v1/me", headers=auth(other["access_token"]))).status_code == 200


async def test_an_operator_token_ends_with_its_logout_for_the_rest_of_its_life(
    client: AsyncTestClient, conn: asyncpg.Connection, settings: Settings
) -> None:
    token = await operator_token(conn, settings, ttl=3 * 86400)
    other = await operator_token(conn, settings, ttl=3 * 86400)
    assert (await client.get("/v1/admin/departments", headers=auth(token))).status_code == 200
    assert (await client.post("/v1/auth/logout", headers=auth(token))).status_code == 204
    assert_problem(await client.get("/v1/admin/departments", headers=auth(token)), 401, "unauthorized")
    # A day on, long after other ended logins are forgotten, it is still refused; the other one works.
    _pin(client, datetime.now(UTC) + timedelta(days=1))
    client.app.state.revoked_logins.stale()
    assert_problem(await client.get("/v1/admin/departments", headers=auth(token)), 401, "unauthorized")
    assert (await client.get("/v1/admin/departments", headers=auth(other))).status_code == 200
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'auth.logout'") == 1


async def test_rotation_keeps_the_old_key_published_until_its_tokens_expire(
    client: AsyncTestClient, conn: asyncpg.Connection, settings: Settings, op: str
) -> None:
    keyring = Keyring.from_settings(settings)
    old_kid = jwt.get_unverified_header(op)["kid"]
    new_kid = await operator.rotate(conn, keyring, actor="test", now=datetime.now(UTC))
    assert new_kid != old_kid
    assert await conn.fetchval("SELECT count(*) FROM audit_log WHERE action = 'auth.signing_key_rotated'") == 1

    # A token signed by the new key (as another worker would) verifies at once: an unknown kid reloads.
    keyset = await keys.load_keys(conn, keyring, now=datetime.now(UTC))
    assert keyset.active.kid == new_kid and set(keyset.published) == {old_kid, new_kid}
    now = datetime.now(UTC)
    fresh = encode_access(
        AccessClaims(
            iss=settings.base_url,
            sub=claims(op)["sub"],
            iat=int(now.timestamp()),
            exp=int(now.timestamp()) + 900,
            jti="t-1",
            roles=["operator"],
            auth_time=int(now.timestamp()),
            acr="L1",
        ),
        keyset.active,
    )
    assert (await client.get("/v1/admin/departments", headers=auth(fresh))).status_code == 200
    assert (await client.get("/v1/admin/departments", headers=auth(op))).status_code == 200
    assert {k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]} == {old_kid, new_kid}

    # Once every token of the old key has expired, it is no longer published nor accepted.
    _pin(client, now + timedelta(seconds=keys.RETIRED_KEPT + 60))
    assert [k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]] == [new_kid]
    assert_problem(await client.get("/v1/admin/departments", headers=auth(op)), 401, "unauthorized")


async def test_private_keys_are_sealed_at_rest(client: AsyncTestClient, conn: asyncpg.Connection) -> None:
    row = await conn.fetchrow("SELECT private_key, public_jwk FROM auth_signing_key")
    assert b"PRIVATE KEY" not in row["private_key"] and row["private_key"][0] == 1
    assert "d" not in row["public_jwk"]
