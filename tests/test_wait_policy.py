"""OpenMP's idle threads sleep rather than spin unless the user says otherwise."""

import os
import subprocess
import sys

import pytest

PRINT_POLICY = "import graphreco, torch, numba, os; print(os.environ['OMP_WAIT_POLICY'])"


@pytest.mark.parametrize("user_value, expected", [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_importing_graphreco_makes_idle_openmp_threads_sleep(user_value, expected):
    env = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    if user_value is not None:
        env["OMP_WAIT_POLICY"] = user_value
    run = subprocess.run([sys.executable, "-c", PRINT_POLICY], env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == expected
