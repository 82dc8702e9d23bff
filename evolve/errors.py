"""User-facing errors: each one says which file and field is wrong and what was expected."""

import click


class EvolveError(click.ClickException):
    """An error the CLI prints as one clear line ("Error: ..."), exit code 2, without a traceback."""

    exit_code = 2


class ConfigError(EvolveError):
    """A task folder or run configuration is malformed."""

    def __init__(self, file: str, field: str, problem: str) -> None:
        self.file, self.field, self.problem = file, field, problem
        where = f"{file}: field '{field}'" if field else file
        super().__init__(f"{where}: {problem}")
