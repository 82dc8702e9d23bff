"""Model configuration: one validated `ModelConfig` per ensemble member, from task.yaml, the CLI or code.

Prices default from the built-in table (else 0, so an unknown or self-hosted model reports cost 0) and can
always be overridden, because list prices change faster than releases.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .pricing import known_price

Provider = Literal["openai", "anthropic", "local", "scripted"]

DEFAULT_KEY_ENV: dict[str, str] = {"openai": "OPENAI_API_KEY", "anthropic": "ANTHROPIC_API_KEY"}
DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
DEFAULT_ANTHROPIC_MODEL = "claude-haiku-4-5"
#: `name` of a local model meaning "the first embedded model package that is installed".
LOCAL_AUTO = "auto"

SPEC_FORMS = (
    "accepted forms: 'local', 'local:PATH.gguf', 'local:MODEL' (a known embedded model), 'openai:MODEL', "
    "'anthropic:MODEL', 'openai:MODEL@http://HOST:PORT/v1' (any OpenAI-compatible server), 'scripted', "
    "each optionally followed by '=WEIGHT' (e.g. 'openai:gpt-4o-mini=0.7')"
)


class ModelConfig(BaseModel):
    """One model of the ensemble and how to call it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    provider: Provider
    name: str = ""
    base_url: str | None = None  # any OpenAI-compatible server (vLLM, llama.cpp server, Ollama) or a proxy
    api_key_env: str | None = None  # env var holding the key; defaults per provider
    path: str | None = None  # local: an explicit .gguf file instead of an embedded model package
    weight: float = Field(default=1.0, ge=0.0)
    temperature: float = Field(default=0.8, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)  # nucleus sampling; None: the server's default
    max_tokens: int = Field(default=1024, ge=1)
    timeout_s: float = Field(default=120.0, gt=0.0)
    max_retries: int = Field(default=4, ge=0)
    backoff_base_s: float = Field(default=1.0, ge=0.0)  # first retry waits about this long, doubling after
    backoff_max_s: float = Field(default=60.0, ge=0.0)
    price_in_per_mtok: float | None = Field(default=None, ge=0.0)
    price_out_per_mtok: float | None = Field(default=None, ge=0.0)
    context_tokens: int | None = Field(default=None, ge=256)  # context window; None = known or default
    seed: int | None = None

    def options(self, params: dict[str, Any]) -> tuple[float, int, dict[str, Any]]:
        """(temperature, max_tokens, the other generation params) for one request: the request's `params`
        over this model's settings; the model's seed is added unless the request brings one."""
        params = dict(params)
        temperature = float(params.pop("temperature", self.temperature))
        max_tokens = int(params.pop("max_tokens", self.max_tokens))
        if self.seed is not None:
            params.setdefault("seed", self.seed)
        if self.top_p is not None:
            params.setdefault("top_p", self.top_p)
        return temperature, max_tokens, params

    @model_validator(mode="after")
    def _fill_defaults(self) -> ModelConfig:
        updates: dict[str, object] = {}
        if self.provider in ("openai", "anthropic"):
            if not self.name:
                raise ValueError(f"provider '{self.provider}' needs a model name")
            if self.api_key_env is None:
                updates["api_key_env"] = DEFAULT_KEY_ENV[self.provider]
        elif self.provider == "local":
            if not self.name:
                updates["name"] = Path(self.path).stem if self.path else LOCAL_AUTO
        elif not self.name:
            updates["name"] = "scripted"
        price = known_price(self.name) if self.provider in ("openai", "anthropic") else None
        if self.price_in_per_mtok is None:
            updates["price_in_per_mtok"] = price[0] if price else 0.0
        if self.price_out_per_mtok is None:
            updates["price_out_per_mtok"] = price[1] if price else 0.0
        for key, value in updates.items():  # frozen model: set through __dict__ during validation
            object.__setattr__(self, key, value)
        return self

    @property
    def label(self) -> str:
        """Human/stored name, e.g. 'openai:gpt-4o-mini' or 'local:smollm2-135m'."""
        return f"{self.provider}:{self.name}"


def parse_model_spec(text: str) -> ModelConfig:
    """Parse a CLI model spec (see SPEC_FORMS) into a ModelConfig. Raises ValueError quoting the bad spec."""
    spec = text.strip()

    def bad(why: str) -> ValueError:
        return ValueError(f"bad model spec {text!r}: {why}; {SPEC_FORMS}")

    weight = 1.0
    head, sep, tail = spec.rpartition("=")
    if sep and not ("@" in head and not _is_number(tail)):  # an '=' inside a server URL is not a weight
        try:
            weight = float(tail)
        except ValueError:
            raise bad(f"weight {tail!r} is not a number") from None
        if not math.isfinite(weight) or weight < 0:
            raise bad(f"weight {tail!r} must be a finite number >= 0")
        spec = head.strip()
    provider, _, rest = spec.partition(":")
    provider = provider.strip().lower()
    rest = rest.strip()
    kwargs: dict[str, object] = {"weight": weight}
    if provider == "local":
        if rest.lower().endswith(".gguf") or "/" in rest:
            kwargs["path"] = rest
        elif rest:
            kwargs["name"] = rest
    elif provider in ("openai", "anthropic"):
        name, at, url = rest.partition("@")
        name, url = name.strip(), url.strip()
        if not name:
            raise bad("a model name is missing after the provider")
        if at:
            if not url.startswith(("http://", "https://")):
                raise bad(f"base URL {url!r} must start with http:// or https://")
            kwargs["base_url"] = url
        kwargs["name"] = name
    elif provider == "scripted":
        if rest:
            kwargs["name"] = rest
    else:
        raise bad(f"unknown provider {provider!r}")
    try:
        return ModelConfig(provider=provider, **kwargs)  # type: ignore[arg-type]
    except Exception as exc:  # pydantic.ValidationError is a ValueError too; add the forms
        raise bad(str(exc)) from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def default_models(environ: Mapping[str, str]) -> list[ModelConfig]:
    """The models used when none are configured: a paid API when its key is set, else the offline embedded
    one."""
    if environ.get("OPENAI_API_KEY"):
        return [ModelConfig(provider="openai", name=DEFAULT_OPENAI_MODEL)]
    if environ.get("ANTHROPIC_API_KEY"):
        return [ModelConfig(provider="anthropic", name=DEFAULT_ANTHROPIC_MODEL)]
    return [ModelConfig(provider="local")]
