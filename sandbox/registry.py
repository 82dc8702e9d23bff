"""Backend lookup by name; backends load lazily, so an optional one (docker) costs nothing unless chosen."""

from __future__ import annotations

import importlib
import threading

from .api import Sandbox

# name -> "module:class"; a new backend is one module plus one line here.
_BACKENDS: dict[str, str] = {
    "process": "sandbox.process:ProcessSandbox",
    "none": "sandbox.unsafe:UnsafeSandbox",
    "docker": "sandbox.docker_backend:DockerSandbox",
    "warm": "sandbox.warm:WarmSandbox",
}
# "auto" takes the first that starts here: warm needs root, process works wherever namespaces or rlimits do.
_AUTO_ORDER = ("warm", "process")
_instances: dict[str, Sandbox] = {}
_lock = threading.RLock()  # a backend may build on another (warm asks process which mode works)


def get_sandbox(name: str = "auto") -> Sandbox:
    """Return the (shared, thread-safe) backend called ``name``; "auto" picks the best available isolation."""
    if name == "auto":
        failures = []
        for key in _AUTO_ORDER:
            try:
                return get_sandbox(key)
            except RuntimeError as exc:
                failures.append(f"{key}: {exc}")
        raise RuntimeError("no sandbox backend starts here: " + "; ".join(failures))
    if name not in _BACKENDS:
        known = ", ".join(["auto", *_BACKENDS])
        raise ValueError(f"unknown sandbox backend {name!r}; choose one of: {known}")
    with _lock:
        if name not in _instances:
            module, cls = _BACKENDS[name].split(":")
            _instances[name] = getattr(importlib.import_module(module), cls)()
        return _instances[name]
