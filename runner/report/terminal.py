"""What reaches a terminal: control characters escaped, apirun's own colours kept.

Bodies, headers, reasons, URLs and the error messages quoting them come from a server, and a
server can put escape sequences in them: erase the FAIL line and print a fake PASS over it
(CSI 2K, CR), set the window title (OSC 0) or write the clipboard (OSC 52). So every line
the console writes passes through ``Screen.text`` on its way out: each C0 control character
but newline and tab, DEL and each C1 control character is shown as Python writes it in a
string (``\\x1b``, ``\\r``, ``\\x07``, ``\\x9b``).

apirun's own colours are not written as escape sequences while a line is put together:
``Screen.color`` writes a mark made of a character from Unicode's private use area and a
random token drawn for this Screen, and ``Screen.text`` turns those marks, and only those,
into SGR sequences. A server cannot forge a mark it cannot see, so what it sends stays
text, whatever it is, while the console still paints its own words.
"""

from __future__ import annotations

import re
import secrets

# C0 but tab and newline, DEL, C1: what a terminal acts on instead of printing.
_CONTROL = "[\x00-\x08\x0b-\x1f\x7f-\x9f]"
_NAMED = {"\r": "\\r"}


def escape_controls(text: str) -> str:
    """The text with its control characters written out (``\\x1b``); newline and tab stay."""
    return re.sub(_CONTROL, _escaped, text)


def _escaped(match: re.Match[str]) -> str:
    char = match[0]
    return _NAMED.get(char) or f"\\x{ord(char):02x}"


class Screen:
    """Marks for colours (``color``), and the text as a terminal may receive it (``text``)."""

    def __init__(self) -> None:
        self._mark = "\ue000" + secrets.token_hex(8)
        self._pattern = re.compile(re.escape(self._mark) + r"\[([0-9;]*)m|" + _CONTROL)

    def color(self, code: str) -> str:
        """The mark standing for the SGR sequence ``ESC [ code m`` until ``text`` runs."""
        return f"{self._mark}[{code}m"

    def text(self, text: str) -> str:
        """Control characters escaped; this Screen's colour marks made escape sequences."""
        return self._pattern.sub(self._replace, text)

    @staticmethod
    def _replace(match: re.Match[str]) -> str:
        if match[1] is not None:
            return f"\033[{match[1]}m"
        return _escaped(match)
