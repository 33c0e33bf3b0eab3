"""Build hook: editable installs of the `kernels/` and `presets/` folders.

A wheel copies ``kernels/`` to ``ddsp/kernels`` and ``presets/`` to ``ddsp/_presets``
(``force-include`` in pyproject.toml). An editable install must neither copy them (edits
would not show) nor put the repository root on ``sys.path`` (a bare ``kernels`` would become
importable). Hatchling's exact dev mode maps ``ddsp`` itself; this hook adds a small import
finder, loaded by a ``.pth`` file, that maps the two subpackages to their folders.
"""

from __future__ import annotations

import os
import shutil
import tempfile

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

_NAME = "_ddsp_numba_editable_subpackages"

_FINDER = '''\
"""Editable install of ddsp-numba: map subpackages to their folders in the checkout."""

import sys
from importlib.util import spec_from_file_location

FOLDERS = {folders!r}


class SubpackageFinder:
    @staticmethod
    def find_spec(fullname, path=None, target=None):
        folder = FOLDERS.get(fullname)
        if folder is None:
            return None
        init = folder + {sep!r} + "__init__.py"
        return spec_from_file_location(fullname, init, submodule_search_locations=[folder])


if not any(type(f).__name__ == "SubpackageFinder" for f in sys.meta_path):
    sys.meta_path.append(SubpackageFinder())
'''


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict) -> None:
        if version != "editable":
            return
        # Subpackage -> source folder, from the wheel's force-include table.
        folders = {
            target.replace(os.sep, "."): source
            for source, target in self.build_config.force_include.items()
        }
        self._tmp = tempfile.mkdtemp()
        finder = os.path.join(self._tmp, f"{_NAME}.py")
        pth = os.path.join(self._tmp, f"{_NAME}.pth")
        with open(finder, "w", encoding="utf-8") as f:
            f.write(_FINDER.format(folders=folders, sep=os.sep))
        with open(pth, "w", encoding="utf-8") as f:
            f.write(f"import {_NAME}\n")
        # Replaces the force-include copies in the editable wheel.
        build_data["force_include_editable"] = {finder: f"{_NAME}.py", pth: f"{_NAME}.pth"}

    def finalize(self, version: str, build_data: dict, artifact_path: str) -> None:
        if version == "editable":
            shutil.rmtree(self._tmp, ignore_errors=True)
