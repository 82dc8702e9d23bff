"""Evolve's stand-in for the part of ShinkaEvolve that task evaluators import (see ../README.md)."""
