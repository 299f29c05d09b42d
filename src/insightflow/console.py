"""Terminal output that treats data as text: no markup, no emoji codes, no control sequences.

Rich reads ``[bold]`` as markup and ``:x:`` as an emoji in every string it renders, table cells
included, and passes an escape sequence in a value through to the terminal. Values printed by the
CLI are data (category names, SQL results, request paths in the audit log), so its consoles render
every string as it is, with control characters shown as ``\\x1b``-style escapes.
"""

from __future__ import annotations

import re

from rich.console import Console

# C0 controls except tab and newline, DEL, and the C1 controls
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(text: str) -> str:
    """``text`` with every control character written as an escape (``\\x1b``), the rest unchanged."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class TextConsole(Console):
    """A Rich console for data: markup, emoji codes and highlighting off, control characters visible."""

    def __init__(self, **options: object) -> None:
        super().__init__(markup=False, emoji=False, highlight=False, **options)  # type: ignore[arg-type]

    def render_str(self, text: str, **options):  # noqa: ANN003, ANN201 - Rich's signature
        return super().render_str(visible(text), **options)
