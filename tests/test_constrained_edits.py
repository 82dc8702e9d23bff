"""Line edits under a grammar (evolve/constrained_edits.py): the grammar offers exactly the editable lines, every
reply it allows applies and parses, and replies from outside it are refused with a reason for the model."""

import ast
import random
import re
from typing import ClassVar

import pytest

from evolve.constrained_edits import ConstrainedEditError, EditMenu, gbnf_literal
from evolve.resources import resource_dir
from tests.support.gbnf_sampler import GBNF

SEED = (resource_dir("tasks") / "circle_packing" / "initial_program.py").read_text()

TRICKY = '''import math

# EVOLVE-BLOCK-START
def f(x):
    """Docstring with 12 and "quotes"."""
    s = "a \\"quoted\\" 3 \\\\ back\\\\slash\\t" * 2 + 'é ü 𝔛 7'  # comment 99
    t = x * 2.5 - 1e-3 + 0x1F + 1_000
    if x > 10:
        return s, t, [1, 2.0, .5]
    values = {"k": 4, 'j': "5"}; w = 3
    total = (x +
             7)
    return s, t, values, total
# EVOLVE-BLOCK-END


def fixed():
    return 42
'''


def test_offers_the_block_lines_with_numbers_or_simple_statements():
    menu = EditMenu(SEED)
    lines = SEED.split("\n")
    for n, line in menu.lines.items():
        assert line.text == lines[n - 1]
    numbers_only = EditMenu(SEED, new_lines=False)
    # numbers only: exactly the lines holding a numeric literal in code (not in comments or docstrings)
    assert sorted(numbers_only.lines) == [10, 13, 20, 21, 24]
    assert all(not e.free for e in numbers_only.lines.values())
    # new lines too: simple one-line statements join; def/for headers and docstrings never do
    assert {11, 12, 14, 23, 25} <= set(menu.lines)
    assert not {8, 9, 17, 18, 19, 22} & set(menu.lines)


def test_listing_numbers_editable_lines_and_skips_docstrings():
    listing = EditMenu(SEED, new_lines=False).listing()
    assert "10:     g = (np.arange(5) + 0.5) / 5" in listing
    assert "Return (centers, radii)" not in listing  # docstring left out
    assert "def construct_packing():" in listing
    assert listing == EditMenu(SEED, new_lines=True).listing()  # one cached prefix for both kinds


@pytest.mark.parametrize("source", [SEED, TRICKY], ids=["circle_packing", "tricky"])
@pytest.mark.parametrize("new_lines", [False, True])
def test_every_reply_the_grammar_allows_applies_and_parses(source, new_lines):
    menu = EditMenu(source, max_edits=2, new_lines=new_lines)
    grammar = GBNF(menu.grammar())
    assert grammar.options("edit") == len(menu.lines)  # every offered line is reachable
    rng = random.Random(7)
    kinds = set()
    for n, option in zip(menu.lines, range(grammar.options("edit")), strict=True):
        for _ in range(20):
            reply = grammar.sample_option("edit", option, rng)
            assert reply.startswith(f"{n}: ")
            try:
                child, kind = menu.apply(reply)
            except ConstrainedEditError as exc:
                # only a free new line may fail, and only because it is not Python
                assert new_lines and menu.lines[n].free and "not valid Python" in str(exc), (reply, exc)
                continue
            kinds.add(kind)
            ast.parse(child)
            assert child != source
            assert child.split("\n")[n - 1] != source.split("\n")[n - 1]
            # nothing outside the chosen line moved
            assert [x for i, x in enumerate(child.split("\n")) if i != n - 1] == \
                   [x for i, x in enumerate(source.split("\n")) if i != n - 1]
    assert "constrained-numbers" in kinds
    # whole replies (several edits) apply too
    for _ in range(50):
        reply = grammar.sample(rng)
        try:
            menu.apply(reply)
        except ConstrainedEditError as exc:
            assert new_lines and "not valid Python" in str(exc)


def test_number_holes_keep_strings_quotes_backslashes_and_unicode_exactly():
    menu = EditMenu(TRICKY, new_lines=False)
    lines = TRICKY.split("\n")
    s_line = next(n for n, e in menu.lines.items() if e.text.strip().startswith("s = "))
    grammar = GBNF(menu.grammar())
    option = list(menu.lines).index(s_line)
    reply = grammar.sample_option("edit", option, random.Random(1))
    child, kind = menu.apply(reply)
    assert kind == "constrained-numbers"
    new = child.split("\n")[s_line - 1]
    tree_old = ast.parse(lines[s_line - 1].strip()).body[0].value  # type: ignore[attr-defined]
    tree_new = ast.parse(new.strip()).body[0].value  # type: ignore[attr-defined]
    # the string literals are untouched: the digits inside them are not holes
    assert ast.literal_eval(tree_old.left.left) == ast.literal_eval(tree_new.left.left) == 'a "quoted" 3 \\ back\\slash\t'
    assert ast.literal_eval(tree_new.left.right) != 2
    assert ast.literal_eval(tree_new.right) == "é ü 𝔛 7"
    # hex and exponent forms are not offered as holes (they stay as written); 2.5 and 1_000 are
    t_line = menu.lines[next(n for n, e in menu.lines.items() if e.text.strip().startswith("t = "))]
    assert t_line.kinds == ("float", "int")
    assert "1e-3" in t_line.pieces[1] and "0x1F" in t_line.pieces[1]


def test_multiline_and_semicolon_statements_get_numbers_only():
    menu = EditMenu(TRICKY)
    by_text = {e.text.strip(): e for e in menu.lines.values()}
    assert not by_text["values = {\"k\": 4, 'j': \"5\"}; w = 3"].free
    total = [e for e in menu.lines.values() if e.text.strip().startswith(("total", "7)"))]
    assert all(not e.free for e in total) and total


def test_gbnf_literal_escapes():
    assert gbnf_literal('a"b\\c') == '"a\\"b\\\\c"'
    assert gbnf_literal("\t\n\r\x01") == '"\\t\\n\\r\\x01"'
    assert gbnf_literal("é𝔛") == '"\\u00E9\\U0001D51B"'
    text = 'q"\\ é𝔛 \t'
    assert GBNF("root ::= " + gbnf_literal(text)).sample(random.Random()) == text


def test_apply_refuses_what_the_grammar_would_not_allow():
    menu = EditMenu(SEED, new_lines=False)
    with pytest.raises(ConstrainedEditError, match="line 11 cannot be edited; choose one of lines 10, 13"):
        menu.apply("11: xs, ys = np.meshgrid(g, g)")
    with pytest.raises(ConstrainedEditError, match="no edit"):
        menu.apply("I would make the circles bigger.")
    with pytest.raises(ConstrainedEditError, match="changed nothing"):
        menu.apply("10: g = (np.arange(5) + 0.5) / 5")
    with pytest.raises(ConstrainedEditError, match="only its numbers changed"):
        menu.apply("10: g = np.linspace(0, 1, 5)")
    free = EditMenu(SEED, new_lines=True)
    with pytest.raises(ConstrainedEditError, match="not valid Python"):
        free.apply("12: centers = np.column_stack([xs.ravel(), ys.ravel()]")
    with pytest.raises(ConstrainedEditError, match="EVOLVE-BLOCK marker"):
        free.apply("12: x = 1  # EVOLVE-BLOCK-END")


def test_apply_reads_numbers_and_new_lines_and_ignores_prose():
    menu = EditMenu(SEED, max_edits=2)
    child, kind = menu.apply("Sure! Here is my edit:\n13: centers = np.vstack([centers, [[0.5, 0.45]]])\n")
    assert kind == "constrained-numbers"
    assert "    centers = np.vstack([centers, [[0.5, 0.45]]])\n" in child  # indentation restored, comment dropped
    child, kind = menu.apply("10: g = (np.arange(5) + 0.5) / 5.5\n12: centers = np.array(list(zip(xs.flat, ys.flat)))")
    assert kind == "constrained-line"
    assert "    centers = np.array(list(zip(xs.flat, ys.flat)))" in child
    assert "    g = (np.arange(5) + 0.5) / 5.5" in child
    one = EditMenu(SEED, max_edits=1)  # edits beyond the allowed number are ignored
    child, kind = one.apply("10: g = (np.arange(5) + 0.5) / 6\n12: centers = np.array(list(zip(xs.flat, ys.flat)))")
    assert kind == "constrained-numbers" and "zip" not in child


def test_a_parent_with_nothing_to_edit_is_refused():
    with pytest.raises(ConstrainedEditError, match="no numbers"):
        EditMenu("# EVOLVE-BLOCK-START\ndef f(x):\n    return x\n# EVOLVE-BLOCK-END\n", new_lines=False)


def test_numbers_keep_their_order_of_magnitude():
    menu = EditMenu(SEED, new_lines=False)
    grammar = GBNF(menu.grammar())
    rng = random.Random(3)
    for _ in range(200):
        child, _ = menu.apply(grammar.sample(rng))
        line = next(x for x, old in zip(child.split("\n"), SEED.split("\n"), strict=True) if x != old)
        if "np.arange(" in line:  # (np.arange(5) + 0.5) / 5: one digit, a float below 10, one digit
            assert re.search(r"arange\(\d\) \+ \d\.\d+\) / \d$", line), line


def test_a_base_model_without_a_chat_template_is_prompted_as_plain_text():
    from evolve.llm.local import _render

    class BaseModel:
        metadata: ClassVar[dict[str, str]] = {}

    prompt, stop = _render(BaseModel(), [{"role": "system", "content": "Task. "}, {"role": "user", "content": "Lines:\n10: x = 1"}])
    assert prompt == "Task.\n\nLines:\n10: x = 1\n" and stop == []


def test_the_reply_cap_fits_a_whole_line_of_numbers_at_one_token_per_character():
    """A line of coordinates tokenizes at about one token per character; a cap of half its length cut such
    replies mid-number, and every cut reply was refused."""
    source = ("# EVOLVE-BLOCK-START\ncenters = [\n    [0.100, 0.087],\n    [0.308, 0.126],\n]\n"
              "# EVOLVE-BLOCK-END\n")
    menu = EditMenu(source, max_edits=1, new_lines=False)
    line = "[0.100, 0.087],"
    assert menu.max_reply_tokens() >= len(f"3: {line}\n")
