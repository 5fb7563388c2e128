"""Joining a step's URL to the file's base_url, the way OpenStack endpoints need it."""

from __future__ import annotations

import re

_ABSOLUTE_URL = re.compile(r"\A[A-Za-z][A-Za-z0-9+.-]*://")


def is_absolute(url: str) -> bool:
    return bool(_ABSOLUTE_URL.match(url))


def join_url(base: str | None, url: str) -> str:
    """Absolute URLs stand alone; others are appended to base_url with exactly one '/'.

    Not urljoin: ``http://h:5000/v3`` + ``/users`` must be ``http://h:5000/v3/users``,
    where urljoin would drop the ``/v3`` prefix that OpenStack endpoints carry.
    """
    if is_absolute(url):
        return url
    if not base:
        raise ValueError(f"the URL {url!r} is relative and the spec has no base_url")
    if not url:
        return base
    return base.rstrip("/") + "/" + url.lstrip("/")
