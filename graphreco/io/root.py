"""Event files straight from ROOT TTrees (NanoAOD-style particle-flow candidates).

A :class:`RootMapping` names the tree, the event number and, for each event-format column,
the branch it comes from or an expression over branches: NanoAOD stores a candidate's mass,
not its energy, so the shipped mapping (``nanoaod_pfcands.json``) makes ``energy`` from
``sqrt((PFCands_pt * cosh(PFCands_eta)) ** 2 + PFCands_mass ** 2)``. An expression is
Python arithmetic (``+ - * / **``, unary ``- ~``, ``& |``), one comparison at a time,
numbers, the constants of :data:`CONSTANTS` and calls of :data:`FUNCTIONS` on branch
names; anything else is refused when the mapping is made, so evaluating one runs nothing
but array arithmetic. Values must come out in the event format's units (GeV, cm, rad): a
branch in other units is scaled in its expression (``PFCands_dz_mm / 10``).

uproot and awkward are the optional ``root`` extra (``pip install graphreco[root]``); they
are imported only when a ROOT file is opened.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from types import CodeType, ModuleType
from typing import NamedTuple

import numpy as np
import pyarrow as pa

from ..detectors import Detector
from ..extras import require
from .errors import EventFormatError
from .validate import int64_event_ids
from .writer import hit_list

SHIPPED_MAPPING = Path(__file__).with_name("nanoaod_pfcands.json")
"""NanoAOD (PFNano) ``PFCands`` to ``lhc-pf``; it has no ``pv_assoc``, which a mapping
made from it must add (docs/root-input.md)."""

FUNCTIONS = {name: getattr(np, name) for name in
             ("abs", "sqrt", "exp", "log", "cosh", "sinh", "where", "minimum", "maximum")}
"""Functions an expression may call (numpy's, elementwise on jagged arrays too)."""
CONSTANTS = {"nan": np.nan, "pi": np.pi}

_ALLOWED_NODES = (ast.Expression, ast.Name, ast.Load, ast.Constant, ast.Call, ast.BinOp, ast.UnaryOp, ast.Compare,
                  ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.BitAnd, ast.BitOr, ast.USub, ast.UAdd, ast.Invert,
                  ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)


def expression_branches(expression: str) -> tuple[str, ...]:
    """The branches ``expression`` reads, each once; ``ValueError`` for an expression
    that is not allowed (see the module docstring) or reads no branch."""
    if not isinstance(expression, str):
        raise ValueError(f"expected a branch name or expression (a string), found {expression!r}")
    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as error:
        raise ValueError(f"{expression!r} is not an expression ({error.msg})") from None
    calls = set()
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise ValueError(f"{expression!r}: {type(node).__name__} is not allowed in a mapping expression")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS or node.keywords:
                raise ValueError(f"{expression!r}: only positional calls of {', '.join(FUNCTIONS)} are allowed")
            calls.add(id(node.func))
        elif isinstance(node, ast.Compare) and len(node.ops) > 1:
            raise ValueError(f"{expression!r}: chained comparisons are not allowed; combine them with & or |")
        elif isinstance(node, ast.Constant) and type(node.value) not in (int, float):
            raise ValueError(f"{expression!r}: only numbers are allowed as constants")
    names = [node.id for node in ast.walk(tree)
             if isinstance(node, ast.Name) and id(node) not in calls and node.id not in CONSTANTS]
    if not names:
        raise ValueError(f"{expression!r} reads no branch")
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class RootMapping:
    """How the entries of a ROOT TTree become events in the event format.

    ``columns`` maps each event-format column to a branch or an expression (values in the
    format's units: GeV, cm, rad; a per-hit column comes from jagged branches, one list per
    entry; a per-event column from scalar ones); ``event_id`` is the branch or expression of
    the event number; ``detector`` (no default) is the event format's detector, as the
    Parquet schema metadata would name it. A column listed in ``optional`` is left out of
    files that lack its branches (truth that simulation has and collision data has not);
    any other missing branch is an error.
    """

    columns: Mapping[str, str]
    detector: str
    tree: str = "Events"
    event_id: str = "event"
    optional: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not all(isinstance(value, str) for value in (self.tree, self.detector, *self.optional)):
            raise ValueError("ROOT mapping: tree, detector and the optional columns are strings")
        if "event_id" in self.columns:
            raise ValueError("ROOT mapping: 'event_id' is given by the mapping's event_id, not under columns")
        for name, expression in {"event_id": self.event_id, **self.columns}.items():
            try:
                expression_branches(expression)
            except ValueError as error:
                raise ValueError(f"ROOT mapping, column {name!r}: {error}") from None
        unknown = [name for name in self.optional if name not in self.columns]
        if unknown:
            raise ValueError(f"ROOT mapping: optional column {unknown[0]!r} is not under columns")

    @classmethod
    def from_json(cls, path: str | Path) -> RootMapping:
        """The mapping in the JSON file ``path``: an object with ``columns`` and ``detector``,
        and optionally ``tree``, ``event_id`` and ``optional`` (a list); ``EventFormatError``
        naming the file for anything else."""
        file = str(path)
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise EventFormatError(file, f"not a readable ROOT mapping ({error})") from None
        if not (isinstance(data, dict) and isinstance(data.get("columns"), dict)
                and isinstance(data.get("optional", []), list)):
            raise EventFormatError(file, 'a ROOT mapping is a JSON object with a "columns" object (and an '
                                   '"optional" list)')
        keys = [f.name for f in fields(cls)]
        unknown = [key for key in data if key not in keys]
        if unknown:
            raise EventFormatError(file, f"unknown key {unknown[0]!r} in the ROOT mapping; known: {', '.join(keys)}")
        if "detector" not in data:
            raise EventFormatError(file, 'the ROOT mapping names no "detector": give the detector whose event '
                                   'format its columns make (graphreco detectors lists them)')
        try:
            return cls(**data | {"optional": tuple(data.get("optional", []))})
        except (TypeError, ValueError) as error:
            raise EventFormatError(file, str(error)) from None

    def restricted(self, names: Iterable[str]) -> RootMapping:
        """The mapping of only the columns in ``names``."""
        keep = set(names)
        return replace(self, columns={name: value for name, value in self.columns.items() if name in keep},
                       optional=tuple(name for name in self.optional if name in keep))


def load_mapping(mapping: RootMapping | str | Path | None) -> RootMapping:
    """``mapping`` itself, the mapping in the JSON file it names, or (``None``) the shipped
    NanoAOD PF-candidate mapping."""
    if isinstance(mapping, RootMapping):
        return mapping
    return RootMapping.from_json(SHIPPED_MAPPING if mapping is None else mapping)


def check_mapping(mapping: RootMapping, detector: Detector, file: str) -> None:
    """Reject a mapping that gives no branch for a column ``detector`` requires."""
    for column in detector.columns:
        if column.required and column.name not in mapping.columns:
            raise EventFormatError(file, f"required column of {detector.name} has no branch in the ROOT mapping; "
                                   "add it under the mapping's \"columns\" (docs/root-input.md)", column=column.name)


def count_root_events(path: str | Path, mapping: RootMapping) -> int:
    """Number of entries (events) of the mapping's tree in the ROOT file ``path``."""
    uproot = _import_uproot()
    with _open(uproot, str(path)) as root_file:
        return int(_tree(uproot, root_file, mapping.tree, str(path)).num_entries)


def iter_root_batches(path: str | Path, mapping: RootMapping, batch_size: int) -> Iterator[pa.RecordBatch]:
    """Stream the mapping's tree in ``path`` as record batches of at most ``batch_size``
    events in the event format: ``event_id`` (int64), then the mapping's columns in its
    order (``list<...>`` from jagged branches, scalars from the others), with schema
    metadata ``detector``. Whether the columns meet the detector's contract is for
    ``validate`` to check; problems with the file itself (unreadable, no such tree or
    branch, jagged branches of unequal lengths in an event, event numbers beyond int64)
    raise ``EventFormatError`` naming the file, the column and the event.
    """
    file = str(path)
    uproot = _import_uproot()
    with _open(uproot, file) as root_file:
        tree = _tree(uproot, root_file, mapping.tree, file)
        event_id, *columns = _plan(mapping, set(tree.keys()), file)
        readers = _readers([event_id, *columns])
        for arrays in _read(tree, list(readers), batch_size, file):
            ids = _event_ids(event_id.compute(arrays, file, _to_numpy), file)
            _check_hit_counts(arrays, readers, ids, file)
            values = {"event_id": pa.array(ids)} | {c.name: c.compute(arrays, file, _to_arrow) for c in columns}
            yield pa.RecordBatch.from_pydict(values, metadata={"detector": mapping.detector})


def _import_uproot() -> ModuleType:
    """uproot, and awkward in which it hands out arrays; ``MissingExtra`` naming the
    ``root`` extra where either is not installed."""
    require("awkward", "root", "reading ROOT files")
    return require("uproot", "root", "reading ROOT files")


def _problem(error: BaseException) -> str:
    """``Type: first line of the message``: uproot's and awkward's run to many lines."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__


def _open(uproot: ModuleType, file: str):
    try:
        return uproot.open(file)
    except Exception as error:  # noqa: BLE001 - uproot and its codecs raise many types for damaged files
        raise EventFormatError(file, f"not a readable ROOT file ({_problem(error)})") from None


def _tree(uproot: ModuleType, root_file, name: str, file: str):
    try:
        names = root_file.keys(cycle=False)
        tree = root_file[name] if name in names else None
    except Exception as error:  # noqa: BLE001 - as in _open
        raise EventFormatError(file, f"not a readable ROOT file ({_problem(error)})") from None
    if tree is None:
        raise EventFormatError(file, f"no tree {name!r} in the file (it holds: {', '.join(names) or 'nothing'})")
    if not isinstance(tree, uproot.TTree):
        raise EventFormatError(file, f"{name!r} is a {tree.classname}, not a TTree")
    return tree


class _Column(NamedTuple):
    """A column to make: its name, expression (compiled) and the branches it reads."""

    name: str
    expression: str
    code: CodeType
    branches: tuple[str, ...]

    def compute(self, arrays: dict, file: str, convert: Callable):
        """``convert`` of the expression evaluated on the branch ``arrays`` (awkward)."""
        try:
            # Only arithmetic, comparisons and FUNCTIONS on branch arrays: expression_branches
            # refused everything else when the mapping was made.
            names = FUNCTIONS | CONSTANTS | {branch: arrays[branch] for branch in self.branches}
            return convert(eval(self.code, {"__builtins__": {}}, names))
        except (ArithmeticError, TypeError, ValueError) as error:
            raise EventFormatError(file, f"cannot compute it from {self.expression!r} ({_problem(error)})",
                                   column=self.name) from None


def _plan(mapping: RootMapping, branches: set[str], file: str) -> list[_Column]:
    """``event_id``, then the mapping's columns but the optional ones whose branches the
    tree lacks."""
    plan = []
    for name, expression in {"event_id": mapping.event_id, **mapping.columns}.items():
        needed = expression_branches(expression)
        missing = [branch for branch in needed if branch not in branches]
        if missing and name in mapping.optional:
            continue
        if missing:
            raise EventFormatError(file, f"branch {missing[0]!r} is not in tree {mapping.tree!r}", column=name)
        plan.append(_Column(name, expression, compile(expression, f"<ROOT mapping: {name}>", "eval"), needed))
    return plan


def _readers(plan: list[_Column]) -> dict[str, str]:
    """Every branch the plan reads, in order, with the first column that reads it."""
    readers: dict[str, str] = {}
    for column in plan:
        for branch in column.branches:
            readers.setdefault(branch, column.name)
    return readers


def _read(tree, branches: list[str], batch_size: int, file: str) -> Iterator[dict]:
    """The branches, ``batch_size`` entries at a time, as awkward arrays."""
    steps = tree.iterate(branches, step_size=batch_size, library="ak", how=dict)
    while True:
        try:
            arrays = next(steps, None)
        except Exception as error:  # noqa: BLE001 - as in _open
            raise EventFormatError(file, f"unreadable ROOT data ({_problem(error)})") from None
        if arrays is None:
            return
        yield arrays


def _to_numpy(value) -> np.ndarray:
    import awkward as ak

    if value.ndim != 1:
        raise ValueError(f"expected one value per event, found {value.type}")
    return ak.to_numpy(value)


def _to_arrow(value) -> pa.Array:
    """One value per event as an array, one list per event as ``list<...>``."""
    import awkward as ak

    if value.ndim == 1:
        return pa.array(_to_numpy(value))
    if value.ndim != 2:
        raise ValueError(f"expected one value or one list per event, found {value.type}")
    offsets = np.zeros(len(value) + 1, dtype=np.int64)
    np.cumsum(ak.to_numpy(ak.num(value, axis=1)), out=offsets[1:])
    return hit_list(offsets, ak.to_numpy(ak.flatten(value)))


def _event_ids(ids: np.ndarray, file: str) -> np.ndarray:
    """Event numbers as int64 (NanoAOD's ``event`` is uint64)."""
    if ids.dtype.kind not in "iu":
        raise EventFormatError(file, f"expected integer event numbers, found {ids.dtype}", column="event_id")
    return int64_event_ids(ids, file)


def _check_hit_counts(arrays: dict, readers: dict[str, str], event_id: np.ndarray, file: str) -> None:
    """Every jagged branch read must hold as many values per event as the first one."""
    import awkward as ak

    reference, reference_counts = None, None
    for branch, column in readers.items():
        if arrays[branch].ndim != 2:
            continue
        counts = ak.to_numpy(ak.num(arrays[branch], axis=1))
        if reference is None:
            reference, reference_counts = branch, counts
            continue
        differ = counts != reference_counts
        if differ.any():
            first = int(np.argmax(differ))
            raise EventFormatError(file, f"branch {branch!r} has {counts[first]} values where branch {reference!r} "
                                   f"has {reference_counts[first]}", column=column, event_id=int(event_id[first]))
