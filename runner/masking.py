"""Which values are secret, and hiding them in anything shown to a person.

A value is secret when it was bound to a variable whose name says so (password, token,
secret, api_key...), was sent or received in a credential header or a cookie, or is the
value of an environment variable whose name says so. Masking is by value, so a secret is
hidden wherever it appears and in every form it can be written in: raw, JSON-escaped,
URL- or form-encoded, base64, or cut short by a truncation. It is hidden only where it
stands as a value: never as a fragment of a longer word, and never inside the spec's own
text (the ``keep`` strings: file and step names).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any
from urllib.parse import quote, quote_plus

from .messages import Headers

MASK = "***"
MIN_MASKED_LENGTH = 3  # shorter values would mask ordinary text; they are hidden only where named
SHORT_SECRET = 8  # a secret shorter than this is masked only where it stands alone
TRUNCATION = "…"  # what a cut value ends with: a secret's start before it is still masked

# Variables: password, passwd, token, secret, credential, api_key/apikey, access/private key.
_SECRET_NAME = re.compile(
    r"pass(?:word|wd)|token|secret|credential|(?:api|access|private)_?key", re.IGNORECASE
)
# Headers: anything naming a token, a key, a secret, a credential or authorization, and
# cookies. The challenges a server sends (WWW-Authenticate) hold no secret.
_SECRET_HEADER = re.compile(
    r"token|secret|auth|pass(?:word|wd)|credential|(?:^|[-_])(?:api[-_]?)?key(?:$|[-_])|apikey"
    r"|^(?:set-)?cookie$",
    re.IGNORECASE,
)
_NOT_SECRET_HEADERS = frozenset({"www-authenticate", "proxy-authenticate", "authentication-info"})
# Environment variables: *TOKEN*, *SECRET*, *PASSWORD*, *CREDENTIAL*, and KEY as a word
# (API_KEY, AWS_SECRET_ACCESS_KEY; not KEYSTONE_URL).
_SECRET_ENV = re.compile(
    r"TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|(?:^|_)[A-Z]*KEY(?:$|_)", re.IGNORECASE
)
# Where a short secret stands alone: between these (or the text's ends) on both sides.
_ALONE = r"\s\"'=:,;&()\[\]{}<>"
_SCHEMES = ("basic", "bearer", "digest")


def is_secret_name(name: str) -> bool:
    """Whether a variable (or capture) of this name holds a secret."""
    return bool(_SECRET_NAME.search(name))


def is_secret_header(name: str) -> bool:
    """Whether a header of this name carries a credential (its value is never shown)."""
    lowered = name.lower()
    return lowered not in _NOT_SECRET_HEADERS and bool(_SECRET_HEADER.search(lowered))


def is_secret_environment_name(name: str) -> bool:
    return bool(_SECRET_ENV.search(name))


def secrets_in_environment(environ: Mapping[str, str]) -> set[str]:
    """Values of the environment variables whose names look secret: a spec may read any
    of them (``{{ env.GITHUB_TOKEN }}``), and must not print them."""
    return {
        value
        for name, value in environ.items()
        if value and len(value) >= MIN_MASKED_LENGTH and is_secret_environment_name(name)
    }


def secrets_in_variables(
    variables: Mapping[str, Any], depth: int = 3, marked: Iterable[str] = ()
) -> set[str]:
    """Values of secret-named variables (and of those ``marked`` secret in the spec), also
    inside mappings (``os.password``); under a secret name, every value inside it (a list
    of tokens, a credential's fields)."""
    marked = set(marked)
    found: set[str] = set()
    for name, value in variables.items():
        if isinstance(name, str) and (name in marked or is_secret_name(name)):
            found |= _leaves(value, depth)
        elif isinstance(value, Mapping) and depth > 0:
            found |= secrets_in_variables(value, depth - 1)
    return found


def _leaves(value: Any, depth: int) -> set[str]:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return {str(value)} if str(value) else set()
    found: set[str] = set()
    if depth > 0 and isinstance(value, Mapping):
        for item in value.values():
            found |= _leaves(item, depth - 1)
    elif depth > 0 and isinstance(value, list | tuple):
        for item in value:
            found |= _leaves(item, depth - 1)
    return found


def secrets_in_headers(headers: Headers | Mapping[str, str]) -> set[str]:
    """The credentials a request or response carried: credential headers' values (and the
    part after an auth scheme), and every cookie's value."""
    items: Iterable[tuple[str, str]] = headers if isinstance(headers, Headers) else headers.items()
    found: set[str] = set()
    for name, value in items:
        if not value or not is_secret_header(name):
            continue
        lowered = name.lower()
        if lowered in ("cookie", "set-cookie"):
            found |= {v for _, v in _cookie_pairs(value, lowered == "set-cookie") if v}
            continue
        found.add(value)
        scheme, _, credential = value.partition(" ")
        if credential and scheme.isalpha():
            found.add(credential.strip())
    return found


def _cookie_pairs(value: str, set_cookie: bool) -> list[tuple[str, str]]:
    """(name, value) of a Cookie header's cookies, or of a Set-Cookie's one cookie."""
    parts = value.split(";")[:1] if set_cookie else value.split(";")
    pairs = []
    for part in parts:
        name, equals, cookie = part.partition("=")
        if equals:
            pairs.append((name.strip(), cookie.strip().strip('"')))
    return pairs


def mask_header(name: str, value: str, secrets: Iterable[str]) -> str:
    """A header's value as shown: a credential header's is hidden whole (its auth scheme
    stays readable), a cookie keeps its name and attributes, any other is masked by value."""
    lowered = name.lower()
    if lowered in ("cookie", "set-cookie"):
        return _mask_cookies(value, lowered == "set-cookie")
    if is_secret_header(name):
        scheme, _, credential = value.partition(" ")
        if credential and scheme.isalpha() and scheme.lower() in _SCHEMES:
            return f"{scheme} {MASK}"
        return MASK
    return mask(value, secrets)


def _mask_cookies(value: str, set_cookie: bool) -> str:
    parts = value.split(";")
    count = 1 if set_cookie else len(parts)
    shown = []
    for index, part in enumerate(parts):
        name, equals, _ = part.partition("=")
        shown.append(f"{name}={MASK}" if equals and index < count else part)
    return ";".join(shown)


def mask(text: str, secrets: Iterable[str], keep: Iterable[str] = ()) -> str:
    """Replace every secret value in ``text``, in any of its written forms, where it
    stands as a value; the ``keep`` strings (the spec's own names) are left as written."""
    wanted = _maskable(secrets)
    if not wanted or not text:
        return text
    forms, prefixes = _prepared(wanted)
    # Without any form of a secret in it, the regex would find nothing in the text: it is
    # compiled for the first text that holds one (most output never shows a secret).
    if any(form in text for form, _ in forms):
        pattern = _pattern(forms)
        kept = _spans(text, keep)
        if kept:

            def replace(match: re.Match[str]) -> str:
                start, end = match.span()
                if any(start < stop and begin < end for begin, stop in kept):
                    return match.group(0)
                return MASK

            text = pattern.sub(replace, text)
        elif pattern.search(text):
            text = pattern.sub(MASK, text)
    if TRUNCATION in text and prefixes:
        text = _mask_cut(text, prefixes)
    return text


def masker(secrets: Iterable[str], keep: Iterable[str] = ()) -> Callable[[str], str]:
    """``mask`` with these secrets and kept words, for many texts (a report's every
    string): what does not depend on the text is worked out once, and a text that holds no
    form of a secret (most) comes back at once."""
    wanted = _maskable(secrets)
    if not wanted:
        return _unchanged
    forms, prefixes = _prepared(wanted)
    written = tuple(form for form, _ in forms)
    kept = tuple(keep)

    def masked(text: str) -> str:
        if text and (any(form in text for form in written) or (prefixes and TRUNCATION in text)):
            return mask(text, wanted, kept)
        return text

    return masked


def may_hold_secret(json_text: str, secrets: Iterable[str]) -> bool:
    """Whether masking the strings, keys and numbers of a JSON value could change any of
    them, asked of the value's JSON text (``ensure_ascii=False``). False is certain: a
    string holding a form of a secret holds it JSON-escaped in the text (escaping is char by
    char), a number that is a secret is written as itself, and a cut value's mark shows."""
    wanted = _maskable(secrets)
    if not wanted:
        return False
    forms, prefixes = _prepared(wanted)
    if prefixes and TRUNCATION in json_text:
        return True
    if "NaN" in json_text or "Infinity" in json_text:
        return True  # floats JSON spells otherwise than str() does
    return any(_json_escaped(form) in json_text for form, _ in forms)


@lru_cache(maxsize=1024)
def _json_escaped(form: str) -> str:
    return json.dumps(form, ensure_ascii=False)[1:-1]


def _maskable(secrets: Iterable[str]) -> frozenset[str]:
    """The secrets long enough to be masked by value (mask, masker and may_hold_secret)."""
    return frozenset(s for s in secrets if len(s) >= MIN_MASKED_LENGTH)


def _unchanged(text: str) -> str:
    return text


def _spans(text: str, keep: Iterable[str]) -> list[tuple[int, int]]:
    spans = []
    for word in keep:
        if not word:
            continue
        start = text.find(word)
        while start >= 0:
            spans.append((start, start + len(word)))
            start = text.find(word, start + 1)
    return spans


def _forms(secret: str) -> set[str]:
    """Every way a template or a report may write the secret."""
    forms = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret)}
    for ascii_only in (True, False):
        forms.add(json.dumps(secret, ensure_ascii=ascii_only)[1:-1])
    raw = secret.encode("utf-8")
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode("ascii")
        forms |= {text, text.rstrip("=")}
    return {form for form in forms if len(form) >= MIN_MASKED_LENGTH}


def _bounded(form: str, short: bool) -> str:
    """The form as a regex that matches only where it stands as a value."""
    body = re.escape(form)
    if short:
        return rf"(?<![^{_ALONE}]){body}(?![^{_ALONE}])"
    left = r"(?<![A-Za-z0-9])" if form[0].isalnum() else ""
    right = r"(?![A-Za-z0-9])" if form[-1].isalnum() else ""
    return left + body + right


@lru_cache(maxsize=256)
def _prepared(secrets: frozenset[str]) -> tuple[tuple[tuple[str, bool], ...], tuple[str, ...]]:
    """Every form of every secret, longest first (so a secret containing another is hidden
    whole), each with whether it is short (masked only where it stands alone); and the long
    secrets whose cut-off start must be hidden."""
    parts: dict[str, bool] = {}
    for secret in secrets:
        short = len(secret) < SHORT_SECRET
        for form in _forms(secret):
            parts[form] = parts.get(form, True) and short
    forms = tuple((form, parts[form]) for form in sorted(parts, key=len, reverse=True))
    long_secrets = tuple(sorted((s for s in secrets if len(s) >= SHORT_SECRET), key=len))
    return forms, long_secrets


@lru_cache(maxsize=256)
def _pattern(forms: tuple[tuple[str, bool], ...]) -> re.Pattern[str]:
    """One regex for all the forms, each where it stands as a value."""
    return re.compile("|".join(_bounded(form, short) for form, short in forms))


def _mask_cut(text: str, secrets: tuple[str, ...]) -> str:
    """A secret cut by a truncation ("gAAAAB3x…"): its start before the mark is hidden."""
    out = []
    last = 0
    for match in re.finditer(re.escape(TRUNCATION), text):
        end = match.start()
        for secret in secrets:
            for size in range(min(len(secret), end) - 1, SHORT_SECRET - 1, -1):
                if text.startswith(secret[:size], end - size) and (
                    end - size == 0 or not text[end - size - 1].isalnum()
                ):
                    out.append(text[last : end - size] + MASK)
                    last = end
                    break
            else:
                continue
            break
    out.append(text[last:])
    return "".join(out)
