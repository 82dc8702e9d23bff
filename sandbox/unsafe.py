"""The ``none`` backend: a plain subprocess with rlimits, a scrubbed environment and a process group, and NO
isolation (same uid, same network, same filesystem). For debugging only; describe() flags it as unsafe."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from . import rlimits
from .api import Limits, Outcome
from .process import UNSAFE, run_in_mode


class UnsafeSandbox:
    name = "none"
    relays_fds = False

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
        return run_in_mode(UNSAFE, argv, workdir, limits, readonly_paths, env, pass_fds)  # hides nothing

    def describe(self) -> dict[str, object]:
        return {
            "backend": self.name,
            "unsafe": True,
            "warning": "no isolation: candidates run as the engine's user with its network and filesystem",
            "mode": UNSAFE.label,
            "uid": os.geteuid(),
            "network_isolated": False,
            "pid_namespace": False,
            "readonly_root": False,
            "private_tmp": False,
            "rlimits": list(rlimits.NAMES),
            "env_scrubbed": True,
            "kill_tree": "process group",
        }
