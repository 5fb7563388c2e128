"""``python -m runner.schema --write``: regenerate the shipped apirun.schema.json from the
registry; without ``--write``, print it (as ``apirun schema`` does)."""

from __future__ import annotations

import sys

from . import SCHEMA_PATH, schema_text


def main(argv: list[str]) -> int:
    text = schema_text()
    if argv == ["--write"]:
        SCHEMA_PATH.write_text(text, encoding="utf-8")
        print(f"wrote {SCHEMA_PATH}")
        return 0
    if argv:
        print("usage: python -m runner.schema [--write]", file=sys.stderr)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
