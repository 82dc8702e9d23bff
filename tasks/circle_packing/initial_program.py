"""Pack 26 circles in the unit square so that the sum of their radii is as large as possible."""
import numpy as np

N = 26


# EVOLVE-BLOCK-START
def construct_packing():
    """Return (centers, radii): a (26, 2) array of centers in [0, 1]^2 and a (26,) array of radii."""
    g = (np.arange(5) + 0.5) / 5  # a 5x5 grid with spacing 0.2
    xs, ys = np.meshgrid(g, g)
    centers = np.column_stack([xs.ravel(), ys.ravel()])
    centers = np.vstack([centers, [[0.4, 0.4]]])  # circle 26 sits in the gap between four grid circles
    return centers, max_radii(centers)


def max_radii(centers):
    """Largest valid radii for fixed centers, given greedily in order: each circle takes all the
    room left by the walls and by the circles before it."""
    x, y = centers[:, 0], centers[:, 1]
    radii = np.clip(np.minimum.reduce([x, y, 1 - x, 1 - y]), 0.0, None)
    for i in range(len(centers)):
        d = np.hypot(x[:i] - x[i], y[:i] - y[i])
        radii[i] = max(0.0, min(radii[i], np.min(d - radii[:i], initial=radii[i])))
    return radii
# EVOLVE-BLOCK-END


def run_packing():
    """Fixed entry point called by the evaluator: returns (centers, radii, sum_radii)."""
    centers, radii = construct_packing()
    centers = np.asarray(centers, dtype=float)
    radii = np.asarray(radii, dtype=float)
    return centers, radii, float(np.sum(radii))


if __name__ == "__main__":
    print(f"sum of radii: {run_packing()[2]:.6f}")
