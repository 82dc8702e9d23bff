"""The LLM layer: providers (OpenAI/compatible, Anthropic, embedded local GGUF, scripted), retries, token
counting, pricing and the weighted ensemble. See docs/architecture.md for the contracts."""

from .ensemble import LLMEnsemble
from .factory import build_ensemble, build_provider
from .local import LocalModelUnavailable
from .pricing import cost_usd, known_price
from .retry import RetryPolicy, call_with_retry
from .scripted import ScriptedProvider
from .spec import ModelConfig, default_models, parse_model_spec
from .tokens import count_message_tokens, count_tokens
from .types import LLMError, LLMProvider, Reply, Usage

__all__ = [
    "LLMEnsemble",
    "LLMError",
    "LLMProvider",
    "LocalModelUnavailable",
    "ModelConfig",
    "Reply",
    "RetryPolicy",
    "ScriptedProvider",
    "Usage",
    "build_ensemble",
    "build_provider",
    "call_with_retry",
    "cost_usd",
    "count_message_tokens",
    "count_tokens",
    "default_models",
    "known_price",
    "parse_model_spec",
]
