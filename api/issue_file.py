"""``zhangban issue FILE.csv``: a department without a system of its own issues certificates from a
spreadsheet export, through the HTTP API of a running server (``--server``, default this machine's).

The file is CSV with a header row, in UTF-8 (with or without a byte-order mark) or GB 18030 (what
Excel in China saves as CSV; GBK is part of it), told apart by whether the bytes are valid UTF-8
(``--encoding`` says it outright). One row per certificate; the columns, in any order:

- ``type_code``: the certificate type (``GET /v1/certificate-types``), e.g. ``household_register``;
- ``holder_id_number`` (a person, GB 11643) or ``holder_credit_code`` (an organisation, GB 32100);
- ``holder_name``;
- ``external_ref``: the department's own reference, unique per department: a row sent again (the
  same file run twice) gives the certificate issued the first time, never a second one;
- optional ``valid_from``, ``valid_until`` (``YYYY-MM-DD``, the day beginning in China, or RFC 3339),
  ``seal_id``, ``application_id``;
- every other column is a field of the certificate type, by its key (``household_head``,
  ``registered_on``, ...); an empty cell is left out, an ``integer`` field's text is read as a number.

Signing in: a department client (``--client-id`` with ``ZB_CLIENT_SECRET``, or ``ZB_CLIENT_ID`` too;
scope ``certificates:issue``), which the platform's operator gives a department for this as for any
system of its own; or an access token of a member of staff with the role ``issuer``
(``ZB_ACCESS_TOKEN``). Secrets come from the environment, where other users of the machine do not
see them (the command line they could).

The rows go as batches of at most 10,000 (``POST /v1/dept/certificates:batch``); a request whose
answer the network lost is sent again with the same ``Idempotency-Key``, so it stays one batch. A
run started again (broken off, or after the department fixed what made rows fail) makes new batches,
and the rows issued before come back as issued before. A progress bar follows the workers while
the command polls; then a
summary, and the rows that failed — each with its line, its problem ``type`` and what was wrong —
go to a CSV beside the file (``--failures``), UTF-8 with a byte-order mark so Excel opens it as it
is. A row that cannot make a request at all (a required column empty, a malformed date) fails
there too, as ``row_invalid``, without being sent. Exit status: 0 when every row was issued (or had
been), 1 when some failed, 2 when nothing could be sent.
"""

from __future__ import annotations

import csv
import io
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from datetime import time as clock
from pathlib import Path
from typing import Any

import httpx
import msgspec

BATCH = 10_000
POLL = 0.5  # seconds between looks at a batch
CHINA = timezone(timedelta(hours=8))
BOM = b"\xef\xbb\xbf"
HOLDER = {"holder_id_number": "id_number", "holder_credit_code": "credit_code", "holder_name": "name"}
OPTIONAL = ("valid_from", "valid_until", "seal_id", "application_id")
COLUMNS = ("type_code", *HOLDER, "external_ref", *OPTIONAL)
FAILURE_COLUMNS = ("line", "external_ref", "type_code", "problem", "title", "detail", "errors")


class CommandError(Exception):
    """Nothing could be sent (exit status 2); the message says why."""


def decode(data: bytes, encoding: str | None = None) -> str:
    """The file's text: ``encoding`` when given, else UTF-8 (BOM or not) when the bytes are UTF-8, else GB 18030."""
    if encoding:
        return data.decode(encoding)
    if data.startswith(BOM):
        return data[len(BOM) :].decode("utf-8")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("gb18030")


@dataclass
class Row:
    line: int  # in the file, the header being line 1
    item: dict[str, Any] | None  # the batch item, or None when the row could not make one
    external_ref: str
    type_code: str
    problem: dict[str, Any] | None = None


def _time(text: str, column: str) -> str:
    """RFC 3339 text for a date cell (the day beginning in China) or an RFC 3339 one."""
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), clock(), CHINA).isoformat()
        return datetime.fromisoformat(text.replace("Z", "+00:00")).isoformat()
    except ValueError:
        raise ValueError(f"{column} must be a date YYYY-MM-DD or an RFC 3339 time") from None


def _field(value: str, kind: str | None, key: str) -> Any:
    if kind == "integer":
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"{key} must be an integer") from None
    return value


def read_rows(text: str, field_types: dict[str, dict[str, str]]) -> list[Row]:
    """Each data row as a batch item; ``field_types`` gives, per type code, each field's type."""
    from esign import IssueIn  # the item's schema, checked here so the batch is not refused whole

    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "type_code" not in reader.fieldnames:
        raise CommandError("the file needs a header row naming the columns (type_code, holder_name, ...)")
    rows = []
    for record in reader:
        cells = {(k or "").strip(): (v or "").strip() for k, v in record.items() if k is not None}
        if not any(cells.values()):
            continue  # an empty line Excel left at the end
        line = reader.line_num
        ref, code = cells.get("external_ref", ""), cells.get("type_code", "")
        kinds = field_types.get(code, {})
        try:
            item: dict[str, Any] = {
                "type_code": code,
                "holder": {HOLDER[k]: v for k, v in cells.items() if k in HOLDER and v},
                "fields": {k: _field(v, kinds.get(k), k) for k, v in cells.items() if k not in COLUMNS and v},
                "external_ref": ref,
            }
            item |= {k: _time(cells[k], k) if k.startswith("valid_") else cells[k] for k in OPTIONAL if cells.get(k)}
            msgspec.convert(item, IssueIn)
        except (ValueError, msgspec.ValidationError) as exc:
            message = str(exc).replace("$.holder.", "holder_").replace("$.", "")
            rows.append(
                Row(
                    line, None, ref, code, {"type": "row_invalid", "title": "这一行无法组成签发请求", "detail": message}
                )
            )
            continue
        rows.append(Row(line, item, ref, code))
    return rows


@dataclass
class Api:
    """The server, signed in as the department."""

    server: str
    http: httpx.Client = field(init=False)

    def __post_init__(self) -> None:
        self.http = httpx.Client(base_url=self.server.rstrip("/"), timeout=60)

    def sign_in(self, *, token: str | None, client_id: str | None, client_secret: str | None) -> None:
        if token:
            self.http.headers["authorization"] = f"Bearer {token}"
            return
        if not (client_id and client_secret):
            raise CommandError(
                "sign in as the department: --client-id with ZB_CLIENT_SECRET (a department client "
                "with the scope certificates:issue), or ZB_ACCESS_TOKEN (a member of staff, role issuer)"
            )
        got = self.call(
            "POST",
            "/v1/auth/token",
            json={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_secret": client_secret,
                "scope": "certificates:issue",
            },
        )
        self.http.headers["authorization"] = f"Bearer {got.json()['access_token']}"

    def call(self, method: str, path: str, *, tries: int = 1, **kw: Any) -> httpx.Response:
        for attempt in range(tries):
            try:
                r = self.http.request(method, path, **kw)
                break
            except httpx.TransportError as exc:
                if attempt + 1 == tries:
                    raise CommandError(f"could not reach {self.server}: {exc}") from None
                time.sleep(2**attempt)
            except httpx.HTTPError as exc:
                raise CommandError(f"could not reach {self.server}: {exc}") from None
        if r.status_code >= 400:
            try:
                problem = r.json()
                said = f"{problem.get('type')}: {problem.get('title')}"
                said += f" ({problem['detail']})" if problem.get("detail") else ""
            except ValueError:
                said = r.text[:200]
            raise CommandError(f"{method} {path} → {r.status_code} {said}")
        return r

    def pages(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        cursor = None
        while True:
            page = self.call(
                "GET", path, params=params | {"limit": 500} | ({"cursor": cursor} if cursor else {})
            ).json()
            yield from page["items"]
            if not (cursor := page["next_cursor"]):
                return


def _idempotency_key(run: str, index: int) -> str:
    return f"issue-file-{run}-{index}"


def _failure(row: Row, problem: dict[str, Any]) -> dict[str, Any]:
    errors = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in problem.get("errors") or [])
    return {
        "line": row.line,
        "external_ref": row.external_ref,
        "type_code": row.type_code,
        "problem": problem.get("type"),
        "title": problem.get("title"),
        "detail": problem.get("detail") or "",
        "errors": errors,
    }


def write_failures(path: Path, failures: list[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=FAILURE_COLUMNS)
        writer.writeheader()
        writer.writerows(sorted(failures, key=lambda f: f["line"]))


def run(
    path: Path,
    *,
    server: str,
    token: str | None,
    client_id: str | None,
    client_secret: str | None,
    encoding: str | None,
    failures_path: Path | None,
) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    err = Console(stderr=True)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror}") from None
    try:
        text = decode(data, encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise CommandError(f"{path} is not text in {encoding or 'UTF-8 or GB 18030'}: {exc}") from None
    api = Api(server)
    api.sign_in(token=token, client_id=client_id, client_secret=client_secret)
    types = {t["code"]: {f["key"]: f["type"] for f in t["fields"]} for t in api.pages("/v1/certificate-types")}
    rows = read_rows(text, types)
    if not rows:
        raise CommandError(f"{path} has no rows under its header")
    sendable = [r for r in rows if r.item is not None]
    failures = [_failure(r, r.problem) for r in rows if r.problem is not None]
    run_id = uuid.uuid4().hex
    counts = {"issued": 0, "existing": 0, "failed": 0}
    with Progress(
        TextColumn("[bold]签发 issuing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    ) as progress:
        bar = progress.add_task("issuing", total=len(sendable))
        sent: list[tuple[str, list[Row]]] = []
        for index in range(0, len(sendable), BATCH):
            part = sendable[index : index + BATCH]
            r = api.call(
                "POST",
                "/v1/dept/certificates:batch",
                json={"items": [p.item for p in part]},
                headers={"Idempotency-Key": _idempotency_key(run_id, index // BATCH)},
                tries=4,
            )
            sent.append((r.headers["location"], part))
        done: dict[str, dict[str, Any]] = {}
        while True:
            processed = 0
            for location, _ in sent:
                batch = done.get(location) or api.call("GET", location).json()
                if batch["state"] in ("done", "failed"):
                    done[location] = batch
                processed += batch["processed"]
            progress.update(bar, completed=processed, refresh=True)
            if len(done) == len(sent):
                break
            time.sleep(POLL)
    stopped = []
    for location, part in sent:
        batch = done[location]
        for key in counts:
            counts[key] += batch[key]
        if batch["state"] == "failed":
            stopped.append(f"{location}: {batch['error']['title'] if batch.get('error') else 'failed'}")
        settled = set()
        for result in api.pages(f"{location}/results"):
            settled.add(result["index"])
            if result["status"] == "failed":
                failures.append(_failure(part[result["index"]], result["error"]))
        for i, row in enumerate(part):
            if i not in settled:  # a batch that stopped before these rows
                failures.append(
                    _failure(row, {"type": "certificate_batch_failed", "title": "批量签发任务中断，这一行未处理"})
                )
    local = len(rows) - len(sendable)
    print(
        f"{len(rows)} row{'' if len(rows) == 1 else 's'}: {counts['issued']} issued, "
        f"{counts['existing']} issued before, {len(failures)} failed"
        + (f" ({local} not sent: row_invalid)" if local else "")
    )
    for line in stopped:
        print(f"batch stopped: {line}")
    if failures:
        target = failures_path or path.with_name(f"{path.stem}.failures.csv")
        write_failures(target, failures)
        print(f"the rows that failed, and why: {target}")
        return 1
    return 0
