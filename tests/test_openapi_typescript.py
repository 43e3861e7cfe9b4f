"""A TypeScript client generated from the OpenAPI document compiles under ``tsc --strict``.

openapi-typescript and TypeScript are installed by npm (pinned) into a cache folder on first use;
where npm or its registry cannot be reached the test is skipped, saying so.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

PACKAGES = ("openapi-typescript@7.13.0", "typescript@5.9.3")
CACHE = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "zhangban" / "openapi-typescript-7.13.0-ts-5.9.3"
)

# Uses the generated types the way a client does: bodies, answers, problems, headers, parameters.
CLIENT = """\
import type { components, paths } from "./api";

type Problem = components["schemas"]["ProblemDocument"];
type Issue = paths["/v1/dept/certificates"]["post"];
type IssueBody = Issue["requestBody"]["content"]["application/json"];
type Issued = Issue["responses"][201]["content"]["application/json"];
type IssueConflict = Issue["responses"][409]["content"]["application/problem+json"];
type IdempotencyKey = NonNullable<Issue["parameters"]["header"]>["Idempotency-Key"];
type Replayed = Issue["responses"][201]["headers"]["Idempotent-Replayed"];
type Verified = paths["/v1/verify"]["post"]["responses"][200]["content"]["application/json"];
type Busy = paths["/v1/auth/sms/send"]["post"]["responses"][429];
type Pull = paths["/v1/sync/pull"]["get"];

export const body: IssueBody = {
  type_code: "birth_medical_certificate",
  holder: { name: "李小满", id_number: "430202202603010018" },
  fields: { birth_date: "2026-03-01" },
  external_ref: "ZZFY-2026-000123",
};
export const key: IdempotencyKey = "issue-ZZFY-2026-000123";
export const replayed: Replayed = "true";
export const conflict: IssueConflict["type"] = "external_ref_conflict";
// @ts-expect-error a slug this operation never answers with
export const wrong: IssueConflict["type"] = "not_found";
export const retryAfter: Busy["headers"]["Retry-After"] = 30;
export const ifNoneMatch: NonNullable<Pull["parameters"]["header"]>["if-none-match"] = '"abc"';
export const unchanged: Pull["responses"][304]["headers"]["ETag"] = '"abc"';

export function describe(problem: Problem): string {
  return `${problem.status} ${problem.type}: ${problem.title}${problem.detail ? ` (${problem.detail})` : ""}`;
}

export function licence(answer: Issued): string {
  return answer.licence_id + (answer.valid_until ?? "");
}

export function ok(answer: Verified): boolean {
  return answer.valid && answer.reasons.length === 0 && answer.certificate?.kind === "certificate";
}
"""


def _tools() -> Path:
    """The cache folder's ``node_modules/.bin``, installing the pinned packages when missing."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        pytest.skip("node and npm are not installed on this machine")
    CACHE.mkdir(parents=True, exist_ok=True)
    bin_dir = CACHE / "node_modules" / ".bin"
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test workers install once
        if not (bin_dir / "openapi-typescript").exists() or not (bin_dir / "tsc").exists():
            (CACHE / "package.json").write_text('{"private": true}\n')
            try:
                install = subprocess.run(
                    ["npm", "install", "--no-audit", "--no-fund", "--save-exact", "--fetch-retries=1", *PACKAGES],
                    cwd=CACHE,
                    capture_output=True,
                    text=True,
                    timeout=600,
                )
                failed = install.stderr[-2000:] if install.returncode != 0 else None
            except subprocess.TimeoutExpired:
                failed = "npm install took longer than 10 minutes"
            if failed is not None:
                _skip_unless_registry_answers()
                pytest.fail(f"npm install failed: {failed}")
    return bin_dir


def _skip_unless_registry_answers() -> None:
    try:
        ping = subprocess.run(
            ["npm", "ping", "--fetch-retries=0"], cwd=CACHE, capture_output=True, text=True, timeout=120
        )
    except subprocess.TimeoutExpired:
        pytest.skip("npm cannot reach its registry: `npm ping` did not answer within 2 minutes")
    if ping.returncode != 0:
        pytest.skip(f"npm cannot reach its registry: {(ping.stderr or ping.stdout).strip()[-300:]}")


def _run(args: list[str], cwd: Path) -> None:
    out = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, (out.stdout + out.stderr)[-4000:]


async def test_a_generated_typescript_client_compiles_strictly(client: AsyncTestClient, tmp_path: Path) -> None:
    spec = (await client.get("/schema/openapi.json")).json()
    bin_dir = _tools()
    (tmp_path / "openapi.json").write_text(json.dumps(spec, ensure_ascii=False))
    _run([str(bin_dir / "openapi-typescript"), "openapi.json", "-o", "api.d.ts"], tmp_path)
    (tmp_path / "client.ts").write_text(CLIENT)
    _run(
        [
            str(bin_dir / "tsc"),
            "--strict",
            "--noEmit",
            "--target",
            "es2022",
            "--module",
            "esnext",
            "--moduleResolution",
            "bundler",
            "api.d.ts",
            "client.ts",
        ],
        tmp_path,
    )
