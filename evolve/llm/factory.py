"""ModelConfig -> provider. SDKs and llama.cpp are imported only for the providers actually used."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .ensemble import LLMEnsemble
from .spec import ModelConfig
from .types import LLMProvider


def build_provider(cfg: ModelConfig, *, environ: Mapping[str, str] | None = None) -> LLMProvider:
    """Raises LLMError(kind="auth") if an API key is missing, LocalModelUnavailable if the local extra is."""
    if cfg.provider == "openai":
        from .openai_provider import OpenAIProvider

        return OpenAIProvider(cfg, environ=environ)
    if cfg.provider == "anthropic":
        from .anthropic_provider import AnthropicProvider

        return AnthropicProvider(cfg, environ=environ)
    if cfg.provider == "local":
        from .local import LocalProvider

        return LocalProvider(cfg)
    if cfg.provider == "scripted":
        from .random_edits import STYLES, RandomEditProvider
        from .scripted import ScriptedProvider

        if cfg.name in STYLES:  # the random-edit stand-ins that benchmarks/search_quality.py compares
            return RandomEditProvider(cfg.name, context_tokens=cfg.context_tokens or 8192)
        return ScriptedProvider(name=cfg.name, context_tokens=cfg.context_tokens or 8192)
    raise ValueError(f"unknown provider {cfg.provider!r}")


def build_ensemble(cfgs: Iterable[ModelConfig], *, environ: Mapping[str, str] | None = None) -> LLMEnsemble:
    return LLMEnsemble([(build_provider(c, environ=environ), c.weight) for c in cfgs])
