"""The evaluation report folder of each detector: small simulated samples reconstructed
with the shipped pipelines, written as Markdown (PNGs beside it) and one-file HTML."""

import base64
import html
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser

import pytest

from graphreco import __version__, detectors
from graphreco.cli import main
from graphreco.evaluate import report
from graphreco.evaluate.report import APPENDIX, FIGURE_SECTIONS, HTML, KEY_FIGURES, MARKDOWN, MISSING, write_report
from graphreco.io import event_table, write_events

pytest.importorskip("matplotlib")


def _baikal_gvd() -> dict:
    from graphreco.detectors.baikal_gvd.simulation import simulate_events

    return simulate_events(400, seed=31, mix={"numu_cc": 3, "nue_cc": 1, "eas": 8}).columns()


def _ta_sd() -> dict:
    from graphreco.detectors.ta_sd.simulation import simulate_events

    return simulate_events(300, seed=22).columns()


def _lhc_pf() -> dict:
    from .test_pileup import synthetic_crossings  # skips without fastjet

    return synthetic_crossings(20)  # enough jets (>= MIN_EVENTS) in one pT bin for the figure versus pT


SAMPLES = {"baikal-gvd": _baikal_gvd, "ta-sd": _ta_sd, "lhc-pf": _lhc_pf}
PLOTS = {
    "baikal-gvd": {"roc": {"hits_roc.png", "events_rejection.png"},
                   "resolution_vs_energy": {"resolution_vs_energy.png"},
                   "pulls": {"pulls.png"}, "coverage": {"coverage_vs_energy.png"},
                   "other": {"direction_vs_signal_hits.png", "energy_numu_cc.png", "energy_nue_cc.png"}},
    "ta-sd": {"roc": {"counters_roc.png", "composition_roc.png"}, "resolution_vs_energy": {"resolution_vs_energy.png"},
              "pulls": {"pulls.png"}, "coverage": {"coverage_vs_energy.png"}},
    "lhc-pf": {"roc": {"pileup_roc.png"}, "resolution_vs_energy": {"jet_response_vs_pt.png"},
               "other": {"jet_response.png"}},
}
"""The PNGs of each detector's report, by kind (no more kinds than these)."""
ROWS = {
    "baikal-gvd": [(("hits",), ("auc",)), (("hits",), ("precision",)), (("direction", "numu_cc"), ("q68_deg",)),
                   (("direction", "numu_cc"), ("coverage_68_cone",)), (("energy", "numu_cc"), ("resolution_log10",))],
    "ta-sd": [(("summary",), ("angle_q68_deg",)), (("summary",), ("core_coverage",)),
              (("methods",), ("all", "energy", "resolution_log10")), (("methods",), ("19-19.5", "core", "q68_m"))],
    "lhc-pf": [(("summary",), ("auc_all",)), (("summary",), ("met_resolution_gev",)),
               (("jets_and_met", "methods"), ("met", "resolution_gev")),
               (("jets_and_met", "methods"), ("jets_vs_pt", "100-150", "response_resolution"))],
}
"""Table rows to find: (where the per-method dict is, the figure within each method)."""


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A function: detector -> (truth file, its reconstruction by the shipped pipeline), made once."""
    made = {}

    def make(detector: str):
        if detector not in made:
            folder = tmp_path_factory.mktemp(detector)
            truth, reco = folder / "truth.parquet", folder / "reco.parquet"
            write_events(truth, event_table(**SAMPLES[detector]()), detector)
            assert main(["reconstruct", str(truth), "-o", str(reco), "--detector", detector]) == 0
            made[detector] = truth, reco
        return made[detector]

    return make


@pytest.fixture(scope="module", params=list(SAMPLES))
def written(request, inputs):
    """(detector, write_report's result, the report folder)."""
    truth, reco = inputs(request.param)
    folder = truth.parent / "report"
    return request.param, write_report(truth, reco, folder), folder


def _dig(figures: dict, path: tuple[str, ...]):
    for key in path:
        figures = figures.get(key, {}) if isinstance(figures, dict) else {}
    return figures


def _row(text: str, headings: tuple[str, ...], label: str) -> list[str]:
    """The cells of the Markdown table row ``label`` below ``headings`` (in turn)."""
    position = 0
    for heading in headings:
        position = re.compile(rf"^#+ {re.escape(heading)}$", re.M).search(text, position).end()
    line = re.compile(rf"^\| `{re.escape(label)}` \|.*$", re.M).search(text, position).group()
    return [cell.strip() for cell in line.strip("|").split("|")][1:]


def _shows(cell: str, value) -> bool:
    """Whether a cell shows a figure (None or {}: not reported) to the precision of the dict."""
    return cell == MISSING if value in (None, {}) else float(cell) == pytest.approx(value, rel=1e-5)


def _plots_by_section(text: str) -> dict[str, set[str]]:
    """The images linked under each heading of the report's Plots section."""
    sections, heading = {}, None
    for line in text.split(f"## {KEY_FIGURES}", 1)[1].split(f"## {APPENDIX}", 1)[0].splitlines():
        if line.startswith("### "):
            heading = line[4:]
        sections.setdefault(heading, set()).update(re.findall(r"!\[[^\]]*\]\(([^)]+)\)", line))
    return {name: links for name, links in sections.items() if name is not None}


def test_the_report_names_detector_inputs_counts_and_version(written, inputs):
    detector, result, folder = written
    text = (folder / MARKDOWN).read_text()
    assert text.startswith(f"# graphreco evaluation report: {detector}\n")
    count = {"baikal-gvd": 400, "ta-sd": 300, "lhc-pf": 20}[detector]
    for line in (f"- truth: truth.parquet ({count:,} events)", f"- reconstruction: reco.parquet ({count:,} events)",
                 f"- graphreco: {__version__}"):
        assert line in text
        assert html.escape(line[2:]) in (folder / HTML).read_text()
    assert result["report"] == {"markdown": str(folder / MARKDOWN), "html": str(folder / HTML)}


def test_tables_hold_the_figures_of_the_comparison(written):
    detector, result, folder = written
    text, page = (folder / MARKDOWN).read_text(), (folder / HTML).read_text()
    for methods_path, figure_path in ROWS[detector]:
        label = " / ".join(figure_path[-2:])  # deeper levels are headings
        cells = _row(text, methods_path + figure_path[:-2], label)
        methods = _dig(result, methods_path)
        assert len(cells) == len(methods) and any(cell != MISSING for cell in cells)
        assert all(_shows(cell, _dig(figures, figure_path)) for cell, figures in zip(cells, methods.values())), cells
        assert (f"<tr><td><code>{html.escape(label)}</code></td>"
                + "".join(f"<td>{html.escape(cell)}</td>" for cell in cells) + "</tr>") in page
    keys = set()

    def collect(value):
        if isinstance(value, dict):
            keys.update(value)
            for entry in value.values():
                collect(entry)
        elif isinstance(value, list):
            for entry in value:
                collect(entry)

    collect({name: value for name, value in result.items() if name not in ("plots", "report")})
    assert not [key for key in keys if key not in text], "every figure of the comparison is named in the report"
    assert "{" not in text, "no JSON dumps"


class Tables(HTMLParser):
    """The tables of an HTML page in order: each its ``class`` and rows of cell texts."""

    def __init__(self, page: str):
        super().__init__()
        self.tables: list[tuple[str | None, list[list[str]]]] = []
        self.cell: list[str] | None = None
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self.tables.append((dict(attrs).get("class"), []))
        elif tag == "tr":
            self.tables[-1][1].append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self.tables[-1][1][-1].append("".join(self.cell))
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


def test_the_headline_is_the_first_table_and_each_of_its_figures_is_measured(written):
    detector, result, folder = written
    headline = detectors.get(detector).headline
    classes, rows = Tables((folder / HTML).read_text()).tables[0]
    assert classes == "headline"
    assert rows[0] == ["figure", "unit", *(heading for _, heading in headline.methods)]
    assert [row[:2] for row in rows[1:]] == [[figure.name, figure.unit] for figure in headline.figures]
    assert all(any(cell != MISSING for cell in row[2:]) for row in rows[1:]), rows
    assert all(re.fullmatch(r"-?\d+(\.\d+)?( ± \d+(\.\d+)?)?|< [\d.]+|" + MISSING, cell)
               for row in rows[1:] for cell in row[2:]), rows
    text = (folder / MARKDOWN).read_text()
    assert text.index(f"| figure | unit | {headline.methods[0][1]} |") < text.index(APPENDIX) < text.index("| `")


BROWSER = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


@pytest.mark.skipif(BROWSER is None, reason="needs headless Chromium (Debian: apt-get install chromium)")
def test_a_browser_shows_the_report(written, tmp_path):
    from matplotlib.image import imread

    _, _, folder = written
    screenshot = tmp_path / "report.png"
    subprocess.run([BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={screenshot}", "--window-size=1280,1000",
                    (folder / HTML).as_uri()], check=True, capture_output=True, timeout=120)
    pixels = imread(screenshot)[..., :3]
    assert pixels.shape[:2] == (1000, 1280)
    ink = (pixels < 0.5).any(axis=2)  # text, lines: dark on white
    assert 0.005 < ink.mean() < 0.5, "a page with text on it, not blank nor black"


def test_every_linked_png_exists_and_the_kinds_are_where_the_detector_has_them(written):
    detector, result, folder = written
    sections = _plots_by_section((folder / MARKDOWN).read_text())
    assert sections == {FIGURE_SECTIONS[kind]: names for kind, names in PLOTS[detector].items()}
    linked = set().union(*sections.values())
    assert linked == {path.name for path in folder.glob("*.png")} == {p.rsplit("/", 1)[-1] for p in result["plots"]}
    assert all((folder / name).read_bytes().startswith(b"\x89PNG") for name in linked)
    assert all(p.startswith(str(folder)) for p in result["plots"])


def test_the_html_is_one_file_with_the_pngs_inside(written):
    _, result, folder = written
    page = (folder / HTML).read_text()
    references = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)""", page)
    assert references and all(reference.startswith("data:image/png;base64,") for reference in references)
    assert "url(" not in page and "<link" not in page and "<script" not in page
    embedded = {base64.b64decode(reference.split(",", 1)[1]) for reference in references}
    assert embedded == {path.read_bytes() for path in folder.glob("*.png")}


def test_a_failed_run_leaves_no_report_behind(inputs, tmp_path, monkeypatch):
    truth, reco = inputs("ta-sd")

    def broken(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(report, "html_page", broken)  # after the PNGs and report.md are written
    with pytest.raises(RuntimeError, match="disk full"):
        write_report(truth, reco, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_a_report_replaces_an_earlier_one_but_no_other_folder(inputs, tmp_path):
    truth, reco = inputs("ta-sd")
    folder = tmp_path / "out"
    write_report(truth, reco, folder)
    (folder / "stale.png").write_bytes(b"old")
    write_report(truth, reco, folder)
    assert not (folder / "stale.png").exists() and (folder / HTML).exists()
    assert [path.name for path in tmp_path.iterdir()] == ["out"]
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="holds no graphreco report"):
        write_report(truth, reco, other)
    assert [path.name for path in other.iterdir()] == ["keep.txt"]


def test_without_matplotlib_the_report_says_what_to_install(inputs, tmp_path, monkeypatch):
    truth, reco = inputs("ta-sd")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"graphreco\[plots\]"):
        write_report(truth, reco, tmp_path / "out")
    assert not (tmp_path / "out").exists()
