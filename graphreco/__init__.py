"""graphreco: graph-based event reconstruction for detector arrays.

``graphreco.kernels`` (numba graph builders) and ``graphreco.detectors`` (the detector
registry) import without torch; ``graphreco.graph`` assembles batched torch graphs;
``graphreco.Reconstructor`` (imported on first use) runs a trained pipeline inside a framework.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "Reconstructor":
        from .run.reconstructor import Reconstructor

        return Reconstructor
    raise AttributeError(f"module 'graphreco' has no attribute {name!r}")
