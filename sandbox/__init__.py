"""Isolation backends that run untrusted candidate programs: one interface (``Sandbox``), several backends.

``get_sandbox("process")`` (the default) uses Linux namespaces, an unprivileged uid and rlimits;
``"docker"`` runs each candidate in a throwaway container (no network, read-only root, cgroup limits) through the
Docker SDK; ``"none"`` is a plain subprocess with rlimits only, for debugging, and says so in ``describe()``.
"""

from .api import Limits, Outcome, Sandbox
from .registry import get_sandbox

__all__ = ["Limits", "Outcome", "Sandbox", "get_sandbox"]
