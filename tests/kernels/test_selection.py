import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graphreco.kernels import select_hits

from .strategies import event_sizes, offsets_of


@settings(max_examples=80, deadline=None)
@given(data=st.data(), threshold=st.floats(0.0, 1.0), min_hits=st.integers(0, 6))
def test_selection_keeps_accepted_hits_topped_up_with_the_best(data, threshold, min_hits):
    offsets = offsets_of(data.draw(event_sizes()))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    score = rng.choice([0.1, 0.5, 0.9], offsets[-1]) if data.draw(st.booleans()) else rng.random(offsets[-1])
    keep = select_hits(offsets, score, threshold, min_hits)
    for start, stop in zip(offsets[:-1], offsets[1:]):
        s, k = score[start:stop], keep[start:stop]
        accepted = s >= threshold
        assert np.all(k[accepted])
        assert k.sum() == max(accepted.sum(), min(min_hits, stop - start))
        if (~k).any() and k.any():
            assert s[k].min() >= s[~k].max()


def test_selection_rejects_a_negative_minimum():
    with pytest.raises(ValueError, match="min_hits"):
        select_hits(np.array([0, 2]), np.array([0.1, 0.9]), 0.5, -1)
