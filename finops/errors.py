"""Domain errors. Each carries enough to tell a person what was wrong and where.

Raised in the domain; turned into exit codes (CLI) or ephemeral Slack text (handlers) at the edge.
"""

from __future__ import annotations


class CostbotError(Exception):
    """Base class: ``str(error)`` is a complete, human-readable one-line message."""


class InputError(CostbotError):
    """Bad input data: a file, a column, a row, a value.

    ``line`` is 1-based as a text editor shows it (the header is line 1 of a CSV).
    """

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 column: str | None = None, value: object | None = None) -> None:
        self.file, self.line, self.column, self.value = file, line, column, value
        where = []
        if file:
            where.append(str(file))
        if line is not None:
            where.append(f"line {line}")
        if column:
            where.append(f"column {column!r}")
        prefix = ", ".join(where)
        detail = f" (value {value!r})" if value is not None else ""
        super().__init__(f"{prefix}: {message}{detail}" if prefix else f"{message}{detail}")


class ConfigError(CostbotError):
    """Bad configuration: a file and line (teams.yml) or a setting name (environment)."""

    def __init__(self, message: str, *, file: str | None = None, line: int | None = None,
                 key: str | None = None) -> None:
        self.file, self.line, self.key = file, line, key
        where = []
        if file:
            where.append(str(file))
        if line is not None:
            where.append(f"line {line}")
        if key:
            where.append(f"key {key!r}" if file else str(key))
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class QuestionError(CostbotError):
    """A question (``/cost why ...``) or command argument that could not be understood.

    ``word`` is the first word not understood; ``examples`` are shown with the correction.
    """

    def __init__(self, message: str, *, word: str | None = None, examples: tuple[str, ...] = ()) -> None:
        self.word, self.examples = word, examples
        super().__init__(message)


class TransitionError(CostbotError):
    """A state change that is not allowed from the current state (or not by this person)."""
