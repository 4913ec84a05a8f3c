"""What a command tells a person when it is done: a few lines on standard output, one
renderer per command (``RENDERERS``), from the command's record (what ``--json FILE``
writes, in full) and its arguments.

Each summary opens with one line of what was done and how long it took, then the counts,
rates and figures that matter with their units, and where the outputs went.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from pathlib import Path

from rich.console import Console, Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

FILES_SHOWN = 10
"""Files listed by name in a summary; more are counted (``--json FILE`` lists them all)."""
FILE_WIDTH = 160
"""Characters per line of a summary written to a file or pipe (a log), where rich would
fold at 80: a path or hash folds only beyond this."""


def duration(seconds: float) -> str:
    """``4.2 ms``, ``837 ms``, ``12.3 s``, ``4 min 05 s``, ``1 h 02 min``."""
    if seconds < 1:
        return f"{seconds * 1e3:.3g} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def rate(events: float, seconds: float) -> str:
    """``2,886 events/s`` (``-`` without a time)."""
    return f"{events / seconds:,.0f} events/s" if seconds > 0 else "-"


def shown_path(path: str | Path) -> str:
    """``path`` relative to the working folder when it lies inside it (shorter), else as it is."""
    path = Path(path)
    return str(path.relative_to(Path.cwd())) if path.is_absolute() and path.is_relative_to(Path.cwd()) else str(path)


def facts(headline: str, rows: Sequence[tuple[str, str]], *more: RenderableType) -> Group:
    """The headline in bold, then indented ``name  value`` rows, the values aligned, then
    ``more`` (tables), indented too."""
    width = max((len(name) for name, _ in rows), default=0)
    lines = [Text.assemble(("  " + name.ljust(width), "dim"), "  ", value) for name, value in rows]
    return Group(Text(headline, style="bold"), *lines, *(Padding(part, (0, 0, 0, 2), expand=False) for part in more))


def table(header: Sequence[str], rows: Sequence[Sequence[str]], right_from: int = 1) -> Table:
    """A table with a column per ``header`` entry, right-aligned from column ``right_from``
    on (numbers); a long cell folds, never cut (a path)."""
    shown = Table(box=None, padding=(0, 2), pad_edge=False, header_style="bold")
    for index, name in enumerate(header):
        shown.add_column(name, justify="right" if index >= right_from else "left", overflow="fold")
    for row in rows:
        shown.add_row(*row)
    return shown


def _detectors(args: argparse.Namespace, record: dict, seconds: float) -> RenderableType:
    rows = [(name, entry["description"], ", ".join(entry["node_features"])) for name, entry in record.items()]
    return table(("detector", "description", "node features"), rows, right_from=3)


def _simulate(args: argparse.Namespace, record: dict, seconds: float) -> RenderableType:
    rows = [("hits", f"{record['hits']:,} ({record['signal_hit_fraction']:.1%} signal)"),
            ("events file", record["output"])]
    if "geometry" in record:
        rows.append(("geometry", f"{record['geometry']} ({record['sensors']:,} sensors, "
                                 f"{record['live_sensors']:,} live)"))
    if "kinds" in record:
        rows.append(("kinds", ", ".join(f"{kind} {count:,}" for kind, count in record["kinds"].items())))
    return facts(f"Simulated {record['events']:,} {args.detector} events in {duration(seconds)} "
                 f"({rate(record['events'], record['seconds'])})", rows)


def _graphs(args: argparse.Namespace, record: dict, seconds: float) -> RenderableType:
    steps = ", ".join(f"{step} {duration(spent)}" for step, spent in record["seconds"].items())
    rows = [("hits", f"{record['hits']:,} ({record['mean_hits_per_event']} per event)"),
            ("edges", f"{record['edges']:,} (mean in-degree {record['mean_in_degree']})"),
            ("rate", f"{record['events_per_s'] or 0:,} events/s on {record['threads']} threads"),
            ("time", steps),
            ("warm-up", f"{duration(record['warm_up_s'])} (kernels compiled or loaded from the cache, not timed)")]
    return facts(f"Read, validated and built the graphs of {record['events']:,} events in {duration(seconds)}", rows)


def _reconstruct(args: argparse.Namespace, record: dict, seconds: float) -> RenderableType:
    files = record["files"]
    statuses = [entry["status"] for entry in files]
    counts = ", ".join(f"{statuses.count(status)} {status}" for status in ("reconstructed", "already complete",
                                                                          "bad input"))
    rows = [("files", counts), ("output" if len(files) == 1 else "outputs", str(args.output)),
            ("pipeline", " -> ".join(record["stages"])), ("pipeline_sha256", record["pipeline_sha256"])]
    listing: list[RenderableType] = []
    if len(files) > 1 or "bad input" in statuses:  # each file on a line of its own, the bad ones first
        shown = sorted(files, key=lambda entry: entry["status"] != "bad input")[:FILES_SHOWN]
        listing = [_file_line(entry) for entry in shown]
        if len(files) > len(shown):
            listing.append(Text(f"... and {len(files) - len(shown)} more files (--json FILE lists them all)"))
    return facts(f"Reconstructed {record['events']:,} {record['detector']} events in {duration(seconds)} "
                 f"({rate(record['events'], record['seconds'])})", rows, *listing)


def _file_line(entry: dict) -> Text:
    """``status  events  input`` of one file of ``reconstruct`` (no events for a bad input)."""
    events = f"{entry['events']:,}" if "events" in entry else ""
    return Text(f"{entry['status']:<18}{events:>10}  {entry['input']}")


def _train(args: argparse.Namespace, record: dict, seconds: float) -> RenderableType:
    done = "trained" if "trained" in record else "recalibrated"
    rows = [(name, "-" if figures["validation_loss"] is None else f"{figures['validation_loss']:.4g}")
            for name, figures in record[done].items()]
    return facts(f"{done.capitalize()} {', '.join(record[done])} in {duration(seconds)}",
                 [("pipeline", f"{record['pipeline']}: {' -> '.join(record['stages'])}")],
                 table(("stage", "validation loss"), rows))


def _evaluate(args: argparse.Namespace, record: dict, seconds: float) -> RenderableType:
    from .io.reader import open_event_file

    parquet, detector = open_event_file(args.truth)
    rows = []
    if "report" in record:
        rows += [("report", shown_path(record["report"]["html"])), ("", shown_path(record["report"]["markdown"]))]
    if record.get("plots"):
        rows.append(("plots", f"{len(record['plots'])} PNG in {shown_path(Path(record['plots'][0]).parent)}"))
    if args.json is None:
        rows.append(("figures", "all of them with --json FILE"))
    headline = []
    if detector.headline is not None:
        from .evaluate.headline import headline_table

        shown = headline_table(record, detector.headline)
        headline.append(table(shown.header, shown.rows, right_from=2))
    return facts(f"Scored the pipeline and the classical method on {parquet.metadata.num_rows:,} {detector.name} "
                 f"events in {duration(seconds)}", rows, *headline)


def _finetune(args: argparse.Namespace, record: dict, seconds: float) -> RenderableType:
    rows = [(name, str(record["plan"].get(name, "-")), _loss(figures.get("validation_loss_before")),
             _loss(figures.get("validation_loss"))) for name, figures in record["stages"].items()]
    kept = [("kept (no truth)", ", ".join(record["stages_without_truth"]))] if record["stages_without_truth"] else []
    return facts(f"Fine-tuned the {' -> '.join(record['stages'])} pipeline in {duration(seconds)}",
                 [("pipeline", shown_path(record["pipeline"]) if record["pipeline"] else "-"), *kept],
                 table(("stage", "epochs", "validation loss before", "after"), rows))


def _loss(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _calibrate(args: argparse.Namespace, record: dict, seconds: float) -> RenderableType:
    before, after = record["before"], record["after_in_sample"]
    rows = []
    if "direction" in before:
        rows.append(("direction: 68 % cone coverage", _figure(before["direction"]["coverage_68"]),
                     _figure(after["direction"]["coverage_68"])))
    if "energy" in before:
        rows += [("energy: log10 E bias (median)", _figure(before["energy"]["log10_bias"]),
                  _figure(after["energy"]["log10_bias"])),
                 ("energy: 1-sigma coverage", _figure(before["energy"]["coverage_1sigma"]),
                  _figure(after["energy"]["coverage_1sigma"]))]
    points = [(f"{name}: working point", f"event_score >= {point['event_score_threshold']:.4g} keeps "
                                         f"{point['signal_passing']:.1%} of {point['signal_events']:,} signal events")
              for name, stage in record["stages"].items() if (point := stage.get("working_point"))]
    return facts(f"Calibrated the pipeline on {record['reference_events']:,} reference events in "
                 f"{duration(seconds)}", [("pipeline", shown_path(record["pipeline"])), *points],
                 table(("on the reference events", "before", "after (in-sample)"), rows))


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:+.3f}" if value < 0 else f"{value:.3f}"


def _export(args: argparse.Namespace, record: dict, seconds: float) -> RenderableType:
    rows = [("files", f"{len(record['files'])} in {record['output']}")]
    if record["parity"] is None:
        return facts(f"Exported the {record['detector']} pipeline in {duration(seconds)}",
                     rows + [("checked", record["note"])])
    speeds = [(stage, f"{parity['max_scaled_diff']:.1e}",
               f"{record['timings'][stage]['events_per_s']['torch_fused']:,.0f}",
               f"{record['timings'][stage]['events_per_s']['onnxruntime']:,.0f}",
               f"{record['timings'][stage]['onnxruntime_over_torch_fused']:.2f}")
              for stage, parity in record["parity"].items()]
    return facts(f"Exported the {record['detector']} pipeline and checked it on one thread in {duration(seconds)}",
                 rows, table(("stage", "max scaled diff", "torch events/s", "onnxruntime events/s", "ratio"), speeds))


RENDERERS: dict[str, Callable[[argparse.Namespace, dict, float], RenderableType]] = {
    "detectors": _detectors, "simulate": _simulate, "graphs": _graphs, "reconstruct": _reconstruct,
    "train": _train, "finetune": _finetune, "calibrate": _calibrate, "evaluate": _evaluate, "export": _export}
"""Command -> its summary, from its arguments, its record and the seconds it took."""


def show(args: argparse.Namespace, record: dict, seconds: float) -> None:
    """Print the summary of the command ``args.command`` on standard output: as wide as
    the terminal, ``FILE_WIDTH`` into a file or pipe."""
    console = Console(highlight=False)
    if not console.is_terminal:
        console.width = FILE_WIDTH
    console.print(RENDERERS[args.command](args, record, seconds))
