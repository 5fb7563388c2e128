"""``apirun import curl``: curl command lines (as API references and ``--curl`` write them).

One step per curl command; commands may span lines (``\\`` continuations, quoted bodies
over several lines) and be joined by ``;``, ``&&`` or ``|`` (what is not curl, such as
``; echo``, is left out and said). ``$NAME`` and ``${NAME}`` become ``{{ env.NAME }}``.
"""

from __future__ import annotations

import os
import re
import shlex
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from ._spec import (
    Imported,
    ImportedStep,
    ImportError_,
    finish,
    literal,
    parse_json_text,
)

_ENV = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")
_SEPARATORS = {";", "&&", "||", "|", "&", ";;"}
# Flags that change only what curl prints or how it retries: nothing to translate.
_OUTPUT_ONLY = {
    "-i", "--include", "-s", "--silent", "-S", "--show-error", "-v", "--verbose", "-g",
    "--globoff", "--compressed", "-f", "--fail", "--fail-with-body", "-N", "--no-buffer",
    "-#", "--progress-bar", "--http1.1", "-L", "--location", "--path-as-is",
}  # fmt: skip
_TAKES_VALUE = {
    "-X", "--request", "-H", "--header", "-d", "--data", "--data-raw", "--data-ascii",
    "--data-binary", "--data-urlencode", "--json", "-F", "--form", "--form-string", "-u",
    "--user", "-b", "--cookie", "--url", "-A", "--user-agent", "-e", "--referer", "-m",
    "--max-time", "--cacert", "--capath", "--cert", "-E", "--key", "--oauth2-bearer",
    "-o", "--output", "-w", "--write-out", "--connect-timeout", "--retry", "-x", "--proxy",
    "-c", "--cookie-jar", "-T", "--upload-file", "--resolve", "--max-redirs",
}  # fmt: skip
_IGNORED_WITH_VALUE = {"-o", "--output", "-w", "--write-out", "--max-redirs"}


def import_curl(text: str, base_folder: str) -> Imported:
    """``base_folder``: where the spec will be, for the paths of ``@file`` bodies."""
    imported = Imported("imported from curl")
    imported.header = ["Imported from curl command lines by apirun import curl."]
    commands = _commands(text, imported)
    if not commands:
        raise ImportError_("no curl command found (a line starting with curl)")
    verify: set[bool | str] = set()
    for number, words in enumerate(commands, start=1):
        step, step_verify = _command(words, number, imported, base_folder)
        imported.steps.append(step)
        verify.add(step_verify)
    if len(verify) > 1:
        imported.notes.append("-k on some commands only: applied to all (defaults.verify)")
    imported.verify = False if False in verify else next(iter(verify - {False}), True)
    return finish(imported)


def _commands(text: str, imported: Imported) -> list[list[str]]:
    text = _newlines_end_commands(text.replace("\\\r\n", " ").replace("\\\n", " "))
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|")
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        words = list(lexer)
    except ValueError as exc:  # No closing quotation
        raise ImportError_(f"cannot split the command line: {exc}") from None
    commands: list[list[str]] = []
    current: list[str] = []
    for word in [*words, ";"]:
        if word in _SEPARATORS:
            if current:
                commands.append(current)
            current = []
        else:
            current.append(word)
    found = []
    for command in commands:
        while command and command[0] in ("$", ">", "#"):
            command = command[1:]
        if command and os.path.basename(command[0]) == "curl":
            found.append(command[1:])
        elif command:
            imported.notes.append(f"not a curl command, left out: {shlex.join(command)[:80]}")
    return found


def _newlines_end_commands(text: str) -> str:
    """A newline outside quotes ends a command, as in a shell: it becomes ``;``."""
    out, quote, escaped = [], "", False
    for ch in text:
        if escaped:
            escaped = False
        elif ch == "\\" and quote != "'":
            escaped = True
        elif quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "\n":
            ch = ";"
        out.append(ch)
    return "".join(out)


def _command(
    words: list[str], number: int, imported: Imported, folder: str
) -> tuple[ImportedStep, bool | str]:
    step = ImportedStep(name="")
    method: str | None = None
    urls: list[str] = []
    data: list[str] = []
    data_file: str | None = None
    json_parts: list[str] = []
    form: list[tuple[str, str]] = []
    get = False
    verify: bool | str = True
    where = f"command {number}"
    index = 0
    while index < len(words):
        word = words[index]
        value: str | None = None
        flag = word
        if word.startswith("--") and "=" in word and word.split("=", 1)[0] in _TAKES_VALUE:
            flag, value = word.split("=", 1)
        elif len(word) > 2 and word[0] == "-" and word[1] != "-" and word[:2] in _TAKES_VALUE:
            flag, value = word[:2], word[2:]  # -XPOST, -H'A: b'
        if flag in _TAKES_VALUE and value is None:
            index += 1
            if index >= len(words):
                raise ImportError_(f"{where}: {flag} needs a value")
            value = words[index]
        index += 1
        if value is not None:  # the flag is one of _TAKES_VALUE
            if flag in ("-X", "--request"):
                method = value.upper()
            elif flag in ("-H", "--header"):
                name, colon, header_value = value.partition(":")
                if not colon and name.endswith(";"):
                    step.headers.append((name[:-1].strip(), ""))
                elif colon and header_value.strip():
                    step.headers.append((name.strip(), _text(header_value.strip())))
                elif colon:
                    imported.notes.append(
                        f"{where}: -H '{name}:' (removes a curl default): left out"
                    )
            elif flag in ("-d", "--data", "--data-ascii", "--data-raw", "--data-binary"):
                if value.startswith("@") and flag != "--data-raw":
                    if flag == "--data-binary":
                        data_file = _path(value[1:], folder)
                    else:
                        imported.notes.append(
                            f"{where}: {flag} {value}: curl strips newlines from the file; "
                            "sent as the file's bytes (data: {file})"
                        )
                        data_file = _path(value[1:], folder)
                else:
                    data.append(value)
            elif flag == "--data-urlencode":
                name, equals, content = value.partition("=")
                from urllib.parse import quote_plus

                data.append(f"{name}={quote_plus(content)}" if equals else quote_plus(name))
            elif flag == "--json":
                json_parts.append(value)
            elif flag in ("-F", "--form", "--form-string"):
                name, _, content = value.partition("=")
                if content.startswith("@") and flag != "--form-string":
                    path = content[1:].split(";", 1)[0]
                    step.files[name] = _path(path, folder)
                    if ";" in content:
                        imported.notes.append(f"{where}: -F {value}: ;type=/;filename= left out")
                elif content.startswith("<") and flag != "--form-string":
                    imported.notes.append(
                        f"{where}: -F {value}: a field read from a file, left out"
                    )
                else:
                    form.append((name, _text(content)))
            elif flag in ("-u", "--user"):
                user, _, password = value.partition(":")
                imported.variables.setdefault("username", _text(user))
                imported.variables.setdefault("password", _text(password))
                if "password" not in imported.secret_names:
                    imported.secret_names.append("password")
                step.headers.append(
                    ("Authorization", "Basic {{ (username ~ ':' ~ password) | b64encode }}")
                )
            elif flag in ("-b", "--cookie"):
                if "=" in value:
                    step.headers.append(("Cookie", _text(value)))
                else:
                    imported.notes.append(f"{where}: -b {value}: a cookie file, left out")
            elif flag == "--url":
                urls.append(value)
            elif flag in ("-A", "--user-agent"):
                step.headers.append(("User-Agent", _text(value)))
            elif flag in ("-e", "--referer"):
                step.headers.append(("Referer", _text(value)))
            elif flag in ("-m", "--max-time"):
                try:
                    step.timeout = float(value)
                except ValueError:
                    imported.notes.append(f"{where}: {flag} {value}: not a number, left out")
            elif flag in ("--cacert", "--capath"):
                verify = _path(value, folder)
            elif flag in ("--cert", "-E"):
                step.cert = _path(value.split(":", 1)[0], folder)
            elif flag == "--oauth2-bearer":
                step.headers.append(("Authorization", f"Bearer {value}"))
            elif flag in _IGNORED_WITH_VALUE:
                continue
            else:
                imported.notes.append(f"{where}: unsupported flag {flag} {value}, left out")
        elif flag in ("-k", "--insecure"):
            verify = False
        elif flag in ("-G", "--get"):
            get = True
        elif flag in ("-I", "--head"):
            method = "HEAD"
        elif flag in _OUTPUT_ONLY:
            continue
        elif flag.startswith("-") and flag != "-":
            imported.notes.append(f"{where}: unsupported flag {flag}, left out")
        else:
            urls.append(word)
    if not urls:
        raise ImportError_(f"{where}: no URL")
    if len(urls) > 1:
        imported.notes.append(f"{where}: more than one URL; only the first, {urls[0]}, is kept")
    url = urls[0] if "://" in urls[0] or urls[0].startswith("$") else "http://" + urls[0]
    parts = urlsplit(url)
    if _ENV.search(url):  # $OS_AUTH_URL/users: kept whole, the variable decides the rest
        step.url = _text(url)
    else:
        step.url = _text(urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", "")))
        step.params = [(k, _text(v)) for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    body = "&".join(data) if data else None
    if get and body is not None:
        step.params += [(k, _text(v)) for k, v in parse_qsl(body, keep_blank_values=True)]
        body = None
    content_type = next((v for k, v in step.headers if k.lower() == "content-type"), "")
    if json_parts:
        ok, parsed = parse_json_text("".join(json_parts))
        if ok:
            step.json, step.has_json = _text_json(parsed), True
        else:
            step.data = _text("".join(json_parts))
            step.headers.append(("Content-Type", "application/json"))
        if not any(k.lower() == "accept" for k, _ in step.headers):
            step.headers.append(("Accept", "application/json"))
        step.headers = [(k, v) for k, v in step.headers if k.lower() != "content-type" or not ok]
    elif body is not None:
        ok, parsed = parse_json_text(body) if "json" in content_type.lower() else (False, None)
        if ok:
            step.json, step.has_json = _text_json(parsed), True
            step.headers = [(k, v) for k, v in step.headers if k.lower() != "content-type"]
        elif not content_type:
            pairs = parse_qsl(body, keep_blank_values=True, strict_parsing=False)
            if pairs and "&".join(f"{k}={v}" for k, v in pairs) == body:
                step.form = [(k, _text(v)) for k, v in pairs]
            else:
                step.data = _text(body)
                step.headers.append(("Content-Type", "application/x-www-form-urlencoded"))
        else:
            step.data = _text(body)
    elif data_file is not None:
        step.data_file = data_file
    if form or step.files:
        if body is not None or json_parts or data_file:
            raise ImportError_(f"{where}: -F cannot go with -d or --json (curl refuses it too)")
        step.form = form
    has_body = body is not None or json_parts or data_file or form or step.files
    step.method = method or ("POST" if has_body and not get else "GET")
    step.name = f"{step.method} {parts.path or '/'}"
    return step, verify


def _text(word: str) -> str:
    """A word as sent, except ``$OS_TOKEN``: the environment variable, read when it runs."""
    out, position = [], 0
    for match in _ENV.finditer(word):
        out.append(literal(word[position : match.start()]))
        out.append("{{ env." + (match.group(1) or match.group(2)) + " }}")
        position = match.end()
    out.append(literal(word[position:]))
    return "".join(out)


def _text_json(value: object) -> object:
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, dict):
        return {key: _text_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_text_json(item) for item in value]
    return value


def _path(path: str, folder: str) -> str:
    """A file curl would read (relative to where it ran), relative to the spec's folder."""
    absolute = os.path.abspath(os.path.expanduser(path))
    return os.path.relpath(absolute, folder)
