"""Reporters: functions of results (results.py) that write them for people or machines.

``FILE_REPORTS`` is the one list of the report files the command writes: each entry is its
option, its help and the function that turns a run into the file's bytes. The command's
options, the checks of their paths and the writing all come from it, so adding a report
format is adding its module and one entry here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from importlib import import_module
from typing import TYPE_CHECKING, Any

from ..record import Record, record

if TYPE_CHECKING:
    from ..results import RunResult


@record
class FileReport(Record):
    """A report written to a file after the run: ``--FLAG FILE``."""

    flag: str  # the option, "--junit"
    help: str
    module: str  # in runner.report: imported only when the report is asked for
    function: str  # (run: RunResult, secrets: Iterable[str]) -> bytes, secrets masked
    keeps_bodies: bool = False  # shows the bodies of passed steps, so the run keeps them
    # In the module: a class made with the secrets, whose ``add(file)`` renders each file as
    # it finishes, during the run; given to ``function`` as ``parts``.
    parts: str | None = None

    @property
    def dest(self) -> str:
        """The option's name in argparse's namespace (``--report-json`` → report_json)."""
        return self.flag.lstrip("-").replace("-", "_")

    def render(self, run: RunResult, secrets: Iterable[str], parts: Any = None) -> bytes:
        write: Callable[..., bytes] = getattr(
            import_module(f"{__name__}.{self.module}"), self.function
        )
        return write(run, secrets) if parts is None else write(run, secrets, parts)

    def file_parts(self, secrets: Iterable[str]) -> Any:
        """What renders the files as they finish (``add(file)``), or None."""
        if self.parts is None:
            return None
        return getattr(import_module(f"{__name__}.{self.module}"), self.parts)(secrets)


FILE_REPORTS: tuple[FileReport, ...] = (
    FileReport("--junit", "write a JUnit XML report (a test suite per file)", "junit", "junit_xml"),
    FileReport(
        "--report-json",
        "write every step's results as JSON",
        "json_report",
        "json_report_bytes",
        parts="FileParts",
    ),
    FileReport(
        "--report-html",
        "write one self-contained HTML page of the run: summary, every step with its "
        "request and response, failures with their spec line, a timing chart",
        "html",
        "html_report",
        keeps_bodies=True,
    ),
)
