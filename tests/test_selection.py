"""Parent selection policies: their distributions on a known archive, and the archive asking them."""

import collections
import random

from evolve.archive import Archive
from evolve.candidate import Candidate
from evolve.features import FeatureDim
from evolve.selection import ExploitExplore, PowerLaw, Weighted, make_parent_selection


def elites(scores):
    return [Candidate(run_id="r", source=f"s{i}", score=s) for i, s in enumerate(scores)]


def frequencies(policy, ranked, children, n=4000, seed=0):
    rng = random.Random(seed)
    counts = collections.Counter(policy.choose(ranked, [c.score for c in ranked], children, rng)[0].id
                                 for _ in range(n))
    return [counts[c.id] / n for c in ranked]


def test_weighted_favours_high_scores_and_parents_with_few_children():
    ranked = elites([5.0, 4.0, 3.0, 2.0, 1.0])  # best first, as the archive ranks them
    freq = frequencies(Weighted(sharpness=2.0), ranked, {})
    assert freq == sorted(freq, reverse=True) and freq[0] > 2 * freq[-1]
    # the best parent has 9 children already: its weight drops 10-fold, below the runner-up's
    tired = frequencies(Weighted(sharpness=2.0), ranked, {ranked[0].id: 9})
    assert tired[0] < freq[0] / 5 and tired[1] > tired[0]
    # the weights are exactly sigmoid(sharpness * (score - median) / MAD) / (1 + children)
    w = Weighted(sharpness=2.0).weights(ranked, [5.0, 4.0, 3.0, 2.0, 1.0], {ranked[0].id: 9})
    assert abs(w[2] - 0.5) < 1e-12 and abs(w[0] - 1 / (1 + 2.718281828459045 ** -4) / 10) < 1e-9


def test_power_law_draws_by_rank_only():
    ranked = elites([5.0, 4.9, 0.1, 0.0])
    freq = frequencies(PowerLaw(alpha=1.0), ranked, {ranked[0].id: 50})  # children do not matter here
    expected = [1 / r for r in (1, 2, 3, 4)]
    expected = [e / sum(expected) for e in expected]
    assert all(abs(f - e) < 0.03 for f, e in zip(freq, expected)), (freq, expected)
    assert max(frequencies(PowerLaw(alpha=0.0), ranked, {})) < 0.3  # alpha 0: uniform


def test_exploit_explore_keeps_exploitation_inside_the_elite_pool():
    ranked = elites([9, 8, 7, 6, 5, 4, 3, 2])
    freq = frequencies(ExploitExplore(exploitation=1.0, elite_pool=3), ranked, {})
    assert all(f == 0 for f in freq[3:]) and all(f > 0.25 for f in freq[:3])


def test_the_archive_asks_its_policy_and_counts_each_parents_children():
    dim = FeatureDim("code_length", 10, 0, 100)
    archive = Archive([dim], 1, selection=make_parent_selection("weighted"))
    parent = Candidate(run_id="r", source="x" * 10, score=1.0, features={"code_length": 10})
    archive.tell(parent)
    for n in range(3):
        archive.tell(Candidate(run_id="r", source="y", parent_id=parent.id, status="invalid"))
    assert archive.children[parent.id] == 3
    sample = archive.sample(0, random.Random(1))
    assert sample.parent.id == parent.id and sample.mode == "weighted"
