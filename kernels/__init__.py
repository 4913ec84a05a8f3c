"""numba graph builders (and the fused message-passing kernel) on plain numpy arrays; no torch inside.

Every builder takes CSR event boundaries ``offsets`` (hits of event ``e`` are
``offsets[e]:offsets[e + 1]``) and per-hit arrays, and returns ``edge_index`` of shape
(2, E), int64, row 0 the source, row 1 the target, global hit indices, grouped by target
in increasing order. Edges never cross events. Builders run in parallel over events with
numba's thread pool (``numba.set_num_threads`` sets its size).
"""

from ._cache import ensure_cache_folder

ensure_cache_folder()  # before any kernel is decorated

from .eta_phi import eta_phi_knn_graph, eta_phi_radius_graph  # noqa: E402
from .knn import knn_graph, radius_graph  # noqa: E402
from .message import aggregate_edge_messages  # noqa: E402
from .selection import select_hits  # noqa: E402
from .topology import cylinder_graph, spacetime_string_graph, string_graph, surface_grid_graph  # noqa: E402
from .union import union_graphs  # noqa: E402

__all__ = [
    "aggregate_edge_messages",
    "cylinder_graph",
    "eta_phi_knn_graph",
    "eta_phi_radius_graph",
    "knn_graph",
    "radius_graph",
    "select_hits",
    "spacetime_string_graph",
    "string_graph",
    "surface_grid_graph",
    "union_graphs",
]
