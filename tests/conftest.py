"""Shared test set-up: hypothesis profiles, the backend fixture and the gpu marker.

Profiles (choose with MINIGAN_HYPOTHESIS_PROFILE):
    ci        the default: few examples per property, so the suite stays under 5 minutes on 2 cores
    thorough  many examples, for a long local run:  MINIGAN_HYPOTHESIS_PROFILE=thorough pytest
"""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from minigan import backend

settings.register_profile("ci", max_examples=12, deadline=None, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("MINIGAN_HYPOTHESIS_PROFILE", "ci"))

GPU_REASON = "needs CuPy and a CUDA GPU"


def pytest_collection_modifyitems(config, items):
    if backend.cuda_available():
        return
    skip = pytest.mark.skip(reason=GPU_REASON)
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session", params=["cpu", pytest.param("cuda", marks=pytest.mark.gpu)])
def device(request):
    """Run a test once per available device: "cpu" always, "cuda" where CuPy and a GPU exist."""
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(0)
