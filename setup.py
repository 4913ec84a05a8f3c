"""Maps the top-level folders ``kernels/`` and ``detectors/`` into the ``graphreco`` namespace.

The repository keeps the layout of docs/architecture.md (``graphreco/``, ``kernels/``,
``detectors/`` side by side) while users import ``graphreco.kernels`` and
``graphreco.detectors``: generic top-level names would collide in their environments.
Sub-packages are discovered, so adding a detector is adding a folder.
"""

from setuptools import find_packages, setup

PACKAGE_DIRS = {
    "graphreco": "graphreco",
    "graphreco.kernels": "kernels",
    "graphreco.detectors": "detectors",
}

packages = []
for package, folder in PACKAGE_DIRS.items():
    packages.append(package)
    packages.extend(f"{package}.{sub}" for sub in find_packages(folder))

setup(packages=packages, package_dir=PACKAGE_DIRS,
      package_data={"graphreco.io": ["*.json"],
                    "graphreco.detectors": ["*/*.csv", "*/*.geometry.parquet", "*/artifacts/*.json",
                                            "*/artifacts/*/*.json", "*/artifacts/*/*.pt"]})
