"""Sort with as few comparisons as possible."""


# EVOLVE-BLOCK-START
def sort(xs: list, less) -> list:
    """Return the items of xs in ascending order, learning their order only through less(a, b) (a < b).

    This is insertion sort: each item walks left past every larger item.
    """
    out = []
    for x in xs:
        i = len(out)
        while i > 0 and less(x, out[i - 1]):
            i -= 1
        out.insert(i, x)
    return out
# EVOLVE-BLOCK-END
