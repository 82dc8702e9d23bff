"""Replies as small models really write them, turned into children or refused with a message to act on."""

import ast

import pytest

from evolve.edits import (
    Edit,
    EditError,
    apply_diff,
    apply_reply,
    apply_rewrite,
    extract_code,
    find_blocks,
    parse_diff_blocks,
)

PACKING = '''\
"""Circle packing seed: n circles in the unit square."""
import math

# EVOLVE-BLOCK-START
def construct_packing(n):
    """Place the circles on a square grid."""
    side = math.ceil(math.sqrt(n))
    centers = []
    for i in range(n):
        row, col = divmod(i, side)
        centers.append(((col + 0.5) / side, (row + 0.5) / side))
    radii = [0.5 / side] * n
    return centers, radii
# EVOLVE-BLOCK-END


def run_packing():
    centers, radii = construct_packing(26)
    return centers, radii, sum(radii)
'''

NESTED = '''\
def heuristic(item, bins):
    """Online bin packing priority."""
    # EVOLVE-BLOCK-START
    score = bins - item
    return -score
    # EVOLVE-BLOCK-END
'''

TWO_BLOCKS = """\
import random

# EVOLVE-BLOCK-START
STEP = 0.1
# EVOLVE-BLOCK-END


def mutate(x):
    return x + random.uniform(-STEP, STEP)


# EVOLVE-BLOCK-START
def accept(old, new):
    return new < old
# EVOLVE-BLOCK-END
"""

PLAIN = """\
def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a
"""


def diff(search: str, replace: str, n: int = 7) -> str:
    return f"{'<' * n} SEARCH\n{search}\n{'=' * n}\n{replace}\n{'>' * n} REPLACE\n"


# ------------------------------------------------------------------------------------------------ find_blocks


def test_find_blocks_gives_content_spans():
    lines = TWO_BLOCKS.split("\n")
    spans = find_blocks(TWO_BLOCKS)
    assert [lines[a:b] for a, b in spans] == [
        ["STEP = 0.1"],
        ["def accept(old, new):", "    return new < old"],
    ]
    assert find_blocks(PLAIN) == []


@pytest.mark.parametrize(
    "source, message",
    [
        ("# EVOLVE-BLOCK-START\nx = 1\n", "line 1 has no EVOLVE-BLOCK-END"),
        ("x = 1\n# EVOLVE-BLOCK-END\n", "line 2 has no EVOLVE-BLOCK-START"),
        (
            "# EVOLVE-BLOCK-START\n# EVOLVE-BLOCK-START\n# EVOLVE-BLOCK-END\n",
            "inside the block opened on line 1",
        ),
    ],
)
def test_find_blocks_rejects_unbalanced_markers(source, message):
    with pytest.raises(EditError, match=message):
        find_blocks(source)


def test_marker_text_inside_code_is_not_a_marker():
    assert find_blocks('MARK = "EVOLVE-BLOCK-START"\n') == []


# ------------------------------------------------------------------------------------------------------ diffs


def test_exact_diff():
    reply = "Use a finer grid.\n" + diff("    radii = [0.5 / side] * n", "    radii = [0.49 / side] * n")
    edit = apply_reply(PACKING, reply)
    assert isinstance(edit, Edit)
    assert edit.kind == "diff" and edit.blocks_applied == 1 and edit.notes == []
    assert edit.source == PACKING.replace("[0.5 / side]", "[0.49 / side]")


def test_multiple_blocks_apply_in_order():
    reply = (
        diff("STEP = 0.1", "STEP = 0.05")
        + "\nand\n\n"
        + diff("    return new < old", "    return new <= old")
    )
    edit = apply_reply(TWO_BLOCKS, reply)
    assert edit.blocks_applied == 2
    assert "STEP = 0.05\n" in edit.source and "return new <= old" in edit.source
    assert "random.uniform(-STEP, STEP)" in edit.source


def test_later_block_sees_earlier_block_result():
    reply = diff("STEP = 0.1", "STEP = 0.2") + diff("STEP = 0.2", "STEP = 0.3")
    assert "STEP = 0.3\n" in apply_reply(TWO_BLOCKS, reply).source


def test_indentation_shifted_search_reindents_replacement():
    search = "for i in range(n):\n    row, col = divmod(i, side)"
    replace = "for i in range(n):\n    row, col = divmod(i, side)\n    if row % 2:\n        col += 0.5"
    edit = apply_reply(PACKING, diff(search, replace))
    assert "        if row % 2:\n            col += 0.5\n        centers.append" in edit.source
    assert any("ignoring indentation" in note and "+4" in note for note in edit.notes)


def test_over_indented_search_is_dedented():
    search = "            side = math.ceil(math.sqrt(n))"
    replace = "            side = math.ceil(math.sqrt(n)) + 1"
    edit = apply_reply(PACKING, diff(search, replace))
    assert "\n    side = math.ceil(math.sqrt(n)) + 1\n" in edit.source
    assert any("-8" in note for note in edit.notes)


def test_trailing_whitespace_in_search():
    edit = apply_reply(
        PACKING,
        diff(
            "    centers = []   \n    for i in range(n):\t",
            "    centers = [(0.5, 0.5)]\n    for i in range(n):",
        ),
    )
    assert "    centers = [(0.5, 0.5)]\n" in edit.source
    assert edit.notes == ["matched SEARCH block 1 ignoring trailing whitespace"]


def test_blank_line_differences_in_search():
    search = "def accept(old, new):\n\n    return new < old"
    edit = apply_reply(TWO_BLOCKS, diff(search, "def accept(old, new):\n    return new <= old"))
    assert "def accept(old, new):\n    return new <= old\n# EVOLVE-BLOCK-END" in edit.source
    assert any("blank lines" in note for note in edit.notes)


def test_fenced_diff_with_prose_and_varied_marker_lengths():
    reply = (
        "Here is my improvement:\n\n```diff\n"
        + diff("STEP = 0.1", "STEP = 0.01", n=5)
        + "```\n\n```\n"
        + diff("    return new < old", "    return new < old - 1e-9", n=9)
        + "```\nThis should help convergence.\n"
    )
    assert parse_diff_blocks(reply) == [
        ("STEP = 0.1", "STEP = 0.01"),
        ("    return new < old", "    return new < old - 1e-9"),
    ]
    edit = apply_reply(TWO_BLOCKS, reply)
    assert "STEP = 0.01\n" in edit.source and "new < old - 1e-9" in edit.source


def test_fence_inside_the_markers_is_dropped():
    reply = (
        "<<<<<<< SEARCH\n```python\nSTEP = 0.1\n```\n=======\n```python\nSTEP = 0.3\n```\n>>>>>>> REPLACE\n"
    )
    assert parse_diff_blocks(reply) == [("STEP = 0.1", "STEP = 0.3")]


def test_partial_last_block_is_accepted():
    reply = (
        "```\n" + diff("STEP = 0.1", "STEP = 0.5") + "<<<<<<< SEARCH\nSTEP = 0.5\n=======\nSTEP = 0.7\n```\n"
    )
    edit = apply_reply(TWO_BLOCKS, reply)
    assert "STEP = 0.7\n" in edit.source and edit.blocks_applied == 2
    assert any("block 2 had no >>>>>>> REPLACE" in note for note in edit.notes)


def test_half_written_replace_marker_is_cut():
    reply = "<<<<<<< SEARCH\nSTEP = 0.1\n=======\nSTEP = 0.2\n>>>>>>> REPL"
    assert parse_diff_blocks(reply) == [("STEP = 0.1", "STEP = 0.2")]


def test_block_cut_off_before_divider_is_rejected():
    with pytest.raises(EditError, match="SEARCH block 2 ends without ======="):
        apply_reply(TWO_BLOCKS, diff("STEP = 0.1", "STEP = 0.2") + "<<<<<<< SEARCH\ndef accept(old, new):\n")


@pytest.mark.parametrize(
    "reply, message",
    [
        ("<<<<<<< SEARCH\nSTEP = 0.1\n>>>>>>> REPLACE\n", "block 1 has no ======= line"),
        (
            "<<<<<<< SEARCH\nSTEP = 0.1\n=======\nSTEP = 1\n=======\nSTEP = 2\n>>>>>>> REPLACE",
            "second =======",
        ),
        ("<<<<<<< SEARCH\nSTEP = 0.1\n=======\nSTEP = 1\n<<<<<<< SEARCH\n", "not closed by >>>>>>> REPLACE"),
        ("<<<<<<< SEARCH\n\n=======\nSTEP = 1\n>>>>>>> REPLACE", "SEARCH block 1 is empty"),
    ],
)
def test_malformed_blocks_are_named(reply, message):
    with pytest.raises(EditError, match=message):
        apply_reply(TWO_BLOCKS, reply)


def test_search_not_found_names_block_and_closest_line():
    reply = diff("STEP = 0.1", "STEP = 0.2") + diff("    return new < older", "    return new > old")
    with pytest.raises(EditError) as info:
        apply_reply(TWO_BLOCKS, reply)
    message = str(info.value)
    assert message.startswith("SEARCH block 2 not found in the parent; closest line: 14:")
    assert '"return new < old"' in message and '"return new < older"' in message


def test_search_lines_present_but_not_together():
    with pytest.raises(EditError, match="not together in this order"):
        apply_reply(PACKING, diff("    centers = []\n    radii = [0.5 / side] * n", "    pass"))


def test_search_matching_twice_uses_first_and_notes_it():
    parent = "# EVOLVE-BLOCK-START\nx = 0\nx += 1\nx += 1\n# EVOLVE-BLOCK-END\n"
    edit = apply_reply(parent, diff("x += 1", "x += 2"))
    assert edit.source == "# EVOLVE-BLOCK-START\nx = 0\nx += 2\nx += 1\n# EVOLVE-BLOCK-END\n"
    assert edit.notes == ["SEARCH block 1 matches 2 places; replaced the first (line 3)"]


def test_edit_outside_markers_is_rejected():
    reply = diff("    centers, radii = construct_packing(26)", "    centers, radii = construct_packing(20)")
    with pytest.raises(EditError, match="SEARCH block 1 matches line 18, outside the EVOLVE-BLOCK markers"):
        apply_reply(PACKING, reply)


def test_match_inside_block_preferred_over_fixed_code():
    parent = "x = 1\n# EVOLVE-BLOCK-START\nx = 1\n# EVOLVE-BLOCK-END\n"
    assert (
        apply_reply(parent, diff("x = 1", "x = 2")).source
        == "x = 1\n# EVOLVE-BLOCK-START\nx = 2\n# EVOLVE-BLOCK-END\n"
    )


def test_markers_copied_into_both_halves_are_tolerated():
    reply = diff(
        "# EVOLVE-BLOCK-START\nSTEP = 0.1\n# EVOLVE-BLOCK-END",
        "# EVOLVE-BLOCK-START\nSTEP = 0.3\n# EVOLVE-BLOCK-END",
    )
    edit = apply_reply(TWO_BLOCKS, reply)
    assert "# EVOLVE-BLOCK-START\nSTEP = 0.3\n# EVOLVE-BLOCK-END" in edit.source
    assert find_blocks(edit.source) == find_blocks(TWO_BLOCKS)


def test_search_of_only_a_marker_is_rejected():
    reply = diff("# EVOLVE-BLOCK-START", "# EVOLVE-BLOCK-START\nSTEP = 0.5")
    with pytest.raises(EditError, match="outside the EVOLVE-BLOCK markers"):
        apply_reply(TWO_BLOCKS, reply)


def test_replacement_adding_a_marker_is_rejected():
    with pytest.raises(EditError, match="adds or moves an EVOLVE-BLOCK marker"):
        apply_reply(
            TWO_BLOCKS, diff("STEP = 0.1", "STEP = 0.1\n# EVOLVE-BLOCK-END\nEXTRA = 1\n# EVOLVE-BLOCK-START")
        )


def test_search_spanning_a_marker_is_rejected():
    with pytest.raises(EditError, match="outside the EVOLVE-BLOCK markers"):
        apply_reply(TWO_BLOCKS, diff("STEP = 0.1\n# EVOLVE-BLOCK-END", "STEP = 0.2"))


def test_file_without_markers_is_wholly_editable():
    edit = apply_reply(PLAIN, diff("def fib(n):", "def fib(n: int) -> int:"))
    assert edit.source.startswith("def fib(n: int) -> int:\n")


def test_deletion_with_empty_replacement():
    edit = apply_diff(PACKING, [('    """Place the circles on a square grid."""', "")])
    assert "Place the circles" not in edit.source
    ast.parse(edit.source)


def test_noop_diff_is_rejected():
    with pytest.raises(EditError, match="no change"):
        apply_reply(TWO_BLOCKS, diff("STEP = 0.1", "STEP = 0.1"))


def test_apply_diff_needs_blocks():
    with pytest.raises(EditError, match="no SEARCH/REPLACE blocks"):
        apply_diff(PLAIN, [])


# --------------------------------------------------------------------------------------------------- rewrites


NEW_PACKING_BLOCK = '''\
def construct_packing(n):
    """Hexagonal rows."""
    centers = [((i % 6 + 0.5) / 6, (i // 6 + 0.5) / 5) for i in range(n)]
    return centers, [0.09] * n'''


def test_rewrite_with_markers_takes_block_content():
    block = f"# EVOLVE-BLOCK-START\n{NEW_PACKING_BLOCK}\n# EVOLVE-BLOCK-END\n"
    reply = f"Rewritten:\n```python\nimport math\n\n{block}```"
    edit = apply_reply(PACKING, reply)
    assert edit.kind == "rewrite" and edit.blocks_applied == 1
    assert NEW_PACKING_BLOCK in edit.source
    assert edit.source.endswith(
        "    return centers, radii, sum(radii)\n"
    )  # fixed tail kept though the reply omits it
    assert edit.notes == []


def test_rewrite_with_markers_discards_changes_to_fixed_code():
    fixed_changed = PACKING.replace("construct_packing(26)", "construct_packing(30)")
    start, end = find_blocks(PACKING)[0]
    lines = fixed_changed.split("\n")
    reply = "\n".join(lines[:start] + NEW_PACKING_BLOCK.split("\n") + lines[end:])
    edit = apply_rewrite(PACKING, reply)
    assert "construct_packing(26)" in edit.source and NEW_PACKING_BLOCK in edit.source
    assert any("discarded 1 line(s)" in note for note in edit.notes)


def test_rewrite_with_markers_in_multi_block_parent():
    reply = (
        "```python\n# EVOLVE-BLOCK-START\nSTEP = 0.2\n# EVOLVE-BLOCK-END\n"
        "# EVOLVE-BLOCK-START\ndef accept(old, new):\n    return True\n# EVOLVE-BLOCK-END\n```"
    )
    edit = apply_reply(TWO_BLOCKS, reply)
    assert edit.blocks_applied == 2
    assert "STEP = 0.2\n" in edit.source and "    return True\n" in edit.source
    assert "def mutate(x):" in edit.source


def test_rewrite_with_broken_markers_names_the_reply():
    with pytest.raises(
        EditError, match="in the reply's code: EVOLVE-BLOCK-START on line 1 has no EVOLVE-BLOCK-END"
    ):
        apply_reply(
            PACKING, "```python\n# EVOLVE-BLOCK-START\ndef construct_packing(n):\n    return [], []\n"
        )


def test_rewrite_with_wrong_number_of_regions_is_rejected():
    with pytest.raises(EditError, match="reply has 1 EVOLVE-BLOCK regions but the parent has 2"):
        apply_reply(TWO_BLOCKS, "```python\n# EVOLVE-BLOCK-START\nSTEP = 0.2\n# EVOLVE-BLOCK-END\n```")


def test_rewrite_whole_program_without_markers():
    start, end = find_blocks(PACKING)[0]
    lines = PACKING.split("\n")
    program = "\n".join(lines[: start - 1] + NEW_PACKING_BLOCK.split("\n") + lines[end + 1 :])
    edit = apply_reply(PACKING, f"```python\n{program}```\n")
    lines_out = edit.source.split("\n")
    assert find_blocks(edit.source) == [(start, start + len(NEW_PACKING_BLOCK.split("\n")))]
    assert "\n".join(lines_out[start : start + 4]) == NEW_PACKING_BLOCK
    assert edit.source.endswith(PACKING[PACKING.index("# EVOLVE-BLOCK-END") :])
    assert any("whole-program" in note for note in edit.notes)


def test_rewrite_bare_block_content():
    edit = apply_reply(PACKING, f"```python\n{NEW_PACKING_BLOCK}\n```")
    assert edit.source.startswith(
        PACKING[: PACKING.index("# EVOLVE-BLOCK-START\n") + 21] + NEW_PACKING_BLOCK + "\n"
    )
    assert "run_packing" in edit.source and edit.blocks_applied == 1


def test_rewrite_bare_content_is_indented_like_the_block():
    edit = apply_reply(NESTED, "```python\nscore = bins - item * 1.1\nreturn -score * score\n```")
    assert (
        "    # EVOLVE-BLOCK-START\n    score = bins - item * 1.1\n    return -score * score\n" in edit.source
    )
    assert any("re-indented the block content by +4" in note for note in edit.notes)


def test_rewrite_redefining_fixed_code_is_rejected():
    program = PACKING.replace("# EVOLVE-BLOCK-START\n", "").replace("# EVOLVE-BLOCK-END\n", "")
    program = program.replace("construct_packing(26)", "construct_packing(40)")  # fixed part changed
    with pytest.raises(EditError, match="redefines run_packing, which is outside the EVOLVE-BLOCK markers"):
        apply_reply(PACKING, f"```python\n{program}```")


def test_rewrite_of_multi_block_parent_needs_markers():
    with pytest.raises(EditError, match="parent has 2 EVOLVE-BLOCK regions"):
        apply_reply(TWO_BLOCKS, "```python\nSTEP = 0.2\n```")


def test_rewrite_without_markers_replaces_the_file():
    new = "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)"
    edit = apply_rewrite(PLAIN, new)
    assert edit.source == new + "\n" and edit.kind == "rewrite"


def test_noop_rewrite_is_rejected():
    with pytest.raises(EditError, match="no change"):
        apply_reply(PLAIN, f"```python\n{PLAIN}```")


# ----------------------------------------------------------------------------------------------- extract_code


def test_extract_prefers_language_tag_then_longest():
    reply = (
        "```\nsome long untagged output that is not the program at all, really\n```\n"
        "```python\nx = 1\n```\n```py\nx = 1\ny = 2\n```"
    )
    assert extract_code(reply) == "x = 1\ny = 2"
    assert extract_code("```bash\npip install numpy\n```\n```\nx = 1\nprint(x)\n```") == "x = 1\nprint(x)"


def test_extract_unclosed_fence():
    assert extract_code("Sure! Here it is:\n```python\ndef f():\n    return 2\n") == "def f():\n    return 2"
    edit = apply_reply(PLAIN, "```python\ndef fib(n):\n    return n\n")
    assert edit.source == "def fib(n):\n    return n\n"
    assert any("no closing fence" in note for note in edit.notes)


def test_extract_bare_code_and_tilde_fences():
    assert extract_code("import math\nprint(math.pi)\n") == "import math\nprint(math.pi)"
    assert extract_code("~~~python\nx = 3\n~~~") == "x = 3"
    assert extract_code("Sure") is None  # parses as a name, but is not a program
    assert extract_code("int main() { return 0; }", language="cuda") is None


# ------------------------------------------------------------------------------------------ apply_reply gates


def test_syntax_error_rejected_with_line_number():
    reply = diff("    return centers, radii", "    return centers, radii +")
    with pytest.raises(EditError, match=r"result does not parse: SyntaxError line 13: invalid syntax"):
        apply_reply(PACKING, reply)


@pytest.mark.parametrize(
    "reply",
    [
        "I cannot help with that.",
        "The circles should be packed more tightly, perhaps by using a hexagonal arrangement of the rows.",
        "Sure",
        "",
        "   \n\n",
    ],
)
def test_garbage_replies_are_rejected(reply):
    with pytest.raises(EditError, match="reply (is empty|has no code block)"):
        apply_reply(PACKING, reply)


def test_unified_diff_gets_a_specific_message():
    reply = "```diff\n--- a/p.py\n+++ b/p.py\n@@ -1,2 +1,2 @@\n-STEP = 0.1\n+STEP = 0.2\n```"
    with pytest.raises(EditError, match="unified diff"):
        apply_reply(TWO_BLOCKS, reply.replace("```diff\n", "").replace("```", ""))


def test_modes():
    reply = diff("STEP = 0.1", "STEP = 0.2")
    assert apply_reply(TWO_BLOCKS, reply, mode="diff").kind == "diff"
    with pytest.raises(EditError, match="no SEARCH/REPLACE blocks"):
        apply_reply(TWO_BLOCKS, "```python\nSTEP = 0.2\n```", mode="diff")
    with pytest.raises(ValueError):
        apply_reply(TWO_BLOCKS, reply, mode="patch")


def test_crlf_reply_and_parent():
    reply = diff("STEP = 0.1", "STEP = 0.2").replace("\n", "\r\n")
    assert "STEP = 0.2\n" in apply_reply(TWO_BLOCKS, reply).source
    crlf_parent = TWO_BLOCKS.replace("\n", "\r\n")
    edit = apply_reply(crlf_parent, reply)
    assert edit.source == crlf_parent.replace("STEP = 0.1", "STEP = 0.2")


CUDA = """\
#include <cuda_runtime.h>

// EVOLVE-BLOCK-START
__global__ void add(const float* a, const float* b, float* out, int n) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) out[i] = a[i] + b[i];
}
// EVOLVE-BLOCK-END

void launch(const float* a, const float* b, float* out, int n) {
    add<<<(n + 255) / 256, 256>>>(a, b, out, n);
}
"""


def test_cuda_markers_without_parse_check():
    reply = diff(
        "    if (i < n) out[i] = a[i] + b[i];",
        "    for (; i < n; i += blockDim.x * gridDim.x) out[i] = a[i] + b[i];",
    )
    edit = apply_reply(CUDA, reply, language="cuda")
    assert "i += blockDim.x * gridDim.x" in edit.source
    with pytest.raises(EditError, match="outside the EVOLVE-BLOCK markers"):
        apply_reply(
            CUDA,
            diff("    add<<<(n + 255) / 256, 256>>>(a, b, out, n);", "    add<<<1, 1>>>(a, b, out, n);"),
            language="cuda",
        )


def test_cuda_rewrite_of_block():
    kernel = "__global__ void add(const float* a, const float* b, float* out, int n) {\n    out[0] = 0;\n}"
    edit = apply_reply(CUDA, f"```cuda\n{kernel}\n```", language="cuda")
    assert f"// EVOLVE-BLOCK-START\n{kernel}\n// EVOLVE-BLOCK-END" in edit.source
    assert edit.source.startswith("#include <cuda_runtime.h>\n")
