"""How a grammar reaches an OpenAI-compatible server, and what happens when the server refuses it.

Servers spell guided decoding differently: llama.cpp's server reads `grammar` (GBNF), vLLM 0.10.2 and later
`structured_outputs: {"grammar": ...}`, older vLLM `guided_grammar`; each ignores the fields it does not know.
So a request carries one *dialect*, a set of fields that several servers understand at once, and a server that
answers 400/422 to it (a field it rejects, a grammar it cannot compile) gets the next dialect, and at last the
request without a grammar: the reply then follows the prompt's format only as well as the model does, and
every such reply carries a note saying so, which the run stores with the call. The dialect that worked is
remembered per provider, so the ladder is climbed once per run, not once per request.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from .types import LLMError

#: Field sets to try, in order; each is a function of the grammar text.
DIALECTS: tuple[tuple[str, Callable[[str], dict[str, Any]]], ...] = (
    ("llama.cpp grammar + vLLM structured_outputs", lambda g: {"grammar": g, "structured_outputs": {"grammar": g}}),
    ("llama.cpp grammar + vLLM guided_grammar", lambda g: {"grammar": g, "guided_grammar": g}),
)
#: HTTP statuses that mean "this request's fields were refused", as opposed to a failing server.
REFUSED = (400, 422)


class GrammarLadder:
    """Per-provider memory of which dialect the server takes (None: not known yet; len(DIALECTS): none)."""

    def __init__(self) -> None:
        self.rung = 0
        self.refusals: list[str] = []  # why each refused dialect was refused, for the notes

    @property
    def unguided(self) -> bool:
        return self.rung >= len(DIALECTS)

    async def send(self, grammar: str, request: dict[str, Any],
                   attempt: Callable[[dict[str, Any]], Awaitable[Any]]) -> tuple[Any, list[str]]:
        """Run `attempt(request + the current dialect's fields)`, stepping down the ladder on a refusal;
        returns its result and the notes to store with the call (empty when the grammar was taken)."""
        start = self.rung
        while not self.unguided:
            name, fields = DIALECTS[self.rung]
            try:
                return await attempt({**request, **fields(grammar)}), []
            except LLMError as exc:
                if exc.status not in REFUSED:
                    raise
                self.refusals.append(f"{name}: HTTP {exc.status}: {exc.message[:200]}")
                self.rung += 1
        note = ("the server refused the grammar, so this reply was not constrained (" +
                "; ".join(self.refusals) + ")")
        try:
            return await attempt(request), [note]
        except LLMError as exc:
            if exc.status in REFUSED and start < len(DIALECTS):  # refused without a grammar too: not the grammar
                self.rung = start
                del self.refusals[start:]
            raise
