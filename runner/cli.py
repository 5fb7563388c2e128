"""The ``apirun`` command: arguments → load → check → run → report → exit code.

Imported by nothing. Heavy modules are imported only once the arguments are understood,
so ``--help`` and ``--version`` answer at once.
"""

from __future__ import annotations

import argparse
import gc
import math
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from . import __version__
from .record import Record, record
from .report import FILE_REPORTS

if TYPE_CHECKING:
    from .interrupt import Stop

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130

EXAMPLES = """\
examples:
  apirun specs/users.yaml                     run one spec file
  apirun specs/                               run every *.yaml / *.yml in a folder, sorted
  apirun --var password=s3cret specs/users.yaml
  apirun --vars-file staging.yaml -v specs/   variables from a file, full request/response
  apirun specs/ --junit report.xml            also write a JUnit report for CI
  apirun specs/ --jobs 4 --fail-fast          4 files at a time; start no new file after a failure
  apirun specs/ --tag smoke                   only steps tagged smoke (and the steps they need)
  apirun specs/users.yaml --step 'list users' one step, after the steps it takes captures from
  apirun --dry-run specs/users.yaml           print every request, rendered; nothing is sent
  apirun --watch specs/users.yaml             run again on each save of it or a file it reads
  apirun --app myapp.wsgi:application specs/  base_url's host answered by a WSGI app, in-process
  apirun check specs/                         validate only: nothing is sent
  apirun check --setup login.yaml specs/      ...knowing the variables a setup, --var,
                                              --vars-file or --os-cloud give
  apirun --color never check specs/           options go before or after the command
  apirun schema > apirun.schema.json          the spec format's JSON Schema, for editors
  apirun import gabbi gabbits/ -o specs/      gabbi YAML files as specs (docs/gabbi.md)
  apirun import curl 'curl -X POST ...' -o new.yaml   a curl line as a spec (also: har, postman)

exit codes: 0 all steps passed, 1 a step failed, 2 a spec or usage error (nothing sent)
"""


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error in one line (the command's own error form)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"apirun: error: {message} (see {self.prog} --help)\n")


@record
class Command(Record):
    """A subcommand: ``apirun NAME …``. Adding one is one entry in COMMANDS."""

    name: str
    help: str
    description: str
    arguments: Callable[[argparse.ArgumentParser], None]
    handler: Callable[[argparse.Namespace, TextIO, TextIO], int]


def _paths(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="FILE_OR_DIR", help="spec files or folders")


def _variables(parser: argparse.ArgumentParser) -> None:
    """The options that decide which variables exist: run and check both take them."""
    group = parser.add_argument_group("variables")
    group.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a variable (repeatable; beats --vars-file and the file's vars)",
    )
    group.add_argument(
        "--vars-file", metavar="FILE", help="YAML mapping of variables (beats the file's vars)"
    )
    group.add_argument(
        "--setup",
        metavar="FILE",
        help="a spec run once before all files (a login); its captures are visible in "
        "every file (default: 'setup:' of an apirun.yaml beside the specs)",
    )
    group.add_argument(
        "--os-cloud",
        metavar="NAME",
        help="read cloud NAME from clouds.yaml (and secure.yaml) into the 'os' variables; "
        "default $OS_CLOUD",
    )


def _color(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour output (auto: only on a terminal, and never when NO_COLOR is set)",
    )


def _check_arguments(parser: argparse.ArgumentParser) -> None:
    _paths(parser)
    _variables(parser)
    _color(parser)
    parser.add_argument(
        "-w",
        "--watch",
        action="store_true",
        help="do it again each time a spec or a file it reads changes (included, schema "
        "and body files, the setup, the vars file, apirun.yaml), until Ctrl-C (exit 130)",
    )


def _run_arguments(parser: argparse.ArgumentParser) -> None:
    _check_arguments(parser)
    parser.add_argument(
        "--timeout",
        type=_timeout,
        metavar="SECONDS",
        help="request timeout (default 30; a step's own timeout still wins)",
    )
    parser.add_argument(
        "--app",
        metavar="MODULE:NAME",
        help="answer the requests for base_url's host with this WSGI app, in this process "
        "(no socket); MODULE:NAME() calls a factory once per file (default: 'app:' of "
        "apirun.yaml)",
    )
    parser.add_argument(
        "-n",
        "--dry-run",
        action="store_true",
        help="load, check and render every request in order and print it; send nothing "
        "(values only a response could give show as <capture NAME from step 'STEP'>)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="print request and response headers and bodies of every step",
    )
    parser.add_argument(
        "--show-secrets",
        action="store_true",
        help="print tokens and passwords in clear (they are masked as *** by default; "
        "never in --junit and --report-json reports)",
    )
    for report in FILE_REPORTS:
        parser.add_argument(report.flag, metavar="FILE", help=report.help)
    parser.add_argument(
        "--curl",
        metavar="FILE",
        help="write every request sent as a bash script of curl commands (secrets "
        "masked as *** unless --show-secrets; then the script replays the run's requests)",
    )
    parser.add_argument(
        "-j",
        "--jobs",
        type=_positive_int,
        default=1,
        metavar="N",
        help="run N spec files at a time (default 1); each file's output is printed "
        "as one block when it is done, in the order the files were given",
    )
    parser.add_argument(
        "-x",
        "--fail-fast",
        action="store_true",
        help="start no more files after one has failed",
    )
    parser.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="TAG",
        help="run only the steps having TAG, or in a file having it, and the steps they "
        "need for captures (repeatable; TAG,TAG for any of several)",
    )
    parser.add_argument(
        "--step",
        action="append",
        default=[],
        metavar="NAME",
        help="run only the step NAME, after the earlier steps it needs for captures (repeatable)",
    )


def _parser(only: str | None = None) -> argparse.ArgumentParser:
    """The command line's parser; with ``only``, that command's alone (all that parsing
    ``apirun ONLY …`` needs; building every command's costs more than the rest of parsing)."""
    parser = _Parser(
        prog="apirun",
        description="Run HTTP requests described in YAML spec files and check the responses.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"apirun {__version__}")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", title="commands (default: run)"
    )
    for command in COMMANDS:
        if only is not None and command.name != only:
            continue
        sub = commands.add_parser(
            command.name,
            help=command.help,
            description=command.description,
            epilog=EXAMPLES if command.name == "run" else None,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        sub.add_argument("--version", action="version", version=f"apirun {__version__}")
        command.arguments(sub)
        sub.set_defaults(handler=command.handler)
    return parser


def _command_first(args: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """The arguments with the subcommand first, so options may come before it
    (``apirun --color never check specs/``); without one, the command is ``run``.

    The subcommand is the first word that is not an option or an option's value.
    """
    names = {command.name for command in COMMANDS}
    takes_value = _options_taking_values(parser)
    index = 0
    while index < len(args):
        word = args[index]
        if word == "--":
            break
        if word.startswith("-") and word != "-":
            index += 2 if word in takes_value else 1
            continue
        if word in names:
            return [word, *args[:index], *args[index + 1 :]]
        break
    if index >= len(args) and ("-h" in args or "--help" in args):
        return ["--help"]  # apirun --help: the overview of the commands
    return ["run", *args]


def _options_taking_values(parser: argparse.ArgumentParser) -> set[str]:
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found: set[str] = set()
    for sub in subparsers.choices.values():
        for action in sub._actions:
            if action.option_strings and action.nargs != 0:
                found.update(action.option_strings)
    return found


def _timeout(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(
            f"takes a number of seconds more than 0, such as 30 or 2.5, got {text!r}"
        )
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def _use_color(choice: str, stream: TextIO) -> bool:
    if choice != "auto":
        return choice == "always"
    return stream.isatty() and not os.environ.get("NO_COLOR")


def main(argv: Sequence[str] | None = None) -> int:
    """The command. Without ``argv`` it is the process's own command line (the apirun
    script, ``python -m runner``): the process ends when it returns."""
    if argv is None:
        # Start-up (the imports, loading and checking the specs) makes objects that live
        # until the end and frees almost none: the collector's passes over them are wasted
        # (~7 ms of a one-request run). Paused here, resumed by _start_up_done.
        gc.disable()
        _start_up[0] = True
    try:
        return _main(argv)
    finally:
        if argv is None:
            # What the run made lives until the end; the interpreter's last collection
            # would walk all of it (~0.1 s after 500 steps) only to free memory the exit
            # frees anyway. Frozen objects are left to the exit.
            gc.freeze()


# True while main() keeps the garbage collector paused for the command's start-up.
_start_up = [False]


def _start_up_done() -> None:
    """The command is about to run steps or to watch: from now on it collects garbage.

    What start-up made is frozen first (left out of every later collection: it lives until
    the end anyway), so a long run's full collections do not walk the modules and specs.
    Only the first call does anything: under --watch, every later pass collects as usual."""
    if _start_up[0]:
        _start_up[0] = False
        gc.freeze()
        gc.enable()


def _main(argv: Sequence[str] | None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    found = next((i for i, a in enumerate(args[:-1]) if args[i : i + 2] == ["import", "gabbi"]), -1)
    if found >= 0 and all(
        a.startswith("-") or args[i - 1] == "--color" for i, a in enumerate(args[:found])
    ):
        from .importers.gabbi import main as import_gabbi  # many files into a folder

        return import_gabbi(args[:found] + args[found + 2 :], sys.stdout, sys.stderr)
    if args and not args[0].startswith("-"):
        # The first word is the command, or the first path of `run`: with no option before
        # it, no option's value can be mistaken for it, and one command's parser does.
        named = args[0] in {command.name for command in COMMANDS}
        parser = _parser(args[0] if named else "run")
        options = parser.parse_args(args if named else ["run", *args])
    else:
        parser = _parser()
        options = parser.parse_args(_command_first(args, parser))
    if options.command is None:
        parser.print_help()
        return EXIT_USAGE
    out, err = QuietStream(sys.stdout), sys.stderr
    try:
        return int(options.handler(options, out, err))
    except UsageError as exc:
        err.write(f"apirun: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        err.write("apirun: interrupted\n")
        return EXIT_INTERRUPTED
    finally:
        out.close_if_broken()


class QuietStream:
    """stdout that a reader may close (``apirun … | head -1``), or that may be closed
    (``>&-``) or full (``>/dev/full``): console output then stops quietly, and the run goes
    on — reports written, exit code from the tests."""

    def __init__(self, stream: TextIO | None):
        self._stream = stream
        self.broken = stream is None

    def write(self, text: str) -> int:
        if not self.broken and self._stream is not None:
            try:
                self._stream.write(text)
            except (OSError, ValueError):
                self.broken = True
        return len(text)

    def flush(self) -> None:
        if not self.broken and self._stream is not None:
            try:
                self._stream.flush()
            except (OSError, ValueError):
                self.broken = True

    def isatty(self) -> bool:
        try:
            stream = self._stream
            return not self.broken and stream is not None and bool(stream.isatty())
        except (OSError, ValueError):
            return False

    def fileno(self) -> int:
        if self._stream is None:
            raise OSError("stdout is closed")
        return self._stream.fileno()

    def close_if_broken(self) -> None:
        """So that Python's own flush at exit does not complain about a broken stdout."""
        self.flush()
        if self.broken and self._stream is not None:
            try:
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, self._stream.fileno())
            except (OSError, ValueError):
                pass


def _print_schema(options: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``apirun schema``: the spec format's JSON Schema, for editors (docs/format.md)."""
    out.write((Path(__file__).parent / "schema" / "apirun.schema.json").read_text("utf-8"))
    return EXIT_OK


def _prepare(options: argparse.Namespace, err: TextIO, seen: list[Path] | None = None) -> Any:
    """The command's options as RunInputs, loaded and checked (runner.inputs.prepare); spec
    problems are printed, every one, and nothing is sent (None). ``seen`` gets the files
    the spec problems name, for --watch."""
    from .inputs import InputError, RunInputs, SpecErrors, prepare
    from .report.console import Style, format_spec_error
    from .variables import VariablesError, given_variables

    try:
        variables = given_variables(options.var, None)
    except VariablesError as exc:
        raise UsageError(str(exc)) from None
    inputs = RunInputs(
        paths=options.paths,
        variables=variables,
        vars_file=options.vars_file,
        os_cloud=options.os_cloud,
        setup=options.setup,
        tags=getattr(options, "tag", ()),
        steps=getattr(options, "step", ()),
        timeout=getattr(options, "timeout", None),
        app=getattr(options, "app", None),
    )
    try:
        return prepare(inputs)
    except InputError as exc:
        raise UsageError(str(exc)) from None
    except SpecErrors as exc:
        if seen is not None:
            from .watch import error_files

            seen += error_files(exc.errors)
        style = Style(_use_color(options.color, err))
        for error in exc.errors:
            err.write(style.terminal(format_spec_error(error, style)) + "\n\n")
        err.write(f"apirun: {exc}; nothing was sent\n")
        return None


@record
class Pass(Record):
    """What one run (or check) left for the watch (runner/watch.py): its exit code and the
    files it read. Here, not in watch.py, so that a run without --watch never imports it.

    ``complete``: the files are all the pass reads (it got past loading); otherwise they
    are what it got to, and the watch keeps the previous pass's files too.
    ``last``: no point going on (standard output was closed): the watch ends.
    """

    exit_code: int
    files: tuple[Path, ...] = ()
    complete: bool = True
    last: bool = False


# A pass: one check or run, giving its exit code and the files it read; the Stop is the
# watch's (a signal during a pass stops that pass and the watch).
PassFunction = Callable[[argparse.Namespace, TextIO, TextIO, "Stop | None"], "Pass"]


def _check(options: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if options.watch:
        return _watch(options, out, err, _check_pass)
    return int(_check_pass(options, out, err).exit_code)


def _check_pass(
    options: argparse.Namespace, out: TextIO, err: TextIO, stop: Stop | None = None
) -> Pass:
    seen: list[Path] = []
    prepared = _prepare(options, err, seen)
    if prepared is None:
        return Pass(EXIT_USAGE, tuple(seen), complete=False)
    specs = prepared.specs
    steps = sum(len(list(spec.all_steps())) for spec in specs)
    out.write(f"ok: {len(specs)} spec file{'s' if len(specs) != 1 else ''}, {steps} steps\n")
    return Pass(EXIT_OK, prepared.files)


def _run(options: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    if options.watch:
        return _watch(options, out, err, _run_pass)
    return int(_run_pass(options, out, err).exit_code)


def _watch(options: argparse.Namespace, out: TextIO, err: TextIO, run_pass: PassFunction) -> int:
    """--watch: a pass now and after each change of what it read (runner/watch.py).
    A mistake in the options ends the command at once, as without --watch; a problem that
    editing a file can fix (a spec error, a missing file, a --tag that selects nothing) is
    printed and watched."""
    from dataclasses import replace

    from .interrupt import Stop, handling_signals
    from .variables import VariablesError, given_variables
    from .watch import given_files, watch

    if hasattr(options, "junit"):  # run: report files that can never be written
        _report_paths(options)
    try:
        given_variables(options.var, None)
    except VariablesError as exc:
        raise UsageError(str(exc)) from None

    def one_pass(stop: Stop) -> Pass:
        try:
            done = run_pass(options, out, err, stop)
        except UsageError as exc:
            err.write(f"apirun: error: {exc}\n")
            done = Pass(EXIT_USAGE, complete=False)
        return replace(done, last=bool(getattr(out, "broken", False)))

    _start_up_done()
    given = given_files(options.paths, options.setup, options.vars_file)
    folders = [Path(name) for name in options.paths if Path(name).is_dir()]
    stop = Stop()
    with handling_signals(stop):
        return watch(one_pass, given, folders, stop, out, err)


def _run_pass(
    options: argparse.Namespace, out: TextIO, err: TextIO, stop: Stop | None = None
) -> Pass:
    """One run: its exit code and the files it read. ``stop``: the watch's, so that a
    signal during any pass stops that pass and the watch."""
    reports = _report_paths(options)
    seen: list[Path] = []
    prepared = _prepare(options, err, seen)
    if prepared is None:
        return Pass(EXIT_USAGE, tuple(seen), complete=False)
    _refuse_inputs(reports, prepared.files)
    if options.dry_run:
        return Pass(_dry_run(options, prepared, out), prepared.files)

    from dataclasses import replace

    from .interrupt import Stop, handling_signals
    from .report.console import GroupedConsole, Style
    from .schedule import run_specs

    live = None
    if options.jobs == 1 and out.isatty() and _use_color(options.color, out):
        from .report.progress import LiveProgress

        live = LiveProgress(out)  # a terminal that allows colour: a live line for slow steps
    console = GroupedConsole(
        out,
        Style(_use_color(options.color, out)),
        progress=live,
        verbose=options.verbose,
        show_secrets=options.show_secrets,
        secrets=prepared.secrets,
        grouped=options.jobs > 1,
    )
    # The report files' parts rendered as each file finishes: with --jobs, while others run.
    formats = {report.flag: report for report in FILE_REPORTS}
    parts = {
        flag: formats[flag].file_parts(prepared.secrets) for flag in reports if flag in formats
    }
    parts = {flag: found for flag, found in parts.items() if found is not None}

    def file_finished(index: int, file: Any) -> None:
        console.file_finished(index, file)
        for found in parts.values():
            found.add(file)

    from . import transport  # noqa: F401  (imported by the first file anyway: start-up)

    _start_up_done()
    stop = stop or Stop()
    with handling_signals(stop):
        result = run_specs(
            prepared.specs,
            replace(
                prepared.options,
                keep_passed_bodies=options.verbose
                or any(r.keeps_bodies and getattr(options, r.dest) for r in FILE_REPORTS),
                stop=stop,
            ),
            console.direct_listener(),
            prepared.setup,
            jobs=options.jobs,
            fail_fast=options.fail_fast,
            listener_for=console.listener_for,
            on_finished=file_finished if parts else console.file_finished,
        )
        console.summary(result)
        _write_reports(reports, result, prepared.secrets, options.show_secrets, parts)
    if stop.requested:
        err.write(_interrupted_message(stop, result, reports))
        return Pass(stop.exit_code, prepared.files)
    return Pass(result.exit_code, prepared.files)


def _interrupted_message(stop: Any, result: Any, reports: dict[str, Path]) -> str:
    """The one line an interrupted run ends with: what ran, what was skipped, what was kept."""
    from .results import Outcome

    cleanup = "the finally steps were skipped" if stop.skip_cleanup else "finally steps ran"
    skipped = sum(
        1
        for file in result.files
        for step in file.steps
        if step.outcome is Outcome.SKIPPED and "interrupted by" in (step.skip_reason or "")
    )
    kept = f"; reports written: {', '.join(map(str, reports.values()))}" if reports else ""
    files = len(result.not_run)
    return (
        f"apirun: interrupted by {stop.signal_name}: {_count(skipped, 'step')} and "
        f"{_count(files, 'file')} not run, {cleanup}{kept}\n"
    )


def _count(number: int, thing: str) -> str:
    return f"{number} {thing}{'' if number == 1 else 's'}"


def _dry_run(options: argparse.Namespace, prepared: Any, out: TextIO) -> int:
    """Print what a run would send: 0 when every request renders, 2 when one cannot."""
    from .dryrun import plan_files
    from .report.console import Style
    from .report.plan import format_plan

    cloud = prepared.options.variables.get("os")
    if hasattr(cloud, "offline"):  # nothing is sent: os.token and os.catalog stay unknown
        cloud.offline = True
    selection = prepared.options.selection
    specs = [spec for spec in prepared.specs if selection is None or selection.selects(spec)]
    planned = plan_files(specs, prepared.options, prepared.setup)
    style = Style(_use_color(options.color, out))
    plan = format_plan(planned, style, prepared.secrets, options.show_secrets)
    out.write(style.terminal(plan) + "\n")
    return EXIT_USAGE if any(file.problems for file in planned) else EXIT_OK


def _report_paths(options: argparse.Namespace) -> dict[str, Path]:
    """Report files checked before anything is sent, not after a long run."""
    reports: dict[str, Path] = {}
    named = [(report.flag, getattr(options, report.dest)) for report in FILE_REPORTS]
    named.append(("--curl", options.curl))
    if options.dry_run and options.curl is not None:
        raise UsageError("--curl writes the requests a run sends, and a dry run sends none")
    for flag, name in named:
        if name is None:
            continue
        path = Path(name)
        folder = Path(os.path.realpath(path)).parent  # a symlink's report goes to its target
        if not name or path.is_dir():
            raise UsageError(f"{flag} {name!r}: give a file name, such as report.xml")
        if not folder.is_dir():
            raise UsageError(f"{flag} {name}: there is no folder {folder}")
        if not os.access(folder, os.W_OK | os.X_OK):
            raise UsageError(f"{flag} {name}: cannot write in the folder {folder}")
        if any(path.resolve() == other.resolve() for other in reports.values()):
            raise UsageError(f"two reports name the same file: {name}")
        from .atomicfile import not_a_regular_file

        problem = not_a_regular_file(path)
        if problem:
            raise UsageError(f"{flag} {name}: {problem}")
        reports[flag] = path
    return reports


def _refuse_inputs(reports: dict[str, Path], inputs: Sequence[Path]) -> None:
    """A report may not replace what the run reads: a spec, an included, schema, body,
    upload or certificate file, the setup, the vars file, apirun.yaml. Checked before
    anything is sent."""
    read = {path.resolve() for path in inputs}
    for flag, path in reports.items():
        if path.resolve() in read:
            raise UsageError(
                f"{flag} {path} is an input of this run (a spec, a file a spec includes, "
                "sends or checks against, the setup, the vars file or apirun.yaml): name "
                "another file for the report"
            )


def _write_reports(
    reports: dict[str, Path],
    result: Any,
    secrets: set[str],
    show_secrets: bool = False,
    parts: dict[str, Any] | None = None,
) -> None:
    """``show_secrets`` is for --curl only: the JUnit and JSON reports always mask them.
    ``parts``: by flag, the files a report rendered as they finished."""
    if not reports:
        return
    from .atomicfile import write_atomic

    formats = {report.flag: report for report in FILE_REPORTS}
    for flag, path in reports.items():
        if flag == "--curl":
            _write_curl(path, result, None if show_secrets else secrets)
            continue
        content = formats[flag].render(result, secrets, (parts or {}).get(flag))
        try:
            write_atomic(path, content)
        except OSError as exc:
            raise UsageError(f"cannot write {flag} {path}: {exc.strerror or exc}") from None


def _write_curl(path: Path, result: Any, secrets: set[str] | None) -> None:
    """The script, executable (only by its owner when it holds secrets in clear); bodies
    read from files go to a folder beside it, written first."""
    from .atomicfile import write_atomic
    from .report.curl import curl_script

    folder = f"{path.name}.d"
    script = curl_script(result, secrets, folder)
    try:
        if script.bodies:
            (path.parent / folder).mkdir(exist_ok=True)
        for name, body in script.bodies.items():
            write_atomic(path.parent / folder / name, body, 0o600 if secrets is None else None)
        write_atomic(path, script.text.encode("utf-8"), 0o700 if secrets is None else 0o755)
    except OSError as exc:
        raise UsageError(f"cannot write --curl {path}: {exc.strerror or exc}") from None


def _import_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("format", choices=("curl", "har", "postman"), help="what SOURCE is")
    parser.add_argument(
        "source",
        metavar="SOURCE",
        help="curl: the command line(s), or a file holding them; har, postman: the file; "
        "'-' reads standard input",
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write the spec to FILE (default: print it)"
    )
    parser.add_argument("--force", action="store_true", help="replace FILE if it exists")
    parser.add_argument(
        "--host",
        action="append",
        default=[],
        metavar="HOST",
        help="har: only the entries to HOST (host or host:port; repeatable)",
    )
    parser.add_argument(
        "--url-pattern",
        metavar="REGEX",
        help="har: only the entries whose URL matches REGEX (searched, not anchored)",
    )
    _color(parser)


def _import(options: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Translate, check, then write whole (or print): nothing is written on any error."""
    import re

    from .importers import ImportError_, translate

    if options.url_pattern is not None:
        try:
            re.compile(options.url_pattern)
        except re.error as exc:
            raise UsageError(f"--url-pattern {options.url_pattern!r}: {exc}") from None
    if options.format != "har" and (options.host or options.url_pattern):
        raise UsageError("--host and --url-pattern filter the entries of a HAR file only")
    source = _import_source(options.format, options.source)
    target = Path(options.output) if options.output else None
    if target is not None:
        if target.is_dir():
            raise UsageError(f"-o {target}: a folder; give a file name, such as imported.yaml")
        if not target.parent.is_dir():
            raise UsageError(f"-o {target}: there is no folder {target.parent}")
        if target.exists() and not options.force:
            raise UsageError(f"{target} exists: add --force to replace it")
    spec_path = str(target) if target is not None else "imported.yaml"
    try:
        done = translate(options.format, source, spec_path, options)
    except ImportError_ as exc:
        what = "the curl command" if options.format == "curl" else options.source
        raise UsageError(f"cannot import {what}: {exc}") from None
    if target is None:
        out.write(done.text)
    else:
        from .atomicfile import write_atomic

        try:
            write_atomic(target, done.text.encode("utf-8"))
        except OSError as exc:
            raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None
        err.write(
            f"apirun import: {done.steps} step{'s' if done.steps != 1 else ''} written "
            f"to {target}\n"
        )
    if done.notes:
        err.write(f"apirun import: not translated ({len(done.notes)}):\n")
        err.write("".join(f"  - {note}\n" for note in done.notes))
    return EXIT_OK


def _import_source(kind: str, source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    path = Path(source)
    if kind == "curl" and not source.lstrip().startswith(("curl", "$")) and path.is_file():
        return path.read_text("utf-8")
    if kind == "curl":
        return source
    try:
        return path.read_text("utf-8")
    except FileNotFoundError:
        raise UsageError(f"no such file: {source}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {source}: {exc}") from None


COMMANDS: tuple[Command, ...] = (
    Command(
        "run",
        "run spec files (the default: apirun FILE means apirun run FILE)",
        "Run HTTP requests described in YAML spec files and check the responses.",
        _run_arguments,
        _run,
    ),
    Command(
        "check",
        "check spec files without sending anything",
        "Check spec files (shape, keys, templates, variables, JSONPath, regex) without "
        "sending anything. Takes the options that decide which variables exist, as run does.",
        _check_arguments,
        _check,
    ),
    Command(
        "import",
        "turn curl command lines, a HAR file or a Postman collection into a spec",
        "Translate curl command lines, a browser's HAR 1.2 export or a Postman collection "
        "(v2.1) into a spec that runs; what cannot be translated is listed. Nothing is "
        "written unless the whole translation succeeds; an existing FILE needs --force.",
        _import_arguments,
        _import,
    ),
    Command(
        "schema",
        "print the spec format's JSON Schema",
        "Print the JSON Schema of the spec format (draft-07), to point an editor at: "
        "apirun schema > apirun.schema.json",
        _color,
        _print_schema,
    ),
)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
