"""slowstats: small statistics helpers, written plainly (and slowly)."""

from slowstats.pairs import count_pairs_with_sum

__all__ = ["count_pairs_with_sum"]
