"""graphreco: graph-based event reconstruction for detector arrays.

``graphreco.kernels`` (numba graph builders) and ``graphreco.detectors`` (the detector
registry) import without torch; ``graphreco.graph`` assembles torch_geometric batches.
"""

__version__ = "0.1.0"
