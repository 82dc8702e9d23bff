"""The textual hash merges cosmetic variants and keeps every real change apart."""

import pytest

from evolve.dedupe import code_hash

BASE = '''\
"""Online bin packing heuristic."""
import numpy as np


def priority(item, bins):
    """Score each bin for the incoming item."""
    gap = bins - item
    return -gap + 0.5 * (gap == 0)
'''

SAME = [
    # reformatted: spacing, parentheses, quotes, line breaks
    '''\
"""Online bin packing heuristic."""
import numpy as np
def priority( item,bins ):
    """Score each bin for the incoming item."""
    gap=bins-item
    return (-gap
            + 0.5 * (gap == 0))
''',
    # comments added and changed
    '''\
"""Online bin packing heuristic."""
import numpy as np  # arrays


def priority(item, bins):
    """Score each bin for the incoming item."""
    # how much room is left after placing the item
    gap = bins - item
    return -gap + 0.5 * (gap == 0)  # prefer exact fits
''',
    # docstrings changed and removed
    '''\
"""Heuristic v2: tighter fits."""
import numpy as np


def priority(item, bins):
    gap = bins - item
    return -gap + 0.5 * (gap == 0)
''',
    # single-quoted docstring and CRLF line endings
    "'''Other words.'''\r\nimport numpy as np\r\n\r\n\r\ndef priority(item, bins):\r\n"
    "    'Score.'\r\n    gap = bins - item\r\n    return -gap + 0.5 * (gap == 0)\r\n",
]

DIFFERENT = {
    "changed constant": BASE.replace("0.5 *", "0.6 *"),
    "int vs float constant": BASE.replace("(gap == 0)", "(gap == 0.0)"),
    "changed operator": BASE.replace("-gap +", "-gap -"),
    "changed comparison": BASE.replace("gap == 0", "gap <= 0"),
    "renamed variable": BASE.replace("gap", "room"),
    "renamed function": BASE.replace("def priority", "def score"),
    "non-docstring string changed": BASE.replace("return -gap", "print('x')\n    return -gap"),
}


def test_hash_is_sha256_hex():
    digest = code_hash(BASE)
    assert len(digest) == 64 and int(digest, 16) >= 0
    assert code_hash(BASE) == digest  # deterministic


@pytest.mark.parametrize("variant", SAME, ids=["reformatted", "comments", "docstrings", "quotes-and-crlf"])
def test_cosmetic_changes_hash_equal(variant):
    assert code_hash(variant) == code_hash(BASE)


@pytest.mark.parametrize("variant", DIFFERENT.values(), ids=DIFFERENT.keys())
def test_real_changes_hash_differently(variant):
    assert code_hash(variant) != code_hash(BASE)


def test_class_and_async_docstrings_are_ignored():
    a = 'class Packer:\n    """Doc."""\n    async def run(self):\n        """Doc."""\n        return 1\n'
    b = "class Packer:\n    async def run(self):\n        return 1\n"
    assert code_hash(a) == code_hash(b)


def test_docstring_only_function_equals_pass():
    assert code_hash('def f():\n    """Nothing yet."""\n') == code_hash("def f():\n    pass\n")


def test_string_statement_after_code_is_kept():
    assert code_hash('def f():\n    x = 1\n    "note"\n') != code_hash("def f():\n    x = 1\n")


CUDA = """\
#include <cuda_runtime.h>

__global__ void add(float* a, float* b, int n) {
    int i = threadIdx.x;
    if (i < n) a[i] += b[i];
}
"""


def test_other_languages_normalize_whitespace_only():
    messy = "\n\n" + CUDA.replace("\n\n", "\n \n\t\n\n").replace("\n", "   \r\n") + "\n\n\n"
    assert code_hash(messy, language="cuda") == code_hash(CUDA, language="cuda")
    assert code_hash(CUDA.replace("+=", "-="), language="cuda") != code_hash(CUDA, language="cuda")
    # inner spacing and comments are meaningful text outside Python
    assert code_hash(CUDA.replace("i < n", "i<n"), language="cuda") != code_hash(CUDA, language="cuda")
    assert code_hash(CUDA + "// note\n", language="cuda") != code_hash(CUDA, language="cuda")


def test_blank_line_runs_collapse_but_do_not_vanish():
    assert code_hash("a\n\nb", language="text") != code_hash("a\nb", language="text")
    assert code_hash("a\n\n\n\nb", language="text") == code_hash("a\n\nb", language="text")


def test_unparsable_python_falls_back_to_text():
    broken = "def f(:\n    return 1   \n"
    assert code_hash(broken) == code_hash("def f(:\r\n    return 1\r\n\r\n\r\n")
    assert code_hash(broken) != code_hash("def f(:\n    return 2\n")
    assert code_hash("x = 1\0") == code_hash(
        "x = 1\0\n"
    )  # null bytes: ast raises ValueError on some versions


def test_python_ast_and_text_keys_never_collide():
    source = "x = 1\n"
    assert code_hash(source, language="python") != code_hash(source, language="text")
