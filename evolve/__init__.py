"""Evolve: improve programs, prompts and GPU kernels by LLM-driven evolution in a sandbox."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("evolve-lab")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
