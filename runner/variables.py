"""Variables given from outside a spec: ``--var``, ``--vars-file`` and the ``os`` namespace.

Shared by the command and the pytest plugin, which name the options differently (``--var``,
``--apirun-var``); messages use the name the user typed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import ApirunError

_NAME = re.compile(r"\A[A-Za-z_][A-Za-z0-9_]*\Z")
# Words a template reads as values, so a variable of that name could never be used.
_LITERALS = frozenset({"true", "false", "none", "True", "False", "None", "and", "or", "not"})


class VariablesError(ApirunError):
    """A bad --var, --vars-file or --os-cloud: a usage error, reported in one line."""


def given_variables(
    var_args: Sequence[str],
    vars_file: str | None,
    var_flag: str = "--var",
    file_flag: str = "--vars-file",
) -> dict[str, Any]:
    """--vars-file, then the --var NAME=VALUE pairs over it."""
    variables: dict[str, Any] = {}
    if vars_file:
        variables.update(read_vars_file(vars_file, file_flag))
    for item in var_args:
        name, sep, value = item.partition("=")
        if not sep or not _NAME.match(name):
            raise VariablesError(
                f"{var_flag} takes NAME=VALUE with NAME a plain name, got {item!r}"
            )
        if name in reserved_names():
            raise VariablesError(f"{var_flag} {item}: {_reserved(name)}")
        variables[name] = value
    return variables


def checked_variables(variables: Mapping[str, Any], flag: str = "variables") -> dict[str, Any]:
    """Variables given as a mapping (the Python API's --var): plain names, none reserved."""
    for name in variables:
        if not isinstance(name, str) or not _NAME.match(name):
            raise VariablesError(f"{flag}: {name!r} is not a valid variable name")
        if name in reserved_names():
            raise VariablesError(f"{flag}: {_reserved(name)}")
    return dict(variables)


def read_vars_file(name: str, flag: str = "--vars-file") -> dict[str, Any]:
    from .yamlsource import LocDict, YAMLSyntaxError, plain, read_yaml_file

    try:
        data = read_yaml_file(name)
    except YAMLSyntaxError as exc:
        raise VariablesError(f"{flag} {exc.message}") from None
    if data is None:
        return {}
    if not isinstance(data, LocDict):  # a YAML mapping always is one
        raise VariablesError(f"{name}:1: {flag} must hold a mapping of NAME: value")
    for key in data:
        if not isinstance(key, str) or not _NAME.match(key):
            line = data.key_position(key)[0]
            raise VariablesError(f"{name}:{line}: {key!r} is not a valid variable name")
        if key in reserved_names():
            line = data.key_position(key)[0]
            raise VariablesError(f"{name}:{line}: {_reserved(key)}")
    plain_data: dict[str, Any] = plain(data)  # templates see the values, not their positions
    return plain_data


MAX_ROWS = 100_000  # rows of a loop data file: a run of one step per row


def read_rows(path: str) -> list[Any]:
    """``loop: {file: PATH}``: a CSV file's rows as mappings (its header row names the
    keys; every value a string, as CSV has no types), or a JSON file's list. VariablesError
    says what is wrong, with the line where it can."""
    import csv
    import json

    try:
        with open(path, encoding="utf-8-sig", newline="") as stream:
            if not path.lower().endswith(".csv"):
                data = json.load(stream)
                if not isinstance(data, list):
                    raise VariablesError(
                        f"{path}: a JSON loop file holds a list, found {type(data).__name__}"
                    )
                rows = data
            else:
                reader = csv.DictReader(stream)
                if not reader.fieldnames:
                    raise VariablesError(f"{path}: the CSV file has no header row")
                rows = []
                for row in reader:
                    if None in row or None in row.values():
                        raise VariablesError(
                            f"{path}:{reader.line_num}: this row has "
                            f"{'more' if None in row else 'fewer'} fields than the header "
                            f"({', '.join(reader.fieldnames)})"
                        )
                    rows.append(dict(row))
                    if len(rows) > MAX_ROWS:
                        break
    except OSError as exc:
        raise VariablesError(f"{path}: cannot read the loop file: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise VariablesError(f"{path}: the loop file is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise VariablesError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
    except csv.Error as exc:
        raise VariablesError(f"{path}: not CSV: {exc}") from None
    if len(rows) > MAX_ROWS:
        raise VariablesError(f"{path}: more than {MAX_ROWS:,} rows in a loop file")
    return rows


def reserved_names() -> frozenset[str]:
    """What a spec may not name a variable (the loader's rule), nor --var or --vars-file."""
    from .loader import RESERVED_NAMES

    return RESERVED_NAMES | _LITERALS


def _reserved(name: str) -> str:
    if name == "os":
        return "'os' is reserved: it holds the cloud's settings (--os-cloud, OS_* variables)"
    if name in _LITERALS:
        return f"'{name}' is a literal in templates, not a variable name"
    return f"'{name}' is reserved: apirun itself provides it in templates"


def openstack_variables(cloud: str | None, flag: str = "--os-cloud") -> dict[str, Any]:
    """The ``os`` namespace: the cloud from clouds.yaml (or $OS_CLOUD) and the OS_* variables."""
    from .openstack import CloudConfigError, cloud_namespace

    try:
        return cloud_namespace(cloud)
    except CloudConfigError as exc:
        raise VariablesError(f"{flag}: {exc}") from None
