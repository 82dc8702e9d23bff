"""Next-city rule for a greedy travelling salesman tour construction (AEL's TSP task)."""
import numpy as np


# EVOLVE-BLOCK-START
def select_next_node(current_node: int, destination_node: int, unvisited_nodes: np.ndarray,
                     distance_matrix: np.ndarray) -> int:
    """Pick the next city to visit among `unvisited_nodes`; the tour ends by returning to `destination_node`.

    This seed is nearest neighbour: the closest unvisited city.
    """
    return int(unvisited_nodes[np.argmin(distance_matrix[current_node, unvisited_nodes])])
# EVOLVE-BLOCK-END
