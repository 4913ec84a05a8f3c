import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from graphreco.extras import MissingExtra
from graphreco.io import EventFormatError, event_table, read_events, write_events
from graphreco.io.root import RootMapping, count_root_events, load_mapping

uproot = pytest.importorskip("uproot")
ak = pytest.importorskip("awkward")

DOCS = Path(__file__).parents[2] / "docs" / "root-input.md"
EVENT_NUMBERS = [101, 102, 205, 7]
SIZES = [3, 0, 2, 4]
FROM_PV_RECIPE = "where(PFCands_charge == 0, 0, where(PFCands_fromPV >= 2, 1, where(PFCands_fromPV == 1, 0, -1)))"
"""pv_assoc from pat::PackedCandidate::fromPV() (docs/root-input.md)."""
RUN_AND_EVENT_RECIPE = "(event * 0 + run) * 2**36 + event"
"""A unique event_id for files holding several runs (docs/root-input.md)."""
PV_ASSOC_OF_FROM_PV = np.array([-1, 0, 1, 1])
"""fromPV NoPV, PVLoose, PVTight, PVUsedInFit -> pile-up vertex, unassociated, leading vertex."""


def with_columns(mapping: RootMapping, **columns: str) -> RootMapping:
    return replace(mapping, columns={**mapping.columns, **columns})


MAPPING = with_columns(load_mapping(None), pv_assoc=FROM_PV_RECIPE)


def nanoaod(sizes=SIZES, seed=0) -> dict:
    """NanoAOD-style branches (PFNano ``PFCands`` with ``fromPV`` added): an
    ``nPFCands``-counted collection, ``event`` (uint64), ``PV_npvs``, ``Pileup_nPU``."""
    rng = np.random.default_rng(seed)
    n = sum(sizes)
    charge = np.resize(np.array([1, 0, -1, 0], np.int32), n)
    pdg_id = 211 * charge
    pdg_id[charge == 0] = np.resize([22, 130, 1, 2], np.count_nonzero(charge == 0))  # 1, 2: HF
    dz = np.where(charge == 0, -1, rng.normal(0, 5, n)).astype(np.float32)
    dz[0] = -1  # a track without track details
    candidates = {"pt": rng.uniform(0.5, 50, n).astype(np.float32), "eta": rng.uniform(-4, 4, n).astype(np.float32),
                  "phi": rng.uniform(-np.pi, np.pi, n).astype(np.float32),
                  "mass": np.where(charge == 0, 0, 0.1396).astype(np.float32), "charge": charge, "pdgId": pdg_id,
                  "dz": dz, "fromPV": rng.integers(0, 4, n).astype(np.int32),
                  "puppiWeight": rng.uniform(0, 1, n).astype(np.float32)}
    return {"event": np.array(EVENT_NUMBERS, np.uint64),
            "PFCands": ak.zip({name: ak.unflatten(values, sizes) for name, values in candidates.items()}),
            "PV_npvs": np.array([30, 12, 41, 5], np.int32), "Pileup_nPU": np.array([29, 13, 40, 6], np.int32)}


def write_root(path: Path, branches: dict, tree: str = "Events") -> Path:
    with uproot.recreate(path) as file:
        file.mktree(tree, {name: value.type if isinstance(value, ak.Array) else value.dtype
                           for name, value in branches.items()})
        file[tree].extend(branches)
    return path


def equivalent_parquet(path: Path, branches: dict) -> Path:
    """The same events written as lhc-pf Parquet, computed here from their definitions:
    E^2 = (pT cosh eta)^2 + m^2, HF hadrons (1) and HF photons (2) as 130 and 22, dz NaN
    without a track, pv_assoc from fromPV."""
    pf = {name: ak.to_numpy(ak.flatten(branches["PFCands"][name])) for name in branches["PFCands"].fields}
    offsets = np.concatenate([[0], np.cumsum(SIZES)])
    neutral = pf["charge"] == 0
    hits = {"pt": pf["pt"], "eta": pf["eta"], "phi": pf["phi"],
            "energy": np.sqrt((pf["pt"] * np.cosh(pf["eta"])) ** 2 + pf["mass"] ** 2),
            "charge": pf["charge"].astype(np.int8),
            "pdg_id": np.select([pf["pdgId"] == 1, pf["pdgId"] == 2], [130, 22], pf["pdgId"]),
            "dz": np.where(neutral | (pf["dz"] == -1), np.float32(np.nan), pf["dz"]),
            "pv_assoc": np.where(neutral, 0, PV_ASSOC_OF_FROM_PV[pf["fromPV"]]).astype(np.int8)}
    events = {"npv": branches["PV_npvs"], "true_npu": branches["Pileup_nPU"]}
    write_events(path, event_table(np.array(EVENT_NUMBERS), offsets, hits, events), "lhc-pf")
    return path


def assert_same_batches(left, right):
    assert [b.n_events for b in left] == [b.n_events for b in right]
    for a, b in zip(left, right):
        assert a.detector == b.detector == "lhc-pf"
        np.testing.assert_array_equal(a.event_id, b.event_id)
        np.testing.assert_array_equal(a.offsets, b.offsets)
        for name in ("hits", "events"):
            mine, theirs = getattr(a, name), getattr(b, name)
            assert mine.keys() == theirs.keys()
            for column in mine:
                assert mine[column].dtype == theirs[column].dtype, column
                np.testing.assert_array_equal(mine[column], theirs[column], err_msg=column)


def test_root_gives_the_events_of_the_equivalent_parquet(tmp_path):
    branches = nanoaod()
    root = write_root(tmp_path / "nano.root", branches)
    from_root = list(read_events(root, batch_size=2, root_mapping=MAPPING))
    assert [b.n_events for b in from_root] == [2, 2] and from_root[0].source == str(root)
    assert from_root[0].offsets.tolist() == [0, 3, 3]  # the empty event
    assert np.isnan(from_root[0].hits["dz"]).sum() == 2  # a neutral, a track without dz
    pdg_id = np.concatenate([b.hits["pdg_id"] for b in from_root])
    assert pdg_id.tolist() == [211, 22, -211, 130, 211, 130, -211, 22, 211]  # HF 1, 2 as 130, 22
    assert_same_batches(from_root, list(read_events(equivalent_parquet(tmp_path / "nano.parquet", branches),
                                                    batch_size=2)))
    assert count_root_events(root, MAPPING) == 4


def test_mapping_travels_as_json_and_the_docs_carry_the_pv_assoc_recipe(tmp_path):
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps({"columns": dict(MAPPING.columns), "detector": MAPPING.detector,
                                "optional": ["true_npu"]}))
    assert RootMapping.from_json(path) == MAPPING
    root = write_root(tmp_path / "nano.root", nanoaod())
    assert sum(b.n_events for b in read_events(root, root_mapping=path)) == 4
    assert FROM_PV_RECIPE in DOCS.read_text()


def test_event_numbers_repeated_by_another_run_need_the_run_in_the_event_id(tmp_path):
    branches = nanoaod() | {"event": np.array([101, 102, 101, 7], np.uint64),
                            "run": np.array([362000, 362000, 362001, 362001], np.uint32)}
    root = write_root(tmp_path / "runs.root", branches)
    with pytest.raises(EventFormatError, match="duplicate event_id") as caught:
        list(read_events(root, root_mapping=MAPPING))
    assert (caught.value.column, caught.value.event_id) == ("event_id", 101)
    batch = next(read_events(root, root_mapping=replace(MAPPING, event_id=RUN_AND_EVENT_RECIPE)))
    assert batch.event_id.tolist() == [362000 * 2**36 + 101, 362000 * 2**36 + 102, 362001 * 2**36 + 101,
                                       362001 * 2**36 + 7]
    assert RUN_AND_EVENT_RECIPE in DOCS.read_text()


def test_the_shipped_mapping_asks_for_pv_assoc(tmp_path):
    root = write_root(tmp_path / "nano.root", nanoaod())
    with pytest.raises(EventFormatError, match="no branch in the ROOT mapping") as caught:
        list(read_events(root))
    assert caught.value.column == "pv_assoc" and caught.value.file == str(root)


def test_truth_is_optional_and_extra_columns_are_read_when_asked(tmp_path):
    branches = nanoaod()
    del branches["Pileup_nPU"]
    root = write_root(tmp_path / "data.root", branches)
    mapping = with_columns(MAPPING, puppi_weight="PFCands_puppiWeight")
    batch = next(read_events(root, root_mapping=mapping))
    assert "true_npu" not in batch.events and "true_npu" not in batch.record_batch.schema.names
    assert batch.record_batch.column("puppi_weight").type.value_type == "float"
    assert batch.record_batch.schema.metadata[b"detector"] == b"lhc-pf"
    assert "puppi_weight" not in next(read_events(root, root_mapping=mapping, columns=[])).record_batch.schema.names


def without_candidate_field(name):
    def mutate(branches):
        candidates = branches["PFCands"]
        branches["PFCands"] = ak.zip({f: candidates[f] for f in candidates.fields if f != name})
        return branches
    return mutate


def with_other_dz_lengths(branches):
    sizes = [3, 0, 3, 4]  # event 205 has 3 where PFCands has 2
    branches["PFCandsX"] = ak.zip({"dz": ak.unflatten(np.zeros(sum(sizes), np.float32), sizes)})
    return branches


@pytest.mark.parametrize("mutate, columns, column, event_id, message", [
    (without_candidate_field("dz"), {}, "dz", None, "branch 'PFCands_dz' is not in tree 'Events'"),
    (with_other_dz_lengths, {"dz": "PFCandsX_dz"}, "dz", 205,
     "branch 'PFCandsX_dz' has 3 values where branch 'PFCands_pt' has 2"),
    (with_other_dz_lengths, {"dz": "where(PFCands_charge == 0, nan, PFCandsX_dz)"}, "dz", 205, "has 3 values"),
    (lambda b: b | {"event": np.array([1, 2**63 + 5, 3, 4], np.uint64)}, {}, "event_id", None, "does not fit int64"),
    (lambda b: b, {"pt": "PV_npvs"}, "pt", None, "expected list<float32>"),
    (lambda b: b, {"energy": "where(PFCands_pt > 1, 1)"}, "energy", None, "cannot compute it"),
    (lambda b: b, {"energy": "PFCands_charge * 2**40"}, "energy", None, "OverflowError"),
])
def test_file_problems_name_file_column_and_event(tmp_path, mutate, columns, column, event_id, message):
    root = write_root(tmp_path / "bad.root", mutate(nanoaod()))
    with pytest.raises(EventFormatError, match=message) as caught:
        list(read_events(root, root_mapping=with_columns(MAPPING, **columns)))
    assert (caught.value.file, caught.value.column, caught.value.event_id) == (str(root), column, event_id)
    assert str(root) in str(caught.value)


def test_a_missing_tree_is_named(tmp_path):
    root = write_root(tmp_path / "runs.root", {"run": np.array([1], np.uint32)}, tree="Runs")
    with pytest.raises(EventFormatError, match="no tree 'Events' in the file \\(it holds: Runs\\)"):
        list(read_events(root, root_mapping=MAPPING))


@pytest.mark.parametrize("damage", ["empty", "truncated", "garbage"])
def test_unreadable_files_are_reported_not_raised_from_inside_uproot(tmp_path, damage):
    root = write_root(tmp_path / "f.root", nanoaod([40] * 50 + [0, 0], seed=1) | {
        "event": np.arange(52, dtype=np.uint64), "PV_npvs": np.ones(52, np.int32),
        "Pileup_nPU": np.ones(52, np.int32)})
    data = root.read_bytes()
    root.write_bytes({"empty": b"", "truncated": data[: len(data) // 2], "garbage": b"root" + bytes(200)}[damage])
    with pytest.raises(EventFormatError, match="f.root") as caught:
        list(read_events(root, root_mapping=MAPPING))
    assert caught.value.file == str(root)


@pytest.mark.parametrize("columns, problem", [
    ({"pt": "__import__('os').getcwd()"}, "only positional calls of abs"),
    ({"pt": "PFCands_pt.real"}, "Attribute is not allowed"),
    ({"pt": "PFCands_pt[0]"}, "Subscript is not allowed"),
    ({"pt": "'PFCands_pt'"}, "only numbers"),
    ({"pt": "0 < PFCands_pt < 1"}, "chained comparisons"),
    ({"pt": "2.5"}, "reads no branch"),
    ({"pt": "sqrt(PFCands_pt"}, "not an expression"),
    ({"pt": 5}, "a string"),
])
def test_bad_mappings_are_refused_naming_file_and_column(tmp_path, columns, problem):
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps({"columns": dict(MAPPING.columns) | columns, "detector": MAPPING.detector}))
    with pytest.raises(EventFormatError, match=problem) as caught:
        RootMapping.from_json(path)
    assert caught.value.file == str(path) and "column 'pt'" in str(caught.value)


def test_mapping_files_with_unknown_keys_or_no_columns_are_refused(tmp_path):
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps({"columns": {"pt": "PFCands_pt"}, "trees": "Events"}))
    with pytest.raises(EventFormatError, match="unknown key 'trees'"):
        RootMapping.from_json(path)
    path.write_text("[]")
    with pytest.raises(EventFormatError, match='"columns" object'):
        RootMapping.from_json(path)


def test_a_mapping_names_its_detector(tmp_path):
    assert load_mapping(None).detector == "lhc-pf"
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps({"columns": dict(MAPPING.columns)}))
    with pytest.raises(EventFormatError, match='names no "detector"') as caught:
        RootMapping.from_json(path)
    assert caught.value.file == str(path)


def test_without_uproot_the_error_names_the_extra(tmp_path, monkeypatch):
    root = write_root(tmp_path / "nano.root", nanoaod())
    monkeypatch.setitem(sys.modules, "uproot", None)
    with pytest.raises(MissingExtra, match=r"pip install 'graphreco\[root\]'"):
        list(read_events(root, root_mapping=MAPPING))


def test_reconstruct_reads_root_through_a_mapping_file(tmp_path, capsys):
    from graphreco.cli import main

    branches = nanoaod()
    root = write_root(tmp_path / "nano.root", branches)
    parquet = equivalent_parquet(tmp_path / "nano_parquet.parquet", branches)
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"tree": MAPPING.tree, "event_id": MAPPING.event_id, "detector": MAPPING.detector,
                                   "columns": dict(MAPPING.columns), "optional": list(MAPPING.optional)}))
    assert main(["reconstruct", "--detector", "lhc-pf", str(root), "-o", str(tmp_path / "from_root.parquet"),
                 "--root-mapping", str(mapping), "--workers", "1"]) == 0
    assert main(["reconstruct", "--detector", "lhc-pf", str(parquet), "-o", str(tmp_path / "from_parquet.parquet"),
                 "--workers", "1"]) == 0
    capsys.readouterr()
    import pyarrow.parquet as pq

    from_root = pq.read_table(tmp_path / "from_root.parquet")
    from_parquet = pq.read_table(tmp_path / "from_parquet.parquet")
    assert from_root.num_rows == 4 and from_root.equals(from_parquet)
