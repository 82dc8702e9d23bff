"""`python -m evolve` runs the CLI (the same as the `evolve` command)."""

from evolve.cli import app

app(prog_name="evolve")
