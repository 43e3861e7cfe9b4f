"""Build hook: compiles the C forms of hot functions of batch issuing with the machine's C compiler.

``esign/codec/_b45.c`` is ``esign.codec.tokens.b45encode``, ``esign/codec/_cbor.c`` is ``esign.codec.cose.canonical`` and the
claims payload of ``esign.codec.tokens``, ``api/kernel/_pgcopy.c`` is ``api.kernel.pgcopy.fields``. Where no
compiler or no Python headers are found, the build goes on without them and each module uses its
own Python form, which makes the same output (tests compare them). An editable install imports from
the source tree, so the modules are built there; a wheel carries them and is tagged for this
interpreter.
"""

from __future__ import annotations

import shlex
import subprocess
import sysconfig
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

EXTENSIONS = ("esign/codec/_b45.c", "esign/codec/_cbor.c", "api/kernel/_pgcopy.c")


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if self.target_name != "wheel":
            return
        out = None if version == "editable" else Path(tempfile.mkdtemp(prefix="zb-build-"))
        for source in EXTENSIONS:
            package, name = source.removesuffix(".c").rsplit("/", 1)
            module = name + sysconfig.get_config_var("EXT_SUFFIX")
            target = Path(self.root) / package / module if out is None else out / module
            problem = _compile(Path(self.root) / source, target)
            if problem is not None:
                self.app.display_warning(f"{source} not built ({problem}); its Python form serves")
                continue
            if out is not None:
                build_data["force_include"][str(target)] = f"{package}/{module}"
            build_data["pure_python"] = False
            build_data["infer_tag"] = True


# Warnings are errors: a C form that draws one is not built, and its Python form serves.
WARNINGS = ("-Wall", "-Wextra", "-Werror")


def _compile(source: Path, target: Path, flags: tuple[str, ...] = ("-O2",)) -> str | None:
    """Builds ``source`` into ``target``; the compiler's last complaint when it could not."""
    compiler = shlex.split(sysconfig.get_config_var("CC") or "cc")
    include = sysconfig.get_paths()["include"]
    command = [*compiler, "-shared", "-fPIC", *flags, *WARNINGS, f"-I{include}", str(source), "-o", str(target)]
    try:
        subprocess.run(command, check=True, capture_output=True, text=True)
    except FileNotFoundError:
        return f"no compiler {compiler[0]!r}"
    except subprocess.CalledProcessError as exc:
        lines = (exc.stderr or "").strip().splitlines()
        return lines[-1] if lines else "the compiler failed"
    return None
