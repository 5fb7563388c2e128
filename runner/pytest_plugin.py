"""pytest plugin: spec files collected as pytest tests, one item per file, on the same engine.

Registered through the ``pytest11`` entry point under this module's own name (as
pytest-xdist does), so ``-p runner.pytest_plugin`` works whether or not the package is
installed, and ``-p no:runner.pytest_plugin`` turns it off.

pytest collects the ``.yaml``/``.yml`` files matching the ``apirun_files`` ini option
(default ``test_*.yaml``, ``*.apirun.yaml`` and their ``.yml`` forms) or ``--apirun-glob``,
and any spec file named on its command line. A matching file that is plainly not a spec
(YAML without ``steps:``, a data file of another project, say) is left alone with a
warning, so installing apirun never breaks another project's test run. A spec that fails to
collect stops the run before any spec sends a request, under pytest-xdist too (whose
workers would otherwise run the rest). Its workers load each spec once between them
(runner/shared_loads.py), though each collects every file.

A file is one item, as a file is one session with steps that depend on each other: it
passes when every step passes, and its failure report is the console's report of the
file. A file its own ``skip:`` or ``when:`` leaves out is skipped (pytest's skip, with the
reason); one whose steps passed but for expected failures (``xfail:``) is xfailed, with
each step's reason; a step marked xfail that passes fails the file, as pytest's strict
xfail. Tags of the file and its steps are keywords, so ``-k smoke`` selects by tag.
Imported by nothing in runner, and it imports nothing of runner until a spec is collected,
so it costs other projects' test runs nothing (under pytest-xdist, an empty temporary
folder made and removed).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path, PurePath
from typing import Any

import pytest

DEFAULT_PATTERNS = ("test_*.yaml", "test_*.yml", "*.apirun.yaml", "*.apirun.yml")
_SETTINGS = pytest.StashKey["_Settings | str"]()
# Setup specs of this process: resolved path → the loaded spec, or why it is not valid.
_SETUPS = pytest.StashKey[dict[str, Any]]()
# Setup specs already run in this process: path → their FileResult.
_SETUP_RESULTS = pytest.StashKey[dict[str, Any]]()
# Spec files of this process that failed to collect, as messages show them.
_BROKEN = pytest.StashKey[list[str]]()
# pytest-xdist's controller: the run's folder of loaded specs (runner/shared_loads.py),
# named to each worker in its workerinput under SHARED_KEY.
_SHARED = pytest.StashKey[str]()
SHARED_KEY = "apirun_loaded_specs"
# A worker's view of that folder: the Path, or None when it has none it can use.
_SHARED_FOLDER = pytest.StashKey[Any]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("apirun", "apirun spec files")
    group.addoption(
        "--apirun-glob",
        action="append",
        dest="apirun_globs",
        metavar="PATTERN",
        help="collect spec files matching PATTERN, such as 'specs/*.yaml' (repeatable; "
        "replaces the apirun_files ini option)",
    )
    group.addoption(
        "--apirun-var",
        action="append",
        default=[],
        dest="apirun_vars",
        metavar="NAME=VALUE",
        help="set a variable for every spec (repeatable), as apirun --var",
    )
    group.addoption(
        "--apirun-vars-file",
        dest="apirun_vars_file",
        metavar="FILE",
        help="variables from a YAML mapping, as apirun --vars-file",
    )
    group.addoption(
        "--apirun-os-cloud",
        dest="apirun_os_cloud",
        metavar="NAME",
        help="the cloud NAME of clouds.yaml as the 'os' variables, as apirun --os-cloud",
    )
    group.addoption(
        "--apirun-setup",
        dest="apirun_setup",
        metavar="FILE",
        help="a spec run once (per pytest process) before the specs, whose captures they "
        "see, as apirun --setup (default: 'setup:' of an apirun.yaml beside a spec)",
    )
    group.addoption(
        "--apirun-timeout",
        dest="apirun_timeout",
        type=float,
        metavar="SECONDS",
        help="request timeout for steps without their own, as apirun --timeout",
    )
    group.addoption(
        "--apirun-app",
        dest="apirun_app",
        metavar="MODULE:NAME",
        help="answer base_url's host with this WSGI app in-process, as apirun --app "
        "(replaces the apirun_app ini option)",
    )
    parser.addini(
        "apirun_app",
        default="",
        help="MODULE:NAME or MODULE:NAME() of a WSGI app answering base_url's host "
        "in-process, as apirun --app (default: 'app:' of an apirun.yaml beside a spec)",
    )
    parser.addini(
        "apirun_files",
        type="args",
        default=list(DEFAULT_PATTERNS),
        help="patterns of the spec files to collect, matched from the right of the path "
        "('specs/*.yaml' matches a file in any folder named specs)",
    )


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml") or file_path.name == "apirun.yaml":
        return None  # apirun.yaml is the project file, not a spec
    named = parent.session.isinitpath(file_path)
    if not named and not matches(file_path, patterns(parent.config)):
        return None
    return SpecFile.from_parent(parent, path=file_path, named=named)


def patterns(config: pytest.Config) -> list[str]:
    given = config.getoption("apirun_globs")
    return list(given) if given else list(config.getini("apirun_files"))


def matches(path: Path, globs: list[str]) -> bool:
    """Patterns match from the right, and ``*`` never crosses a ``/`` (PurePath.match)."""
    pure = PurePath(path)
    return any(pure.match(glob) for glob in globs)


class SpecFile(pytest.File):
    """One spec file; it yields one item, or a collection error with every problem in it.

    A spec is loaded and checked as ``apirun`` does (runner.inputs): with the variables
    given and those its setup captures, so a spec that ``apirun`` refuses sends nothing.
    """

    def __init__(self, *, named: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.named = named

    def collect(self) -> Iterator[pytest.Item]:
        try:
            yield from self._items()
        except pytest.Collector.CollectError:
            self.config.stash.setdefault(_BROKEN, []).append(shown_path(self.path, self.config))
            raise

    def _items(self) -> Iterator[pytest.Item]:
        from runner.errors import SpecError
        from runner.inputs import checked, completed, given_names

        settings = _settings(self.config, fail=False)
        setup = None
        try:
            spec = _load(self.config, self.path)
        except SpecError as exc:
            from runner.report.console import Style, format_spec_error

            if not self.named and not looks_like_spec(self.path):
                self.warn(
                    pytest.PytestCollectionWarning(
                        f"{self.path.name} matches apirun_files but is not an apirun spec "
                        "(no 'steps:'); not collected"
                    )
                )
                return
            if isinstance(settings, _Settings):  # the check's problems in the same round
                setup = _setup_spec(self.config, self.path, settings)
                exc = completed(exc, given_names(settings.options.variables, setup))
            raise self.CollectError(format_spec_error(exc, Style(False))) from None
        if isinstance(settings, _Settings):  # else every item fails with the bad option
            setup = _setup_spec(self.config, self.path, settings)
            try:
                checked(spec, given_names(settings.options.variables, setup))
            except SpecError as exc:
                from runner.report.console import Style, format_spec_error

                raise self.CollectError(format_spec_error(exc, Style(False))) from None
        yield SpecItem.from_parent(self, name=spec.name, spec=spec, setup_spec=setup)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    """A broken spec sends nothing under pytest-xdist too. pytest alone stops before the
    first test when a file fails to collect; xdist's workers run the rest regardless. Every
    worker collects every file, so each finds the broken one and deselects all it has
    (``--continue-on-collection-errors`` runs the others, as it does without xdist)."""
    broken = config.stash.get(_BROKEN, None)
    if not broken or not hasattr(config, "workerinput"):
        return
    if config.getoption("continue_on_collection_errors"):
        return
    config.hook.pytest_deselected(items=list(items))
    items.clear()
    named = ", ".join(broken[:3]) + (f" and {len(broken) - 3} more" if len(broken) > 3 else "")
    session.warn(
        pytest.PytestWarning(
            f"apirun: nothing ran, as {named} could not be collected (pytest stops the same "
            "way without -n); --continue-on-collection-errors runs the other tests"
        )
    )


def _load(config: pytest.Config, path: Path) -> Any:
    """The spec loaded (not yet checked): in a pytest-xdist worker, once for all workers
    (runner/shared_loads.py); SpecError if it does not load."""
    shown = shown_path(path, config)

    def load() -> Any:
        from runner.loader import load_file

        return load_file(shown)

    folder = _shared_folder(config)
    if folder is None:
        return load()
    from runner.shared_loads import key_of, obtain

    key = key_of(path, shown)
    return load() if key is None else obtain(folder, key, load)


def _shared_folder(config: pytest.Config) -> Any:
    """In a pytest-xdist worker, the run's folder of loaded specs if it can be used (looked
    at once per worker); else None."""
    found = config.stash.get(_SHARED_FOLDER, False)
    if found is False:
        found = None
        workerinput = getattr(config, "workerinput", None)
        if workerinput and SHARED_KEY in workerinput:
            from runner.shared_loads import folder_of

            found = folder_of(workerinput[SHARED_KEY])
        config.stash[_SHARED_FOLDER] = found
    return found


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """pytest-xdist's controller, for each worker it starts: the folder where the workers
    share the specs they load (runner/shared_loads.py), one per run."""
    config = node.config
    folder = config.stash.get(_SHARED, None)
    if folder is None:
        import tempfile

        folder = config.stash[_SHARED] = tempfile.mkdtemp(prefix="apirun-specs-")
    node.workerinput[SHARED_KEY] = folder


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = config.stash.get(_SHARED, None)
    if folder is not None:  # the controller, after its workers ended
        import shutil

        shutil.rmtree(folder, ignore_errors=True)


def shown_path(path: Path, config: pytest.Config) -> str:
    """The path as messages show it: relative to where pytest was started, when inside it."""
    relative = os.path.relpath(path, config.invocation_params.dir)
    return str(path) if relative.startswith("..") else relative


def looks_like_spec(path: Path) -> bool:
    """Whether a file that failed to load was meant as a spec (so its errors must show)."""
    from runner.yamlsource import YAMLSyntaxError, read_yaml_file

    try:
        data = read_yaml_file(path)
    except YAMLSyntaxError:
        return True  # a broken spec must fail loudly, not vanish
    except (OSError, ValueError):
        return True
    return isinstance(data, dict) and "steps" in data


@dataclass
class _Settings:
    """The run options every spec item shares, read once per session from the options."""

    options: Any  # runner.engine.RunOptions
    secrets: set[str]


def _settings(config: pytest.Config, fail: bool = True) -> _Settings | str:
    """Built on first use, not at start-up: pytest runs without spec files never pay for it.
    A bad option is kept as its message and fails every spec item with it."""
    found = config.stash.get(_SETTINGS, None)
    if found is None:
        from runner.engine import RunOptions
        from runner.masking import secrets_in_variables
        from runner.variables import VariablesError, given_variables, openstack_variables

        try:
            variables = given_variables(
                config.getoption("apirun_vars"),
                config.getoption("apirun_vars_file"),
                "--apirun-var",
                "--apirun-vars-file",
            )
            variables["os"] = openstack_variables(
                config.getoption("apirun_os_cloud"), "--apirun-os-cloud"
            )
        except VariablesError as exc:
            found = str(exc)
        else:
            options = RunOptions(variables, config.getoption("apirun_timeout"))
            found = _Settings(options, secrets_in_variables(variables))
        app = config.getoption("apirun_app") or config.getini("apirun_app")
        if isinstance(found, _Settings) and app:
            from runner.wire import in_process
            from runner.wsgi import AppError, parse_target

            try:
                target = parse_target(app)
                target.check()
            except AppError as exc:
                found = str(exc)
            else:
                found.options = replace(found.options, transport=in_process(target))
        config.stash[_SETTINGS] = found
    if isinstance(found, str) and fail:
        pytest.fail(f"apirun: {found}", pytrace=False)
    return found


def _setup_spec(config: pytest.Config, spec_path: Path, settings: _Settings) -> Any:
    """The spec's setup (--apirun-setup, or apirun.yaml's), loaded and checked once per
    process; a broken one is a collection error of every spec that needs it."""
    from runner.errors import SpecError
    from runner.inputs import load_checked
    from runner.project import ProjectError, setup_for
    from runner.report.console import Style, format_spec_error

    try:
        setup = setup_for(config.getoption("apirun_setup"), [spec_path])
    except ProjectError as exc:
        raise pytest.Collector.CollectError(f"apirun: {exc}") from None
    if setup is None:
        return None
    loaded = config.stash.setdefault(_SETUPS, {})
    key = str(setup.resolve())
    if key not in loaded:
        try:
            loaded[key] = load_checked(shown_path(setup, config), settings.options.variables)
        except SpecError as exc:
            loaded[key] = f"the setup {setup} is not a valid spec:\n" + format_spec_error(
                exc, Style(False)
            )
    if isinstance(loaded[key], str):
        raise pytest.Collector.CollectError(loaded[key])
    return loaded[key]


def _setup_result(config: pytest.Config, setup: Any, options: Any) -> Any:
    """The setup run once per pytest process (each xdist worker runs it once); a failed
    setup fails every spec that needs it, and is not tried again."""
    from runner.schedule import run_setup

    done = config.stash.setdefault(_SETUP_RESULTS, {})
    if setup.path not in done:
        done[setup.path] = run_setup(setup, options)
    return done[setup.path]


def _with_project(options: Any, spec_path: Path) -> Any:
    """'fixtures:' of the apirun.yaml beside the spec, and its 'app:' when neither option
    names one."""
    from runner.project import ProjectError, project_for
    from runner.wire import in_process
    from runner.wsgi import AppError, parse_target

    try:
        project = project_for([spec_path])
        transport = options.transport
        if transport is None and project.app:
            transport = in_process(parse_target(project.app))
    except (ProjectError, AppError) as exc:
        pytest.fail(f"apirun: {exc}", pytrace=False)
    return replace(options, transport=transport, fixtures=project.fixtures)


class SpecItem(pytest.Item):
    """A spec file run as one test: all its steps, in order, over one HTTP session."""

    def __init__(self, *, spec: Any, setup_spec: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.spec = spec
        self.setup_spec = setup_spec  # not "setup": pytest calls item.setup()
        tags = set(spec.tags).union(*(step.tags for step in spec.all_steps()))
        self.extra_keyword_matches.update(tags)

    def runtest(self) -> None:
        from runner.schedule import run_specs

        settings = _settings(self.config)
        assert isinstance(settings, _Settings)
        options = settings.options
        options = _with_project(options, self.path)
        setup = self.setup_spec and _setup_result(self.config, self.setup_spec, options)
        result = run_specs([self.spec], options, setup=setup)
        failed = next((file for file in result.files if not file.passed), None)
        if failed is not None:  # the setup's report when it failed, else the file's
            raise SpecFailed(failed, settings.secrets | failed.secrets)
        expected_outcome(result.files[-1])

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, SpecFailed):
            return excinfo.value.report()
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"apirun spec: {self.spec.name}"


def expected_outcome(file: Any) -> None:
    """A file that passed, in pytest's words: skipped when the file itself was (its ``skip:``
    or ``when:``), xfailed when a step failed as expected (``xfail:``), else passed."""
    from runner.masking import mask
    from runner.results import Outcome

    if file.skip_reason is not None:
        pytest.skip(file.skip_reason)
    xfailed = [step for step in file.steps if step.outcome is Outcome.XFAIL]
    if xfailed:
        reasons = "; ".join(f"step '{step.name}': {step.xfail_message}" for step in xfailed)
        pytest.xfail(mask(reasons, file.secrets, file.own_text))


class SpecFailed(Exception):
    """A spec file did not pass; carries its results for the failure report."""

    def __init__(self, result: Any, secrets: set[str]):
        super().__init__(result.spec.path)
        self.result = result
        self.secrets = secrets

    def report(self) -> FailureReport:
        from runner.masking import mask
        from runner.report.console import (
            Style,
            failure_messages,
            format_file_error,
            format_file_header,
            format_step,
        )
        from runner.results import FAILING, Outcome

        file, style = self.result, Style(False)
        if file.error is not None:
            headline = f"the file could not start: {file.error.message}"
            line = file.error.source.line
        else:
            failed = next(s for s in file.steps if s.outcome in FAILING)
            headline = f"step '{failed.name}' failed: " + "; ".join(failure_messages(failed))
            line = failed.source.line
        # The headline first: with pytest-xdist the report travels as text, and pytest's
        # one-line summaries then show its first line.
        lines = [headline, format_file_header(file.spec, style)]
        if file.error is not None:
            lines.append(format_file_error(file, style))
        lines += [format_step(file.spec, step, style, self.secrets) for step in file.steps]
        passed, skipped = file.count(Outcome.PASSED), file.count(Outcome.SKIPPED)
        xfailed = file.count(Outcome.XFAIL)
        failed_count = len(file.steps) - passed - skipped - xfailed
        summary = f"{passed} passed, {failed_count} failed, {skipped} skipped"
        lines.append(summary + (f", {xfailed} xfailed" if xfailed else ""))
        own = file.own_text
        text = style.terminal(mask("\n".join(lines), self.secrets, own))  # pytest prints it
        headline = style.terminal(mask(headline, self.secrets, own))
        return FailureReport(text, Crash(file.spec.path, line, headline))


@dataclass
class Crash:
    """What pytest shows in its one-line summaries (-ra, --tb=line) and in JUnit messages."""

    path: str
    lineno: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.lineno}: {self.message}"


@dataclass
class FailureReport:
    """A failure report as pytest expects one: printable, with a one-line ``reprcrash``."""

    text: str
    reprcrash: Crash

    def toterminal(self, out: Any) -> None:
        for line in self.text.splitlines():
            out.line(line)

    def __str__(self) -> str:  # what pytest-xdist sends from its workers
        return self.text
