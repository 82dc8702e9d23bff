"""MAP-Elites archive: insertion keeps the best per cell, migration moves island bests, sampling obeys its ratios."""

import random

import pytest

from evolve.archive import Archive
from evolve.candidate import Candidate
from evolve.features import FeatureDim

DIMS = [FeatureDim("code_length", 10, 0.0, 100.0), FeatureDim("edit_distance", 4, 0.0, 1.0)]


def cand(score, length=5.0, dist=0.1, island=0, status="ok", cid=None):
    c = Candidate(run_id="r", source=f"x = {score}", island=island, status=status, score=score,
                  features={"code_length": length, "edit_distance": dist})
    if cid:
        c.id = cid
    return c


def test_worse_candidate_never_replaces_a_cells_elite():
    archive = Archive(DIMS, islands=1)
    good = cand(2.0)
    assert archive.add(good)
    assert not archive.add(cand(1.0))  # same cell, worse
    assert not archive.add(cand(2.0))  # equal does not replace: the first of equals keeps the cell
    assert archive.filled_cells(0)[archive.cell_of(good.features)] is good
    better = cand(3.0)
    assert archive.add(better)
    assert archive.filled_cells(0)[archive.cell_of(good.features)] is better
    assert len(archive) == 1
    assert archive.best() is better


def test_minimize_direction_prefers_lower_scores():
    archive = Archive(DIMS, islands=1, maximize=False)
    archive.add(cand(5.0))
    assert archive.add(cand(1.0))
    assert not archive.add(cand(3.0))
    assert archive.best().score == 1.0


def test_failed_candidates_are_never_inserted():
    archive = Archive(DIMS, islands=1)
    assert not archive.add(cand(9.0, status="crashed"))
    assert not archive.add(cand(None))
    assert len(archive) == 0


def test_cells_follow_features_and_values_outside_the_range_clamp():
    archive = Archive(DIMS, islands=1)
    archive.add(cand(1.0, length=5, dist=0.1))
    archive.add(cand(1.0, length=55, dist=0.9))
    archive.add(cand(1.0, length=500, dist=7.0))  # clamps to the last bins
    assert set(archive.filled_cells(0)) == {(0, 0), (5, 3), (9, 3)}


@pytest.mark.parametrize("maximize", [True, False])
def test_elites_come_best_first_and_equals_in_the_order_they_were_stored(maximize):
    archive = Archive(DIMS, islands=1, maximize=maximize)
    made = [cand(score, length=10 * i + 5) for i, score in enumerate([1.0, 3.0, 2.0, 3.0])]
    for seq, c in enumerate(made):
        c.seq = seq
        archive.add(c)
    order = [made[i] for i in ([1, 3, 2, 0] if maximize else [0, 2, 1, 3])]
    assert archive.elites(0) == order


def test_ring_migration_copies_island_best_to_next_island():
    archive = Archive(DIMS, islands=3, migration_interval=2)
    migrations = []
    for i in range(2):
        migrations += archive.tell(cand(10.0 + i, length=10 * i, island=0))
    assert [(src, dst, c.score) for src, dst, c in migrations] == [(0, 1, 11.0)]
    assert archive.best(1).score == 11.0
    assert archive.best(2) is None
    # island 2 migrates to island 0 (ring), not to island 3
    for i in range(2):
        migrations = archive.tell(cand(20.0 + i, length=30 + i, island=2))
    assert migrations[0][:2] == (2, 0)
    assert archive.best(0).score == 21.0


def test_sampling_mixes_exploitation_and_exploration_at_the_configured_ratio():
    archive = Archive(DIMS, islands=1, exploitation=0.7, elite_pool=2, num_inspirations=2)
    for i in range(10):
        archive.add(cand(float(i), length=10 * i))
    rng = random.Random(0)
    samples = [archive.sample(0, rng) for _ in range(4000)]
    exploit = [s for s in samples if s.mode == "exploit"]
    assert abs(len(exploit) / len(samples) - 0.7) < 0.03
    assert {s.parent.score for s in exploit} == {9.0, 8.0}  # the top elite_pool elites only
    explored = {s.parent.score for s in samples if s.mode == "explore"}
    assert explored == {float(i) for i in range(10)}  # uniform over all cells


def test_inspirations_are_distinct_elites_other_than_the_parent_and_include_the_best():
    archive = Archive(DIMS, islands=1, num_inspirations=3)
    for i in range(6):
        archive.add(cand(float(i), length=10 * i))
    rng = random.Random(1)
    for _ in range(200):
        s = archive.sample(0, rng)
        ids = [c.id for c in s.inspirations]
        assert s.parent.id not in ids and len(ids) == len(set(ids)) == 3
        if s.parent.score != 5.0:
            assert s.inspirations[0].score == 5.0


def test_sampling_an_empty_island_is_an_error():
    with pytest.raises(LookupError):
        Archive(DIMS, islands=2).sample(1, random.Random(0))


def test_dimension_count_is_checked():
    with pytest.raises(ValueError):
        Archive([], islands=1)
