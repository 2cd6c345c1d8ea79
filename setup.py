"""Build hook: compile the hot path with mypyc (project metadata lives in pyproject.toml).

The modules compiled are listed by `pipeline/compiled.py` (`native_sources`), which also
decides at run time whether the compiled build is current, from the digests of the sources
this build records beside the extensions (`MANIFEST`). `PIPELINE_PURE_PYTHON=1` at install
time skips compilation (no C compiler needed; the same code runs, slower).
"""

import os
import runpy
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
compiled = runpy.run_path(str(ROOT / "pipeline" / "compiled.py"))
SOURCES = compiled["native_sources"](ROOT / "pipeline")


class BuildHotPath(build_ext):
    """`build_ext` that also records which sources the extensions were compiled from."""

    def run(self) -> None:
        super().run()
        if self.extensions:
            group_lib = Path(self.get_ext_fullpath(compiled["GROUP_NAME"] + "__mypyc"))
            target = group_lib.parent / compiled["MANIFEST"]
            compiled["write_manifest"](target, SOURCES, ROOT / "pipeline")


ext_modules = []
if os.environ.get(compiled["PURE_ENV"], "").strip() in ("", "0"):
    from mypyc.build import mypycify

    paths = [str(path.relative_to(ROOT)) for path in SOURCES]
    ext_modules = mypycify(paths, group_name=compiled["GROUP_NAME"], opt_level="3")

setup(ext_modules=ext_modules, cmdclass={"build_ext": BuildHotPath})
