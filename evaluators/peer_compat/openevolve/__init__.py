"""Evolve's stand-in for the part of OpenEvolve that task evaluators import (see ../README.md)."""

from openevolve.evaluation_result import EvaluationResult

__all__ = ["EvaluationResult"]
