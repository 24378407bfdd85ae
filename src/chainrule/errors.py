"""The one exception chainrule raises for code it cannot differentiate.

A `CompileError` always points at the user's own file: the line and column of
the construct, the source line with a caret under it, and one sentence naming
the construct and what to write instead.  Every stage of the pipeline raises
it through `Located.error` (parse.py) so that no stage has to know how
positions map back to the user's file.
"""

from __future__ import annotations


class CompileError(Exception):
    """A construct outside the subset chainrule can differentiate.

    Attributes:
        message: one sentence naming the construct and what to do instead.
        filename: the user's file ("<unknown>" when there is none).
        lineno: 1-based line in that file (0 when unknown).
        col_offset: 0-based column in that line.
        source_line: the text of that line ("" when unknown).
    """

    def __init__(
        self,
        message: str,
        filename: str = "<unknown>",
        lineno: int = 0,
        col_offset: int = 0,
        source_line: str = "",
    ) -> None:
        self.message = message
        self.filename = filename
        self.lineno = lineno
        self.col_offset = col_offset
        self.source_line = source_line
        super().__init__(self._render())

    def _render(self) -> str:
        where = f"{self.filename}:{self.lineno}:{self.col_offset + 1}: " if self.lineno else ""
        text = f"{where}{self.message}"
        if self.source_line:
            line = self.source_line.rstrip("\n")
            stripped = line.lstrip()
            indent = len(line) - len(stripped)
            caret = " " * max(self.col_offset - indent, 0)
            text += f"\n    {stripped}\n    {caret}^"
        return text

    def __reduce__(self):  # keep the fields when pickled (multiprocessing)
        return (
            CompileError,
            (self.message, self.filename, self.lineno, self.col_offset, self.source_line),
        )
