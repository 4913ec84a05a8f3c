"""A self-contained evaluation report of any detector: ``write_report(truth, reco, folder)``.

It runs the detector's evaluation kind (``kinds.KINDS``) with its PNG figures and writes
``report.md`` (the PNGs beside it, linked by relative path) and ``report.html`` (one file:
the PNGs embedded as data URIs, nothing fetched from elsewhere). Both hold, in this order:

1. a title with the detector, the input files, their event counts and the graphreco version;
2. the headline: the few figures the detector names (``Detector.headline``), the
   pipeline beside the classical methods, with units and statistical errors, rounded to
   their precision (``headline``);
3. the key figures: the PNGs grouped by kind (ROC curves, resolution vs energy, pulls,
   coverage, more), each with its caption from the kind's ``FIGURES``;
4. the appendix, the full record: every figure of the comparison as tables, under the
   names (with their units) the comparison gives them, where a dict with one entry per
   method (``gnn``, ``baseline``, ...) becomes a table with a column per method.

The folder appears complete or not at all: everything is written into a temporary folder
beside it, which is then renamed. An existing folder is replaced only when it is empty or
holds an earlier report (``report.md``), and never when it holds the truth or the
reconstruction.

Needs matplotlib (``pip install graphreco[plots]``).
"""

from __future__ import annotations

import base64
import html
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from .._version import __version__
from ..detectors.base import Detector, Headline
from ..io.outputs import check_outputs
from ..io.reader import open_event_file
from .headline import MISSING, headline_table
from .kinds import evaluate_files, kind_of
from .plotting import FigureNote, pyplot

MARKDOWN, HTML = "report.md", "report.html"
TITLE = "graphreco evaluation report: {detector}"
HEADLINE = "Headline: the pipeline beside the classical methods"
KEY_FIGURES = "Key figures"
APPENDIX = "Appendix: full record"
ERRORS_NOTE = ("± one standard deviation, statistical: binomial for fractions and coverages, order statistics for "
               "medians and quantiles, the bootstrap for resolutions, Hanley & McNeil for AUCs. "
               "< x: upper limit at 90 % CL where none passed. " + MISSING + ": not measured by that method. "
               "Every figure, in every bin, is in the appendix.")
"""What the headline's numbers mean, printed below it."""
FIGURE_SECTIONS = {"roc": "ROC curves", "resolution_vs_energy": "Resolution vs energy", "pulls": "Pulls",
                   "coverage": "Coverage", "other": "More figures"}
"""Headings of the figures by ``FigureNote.kind``, in the order of the report."""
METHOD_KEYS = ("gnn", "baseline")
"""A dict with one of these keys holds one entry per method: a table with a column per method."""
LONG_LIST = 8
"""Lists of more numbers than this (histograms, bin edges) are shown by their length."""
STYLE = ("body{font-family:sans-serif;max-width:72em;margin:2em auto;padding:0 1em}"
         "table{border-collapse:collapse;margin:0.5em 0 1.5em}th,td{border:1px solid #ccc;padding:0.2em 0.6em}"
         "td+td,th+th{text-align:right}img{max-width:100%}figure{margin:1em 0 2em}"
         "table.headline{font-size:1.1em}table.headline th:nth-child(-n+2){text-align:left}"
         "table.headline td:nth-child(2){text-align:left;color:#555}"
         "table.headline td+td+td{font-variant-numeric:tabular-nums;white-space:nowrap}p.note{color:#555}")


@dataclass(frozen=True)
class Heading:
    """A section title, ``level`` 1 (the report's) to 6."""

    level: int
    text: str


@dataclass(frozen=True)
class Items:
    """A bulleted list of ``(name, text)``."""

    items: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Note:
    """A paragraph of explanation."""

    text: str


@dataclass(frozen=True)
class Table:
    """Rows of cells under ``header``; the first cell of a row is a figure's name: a key
    of the record (shown as code), or for the ``headline`` a name in words."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    headline: bool = False


@dataclass(frozen=True)
class Figure:
    """A PNG of the report folder with its caption."""

    path: Path
    note: FigureNote


Block = Heading | Items | Note | Table | Figure


def format_value(value: object) -> str:
    """A figure as a table cell: floats to 6 significant digits, None as ``MISSING``,
    long lists by their length."""
    if value is None:
        return MISSING
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return f"[{len(value)} values]" if len(value) > LONG_LIST else ", ".join(map(format_value, value))
    return str(value)


def _is_plain(value: object) -> bool:
    """A value shown in a cell: not a dict nor a list of dicts."""
    return not isinstance(value, dict) and not (isinstance(value, list) and any(isinstance(v, dict) for v in value))


def _as_dict(value: dict | list) -> dict:
    """A list of dicts as a dict: each labelled by its first entry (``efficiency 0.5``),
    which it then leaves out, when all share that key; else by position."""
    if isinstance(value, dict):
        return value
    first = next(iter(value[0]), None) if isinstance(value[0], dict) else None
    if first is not None and all(isinstance(item, dict) and first in item for item in value):
        return {f"{first} {format_value(item[first])}": {name: entry for name, entry in item.items() if name != first}
                for item in value}
    return {str(position): item for position, item in enumerate(value, 1)}


def _is_flat(value: object) -> bool:
    """A dict (or list of dicts) whose entries are all plain."""
    return not _is_plain(value) and all(_is_plain(entry) for entry in _as_dict(value).values())


def _heading(level: int, text: str) -> Heading:
    """A heading, at most level 6 however deep the comparison nests."""
    return Heading(min(level, 6), text)


def figure_blocks(figures: dict, level: int) -> list[Block]:
    """Tables of a comparison dict: its plain entries in one table, then a section per
    nested entry (a per-method one as a table with a column per method)."""
    plain = tuple((name, format_value(value)) for name, value in figures.items() if _is_plain(value))
    blocks: list[Block] = [Table(("figure", "value"), plain)] if plain else []
    for name, value in figures.items():
        if not _is_plain(value):
            nested = _as_dict(value)
            blocks.append(_heading(level, name))
            blocks += method_blocks(nested, level + 1) if any(key in nested for key in METHOD_KEYS) \
                else figure_blocks(nested, level + 1)
    return blocks


def method_blocks(methods: dict[str, dict | list], level: int) -> list[Block]:
    """One table, a column per method: each method's plain figures, and those one dict
    down as ``name / figure``; then a section per entry nested deeper."""
    entries = {method: _as_dict(figures) for method, figures in methods.items()}
    names = list(dict.fromkeys(name for figures in entries.values() for name in figures))
    rows: dict[str, dict[str, str]] = {}
    deeper = []
    for name in names:
        values = {method: figures[name] for method, figures in entries.items() if name in figures}
        if all(_is_plain(value) for value in values.values()):
            rows.setdefault(name, {}).update({method: format_value(value) for method, value in values.items()})
        elif all(_is_flat(value) for value in values.values()):
            for method, value in values.items():
                for figure, cell in _as_dict(value).items():
                    rows.setdefault(f"{name} / {figure}", {})[method] = format_value(cell)
        else:
            deeper.append(name)
    blocks: list[Block] = [Table(("figure", *entries), tuple((row, *(cells.get(method, MISSING) for method in entries))
                                                             for row, cells in rows.items()))] if rows else []
    for name in deeper:
        blocks += [_heading(level, name),
                   *method_blocks({method: figures[name] for method, figures in entries.items() if name in figures},
                                  level + 1)]
    return blocks


def picture_blocks(paths: list[Path], notes: dict[str, FigureNote], level: int) -> list[Block]:
    """The PNGs under a heading per kind (``FIGURE_SECTIONS``); a file without a note
    goes with the other figures, captioned by its name."""
    figures = [Figure(path, notes.get(path.name, FigureNote("other", path.stem))) for path in paths]
    blocks: list[Block] = []
    for kind, heading in FIGURE_SECTIONS.items():
        chosen = [figure for figure in figures if figure.note.kind == kind]
        if chosen:
            blocks += [_heading(level, heading), *chosen]
    return blocks


def headline_blocks(figures: dict, headline: Headline | None) -> list[Block]:
    """The headline table of ``figures`` with the note on its errors; nothing for a
    detector that names no headline."""
    if headline is None:
        return []
    table = headline_table(figures, headline)
    return [Heading(2, HEADLINE), Table(table.header, table.rows, headline=True), Note(ERRORS_NOTE)]


def report_blocks(figures: dict, notes: dict[str, FigureNote], detector: Detector, truth: Path,
                  reco: Path) -> list[Block]:
    """The whole report of an evaluation's ``figures`` (module docstring): title, inputs,
    the ``detector``'s headline, its PNGs (``plots``) captioned by ``notes`` (the kind's
    ``FIGURES``), and the full record as tables."""
    tables = {name: value for name, value in figures.items() if name != "plots"}
    paths = [Path(path) for path in figures.get("plots", [])]
    inputs = Items((("detector", detector.name), ("truth", f"{truth.name} ({_events(truth):,} events)"),
                    ("reconstruction", f"{reco.name} ({_events(reco):,} events)"), ("graphreco", __version__)))
    return [Heading(1, TITLE.format(detector=detector.name)), inputs,
            *headline_blocks(tables, detector.headline),
            Heading(2, KEY_FIGURES), *picture_blocks(paths, notes, 3),
            Heading(2, APPENDIX), *figure_blocks(tables, 3)]


def _events(path: Path) -> int:
    """Events (rows) of a Parquet file."""
    return pq.ParquetFile(path).metadata.num_rows


def markdown_block(block: Block) -> str:
    """One block in Markdown; a figure links its PNG by relative path."""
    match block:
        case Heading(level, text):
            return f"{'#' * level} {text}"
        case Items(items):
            return "\n".join(f"- {name}: {text}" for name, text in items)
        case Note(text):
            return f"*{text}*"
        case Table(header, rows, headline):
            words = 2 if headline else 1  # left-aligned: the name, and the headline's unit
            lines = [header, (*("---" for _ in header[:words]), *("---:" for _ in header[words:])),
                     *((name if headline else f"`{name}`", *values) for name, *values in rows)]
            return "\n".join("| " + " | ".join(cell.replace("|", "\\|") for cell in line) + " |" for line in lines)
        case Figure(path, note):
            return f"![{path.name}]({path.name})\n\n*{path.name}*: {note.caption}"


def html_block(block: Block) -> str:
    """One block in HTML; a figure embeds its PNG as a data URI."""
    match block:
        case Heading(level, text):
            return f"<h{level}>{html.escape(text)}</h{level}>"
        case Items(items):
            bullets = "".join(f"<li>{html.escape(name)}: {html.escape(text)}</li>" for name, text in items)
            return f"<ul>{bullets}</ul>"
        case Note(text):
            return f'<p class="note">{html.escape(text)}</p>'
        case Table(header, rows, headline):
            cells = "".join(f"<th>{html.escape(cell)}</th>" for cell in header)
            body = "".join("<tr><td>" + (html.escape(name) if headline else f"<code>{html.escape(name)}</code>")
                           + "</td>" + "".join(f"<td>{html.escape(value)}</td>" for value in values) + "</tr>"
                           for name, *values in rows)
            opening = '<table class="headline">' if headline else "<table>"
            return f"{opening}<tr>{cells}</tr>{body}</table>"
        case Figure(path, note):
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            return (f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(path.name)}">'
                    f"<figcaption><em>{html.escape(path.name)}</em>: {html.escape(note.caption)}</figcaption></figure>")


def markdown(blocks: list[Block]) -> str:
    """The blocks as a Markdown document."""
    return "\n\n".join(map(markdown_block, blocks)) + "\n"


def html_page(title: str, blocks: list[Block]) -> str:
    """The blocks as one HTML page that needs no other file."""
    body = "\n".join(map(html_block, blocks))
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{STYLE}</style></head>\n<body>\n{body}\n</body></html>\n")


def _check_replaceable(folder: Path) -> None:
    """Refuse to replace a folder that holds something other than an earlier report."""
    if folder.exists() and not (folder.is_dir() and ((folder / MARKDOWN).exists() or not any(folder.iterdir()))):
        raise FileExistsError(f"{folder}: exists and holds no graphreco report; give a new or empty folder")


def _move_into_place(staging: Path, folder: Path) -> None:
    """Rename ``staging`` to ``folder``; an earlier report there moves aside, then goes."""
    if not folder.exists():
        os.rename(staging, folder)
        return
    previous = staging.with_name(staging.name + ".previous")
    os.rename(folder, previous)
    try:
        os.rename(staging, folder)
    except OSError:
        os.rename(previous, folder)
        raise
    shutil.rmtree(previous)


def _write(truth: Path, reco: Path, staging: Path, folder: Path, geometry: Path | None) -> dict:
    """The comparison with its PNGs and both reports, written into ``staging`` (paths as
    they will be once it is renamed to ``folder``)."""
    figures = evaluate_files(truth, reco, staging, geometry)
    detector = open_event_file(truth)[1]
    blocks = report_blocks(figures, kind_of(truth).figures, detector, truth, reco)
    (staging / MARKDOWN).write_text(markdown(blocks), encoding="utf-8")
    (staging / HTML).write_text(html_page(TITLE.format(detector=detector.name), blocks), encoding="utf-8")
    plots = [str(folder / Path(path).name) for path in figures.get("plots", [])]
    return figures | {"plots": plots, "report": {"markdown": str(folder / MARKDOWN), "html": str(folder / HTML)}}


def write_report(truth: str | Path, reco: str | Path, folder: str | Path, geometry: str | Path | None = None) -> dict:
    """Compare the reconstruction ``reco`` with the baseline on ``truth`` (read against the
    geometry file ``geometry`` where given) and write the report folder (module
    docstring). Returns the comparison dict, its ``plots`` in ``folder``, and ``report``:
    the paths of ``report.md`` and ``report.html``."""
    pyplot()  # fails, saying what to install, before any work
    truth, reco, folder = Path(truth), Path(reco), Path(folder).resolve()
    check_outputs([folder], [truth, reco], folder=True)
    _check_replaceable(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.with_name(f".{folder.name}.{secrets.token_hex(4)}.partial")
    staging.mkdir()
    try:
        result = _write(truth, reco, staging, folder, None if geometry is None else Path(geometry))
        _move_into_place(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return result
