"""Scoring harnesses: each turns a candidate into an EvalResult by running the task's evaluator in the sandbox."""

from evaluators.result import EvalResult

__all__ = ["EvalResult"]
