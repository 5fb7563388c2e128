"""The spec as data: what the loader builds and the engine runs. Nothing here does I/O.

Values that may hold templates are kept as the loader prepared them (see templating.py):
plain Python data where there is no template syntax, ``Expr``/``Text``/``DynDict``/``DynList``
where there is. They are rendered only when a step runs.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import field
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from .record import Record, record
from .source import Source

if TYPE_CHECKING:
    from .operators.bodyschema import BodySchema
    from .templating import DynDict, DynList, Expr, Text

DEFAULT_TIMEOUT = 30.0
DEFAULT_MAX_BODY_MB = 32.0  # a larger response body fails its step, unread (memory stays bounded)

BodyKind = Literal["json", "data", "form", "file"]

# A string the loader compiled (templating.compile_string): itself when it has no template.
TemplatedText: TypeAlias = "str | Expr | Text"
# Any value the loader prepared: YAML's plain data, with Expr/Text/DynDict/DynList where a
# template is (templating.render turns it into plain data when the step runs).
Templated: TypeAlias = (
    "None | bool | int | float | str | Expr | Text | DynDict | DynList"
    " | list[Templated] | dict[Any, Templated]"
)


@record
class Query(Record):
    """What to read from a response: shared by captures and expectations."""

    kind: str  # a key of runner.operators.QUERIES
    # The header or cookie name, JSONPath or regex text; None for status and body.
    argument: TemplatedText | None = None


@record
class Expectation(Record):
    """One check of a response: a query, an operator and the expected value (maybe templated)."""

    query: Query
    operator: str
    expected: Templated | BodySchema  # BodySchema: expect.schema, compiled at load time
    source: Source


@record
class Capture(Record):
    """Store a value from the response as a variable for later steps."""

    name: str
    query: Query
    source: Source
    secret: bool = False  # `secret: true`: masked everywhere, whatever its name


@record
class Upload(Record):
    """One part of a multipart body (``files:``): a file sent under a form field name."""

    field: str
    path: str  # as resolved against the spec file's folder
    filename: str
    content_type: str | None = None


@record
class ClientCert(Record):
    """A TLS client certificate: one PEM with both, or a certificate and its key."""

    cert: str
    key: str | None = None


@record
class Request(Record):
    """A step's request as written: method, URL, query, headers and body (maybe templated)."""

    method: TemplatedText
    url: TemplatedText
    source: Source
    url_source: Source
    params: DynDict | dict[str, Templated] | None = None
    headers: DynDict | dict[str, Templated] | None = None
    body_kind: BodyKind | None = None
    body: Templated = None  # for "file": the path, resolved against the spec file's folder
    files: tuple[Upload, ...] = ()  # multipart parts; form fields go with them
    cert: ClientCert | None = None
    timeout: float | None = None
    follow_redirects: bool = True


@record
class Retry(Record):
    """Repeat a step's request until its expectations hold (or ``until`` is true)."""

    times: int  # attempts in all, the first included
    delay: float = 1.0  # seconds before the second attempt
    backoff: float = 1.0  # each further wait is the previous one times this
    until: Expr | bool | None = None  # a Jinja expression over the scope and ``response``
    source: Source | None = None


@record
class Step(Record):
    """One step of a spec: its request, what to check in the response and what to capture."""

    name: str
    request: Request
    source: Source
    expectations: tuple[Expectation, ...] = ()
    captures: tuple[Capture, ...] = ()
    when: Expr | bool | None = None  # run only when this expression is true
    when_text: str = ""  # the expression as written, for the skip reason
    loop: DynList | list[Templated] | Expr | None = (
        None  # a list (or an expression giving one): run once per item
    )
    retry: Retry | None = None
    delay: float = 0.0  # seconds to wait before the step
    continue_on_failure: bool = False  # the step's own, else defaults.continue_on_failure
    # ``xfail: REASON`` (true: ""): its failure is expected, its passing fails the file.
    xfail: str | None = None
    skip: str | None = None  # ``skip: REASON`` (true: "skip: true"): never sent, reported skipped
    base_url: TemplatedText | None = (
        None  # set on steps of an included file that has its own base_url
    )
    prefix: str = ""  # "include-step › " for steps that came from an included file
    tags: tuple[str, ...] = ()  # for --tag selection (see selection.py)


@record
class Include(Record):
    """Steps of another file, run in place with the including file's variables."""

    name: str
    path: str
    source: Source
    steps: tuple[Step | Include, ...]
    variables: tuple[Variable, ...] = ()  # the include step's vars: always set
    defaults: tuple[Variable, ...] = ()  # the included file's vars: set when not yet defined


Item = Step | Include


@record
class Variable(Record):
    """A variable the spec (or an include step) defines: ``vars: {NAME: VALUE}``."""

    name: str
    value: Templated
    source: Source
    secret: bool = False  # `NAME: {secret: VALUE}`: masked everywhere, whatever its name


@record
class FixtureName(Record):
    """``fixtures: [MODULE:CLASS]``: a Python fixture started around the file (fixtures.py)."""

    name: str
    source: Source


@record
class Defaults(Record):
    """The file's ``defaults:``, for every step that does not say otherwise."""

    headers: DynDict | dict[str, Templated] | None = None
    timeout: float | None = None
    verify: bool | TemplatedText = (
        True  # true, false, a CA bundle path, or a template giving one of them
    )
    cert: ClientCert | None = None
    max_body_mb: float = DEFAULT_MAX_BODY_MB
    continue_on_failure: bool = False  # the loader gives it to each step without its own


@record
class Spec(Record):
    """One spec file, loaded: its steps (included ones in place), variables and defaults."""

    path: str
    name: str
    steps: tuple[Item, ...]
    base_url: TemplatedText | None = None
    variables: tuple[Variable, ...] = ()
    defaults: Defaults = field(default_factory=Defaults)
    tags: tuple[str, ...] = ()  # for --tag selection (see selection.py)
    lines: tuple[str, ...] = ()  # the file's text, so reports can quote the failing line
    finally_steps: tuple[Item, ...] = ()  # run after the steps, whatever happened
    fixtures: tuple[FixtureName, ...] = ()  # started before the first step, stopped after all
    skip: str | None = None  # ``skip: REASON``: no step runs, no fixture starts
    when: Any = None  # run the file only when this is true (once, with the file's variables)
    when_text: str = ""  # the expression as written, for the skip reason
    # The text of every file involved (included ones too), by path.
    sources: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def line(self, number: int) -> str:
        return self.lines[number - 1] if 0 < number <= len(self.lines) else ""

    def lines_of(self, file: str) -> tuple[str, ...]:
        return self.lines if file == self.path else tuple(self.sources.get(file, ()))

    def main_steps(self) -> Iterator[Step]:
        """The steps, included ones in place (not the finally steps)."""
        return _flatten(self.steps)

    def all_steps(self) -> Iterator[Step]:
        """Every step, included ones in place, then the finally steps."""
        return _flatten((*self.steps, *self.finally_steps))


def _flatten(items: tuple[Item, ...]) -> Iterator[Step]:
    for item in items:
        if isinstance(item, Include):
            yield from _flatten(item.steps)
        else:
            yield item
