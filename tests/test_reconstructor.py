"""graphreco.Reconstructor: per-event and per-table calls from a framework."""

import numpy as np
import pyarrow as pa
import pytest

import graphreco
from graphreco.detectors.baikal_gvd.simulation import simulate_events
from graphreco.io import EventFormatError, event_table

HIT_COLUMNS = ("x", "y", "z", "t", "charge")


@pytest.fixture(scope="module")
def reconstructor():
    return graphreco.Reconstructor("baikal-gvd", threads=1)


@pytest.fixture(scope="module")
def simulated():
    return simulate_events(20, seed=31)


def test_one_event_gives_what_the_table_call_gives_for_its_row(reconstructor, simulated):
    table = event_table(**simulated.columns())
    output = reconstructor.reconstruct_table(table)
    assert output.num_rows == 20 and output.column("event_id").to_pylist() == simulated.event_id.tolist()
    lo, hi = simulated.offsets[3], simulated.offsets[4]
    single = reconstructor.reconstruct_event({name: simulated.hits[name][lo:hi] for name in HIT_COLUMNS},
                                             event_id=int(simulated.event_id[3]))
    assert set(single) == set(output.column_names) - {"event_id"}
    np.testing.assert_allclose(single["hit_score"], output.column("hit_score")[3].as_py(), atol=1e-6)
    for name in ("event_score", "reco_zenith", "reco_log10_energy"):
        assert single[name] == pytest.approx(output.column(name)[3].as_py(), abs=1e-5, nan_ok=True)


def test_lists_are_accepted_and_bad_input_names_the_column(reconstructor, simulated):
    hits = {name: simulated.hits[name][:12].tolist() for name in HIT_COLUMNS}
    assert reconstructor.reconstruct_event(hits)["hit_score"].shape == (12,)
    with pytest.raises(EventFormatError, match="framework input.*charge"):
        reconstructor.reconstruct_event({name: hits[name] for name in ("x", "y", "z", "t")})
    with pytest.raises(EventFormatError, match="framework input.*charge.*event_id 7"):
        reconstructor.reconstruct_event({**hits, "charge": hits["charge"][:5]}, event_id=7)
    with pytest.raises(EventFormatError, match="t.*event_id 8"):
        reconstructor.reconstruct_event({**hits, "t": [np.nan] * 12}, event_id=8)


def test_empty_table_and_constructor_arguments(reconstructor):
    empty = pa.table({"event_id": pa.array([], pa.int64()), **{name: pa.array([], pa.list_(pa.float32()))
                                                               for name in HIT_COLUMNS}})
    assert reconstructor.reconstruct_table(empty).num_rows == 0
    assert reconstructor.detector == "baikal-gvd"
    with pytest.raises(ValueError, match="either"):
        graphreco.Reconstructor()


def test_an_event_without_hits_gives_nan_as_a_file_does(reconstructor):
    """It was refused (its empty lists had no type) while files give NaN outputs."""
    single = reconstructor.reconstruct_event({name: [] for name in HIT_COLUMNS}, event_id=3)
    assert single["hit_score"].shape == (0,) and np.isnan(single["event_score"])


@pytest.mark.parametrize("event_id", [2**63, -(2**63) - 1, "abc", 1.5, True])
def test_an_event_id_outside_int64_names_the_column(reconstructor, simulated, event_id):
    hits = {name: simulated.hits[name][:12] for name in HIT_COLUMNS}
    with pytest.raises(EventFormatError, match="framework input>, column 'event_id'"):
        reconstructor.reconstruct_event(hits, event_id=event_id)
def test_the_reconstructor_reads_against_its_geometry(tmp_path, simulated):
    from dataclasses import replace

    from graphreco.detectors.baikal_gvd.geometry import design_configuration
    from graphreco.io import write_configuration

    moved = replace(design_configuration(), position=design_configuration().position + np.array([0.0, 0.0, 5.0]))
    geometry = tmp_path / "deeper.geometry.parquet"
    write_configuration(moved, geometry)
    shifted = dict(simulated.hits, z=simulated.hits["z"] + np.float32(5.0))
    table = event_table(simulated.event_id, simulated.offsets, shifted, simulated.events)
    with pytest.raises(EventFormatError, match="event_id 0: hit at .* of the configuration baikal-gvd default layout"):
        graphreco.Reconstructor("baikal-gvd", threads=1).reconstruct_table(table)
    output = graphreco.Reconstructor("baikal-gvd", threads=1, geometry=geometry).reconstruct_table(table)
    assert output.num_rows == 20
