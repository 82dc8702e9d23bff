"""The ``none`` backend: a process with rlimits, a scrubbed environment and a process group, and NO isolation
(same uid, same network, same filesystem). For debugging only; describe() flags it as unsafe.

Each run is a fork of a long-lived zygote (sandbox/warm.py, unisolated), not a fresh interpreter: the point of
giving up isolation is speed, and an interpreter start per evaluation made this backend slower than the
isolated warm one."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import rlimits
from .api import Limits, Outcome
from .process import UNSAFE
from .warm import WarmSandbox


class UnsafeSandbox:
    name = "none"
    relays_fds = False

    def __init__(self) -> None:
        self._forks = WarmSandbox(isolated=False)

    def run(
        self,
        argv: list[str],
        workdir: Path,
        limits: Limits,
        *,
        readonly_paths: Sequence[Path] = (),
        env: Mapping[str, str] | None = None,
        pass_fds: Sequence[int] = (),
        hidden_paths: Sequence[Path] = (),
        preload: Sequence[Path] = (),
    ) -> Outcome:
        # hides nothing and needs no view of its own: every run forks from one zygote, which sees what the
        # engine sees
        return self._forks.run(argv, workdir, limits, env=env, pass_fds=pass_fds, preload=preload)

    def describe(self) -> dict[str, object]:
        return {
            "backend": self.name,
            "unsafe": True,
            "warning": "no isolation: candidates run as the engine's user with its network and filesystem",
            "mode": f"{UNSAFE.label}, forked from a warm zygote",
            "uid": os.geteuid(),
            "network_isolated": False,
            "pid_namespace": False,
            "readonly_root": False,
            "private_tmp": False,
            "rlimits": list(rlimits.NAMES),
            "env_scrubbed": True,
            "kill_tree": "process group",
        }

    def close(self) -> None:
        """Stop the zygotes."""
        self._forks.close()
