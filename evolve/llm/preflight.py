"""Check a run's models before the run exists: a missing key, an unknown model or a server that does not answer
is one clear line (EvolveError), not a traceback from the first call, and no empty run is left in the store.

What is checked, per provider:
- openai / anthropic (the vendors' APIs): the key's environment variable is set; then, with the key, the
  vendor's models endpoint is asked about the model (a few seconds at most), so a misspelt name or a revoked
  key is caught here;
- any OpenAI-compatible server (`base_url`): GET {base_url}/models answers (connection refused, a timeout or a
  401 are reported as such) and lists the model; a server that lists exactly one model is trusted to answer
  any name (llama.cpp's server does), and one without a models endpoint (404) is trusted as reachable;
- local: llama-cpp-python and the embedded model package (or the named GGUF file) are installed;
- scripted: nothing to check.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from evolve.errors import EvolveError

from ._client import resolve_api_key
from .spec import ModelConfig
from .types import LLMError

if TYPE_CHECKING:  # loaded by the first probe of a server: a run on the embedded or a scripted model does without
    import httpx

PROBE_TIMEOUT_S = 5.0
_VENDOR_BASE = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com/v1"}


def check(models: Iterable[ModelConfig], environ: Mapping[str, str] | None = None, *,
          probe: bool = True, origin: str = "") -> None:
    """Raise EvolveError naming the first model that cannot be used; `origin` says where models came from
    (e.g. "config.yaml's llm section") so the user knows what to change. probe=False skips network checks."""
    env = os.environ if environ is None else environ
    for cfg in models:
        try:
            _check_one(cfg, env, probe)
        except EvolveError as exc:
            where = f" (from {origin})" if origin else ""
            raise EvolveError(f"model {cfg.label}{where}: {exc.message}") from None


def _check_one(cfg: ModelConfig, env: Mapping[str, str], probe: bool) -> None:
    if cfg.provider == "local":
        _check_local(cfg)
    elif cfg.provider in ("openai", "anthropic"):
        try:
            key = resolve_api_key(cfg, env)
        except LLMError:
            raise EvolveError(f"the environment variable {cfg.api_key_env} is not set (set it, or choose another "
                              "model with --model, e.g. --model local)") from None
        if probe:
            _probe(cfg, key)


def _check_local(cfg: ModelConfig) -> None:
    from .local import LocalModelUnavailable, LocalProvider

    try:
        LocalProvider(cfg)
    except (LocalModelUnavailable, FileNotFoundError, ValueError) as exc:
        raise EvolveError(str(exc)) from None


def _probe(cfg: ModelConfig, key: str) -> None:
    """Ask the models endpoint about this model (see the module docstring for what counts as usable)."""
    base = (cfg.base_url or _VENDOR_BASE[cfg.provider]).rstrip("/")
    headers = ({"x-api-key": key, "anthropic-version": "2023-06-01"} if cfg.provider == "anthropic" and
               not cfg.base_url else {"Authorization": f"Bearer {key}"})
    url = f"{base}/models" if cfg.base_url else f"{base}/models/{cfg.name}"
    import httpx

    try:
        response = httpx.get(url, headers=headers, timeout=PROBE_TIMEOUT_S)
    except httpx.TimeoutException:
        raise EvolveError(f"{base} did not answer within {PROBE_TIMEOUT_S:g} s") from None
    except httpx.HTTPError as exc:
        raise EvolveError(f"cannot reach {base} ({type(exc).__name__}: {exc}); is the server running?") from None
    if response.status_code in (401, 403):
        raise EvolveError(f"{base} refused the key in {cfg.api_key_env} (HTTP {response.status_code})")
    if not cfg.base_url:
        if response.status_code == 404:
            raise EvolveError(f"unknown model {cfg.name!r} ({base} has no such model)")
        return
    if response.status_code != 200:
        return  # no models endpoint: reachable is all that can be said
    served = _served(response)
    if served is not None and len(served) > 1 and cfg.name not in served:
        shown = ", ".join(sorted(served)[:8]) + (", ..." if len(served) > 8 else "")
        raise EvolveError(f"the server at {base} does not serve {cfg.name!r} (it serves: {shown})")


def _served(response: httpx.Response) -> set[str] | None:
    """Model ids of an OpenAI-style models list, or None when the body is not one."""
    try:
        body = response.json()
    except ValueError:
        return None
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        return None
    return {str(item["id"]) for item in data if isinstance(item, dict) and "id" in item}
