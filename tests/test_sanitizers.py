"""The C forms under AddressSanitizer and UndefinedBehaviorSanitizer.

Each C form is built as ``hatch_build.py`` builds it (warnings as errors) with the sanitizers on, and
the tests that compare it with its Python form run again in a fresh interpreter that imports those
builds in place of the installed ones. An out-of-bounds read, a use after free or an overflow then
aborts that interpreter with the sanitizer's report instead of passing unseen.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

import hatch_build

ROOT = Path(__file__).resolve().parent.parent
# The tests that call the C forms: each compares them with the Python forms on generated input.
COMPARED = [
    "tests/test_native.py",
    "tests/esign/test_encoding.py",
    "tests/esign/test_base45.py",
    "tests/test_pgcopy.py",
]
SANITIZE = ("-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined", "-fno-sanitize-recover=all")

# Imported at interpreter start (sitecustomize): the sanitized builds answer for the C forms' names.
FINDER = textwrap.dedent("""
    import importlib.util, os, sys

    class Sanitized:
        builds = dict(pair.split("=", 1) for pair in os.environ["ZB_SANITIZED"].split(os.pathsep))

        @classmethod
        def find_spec(cls, name, path=None, target=None):
            where = cls.builds.get(name)
            return importlib.util.spec_from_file_location(name, where) if where else None

    sys.meta_path.insert(0, Sanitized)
""")


def _runtime(name: str) -> str | None:
    """The compiler's sanitizer runtime: it must be loaded before Python, which is not built with it."""
    found = subprocess.run(["gcc", f"-print-file-name={name}"], capture_output=True, text=True).stdout.strip()
    return found if os.path.isabs(found) else None


def test_the_c_forms_pass_their_tests_under_address_and_undefined_behaviour_sanitizers(
    tmp_path: Path, servers: tuple[str, str]
) -> None:
    if shutil.which("gcc") is None:
        pytest.skip("no gcc here: the sanitizer runtimes come with it")
    runtimes = [_runtime("libasan.so"), _runtime("libubsan.so")]
    if None in runtimes:
        pytest.skip("gcc here has no AddressSanitizer/UBSan runtime (libasan, libubsan)")
    builds = []
    for source in hatch_build.EXTENSIONS:
        package, name = source.removesuffix(".c").rsplit("/", 1)
        target = tmp_path / (name + sysconfig.get_config_var("EXT_SUFFIX"))
        problem = hatch_build._compile(ROOT / source, target, SANITIZE)
        assert problem is None, f"{source}: {problem}"
        builds.append(f"{package.replace('/', '.')}.{name}={target}")
    (tmp_path / "sitecustomize.py").write_text(FINDER)

    admin, redis_url = servers
    env = {
        **os.environ,
        "LD_PRELOAD": " ".join(runtimes),  # type: ignore[arg-type]
        # Python's own allocations live until exit by design: leaks are not what is looked for.
        "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=0:halt_on_error=1",
        "PYTHONMALLOC": "malloc",  # past pymalloc's arenas, where ASan sees no object's bounds
        "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
        "ZB_SANITIZED": os.pathsep.join(builds),
        "ZB_TEST_DATABASE_URL": admin,
        "ZB_TEST_REDIS_URL": redis_url,
    }
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, pytest; from esign.codec import _cbor; print('C form:', _cbor.__file__); "
            "sys.exit(pytest.main(['-q', '-s', '-p', 'no:cacheprovider', *sys.argv[1:]]))",
            *COMPARED,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    out = done.stdout + done.stderr
    assert f"C form: {tmp_path}" in out, out[-3000:]  # the sanitized build, not the installed one
    assert "ERROR: AddressSanitizer" not in out and "runtime error:" not in out, out[-6000:]
    assert done.returncode == 0, out[-6000:]
    assert importlib.util.find_spec("esign.codec._cbor") is not None  # this interpreter keeps its own builds
