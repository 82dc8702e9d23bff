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
}
_AUTO_ORDER = ("process",)
_instances: dict[str, Sandbox] = {}
_lock = threading.Lock()


def get_sandbox(name: str = "auto") -> Sandbox:
    """Return the (shared, thread-safe) backend called ``name``; "auto" picks the best available isolation."""
    key = _AUTO_ORDER[0] if name == "auto" else name
    if key not in _BACKENDS:
        known = ", ".join(["auto", *_BACKENDS])
        raise ValueError(f"unknown sandbox backend {name!r}; choose one of: {known}")
    with _lock:
        if key not in _instances:
            module, cls = _BACKENDS[key].split(":")
            _instances[key] = getattr(importlib.import_module(module), cls)()
        return _instances[key]
