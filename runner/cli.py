"""The ``apirun`` command: arguments → load → check → run → report → exit code.

Imported by nothing. Heavy modules are imported only once the arguments are understood,
so ``--help`` and ``--version`` answer at once.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, TextIO

from . import __version__

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130

EXAMPLES = """\
examples:
  apirun specs/users.yaml                     run one spec file
  apirun specs/                               run every *.yaml / *.yml in a folder, sorted
  apirun --var password=s3cret specs/users.yaml
  apirun --vars-file staging.yaml -v specs/   variables from a file, full request/response
  apirun check specs/                         validate only: nothing is sent
  apirun check --var password=x specs/        ...knowing the variables given on the command line
  apirun schema > apirun.schema.json          the spec format's JSON Schema, for editors

exit codes: 0 all steps passed, 1 a step failed, 2 a spec or usage error (nothing sent)
"""

_NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")


class UsageError(Exception):
    pass


def _parser(command: str) -> argparse.ArgumentParser:
    prog = "apirun" if command == "run" else f"apirun {command}"
    description = (
        "Run HTTP requests described in YAML spec files and check the responses."
        if command == "run"
        else "Check spec files (shape, keys, templates, variables, JSONPath, regex) without "
        "sending anything."
    )
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="FILE_OR_DIR", help="spec files or folders")
    parser.add_argument("--version", action="version", version=f"apirun {__version__}")
    parser.add_argument(
        "--var",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a variable (repeatable; beats --vars-file and the file's vars)",
    )
    parser.add_argument(
        "--vars-file", metavar="FILE", help="YAML mapping of variables (beats the file's vars)"
    )
    if command == "run":
        parser.add_argument(
            "--os-cloud",
            metavar="NAME",
            help="read cloud NAME from clouds.yaml (and secure.yaml) into the 'os' variables; "
            "default $OS_CLOUD",
        )
        parser.add_argument(
            "--timeout",
            type=_positive_float,
            metavar="SECONDS",
            help="request timeout (default 30; a step's own timeout still wins)",
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
            help="print tokens and passwords in clear (they are masked as *** by default)",
        )
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour output (auto: only on a terminal, and never when NO_COLOR is set)",
    )
    return parser


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError("must be more than 0")
    return value


def _use_color(choice: str, stream: TextIO) -> bool:
    if choice != "auto":
        return choice == "always"
    return stream.isatty() and not os.environ.get("NO_COLOR")


def spec_files(paths: Sequence[str]) -> list[Path]:
    """Files as given; a folder gives its *.yaml and *.yml files, sorted (not recursive)."""
    files: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found = sorted(
                p for p in path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()
            )
            if not found:
                raise UsageError(f"no spec files (*.yaml, *.yml) in folder {name}")
            files += found
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"no such file or folder: {name}")
    return files


def cli_variables(var_args: Sequence[str], vars_file: str | None) -> dict[str, Any]:
    variables: dict[str, Any] = {}
    if vars_file:
        variables.update(_read_vars_file(vars_file))
    for item in var_args:
        name, sep, value = item.partition("=")
        if not sep or not _NAME.match(name):
            raise UsageError(f"--var takes NAME=VALUE with NAME a plain name, got {item!r}")
        variables[name] = value
    return variables


def _read_vars_file(name: str) -> dict[str, Any]:
    from .yamlsource import YAMLSyntaxError, read_yaml_file

    try:
        data = read_yaml_file(name)
    except YAMLSyntaxError as exc:
        raise UsageError(f"--vars-file {exc.message}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"{name}:1: --vars-file must hold a mapping of NAME: value")
    for key in data:
        if not isinstance(key, str) or not _NAME.match(key):
            line = data.key_position(key)[0]
            raise UsageError(f"{name}:{line}: {key!r} is not a valid variable name")
    return dict(data)


def _openstack(cloud: str | None) -> dict[str, Any]:
    from .openstack import CloudConfigError, cloud_namespace

    try:
        return cloud_namespace(cloud)
    except CloudConfigError as exc:
        raise UsageError(f"--os-cloud: {exc}") from None


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "schema":
        return _print_schema(args[1:], sys.stdout)
    command = "run"
    if args and args[0] in ("run", "check"):
        command = args.pop(0)
    parser = _parser(command)
    options = parser.parse_args(args)
    out, err = sys.stdout, sys.stderr
    try:
        if command == "check":
            return _check(options, out, err)
        return _run(options, out, err)
    except UsageError as exc:
        err.write(f"apirun: error: {exc}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        err.write("apirun: interrupted\n")
        return EXIT_INTERRUPTED


def _print_schema(args: Sequence[str], out: TextIO) -> int:
    """``apirun schema``: the spec format's JSON Schema, for editors (docs/format.md)."""
    argparse.ArgumentParser(
        prog="apirun schema",
        description="Print the JSON Schema of the spec format (draft-07), to point an editor "
        "at: apirun schema > apirun.schema.json",
    ).parse_args(args)
    out.write((Path(__file__).parent / "schema" / "apirun.schema.json").read_text("utf-8"))
    return EXIT_OK


def _load_all(
    files: Sequence[Path], err: TextIO, color: bool, variables: Iterable[str]
) -> list[Any] | None:
    """Every file loaded and checked (its variables too) before anything is sent; None if
    any is wrong. ``variables``: the names given on the command line."""
    from .checker import check_spec
    from .errors import SpecError
    from .loader import load_file
    from .report.console import Style, format_spec_error

    specs, failed, given = [], 0, set(variables)
    for path in files:
        try:
            spec = load_file(path)
        except SpecError as exc:
            failed += len(exc.diagnostics)
            err.write(format_spec_error(exc, Style(color)) + "\n\n")
            continue
        problems = check_spec(spec, given)
        if problems:
            failed += len(problems)
            error = SpecError(problems, spec.lines)
            err.write(format_spec_error(error, Style(color)) + "\n\n")
        specs.append(spec)
    if failed:
        plural = "s" if failed != 1 else ""
        err.write(f"apirun: {failed} problem{plural} in spec files; nothing was sent\n")
        return None
    return specs


def _check(options: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    files = spec_files(options.paths)
    variables = cli_variables(options.var, options.vars_file)
    specs = _load_all(files, err, _use_color(options.color, err), variables)
    if specs is None:
        return EXIT_USAGE
    steps = sum(len(spec.steps) for spec in specs)
    out.write(f"ok: {len(specs)} spec file{'s' if len(specs) != 1 else ''}, {steps} steps\n")
    return EXIT_OK


def _run(options: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    files = spec_files(options.paths)
    variables = cli_variables(options.var, options.vars_file)
    variables["os"] = _openstack(options.os_cloud)
    specs = _load_all(files, err, _use_color(options.color, err), variables)
    if specs is None:
        return EXIT_USAGE

    from .engine import RunOptions, run_specs
    from .masking import secrets_in_variables
    from .report.console import ConsoleReporter, Style

    reporter = ConsoleReporter(
        out,
        Style(_use_color(options.color, out)),
        verbose=options.verbose,
        show_secrets=options.show_secrets,
        secrets=secrets_in_variables(variables),
    )
    run_options = RunOptions(variables, options.timeout, keep_passed_bodies=options.verbose)
    result = run_specs(specs, run_options, reporter)
    reporter.summary(result)
    return result.exit_code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
