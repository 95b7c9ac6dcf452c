"""Every front-end test runs on each backend: the guarantees are the front end's, not one
backend's, so the numba programs must keep them exactly as the interpreter does."""

import pytest


@pytest.fixture(scope="module", params=["interpret", "numba"])
def backend(request):
    return request.param
