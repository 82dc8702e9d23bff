"""User-facing errors: each one says which file and field is wrong and what was expected.

The CLI prints them as one line ("Error: ...") with exit code 2 and no traceback (see evolve/cli.py).
"""


class EvolveError(Exception):
    """An error in the user's input or environment, stated so that the user can fix it."""

    exit_code = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(EvolveError):
    """A task folder or run configuration is malformed."""

    def __init__(self, file: str, field: str, problem: str) -> None:
        self.file, self.field, self.problem = file, field, problem
        where = f"{file}: field '{field}'" if field else file
        super().__init__(f"{where}: {problem}")
