"""Syntax highlighting of generated code on a terminal (`show`, the CLI, the demo)."""

from __future__ import annotations

import os
from typing import Any


def highlight(text: str, stream: Any) -> str:
    """Color `text` as Python when `stream` is a terminal and pygments is installed."""
    if os.environ.get("NO_COLOR") or not getattr(stream, "isatty", lambda: False)():
        return text
    try:
        from pygments import highlight as _hl
        from pygments.formatters import TerminalFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        return text
    return _hl(text, PythonLexer(), TerminalFormatter())
