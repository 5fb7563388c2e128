"""The project file, ``apirun.yaml`` beside the specs: which setup spec runs before them,
which in-process app answers (``app:``) and which Python fixtures every file starts
(``fixtures:``).

Shared by the command and the pytest plugin.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ApirunError
from .model import FixtureName
from .record import Record, record
from .source import Source

if TYPE_CHECKING:
    from .yamlsource import LocDict

PROJECT_FILE = "apirun.yaml"
PROJECT_KEYS = ("setup", "app", "fixtures")


@record
class Project(Record):
    """What a project file says; empty when there is none."""

    setup: Path | None = None
    app: str | None = None  # MODULE:NAME or MODULE:NAME() (runner/wsgi.py)
    fixtures: tuple[FixtureName, ...] = ()  # started around every file (fixtures.py)


class ProjectError(ApirunError):
    """A --setup that does not exist, or a project file that cannot be used."""


def setup_for(option: str | Path | None, paths: Sequence[str | Path]) -> Path | None:
    """--setup, else the 'setup:' of the apirun.yaml beside the specs (relative to it)."""
    if option:
        if not Path(option).is_file():
            raise ProjectError(f"--setup: no such file: {option}")
        return Path(option)
    found = project_file(paths)
    return read_project(found).setup if found else None


def project_for(paths: Sequence[str | Path]) -> Project:
    """The project file beside the specs, read (an empty Project when there is none)."""
    found = project_file(paths)
    return read_project(found) if found else Project()


def project_file(paths: Sequence[str | Path]) -> Path | None:
    """The apirun.yaml beside the specs; the specs of one run share one."""
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
    return projects[0]


def project_setup(project: Path) -> Path | None:
    """The setup spec a project file names, checked to exist."""
    return read_project(project).setup


def read_project(project: Path) -> Project:
    """The project file, checked: a setup that exists, app and fixtures as MODULE:NAME."""
    from .yamlsource import LocDict, YAMLSyntaxError, read_yaml_file

    try:
        data = read_yaml_file(project)
    except YAMLSyntaxError as exc:
        raise ProjectError(exc.message) from None
    if data is None:
        return Project()
    if not isinstance(data, LocDict):  # a YAML mapping always is one
        raise ProjectError(f"{project}:1: a project file is a mapping (setup: FILE)")
    for key in data:
        if key not in PROJECT_KEYS:
            line = data.key_position(key)[0]
            keys = ", ".join(PROJECT_KEYS)
            raise ProjectError(f"{project}:{line}: unknown key '{key}' (project file keys: {keys})")
    return Project(_setup(data, project), _app(data, project), _fixtures(data, project))


def _setup(data: LocDict, project: Path) -> Path | None:
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


def _app(data: LocDict, project: Path) -> str | None:
    app = data.get("app")
    if app is not None and not (isinstance(app, str) and ":" in app):
        line = data.value_position("app")[0]
        raise ProjectError(f"{project}:{line}: 'app' takes MODULE:NAME or MODULE:NAME()")
    return app


def _fixtures(data: LocDict, project: Path) -> tuple[FixtureName, ...]:
    from .loader import FIXTURE_NAME
    from .yamlsource import LocList

    fixtures = data.get("fixtures")
    if fixtures is None:
        return ()
    line = data.value_position("fixtures")[0]
    if not isinstance(fixtures, LocList) or not all(
        isinstance(f, str) and FIXTURE_NAME.match(f) for f in fixtures
    ):
        raise ProjectError(f"{project}:{line}: 'fixtures' takes a list of MODULE:CLASS")
    return tuple(
        FixtureName(name, Source(str(project), fixtures.item_position(index)[0]))
        for index, name in enumerate(fixtures)
    )
