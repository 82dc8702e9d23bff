"""Read the new prompt out of an optimizer model's reply.

Models are asked to put it between <prompt> and </prompt>. Small ones often don't, so the reading is lenient
where the intent is clear: an unclosed tag (the reply was cut off), a fenced block, or the last paragraph that
holds the placeholder; a placeholder written as {{input}}, { input } or [input]. It is strict where a guess
would let garbage in: the prompt must hold the placeholder, not be empty, and stay within a length limit.
Every refusal is a `VariationError` whose message is written for the model (it is shown in the repair turn).
"""

from __future__ import annotations

import hashlib
import re

from evolve.llm import count_tokens
from evolve.variation import VariationError

_TAGGED = re.compile(r"<prompt>(.*?)</prompt>", re.IGNORECASE | re.DOTALL)
_OPEN_TAG = re.compile(r"<prompt>", re.IGNORECASE)
_ANY_TAG = re.compile(r"</?prompt>", re.IGNORECASE)
_FENCED = re.compile(r"^[ \t]*(`{3,}|~{3,})[^\n]*\n(.*?)^[ \t]*\1[ \t]*$", re.MULTILINE | re.DOTALL)
_LABEL = re.compile(r"^\s*(?:\*\*)?(?:final |new |improved |the )*prompt(?: \d)?\s*:(?:\*\*)?\s*", re.IGNORECASE)
_MIN_INSTRUCTION_CHARS = 20  # a paragraph with less than this beside the placeholder is only its tail


def extract_prompt(reply: str, placeholder: str, max_tokens: int) -> str:
    """The new prompt of a reply, or VariationError saying what is wrong with it."""
    text = (reply or "").replace("\r\n", "\n")
    if not text.strip():
        raise VariationError("the reply is empty")
    tagged = [m.group(1) for m in _TAGGED.finditer(text)]
    if not tagged and (opened := list(_OPEN_TAG.finditer(text))):
        tagged = [text[opened[-1].end():]]  # cut off before its closing tag
    if tagged:
        found = _last_with(tagged, placeholder) or tagged[-1]
    else:
        fenced = [m.group(2) for m in _FENCED.finditer(text)]
        found = _last_with(fenced, placeholder) if fenced else _from_paragraphs(text, placeholder)
        if found is None:
            raise VariationError(f"no new prompt found: the reply has no <prompt>...</prompt> block and no "
                                 f"paragraph with the placeholder {placeholder}")
    prompt = _normalize_placeholder(_clean(found), placeholder)
    if not prompt:
        raise VariationError("the new prompt is empty")
    if placeholder not in prompt:
        raise VariationError(f"the new prompt lacks the placeholder {placeholder}, so it cannot show the model "
                             "the problem to solve")
    tokens = count_tokens(prompt)
    if tokens > max_tokens:
        raise VariationError(f"the new prompt is {tokens} tokens long, over the limit of {max_tokens}; "
                             "write a shorter one")
    return prompt


def prompt_fingerprint(source: str) -> str:
    """Prompts that differ only in case or whitespace are the same prompt."""
    return hashlib.sha256(" ".join(source.split()).casefold().encode()).hexdigest()


def _last_with(blocks: list[str], placeholder: str) -> str | None:
    """The last block that holds the placeholder (written any accepted way)."""
    return next((b for b in reversed(blocks) if placeholder in _normalize_placeholder(b, placeholder)), None)


def _from_paragraphs(text: str, placeholder: str) -> str | None:
    """The last paragraph with the placeholder, joined to the one before when it is only the prompt's tail
    ("Question: {input}" under an instruction), unless that one introduces it ("Here is the prompt:")."""
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    for i in range(len(paragraphs) - 1, -1, -1):
        if placeholder not in _normalize_placeholder(paragraphs[i], placeholder):
            continue
        rest = _normalize_placeholder(paragraphs[i], placeholder).replace(placeholder, "")
        if i and len(re.sub(r"\W", "", rest)) < _MIN_INSTRUCTION_CHARS and not paragraphs[i - 1].rstrip().endswith(":"):
            return paragraphs[i - 1] + "\n\n" + paragraphs[i]
        return paragraphs[i]
    return None


def _clean(prompt: str) -> str:
    """Drop stray tags, a leading "New prompt:" label and quotes around the whole prompt."""
    prompt = _LABEL.sub("", _ANY_TAG.sub("", prompt).strip(), count=1).strip()
    if len(prompt) >= 2 and prompt[0] == prompt[-1] and prompt[0] in "\"'":
        prompt = prompt[1:-1].strip()
    return prompt


def _normalize_placeholder(prompt: str, placeholder: str) -> str:
    """Read {{name}} as the placeholder {name}, and { name }, [name] or <name> too when the prompt lacks it."""
    name = re.fullmatch(r"\{(\w+)\}", placeholder)
    if name is None:
        return prompt
    word = re.escape(name.group(1))
    prompt = re.sub(rf"\{{\{{\s*{word}\s*\}}\}}", lambda _: placeholder, prompt, flags=re.IGNORECASE)
    if placeholder in prompt:
        return prompt
    variants = rf"\{{\s*{word}\s*\}}|\[\s*{word}\s*\]|<\s*{word}\s*>"
    return re.sub(variants, lambda _: placeholder, prompt, flags=re.IGNORECASE)
