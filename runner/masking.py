"""Which values are secret, and hiding them in anything shown to a person.

A value is secret when it was bound to a variable whose name says so (password, token,
secret), or was sent or received in a credential header. Masking is by value, so a token
is hidden wherever it appears: headers, bodies, URLs, expected/actual values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from .messages import Headers

MASK = "***"
SECRET_HEADERS = frozenset(
    {"x-auth-token", "x-subject-token", "authorization", "proxy-authorization"}
)
_SECRET_NAME = re.compile(r"password|token|secret", re.IGNORECASE)
MIN_MASKED_LENGTH = 3  # shorter values would mask ordinary text; they are hidden only where named


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def secrets_in_variables(variables: Mapping[str, Any], depth: int = 3) -> set[str]:
    """Values of secret-named variables, also inside mappings (``os.password``)."""
    found: set[str] = set()
    for name, value in variables.items():
        if isinstance(value, Mapping) and depth > 0:
            found |= secrets_in_variables(value, depth - 1)
        elif (
            isinstance(name, str)
            and is_secret_name(name)
            and isinstance(value, str | int | float)
            and not isinstance(value, bool)
        ):
            found.add(str(value))
    return found


def secrets_in_headers(headers: Headers | Mapping[str, str]) -> set[str]:
    items: Iterable[tuple[str, str]] = headers if isinstance(headers, Headers) else headers.items()
    found: set[str] = set()
    for name, value in items:
        if name.lower() in SECRET_HEADERS and value:
            found.add(value)
            scheme, _, credential = value.partition(" ")
            if credential and scheme.isalpha():
                found.add(credential.strip())
    return found


def mask_header(name: str, value: str, secrets: Iterable[str]) -> str:
    if name.lower() in SECRET_HEADERS:
        scheme, _, credential = value.partition(" ")
        if credential and scheme.isalpha() and scheme.lower() in ("basic", "bearer", "digest"):
            return f"{scheme} {MASK}"
        return MASK
    return mask(value, secrets)


def mask(text: str, secrets: Iterable[str]) -> str:
    """Replace every secret value in text; longest first so a token inside another stays hidden."""
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= MIN_MASKED_LENGTH and secret in text:
            text = text.replace(secret, MASK)
    return text
