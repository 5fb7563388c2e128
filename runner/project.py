"""The project file, ``apirun.yaml`` beside the specs: which setup spec runs before them.

Shared by the command and the pytest plugin.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .errors import ApirunError

PROJECT_FILE = "apirun.yaml"
PROJECT_KEYS = ("setup",)


class ProjectError(ApirunError):
    """A --setup that does not exist, or a project file that cannot be used."""


def setup_for(option: str | None, paths: Sequence[str | Path]) -> Path | None:
    """--setup, else the 'setup:' of the apirun.yaml beside the specs (relative to it)."""
    if option:
        if not Path(option).is_file():
            raise ProjectError(f"--setup: no such file: {option}")
        return Path(option)
    projects: list[Path] = []
    for name in paths:
        folder = Path(name) if Path(name).is_dir() else Path(name).parent
        candidate = folder / PROJECT_FILE
        if candidate.is_file() and candidate.resolve() not in [p.resolve() for p in projects]:
            projects.append(candidate)
    if not projects:
        return None
    if len(projects) > 1:
        listed = ", ".join(str(p) for p in projects)
        raise ProjectError(f"the specs have different project files ({listed}): run them apart")
    return project_setup(projects[0])


def project_setup(project: Path) -> Path | None:
    """The setup spec a project file names, checked to exist."""
    from .yamlsource import YAMLSyntaxError, read_yaml_file

    try:
        data = read_yaml_file(project)
    except YAMLSyntaxError as exc:
        raise ProjectError(exc.message) from None
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ProjectError(f"{project}:1: a project file is a mapping (setup: FILE)")
    for key in data:
        if key not in PROJECT_KEYS:
            line = data.key_position(key)[0]
            keys = ", ".join(PROJECT_KEYS)
            raise ProjectError(f"{project}:{line}: unknown key '{key}' (project file keys: {keys})")
    setup = data.get("setup")
    if setup is None:
        return None
    line = data.value_position("setup")[0]
    if not isinstance(setup, str):
        raise ProjectError(f"{project}:{line}: 'setup' takes the path of a spec file")
    path = Path(os.path.normpath(project.parent / setup))
    if not path.is_file():
        raise ProjectError(f"{project}:{line}: the setup file {path} does not exist")
    return path
