"""zhangban on a Citus cluster: the migrations distribute the schema, the hot citizen queries route to
one shard, and whole journeys through HTTP pass on it.

The journeys are the suite's own tests, run again by a pytest of their own with ``ZB_TEST_CITUS`` set,
so every test database is a database on the cluster (``tests/conftest.py``); the same pytest runs two of
the crash tests (``tests/faults/``) there too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest

from api.kernel import db, distribution
from matters import seed
from tests.cluster import citus

ROOT = Path(__file__).resolve().parents[2]

# The journeys of the issue: login, issuing (single and the batch job), the birth bundle, wallet,
# consents (granted, used and revoked online and offline), drafts, sync with two devices, notifications,
# signing devices, a company's agent.
JOURNEYS = [
    "tests/auth/test_flows.py::test_mini_program_logs_in_binds_phone_reaches_l3_refreshes_and_logs_out",
    "tests/auth/test_flows.py::test_department_system_gets_a_scoped_token",
    "tests/esign/test_routes_issue.py::test_everything_commits_together",
    "tests/esign/test_routes_batch.py::test_a_batch_is_queued_then_shows_its_progress_and_results_to_its_department_only",
    "tests/matters/test_one_birth.py::test_two_parents_one_child_through_the_whole_birth_flow",
    "tests/wallet/test_items.py::test_pages_cover_every_item_once_newest_first",
    # Consents live on the holder's shard: granted, used twice, logged, overspent by no race, revoked, expired.
    "tests/wallet/test_consents.py::test_a_two_use_consent_serves_two_reads_and_logs_three",
    "tests/wallet/test_consents.py::test_concurrent_reads_never_overspend",
    "tests/wallet/test_consents.py::test_revoked_and_expired_consents_stop_working",
    "tests/sync/test_devices.py::test_offline_in_turns_converge",
    "tests/sync/test_push.py::test_stale_drafts_conflict_and_carry_the_server_copy",
    "tests/sync/test_consents.py::test_grant_and_revoke_queued_offline",
    "tests/sync/test_pull.py::test_guardians_see_dependents_until_the_guardianship_ends",
    "tests/notify/test_inbox.py::test_an_application_s_steps_reach_the_applicant_s_inbox",
    # A person's devices and their credentials on the person's shard (a key registered twice is refused there);
    # a company's authorisation on the company's, used by its agent.
    "tests/esign/test_routes_devices.py::test_a_device_shows_a_certificate_offline_until_it_is_revoked",
    "tests/enterprise/test_agent.py::test_an_agent_acts_for_the_company_within_the_authorisation_until_it_ends",
]


# The crash tests on the cluster, each once with its full rounds (``tests/faults/procs.py``: after the answer,
# before the request is read, while it is handled, around its commit): servers killed during batch issuing,
# application submissions and sync pushes (a person's rows on a worker, the outbox, audit chain and ledgers on
# the coordinator: one two-phase commit), and workers killed mid-batch and while they relay and deliver
# notifications.
CRASHES = [
    "tests/faults/test_crashes.py::test_batch_issuance_survives_kills",
    "tests/faults/test_crashes.py::test_a_worker_killed_mid_batch_is_followed_by_one_that_issues_each_item_once",
    "tests/faults/test_crashes.py::test_application_submission_survives_kills",
    "tests/faults/test_crashes.py::test_sync_push_survives_kills",
    "tests/faults/test_crashes.py::test_notification_relay_survives_worker_kills",
]


@pytest.fixture(scope="module")
async def cluster_db(citus_cluster: citus.Cluster) -> str:
    name = f"zb_cluster_{os.getpid()}"
    dsn = await citus.create_database(citus_cluster.admin_dsns(), name)
    conn = await db.connect(dsn)
    try:
        await db.migrate(conn)
        await seed.seed_catalogue(conn)
    finally:
        await conn.close()
    return dsn


async def test_the_migrations_distribute_the_declared_tables(cluster_db: str) -> None:
    conn = await db.connect(cluster_db)
    try:
        rows = await conn.fetch(
            "SELECT logicalrelid::regclass::text AS name, partmethod::text, repmodel::text, colocationid FROM pg_dist_partition"
        )
        placed = {r["name"]: r for r in rows}
        for table in distribution.DISTRIBUTED:
            assert placed[table]["partmethod"] == "h", table
        assert len({placed[t]["colocationid"] for t in distribution.DISTRIBUTED}) == 1  # co-located
        for table in distribution.REFERENCE:
            assert (placed[table]["partmethod"], placed[table]["repmodel"]) == ("n", "t"), table
        # What is unique across everyone and looked up without a person stays on the coordinator.
        for table in ("person_id_number", "esign_certificate_key", "wallet_item_ref", "auth_account", "org_entity"):
            assert table not in placed or placed[table]["partmethod"] != "h", table
        # Every other table is in Citus's metadata, so that a write to a worker and to the coordinator (a person's
        # rows with their outbox event, audit entry and idempotency record) commits in two phases.
        tables = await conn.fetch(
            "SELECT c.oid::regclass::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r' AND NOT relation_is_a_known_shard(c.oid)"
        )
        assert {"outbox", "audit_log", "audit_head", "idempotency_key"} <= {t["name"] for t in tables}
        assert [t["name"] for t in tables if t["name"] not in placed] == ["schema_migrations"]
        # The keys set aside while distributing are back, between rows of one person on one shard.
        keys = {
            r["conname"]: r["def"]
            for r in await conn.fetch(
                "SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE contype = 'f'"
                " AND conname = ANY($1::text[])",
                [
                    "wallet_access_log_consent_id_fkey",
                    "wallet_item_certificate_id_fkey",
                    "wallet_item_person_id_fkey",
                    "esign_device_credential_device_id_fkey",
                    "delegation_use_delegation_id_fkey",
                    "application_task_application_id_fkey",
                    "application_for_person_id_fkey",
                ],
            )
        }
        assert keys == {
            "wallet_access_log_consent_id_fkey": "FOREIGN KEY (person_id, consent_id) REFERENCES wallet_consent(person_id, id)",
            "wallet_item_certificate_id_fkey": "FOREIGN KEY (person_id, certificate_id) REFERENCES esign_certificate(person_id, id)",
            "wallet_item_person_id_fkey": "FOREIGN KEY (person_id) REFERENCES person(id)",
            "esign_device_credential_device_id_fkey": "FOREIGN KEY (person_id, device_id) REFERENCES esign_device(person_id, id)",
            "delegation_use_delegation_id_fkey": "FOREIGN KEY (principal_id, delegation_id) REFERENCES delegation(principal_id, id)",
            "application_task_application_id_fkey": "FOREIGN KEY (for_person_id, application_id) REFERENCES application(for_person_id, id)",
            "application_for_person_id_fkey": "FOREIGN KEY (for_person_id) REFERENCES person(id)",
        }
        workers = await conn.fetch(
            "SELECT DISTINCT p.nodeport FROM pg_dist_shard_placement p JOIN pg_dist_shard s USING (shardid)"
            " WHERE s.logicalrelid = 'sync_change'::regclass"
        )
        assert len(workers) == 2  # the change log's shards are spread over both workers
        assert await db.migrate(conn) == []  # a second run finds everything applied and placed
    finally:
        await conn.close()


# The hot citizen queries on distributed tables, each with the arguments one request passes.
ON_COORDINATOR = {
    "person by ID number",
    "certificate's holder",
    "application's person",
    "application id claim",
    "task's person",
    "task id claim",
    "real-name session",
}


def _hot(person: uuid.UUID, now: datetime) -> list[tuple[str, str, tuple]]:
    from api.kernel import changelog
    from auth import guardianship, persons
    from auth.delegation import store as delegations
    from auth.store import realname
    from esign import devices
    from esign.store import certificate as certificates
    from matters.applications import store as applications
    from matters.feedback import store as feedback
    from matters.window import pickup
    from notify import recipients
    from notify import store as notify_store
    from sync import drafts, store
    from sync import store as sync_store
    from wallet import consent_store, people_store
    from wallet import store as wallet_store

    return [
        ("change log head", "SELECT version FROM sync_head WHERE person_id = $1", (person,)),
        ("change log page", changelog.LIST_CHANGES, (person, 0, 100)),
        ("sync pull heads", store.GET_HEADS, ([person],)),
        ("sync pull page", store.LIST_LATEST, (person, 0, True, True, 100)),
        ("sync pull leaving", store.LIST_LEAVING, (person, 0, [person], 100)),
        ("sync reset checkpoint", store.CHECKPOINT, ([person], person)),
        ("head bump", changelog.BUMP_HEAD, (person,)),
        ("change append", changelog.INSERT_CHANGE, (person, 1, "wallet_item", person, "put", "{}")),
        ("draft read", drafts.GET_DRAFT, (person, None, "m", person)),
        ("draft save", drafts.UPSERT_DRAFT, (person, person, person, None, "m", None, b"", [], [], now)),
        ("draft delete", drafts.DELETE_DRAFT, (person, now, person)),
        ("consent list", consent_store.LIST_FOR_PERSON, (person, None, None, 20)),
        ("consent read", consent_store.CONSENT + " WHERE c.person_id = $2 AND c.id = $1", (person, person)),
        (
            "consent read to revoke",
            consent_store.CONSENT + " WHERE c.person_id = $2 AND c.id = $1 FOR UPDATE OF c",
            (person, person),
        ),
        (
            "consent grant",
            consent_store.INSERT_CONSENT,
            (person, person, person, [person], "p", None, now, None, "account:x", now, {}),
        ),
        ("consent use", consent_store.TAKE_USE, (person, now, person)),
        ("access log", consent_store.ACCESS, (person, None, 20)),
        (
            "access append",
            consent_store.INSERT_ACCESS,
            (person, person, person, "client:x", "p", [person], "served", None, now),
        ),
        ("wallet list", wallet_store.LIST_ITEMS, (person, None, None, None, 20)),
        ("wallet item", wallet_store.GET_ITEM, (person, person)),
        ("certificate read", certificates.GET_CERTIFICATE, (person, person)),
        ("certificate read to change", certificates.GET_CERTIFICATE + " FOR UPDATE OF c", (person, person)),
        ("wallet certificates", certificates.GET_SHOWN, ([person], [person])),
        ("guardian's dependents", guardianship.DEPENDENTS, (person, now, now.date())),
        ("guardian check", persons.IS_GUARDIAN, (person, person, now)),
        ("family wallets", people_store.FAMILY_WALLETS, (person,)),
        ("devices", devices.LIST_DEVICES, (person,)),
        ("device read", devices.GET_DEVICE, (person, person)),
        ("delegation check", delegations.LATEST_FOR_AGENT, ("person", person, person, now)),
        ("delegation read", delegations.GET_DELEGATION, (person, person)),
        (
            "delegation use",
            delegations.INSERT_USE,
            (person, "apply", "served", None, None, None, None, "x", now, person),
        ),
        # On the coordinator: the index of ID numbers and of certificates (a primary-key read each).
        ("person by ID number", persons.FIND_BY_INDEX, (b"x",)),
        ("certificate's holder", "SELECT person_id FROM esign_certificate_key WHERE id = $1", (person,)),
        # Applications, by the person they are for: the list and a read by the citizen (among their family's rows),
        # the submit, and what a read shows and a step writes (tasks, timeline, rating).
        ("wallet applications", wallet_store.LIST_APPLICATION_ITEMS, (person, None, None, 20, [person])),
        ("applications list", applications.LIST_APPLICATIONS, (person, [person], [person], None, None, 20)),
        # An application or task named by id alone: its person from the id's key on the coordinator, then its
        # rows on that person's shard (a citizen's read and rating, a department's task, the window's results,
        # the titles and bundles shown for ids, a file's check against the applications naming it).
        ("application's person", applications.WHOSE, (person,)),
        ("application id claim", applications.CLAIM_KEY, (person, person)),
        ("task's person", applications.TASK_WHOSE, (person,)),
        ("task id claim", applications.INSERT_TASK_KEY, (person, person)),
        ("department task read", applications.GET_TASK, (person, person)),
        ("rating's application", feedback.GET_APPLICATION_PARTIES, (person, person)),
        ("window results' certificates", pickup.RESULT_IDS, (person, person)),
        ("window results", pickup.RESULTS, ([person], [person])),
        ("business an earlier matter opened", certificates.FIRST_CREDIT_CODE, ([person], [person])),
        ("application titles", recipients.APPLICATION_TITLES, ([person], [person])),
        ("item's bundle", wallet_store.BUNDLES, ([person], [person])),
        ("file named by an application", applications.NAMED_BY, ([person], [person], "ab")),
        ("application read", applications.GET_APPLICATION, (person, person)),
        ("application read to change", applications.GET_APPLICATION + " FOR UPDATE", (person, person)),
        (
            "application submit",
            applications.INSERT_APPLICATION,
            (person, None, "m", person, person, person, b"", [], [], b"", now, now, None),
        ),
        ("application tasks", applications.TASK_LIST, (person, person)),
        ("application timeline", applications.LIST_EVENTS, (person, person)),
        ("application step", applications.INSERT_EVENT, (person, person, now, "e", "a", {})),
        ("notification inbox", notify_store.LIST_PERSON_INBOX, (person, None, False, 20)),
        (
            "notification read",
            notify_store.MARK_READ.format(view="id", table="notify_notification", owner="person_id"),
            (person, now, person),
        ),
        # A push's ledger, kept by the account's person: the claim (with the client's row on the coordinator), the
        # re-read and the record (with the client's seq).
        ("sync mutation claim", sync_store.claim_sql(person)[0], (person, person, now, "2s", person, person)),
        ("sync mutation read", sync_store.get_mutation_sql(person)[0], (person, person, person)),
        (
            "sync mutation record",
            sync_store.record_mutation_sql(person)[0],
            (person, person, person, 1, "m", b"", "applied", None, 1, None, now, person),
        ),
        ("real-name session", f"SELECT {realname.SESSION_COLUMNS} FROM auth_realname_session WHERE id = $1", (person,)),
    ]


async def test_the_hot_citizen_queries_are_router_plans(cluster_db: str) -> None:
    conn = await db.connect(cluster_db)
    try:
        plans = {}
        person = uuid.uuid4()
        for name, sql, args in _hot(person, datetime.now(UTC)):  # EXPLAIN without ANALYZE runs nothing, writes included
            for _ in range(6):  # past the five custom plans, to the generic plan a pooled statement keeps
                plans[name] = [r[0] for r in await conn.fetch("EXPLAIN " + sql, *args)]
        print("\n\n".join(f"-- {name}\n" + "\n".join(plan) for name, plan in plans.items()))
        tasks = {
            name: [line.split(":")[1].strip() for line in plan if "Task Count:" in line] for name, plan in plans.items()
        }
        # A plan without a Citus scan is a plain table's on the coordinator: one node, for those still there only.
        multi = [
            name for name, counts in tasks.items() if set(counts) - {"1"} or (not counts and name not in ON_COORDINATOR)
        ]
        assert not multi, f"multi-shard plans where one shard was expected: {multi}"
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def on_cluster(citus_cluster: citus.Cluster, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], str]:
    """The journeys and the crash tests in one pytest on the cluster (one template database for both): each
    test's outcome by node id, and the run's output."""
    report = tmp_path_factory.mktemp("on-cluster") / "report.xml"
    env = {**os.environ, "ZB_TEST_CITUS": ",".join(citus_cluster.admin_dsns())}
    env.pop("ZB_TEST_DATABASE_URL", None)
    env.pop("ZB_FAULT_ROUNDS", None)
    pytest_args = ["-q", "-p", "no:cacheprovider", "-p", "no:randomly", "--junitxml", str(report)]
    run = subprocess.run(
        [sys.executable, "-m", "pytest", *pytest_args, *JOURNEYS, *CRASHES],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    output = run.stdout[-6000:] + run.stderr[-2000:]
    outcomes = {}
    for case in ET.parse(report).iter("testcase") if report.exists() else ():
        node = case.get("classname", "").replace(".", "/") + ".py::" + case.get("name", "")
        failed = [c.tag for c in case if c.tag in ("failure", "error", "skipped")]
        outcomes[node] = failed[0] if failed else "passed"
    return outcomes, output


def _passed(on_cluster: tuple[dict[str, str], str], tests: list[str]) -> None:
    outcomes, output = on_cluster
    print(output)
    assert {t: outcomes.get(t, "not run") for t in tests} == dict.fromkeys(tests, "passed"), output


def test_the_journeys_pass_on_the_cluster(on_cluster: tuple[dict[str, str], str]) -> None:
    _passed(on_cluster, JOURNEYS)


def test_the_crash_tests_pass_on_the_cluster(on_cluster: tuple[dict[str, str], str]) -> None:
    from tests.faults import procs

    _passed(on_cluster, CRASHES)
    procs.RAN_ON_CLUSTER.update(CRASHES)
