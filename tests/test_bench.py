"""Every benchmark runs in a short mode on each test run, so none of them rots unnoticed.

Only that each runs to the end and prints its figure beside its same-run baseline is checked: its
targets are for full runs on a quiet machine, and a timing can never pass or fail a test here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import citus_nodes

ROOT = Path(__file__).resolve().parent.parent

# (script, short-mode arguments, a line the full run prints too: the figure next to its baseline)
BENCHES = [
    ("issue.py", ["--count", "2000", "--batch", "1000"], r"ratio issuing / signing:\s+\d"),
    (
        "notify.py",
        ["--count", "300", "--people", "50", "--departments", "2", "--workers", "1", "--timeout", "240"],
        r"ratio dispatch / raw:\s+\d",
    ),
    ("offline_sync.py", ["--rounds", "5"], r"push 100 mutations, HTTP in-process.*\d×"),
    ("sm2.py", ["--seconds", "0.4"], r"ratio tongsuo / gmssl: sign \d"),
    (
        "sdk.py",
        ["--count", "200"],
        r"ratio verification / raw \(WebCrypto\):\s+\d(.|\n)*ratio making / raw signing \(WebCrypto\):\s+\d",
    ),
    (
        "load.py",
        ["--seconds", "0.5", "--connections", "4", "--people", "4", "--in-process", "50"],
        r"no failed requests(.|\n)*ratio wallet list / bare read: \d",
    ),
    ("app.py", ["--runs", "1", "--items", "100"], r"ratio app / bare first paint:\s+\d"),
    ("zb2.py", ["--count", "200"], r"ratio verification / raw P-256:\s+\d"),
]


@pytest.mark.parametrize(("script", "args", "figure"), BENCHES, ids=[b[0] for b in BENCHES])
def test_benchmark_runs_in_short_mode(
    script: str, args: list[str], figure: str, servers: tuple[str, str], template_db: str
) -> None:
    admin, redis_url = servers
    env = {**os.environ, "ZB_BENCH_DATABASE_URL": admin, "ZB_BENCH_REDIS_URL": redis_url}
    if not citus_nodes():  # the run's migrated and seeded database, copied rather than each migrating its own
        env["ZB_BENCH_TEMPLATE"] = template_db
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = done.stdout + done.stderr
    assert "Traceback" not in out, out[-4000:]
    assert re.search(figure, out), out[-4000:]
    if script == "load.py":
        # Its exit status also says whether the full run's latency targets were met: not ours to judge here.
        assert "MISSED no failed requests" not in out, out[-4000:]
    else:
        assert done.returncode == 0, out[-4000:]
