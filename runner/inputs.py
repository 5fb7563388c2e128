"""What a run starts from, read the same way by the command, the Python API and pytest.

``RunInputs`` holds what the ``apirun`` command takes (paths, variables, vars file, cloud,
setup, selection, timeout); ``prepare`` turns it into loaded and checked specs and the
``RunOptions`` to run them with — every problem of every file at once, nothing sent::

    prepared = prepare(RunInputs(["specs/"], variables={"password": "s3cret"}))
    result = run_specs(prepared.specs, prepared.options, setup=prepared.setup)

The pytest plugin, which collects one file at a time, uses the same pieces:
``given_names`` and ``checked``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ApirunError, SpecError
from .model import Spec
from .record import Record, record

if TYPE_CHECKING:
    from .engine import RunOptions


class InputError(ApirunError):
    """A usage error: a path that does not exist, a bad variable, a --tag that selects
    nothing. The command reports it in one line and exits 2."""


class SpecErrors(ApirunError):
    """Some spec files have problems: each file's SpecError, every problem in it."""

    def __init__(self, errors: Sequence[SpecError]):
        self.errors = list(errors)
        super().__init__(f"{self.count} problem{'s' if self.count != 1 else ''} in spec files")

    @property
    def count(self) -> int:
        return sum(len(error.diagnostics) for error in self.errors)


@record
class RunInputs(Record):
    """The inputs of the ``apirun`` command, by the same names."""

    paths: Sequence[str | Path]  # spec files and folders
    variables: Mapping[str, Any] = field(default_factory=dict)  # --var (they beat the file)
    vars_file: str | Path | None = None  # --vars-file
    os_cloud: str | None = None  # --os-cloud; None: $OS_CLOUD. OS_* variables are read anyway
    setup: str | Path | None = None  # --setup; None: the setup: of apirun.yaml beside the specs
    tags: Iterable[str] = ()  # --tag (each may be TAG,TAG)
    steps: Iterable[str] = ()  # --step
    timeout: float | None = None  # --timeout
    app: str | None = None  # --app MODULE:NAME; None: the app: of apirun.yaml, if any


@record
class Prepared(Record):
    """Specs loaded and checked, ready to run (``run_specs``) or to print (``--dry-run``)."""

    specs: list[Spec]  # the files, as given; run_specs leaves out those --tag/--step skip
    setup: Spec | None
    options: RunOptions
    secrets: set[str]  # the values to mask in every output
    files: tuple[Path, ...]  # every file the run reads: specs, setup, vars, project, and what
    # the specs read (includes, schemas, bodies, uploads, certificates: readfiles.py)


def prepare(inputs: RunInputs) -> Prepared:
    """Read everything a run needs; raise InputError or SpecErrors before anything is sent."""
    from .engine import RunOptions
    from .masking import secrets_in_variables
    from .project import ProjectError, project_file, read_project, setup_for
    from .readfiles import files_read
    from .selection import SelectionError, check
    from .variables import VariablesError, checked_variables, openstack_variables, read_vars_file
    from .wire import in_process

    files = spec_files(inputs.paths)
    try:
        setup_path = setup_for(inputs.setup, inputs.paths)
        project = project_file(inputs.paths)
        settings = read_project(project) if project else None
        app = inputs.app or (settings.app if settings else None)
        variables: dict[str, Any] = {}
        if inputs.vars_file is not None:
            variables.update(read_vars_file(str(inputs.vars_file)))
        variables.update(checked_variables(inputs.variables))
        variables["os"] = openstack_variables(inputs.os_cloud)
    except (ProjectError, VariablesError) as exc:
        raise InputError(str(exc)) from None
    selection = selection_of(inputs.tags, inputs.steps)
    setup, specs = load_all(files, set(variables), setup_path)
    try:
        check(specs, selection)
    except SelectionError as exc:
        raise InputError(str(exc)) from None
    options = RunOptions(
        variables,
        inputs.timeout,
        selection=selection if selection.active else None,
        transport=in_process(app_target(app)) if app else None,
        fixtures=settings.fixtures if settings else (),
    )
    if any(spec.fixtures for spec in specs) or options.fixtures:
        _importable_from_here()
    read = [*files, *([setup_path] if setup_path else []), *([project] if project else [])]
    if inputs.vars_file is not None:
        read.append(Path(inputs.vars_file))
    for spec in (*([setup] if setup else []), *specs):
        read += files_read(spec)  # included, schema, body, upload and certificate files
    return Prepared(specs, setup, options, secrets_in_variables(variables), tuple(read))


def app_target(text: str) -> Any:
    """--app or apirun.yaml's app: parsed and imported now, so a typo is a usage error
    before anything runs. Modules are found from the current folder, as python -m does."""
    from .wsgi import AppError, parse_target

    _importable_from_here()
    try:
        target = parse_target(text)
        target.check()
    except AppError as exc:
        raise InputError(str(exc)) from None
    return target


def _importable_from_here() -> None:
    """--app and fixtures name modules of the project: found from the current folder, as
    python -m does (the apirun script alone would not look there)."""
    import os
    import sys

    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())


def spec_files(paths: Sequence[str | Path]) -> list[Path]:
    """Files as given; a folder gives its *.yaml and *.yml files, sorted (not recursive),
    except the project file apirun.yaml."""
    from .project import PROJECT_FILE  # never run as a spec

    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found = sorted(
                p
                for p in path.iterdir()
                if p.suffix in (".yaml", ".yml") and p.is_file() and p.name != PROJECT_FILE
            )
            if not found:
                raise InputError(f"no spec files (*.yaml, *.yml) in folder {name}")
            files += found
        elif path.is_file():
            if path.name == PROJECT_FILE:
                raise InputError(f"{name} is the project file, not a spec: name the specs")
            files.append(path)
        elif path.exists():  # /dev/zero, a FIFO: never read whole (see files.py)
            raise InputError(f"{name} is not a regular file: a spec is a YAML file")
        else:
            raise InputError(f"no such file or folder: {name}")
    return files


def selection_of(tags: Iterable[str], steps: Iterable[str]) -> Any:
    """--tag (each TAG or TAG,TAG) and --step as a Selection; a malformed tag is refused."""
    from .loader import TAG
    from .selection import Selection

    wanted = {tag.strip() for value in tags for tag in value.split(",")}
    for tag in sorted(wanted):
        if not TAG.match(tag):
            raise InputError(f"--tag takes words such as smoke or smoke,slow, got {tag!r}")
    return Selection(frozenset(wanted), frozenset(steps))


def load_all(
    files: Sequence[Path], given: set[str], setup: Path | None = None
) -> tuple[Spec | None, list[Spec]]:
    """Every file loaded and checked (the setup first: its captures are given to the files);
    SpecErrors with every problem of every file if any has one."""
    errors: list[SpecError] = []
    setup_spec = None
    if setup is not None:
        try:
            setup_spec = load_checked(setup, given)
        except SpecError as exc:
            errors.append(exc)
    names = given_names(given, setup_spec)
    specs: list[Spec] = []
    for path in files:
        try:
            specs.append(load_checked(path, names))
        except SpecError as exc:
            errors.append(exc)
    if errors:
        raise SpecErrors(errors)
    return setup_spec, specs


def given_names(variables: Iterable[str], setup: Spec | None) -> set[str]:
    """The variables every file may use: those given, and what the setup captures."""
    from .checker import captured_names

    return set(variables) | (captured_names(setup) if setup is not None else set())


def load_checked(path: str | Path, given: Iterable[str]) -> Spec:
    """One file loaded and statically checked (load → check): SpecError with its problems."""
    from .loader import load_file

    try:
        spec = load_file(path)
    except SpecError as exc:
        raise completed(exc, given) from None
    return checked(spec, given)


def completed(error: SpecError, given: Iterable[str]) -> SpecError:
    """A file's load problems together with the static check's problems of what the loader
    could still build, in line order: every problem of the file in one round. Only what a
    load problem makes meaningless stays hidden (the uses of a name a broken step defines)."""
    from .checker import check_spec

    partial = error.partial
    if partial is None:
        return error
    seen = {diagnostic.source for diagnostic in error.diagnostics}
    extra = [
        problem
        for problem in check_spec(partial.spec, {*given, *partial.unsure})
        if problem.source not in seen
    ]
    if not extra:
        return error
    path = partial.spec.path
    diagnostics = sorted(
        [*error.diagnostics, *extra],
        key=lambda d: (d.source.file != path, d.source.file, d.source.line, d.source.column),
    )
    return SpecError(diagnostics, error.lines, error.sources)


def checked(spec: Spec, given: Iterable[str]) -> Spec:
    """The spec, once the static check found nothing; else SpecError with every problem."""
    from .checker import check_spec

    problems = check_spec(spec, given)
    if problems:
        raise SpecError(problems, spec.lines, dict(spec.sources))
    return spec
