"""Write the shipped default layouts (``detectors/<name>/layout.geometry.parquet``) from
the design code of each detector: TA SD's 507 counters on the 1.2 km grid
(``ta_sd.geometry.design_configuration``, channel XXYY) and Baikal-GVD's 14 clusters
(``baikal_gvd.geometry.design_configuration``, positions to 0.01 m as surveyed tables
give them). Run once when a design changes: reading events (and so every fit) uses
only the files.

    python scripts/make_default_layouts.py
"""

from __future__ import annotations

from graphreco import detectors
from graphreco.detectors import DetectorConfiguration
from graphreco.detectors.baikal_gvd.geometry import design_configuration as baikal_design
from graphreco.detectors.ta_sd.geometry import design_configuration as ta_design
from graphreco.io.configuration import write_configuration


def design_layouts() -> dict[str, DetectorConfiguration]:
    """The default layout of each detector with fixed sensors, from its design code."""
    return {"ta-sd": ta_design(), "baikal-gvd": baikal_design()}


def main() -> None:
    for name, configuration in design_layouts().items():
        path = detectors.get(name).default_configuration
        write_configuration(configuration, path)
        print(f"wrote {path}: {configuration.n_sensors} sensors")


if __name__ == "__main__":
    main()
