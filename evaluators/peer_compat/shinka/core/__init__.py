"""`from shinka.core import run_shinka_eval`, as ShinkaEvolve evaluators write it."""

from shinka.core.wrap_eval import run_shinka_eval

__all__ = ["run_shinka_eval"]
