"""Which gradc dtypes lower to numba: all but float16 (numba has no CPU float16), which fails
at lowering with a ``GradcError`` naming it rather than deep inside numba's typing."""

import pytest

import gradc


def test_float16_fails_naming_the_dtype():
    g = gradc.trace(lambda x: x * 2, gradc.TensorSpec((3,), gradc.float16))
    with pytest.raises(gradc.GradcError, match="float16"):
        gradc.lower(g, optimize=False)
