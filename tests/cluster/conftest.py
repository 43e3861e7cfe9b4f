"""A Citus cluster (a coordinator and two workers) for the tests in this folder, built and started once.

The whole-suite run only: nothing here is in the short run. Skips, saying why, where the vendored
source, a C toolchain or an unprivileged user to run PostgreSQL as is missing.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster import citus


@pytest.fixture(scope="session")
def citus_cluster() -> Iterator[citus.Cluster]:
    try:
        install = citus.build()
        cluster = citus.Cluster(install)
        citus.system_user()
    except citus.Unavailable as exc:
        pytest.skip(str(exc))
    try:
        cluster.start()
        citus.wait_ready(cluster)
        yield cluster
    finally:
        cluster.stop()
