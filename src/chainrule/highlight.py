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


class Source(str):
    """Generated source text (`.source`, `chainrule.source`): a plain string that Jupyter
    shows syntax-highlighted, through Pygments when it is installed."""

    def _repr_html_(self) -> str:
        return html_of(str(self))


def html_of(text: str) -> str:
    """`text` as highlighted HTML with inline styles (escaped plain text without pygments)."""
    try:
        from pygments import highlight as _hl
        from pygments.formatters import HtmlFormatter
        from pygments.lexers import PythonLexer
    except ImportError:
        import html

        return f"<pre>{html.escape(text)}</pre>"
    return _hl(text, PythonLexer(), HtmlFormatter(noclasses=True, nobackground=True))


def show_in_notebook(text: str) -> bool:
    """Display `text` highlighted when running in a Jupyter kernel; False elsewhere."""
    try:
        from IPython import get_ipython
        from IPython.display import display
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None or not hasattr(shell, "kernel"):
        return False
    display(Source(text))
    return True
