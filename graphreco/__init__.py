"""graphreco: graph-based event reconstruction for detector arrays.

``graphreco.kernels`` (numba graph builders) and ``graphreco.detectors`` (the detector
registry) import without torch; ``graphreco.graph`` assembles batched torch graphs;
``graphreco.Reconstructor`` (imported on first use) runs a trained pipeline inside a framework;
``graphreco.calibrate`` fixes a pipeline's energy scale and uncertainties on labelled
reference events (``graphreco.train.calibrate``), ``graphreco.finetune`` trains it further
on labelled simulation (``graphreco.train.finetune``).
"""

import os

from ._version import __version__ as __version__

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
# OpenMP threads (torch's, numba's) that wait for work sleep instead of spinning: beside one
# other CPU-bound process on 2 cores the pipeline kept 0.45 of its quiet rate spinning and
# 0.65 sleeping, with the quiet rate unchanged (scripts/bench_pipeline.py --busy 1). OpenMP
# reads it when it loads, so it holds where graphreco is imported before torch and numba;
# a value the user set is kept.


def __getattr__(name: str):
    if name == "Reconstructor":
        from .run.reconstructor import Reconstructor

        return Reconstructor
    if name == "calibrate":
        from .train.calibrate import calibrate

        return calibrate
    if name == "finetune":
        from .train.finetune import finetune

        return finetune
    raise AttributeError(f"module 'graphreco' has no attribute {name!r}")
