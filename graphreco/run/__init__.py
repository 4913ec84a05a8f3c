"""Running a pipeline: one file (``file``), many files on worker processes (``workers``),
a Ray Data job (``ray_engine``), and the per-event API for frameworks (``reconstructor``)."""
