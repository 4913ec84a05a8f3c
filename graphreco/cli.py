"""The ``graphreco`` command line.

Exit codes (``exit_code``): 0 done; 2 usage: bad arguments (an unknown detector, a count
below 1, simulator options that contradict one another), an output onto an input or one
that cannot be created (``graphreco.errors.UsageError``), an optional extra not installed
(``graphreco.extras.MissingExtra``); 3 bad input: an event file, reconstruction, artifact
or training config that is missing, unreadable or breaks its contract (``reconstruct``
goes on with the other files and names each bad one); 4 internal error, a bug (any other
exception, ``ImportError`` too).

``graphreco simulate NAME`` exists for every detector of the registry that declares a
``Simulator``, with the options it declares.

What every command prints: by default a short summary for a person on standard output
(``graphreco.summary``) and, on a terminal, a progress bar on standard error while a long
command runs (``graphreco.progress``; ``--progress``/``--no-progress`` choose); with
``--json FILE`` also its full record, every figure it measured, as JSON in ``FILE``
(written atomically; ``--json -``: on standard output in place of the summary); with
``-q`` no summary and no bar. Errors and warnings go to standard error in every case.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from . import detectors, progress
from .errors import CommandWarning, UsageError
from .extras import MissingExtra
from .record import STDOUT, check_record_path, strict_json, write_record

EXIT_USAGE = 2
EXIT_BAD_INPUT = 3
EXIT_INTERNAL = 4


class PartialFailure(Exception):
    """Some input files were bad: the others are done; ``result`` is the summary."""

    def __init__(self, result: dict):
        super().__init__("some inputs are bad")
        self.result = result


def _known_detector(name: str) -> str:
    """``name`` if the registry knows a detector of that name; a usage error listing the known ones."""
    try:
        detectors.get(name)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return name


def _positive(text: str) -> int:
    """A whole number of at least 1 (events, a batch size); a usage error otherwise."""
    number = _not_negative(text)
    if number == 0:
        raise argparse.ArgumentTypeError("must be at least 1, got 0")
    return number


def _not_negative(text: str) -> int:
    """A whole number of at least 0 (threads, workers: 0 is the default choice)."""
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {number}")
    return number


def _sha256(text: str) -> str:
    """A SHA-256 in hex (64 digits), lower case; a usage error otherwise."""
    if len(text) != 64 or any(digit not in "0123456789abcdef" for digit in text.lower()):
        raise argparse.ArgumentTypeError(f"expected 64 hexadecimal digits, got {text!r}")
    return text.lower()


def _simulate(args: argparse.Namespace) -> dict:
    from .io import event_table, write_configuration, write_events
    from .io.configuration import METADATA_KEY, SUFFIX, default_configuration

    start = time.perf_counter()
    design = default_configuration(detectors.get(args.detector))
    layout = {} if design is None else {"configuration": design}
    simulated = args.simulate(args.events, args.seed, **layout, **{dest: getattr(args, dest) for dest in args.options})
    seconds = time.perf_counter() - start
    metadata, summary = {}, {"output": str(args.output)}
    if simulated.configuration is not None:
        geometry = args.output.with_name(args.output.stem + SUFFIX)
        write_configuration(simulated.configuration, geometry)
        metadata[METADATA_KEY] = geometry.name
        summary |= {"geometry": str(geometry), "sensors": simulated.configuration.n_sensors,
                    "live_sensors": int(simulated.configuration.live.sum())}
    write_events(args.output, event_table(**simulated.columns()), simulated.detector, metadata)
    summary |= {"events": int(simulated.event_id.size), "hits": int(simulated.offsets[-1]),
                "signal_hit_fraction": round(float(np.mean(simulated.hits["true_label"] > 0)), 3)}
    if "true_kind" in simulated.events:
        kinds, counts = np.unique(simulated.events["true_kind"].astype(str), return_counts=True)
        summary["kinds"] = dict(zip(kinds.tolist(), counts.tolist()))
    return summary | {"seconds": round(seconds, 2), "events_per_s": round(simulated.event_id.size / seconds, 1)}


def _add_simulators(simulate: argparse.ArgumentParser, common: Sequence[argparse.ArgumentParser]) -> None:
    """``graphreco simulate NAME`` for every known detector with a simulator: its options,
    then ``--events``, ``--seed``, ``-o`` and the ``common`` options of a long command."""
    simulators = simulate.add_subparsers(dest="detector", required=True)
    for name in detectors.available():
        simulator = detectors.get(name).simulator
        if simulator is None:
            continue
        command = simulators.add_parser(name, help=simulator.help, parents=common)
        options = [command.add_argument(option.flag, **option.settings).dest for option in simulator.options]
        command.add_argument("--events", type=_positive, default=10_000, help="number of events")
        command.add_argument("--seed", type=int, default=0)
        command.add_argument("-o", "--output", type=Path, required=True)
        command.set_defaults(run=_simulate, simulate=simulator.simulate, options=options, unit="events")


def _graphs(args: argparse.Namespace) -> dict:
    import numba

    from .throughput import measure_graph_building

    numba.set_num_threads(args.threads or numba.config.NUMBA_NUM_THREADS)
    result = measure_graph_building(args.inputs, detector=args.detector, batch_size=args.batch_size,
                                    geometry=args.geometry)
    events, hits, seconds = result["events"], result["hits"], result["seconds"]
    total = sum(seconds.values())
    return {"events": events, "hits": hits, "edges": result["edges"],
            "mean_hits_per_event": round(hits / max(events, 1), 2),
            "mean_in_degree": round(result["edges"] / max(hits, 1), 2),
            "threads": numba.get_num_threads(), "warm_up_s": round(result["warm_up_s"], 2),
            "seconds": {k: round(v, 4) for k, v in seconds.items()},
            "events_per_s": round(events / total) if total else None}


def _reconstruct(args: argparse.Namespace) -> dict:
    from .io import expand_sources
    from .io.outputs import locked
    from .io.root import load_mapping
    from .pipeline import Pipeline
    from .run.workers import output_paths, plan_files, reconstruct_files

    pipeline = Pipeline.load(args.pipeline, args.pipeline_sha256) if args.pipeline \
        else Pipeline.shipped(args.detector, args.pipeline_sha256)
    try:
        pipeline = pipeline.with_posterior(args.posterior)
    except ValueError as error:
        raise UsageError(str(error)) from None
    inputs = expand_sources(args.inputs)
    keep = [name for name in args.keep_columns.split(",") if name] if args.keep_columns else []
    mapping = load_mapping(args.root_mapping) if any(path.suffix == ".root" for path in inputs) else None
    outputs = output_paths(inputs, args.output)
    with locked(outputs):  # before what killed runs left is cleared, until every output is in place
        plans = plan_files(pipeline, inputs, outputs, keep, mapping, args.geometry, batch_size=args.batch_size)
        progress.expect(sum(plan.events for plan in plans if plan.action == "reconstruct"))
        start = time.perf_counter()
        workers = args.workers or _cores()
        if args.engine == "ray":
            from .run.ray_engine import reconstruct_with_ray

            files = reconstruct_with_ray(pipeline, plans, args.batch_size, keep, workers, args.ray_address,
                                         progress.advance)
        else:
            files = reconstruct_files(pipeline, plans, args.batch_size, keep, workers, progress.advance, mapping)
        seconds = time.perf_counter() - start
    events = sum(f["events"] for f in files if f["status"] == "reconstructed")
    result = {"detector": pipeline.detector.name, "stages": list(pipeline.running),
              "pipeline_sha256": pipeline.sha256(), "files": files,
              "events": events, "seconds": round(seconds, 3),
              "events_per_s": round(events / seconds) if seconds else None}
    if any(record["status"] == "bad input" for record in files):
        for record in files:
            if record["status"] == "bad input":
                print(f"graphreco: error: {record['error']}", file=sys.stderr)
        raise PartialFailure(result)
    return result


def _cores() -> int:
    """Cores this process may run on."""
    return len(os.sched_getaffinity(0))


def _progress_log(args: argparse.Namespace) -> Callable[[str], None]:
    """Where a command's progress lines go: stderr, none with ``-q``."""

    def log(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    return log


def _train(args: argparse.Namespace) -> dict:
    import torch

    from .train.config import train_from_config

    if args.threads:
        torch.set_num_threads(args.threads)
    stages = [name for name in args.stages.split(",") if name] if args.stages is not None else None

    return train_from_config(args.config, log=_progress_log(args), data=args.data,
                             out=args.out, stages=stages, epochs=args.epochs, recalibrate=args.recalibrate,
                             geometry=args.geometry)


def _calibrate(args: argparse.Namespace) -> dict:
    from .train.calibrate import calibrate

    return calibrate(args.reference, args.output, pipeline=args.pipeline, detector=args.detector,
                     unlabelled=args.unlabelled or (), efficiency=args.efficiency, rejection=args.rejection,
                     geometry=args.geometry,
                     log=_progress_log(args))


def _finetune(args: argparse.Namespace) -> dict:
    import torch

    from .train.finetune import finetune

    if args.threads:
        torch.set_num_threads(args.threads)
    return finetune(args.labelled, args.output, pipeline=args.pipeline, detector=args.detector,
                    validation=args.validation or (), unlabelled=args.unlabelled or (), minutes=args.minutes,
                    epochs=args.epochs, from_scratch=args.from_scratch, geometry=args.geometry,
                    **({} if args.domain_weight is None else {"domain_weight": args.domain_weight}),
                    log=_progress_log(args))


def _evaluate(args: argparse.Namespace) -> dict:
    if args.report is not None:
        from .evaluate.report import write_report

        return write_report(args.truth, args.reco, args.report, args.geometry)
    from .evaluate import evaluate_files

    return evaluate_files(args.truth, args.reco, plots=args.plots, geometry=args.geometry)


def _detectors(args: argparse.Namespace) -> dict:
    return {name: {"description": detectors.get(name).description,
                   "node_features": detectors.get(name).feature_names} for name in detectors.available()}


def _export(args: argparse.Namespace) -> dict:
    from .export import export_pipeline, verify_export
    from .io import read_events
    from .pipeline import Pipeline

    pipeline = Pipeline.load(args.pipeline) if args.pipeline else Pipeline.shipped(args.detector)
    batch = None
    if args.events is not None:
        batch = next(read_events(args.events, detector=pipeline.detector.name, batch_size=args.batch_events,
                                 geometry=args.geometry), None)
        if batch is None:
            raise FileNotFoundError(f"{args.events}: holds no events to check the export on")
    manifest = export_pipeline(pipeline, args.output, torchscript=args.torchscript)
    files = [str(args.output / name) for stage in manifest["stages"] for name in stage["files"].values()]
    result = {"detector": pipeline.detector.name, "output": str(args.output),
              "files": [*files, str(args.output / "manifest.json")]}
    if batch is None:
        return result | {"parity": None, "timings": None, "note": "give --events FILE to check parity and time"}
    return result | verify_export(pipeline, args.output, batch, repeats=args.repeats)


def _add_pipeline_choice(command: argparse.ArgumentParser, verb: str) -> None:
    """``--detector NAME`` or ``--pipeline DIR``, exactly one: the pipeline the command
    ``verb``s (the one shipped with the detector, or the one in the folder)."""
    chosen = command.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--detector", type=_known_detector, help=f"{verb} the pipeline shipped with this detector")
    chosen.add_argument("--pipeline", type=Path, help=f"{verb} the pipeline in this folder")


def _add_geometry(command: argparse.ArgumentParser) -> None:
    command.add_argument("--geometry", type=Path, default=None, metavar="FILE",
                         help="detector configuration (*.geometry.parquet) the events are read against "
                              "(default: the one each event file names, else the detector's default layout)")


def _output_options() -> argparse.ArgumentParser:
    """``--json FILE`` and ``-q``, which every command has."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--json", metavar="FILE", default=None,
                         help="also write the full record (every figure measured) as JSON to FILE, atomically; "
                              f"'{STDOUT}': to standard output, in place of the summary")
    options.add_argument("-q", "--quiet", action="store_true",
                         help="print no summary and no progress bar (errors and warnings still go to stderr)")
    return options


def _progress_option() -> argparse.ArgumentParser:
    """``--progress/--no-progress``, which the long commands have."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument("--progress", action=argparse.BooleanOptionalAction, default=sys.stderr.isatty(),
                         help="progress bar with the rate and the time left on stderr (default: when stderr is a "
                              "terminal; never with -q)")
    return options


def build_parser(simulators: bool = True) -> argparse.ArgumentParser:
    """The command line. ``simulators``: give ``simulate`` its ``NAME`` sub-commands, which
    imports every detector to find its simulator (``main`` asks for them only when the
    command is ``simulate``, so that the other commands start without that cost). Every
    command has ``--json FILE`` and ``-q``; the long ones, whose ``unit`` names what their
    progress bar counts, also ``--progress/--no-progress``."""
    parser = argparse.ArgumentParser(prog="graphreco", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    short, long = [_output_options()], [_output_options(), _progress_option()]

    listing = commands.add_parser("detectors", help="list the known detectors and their node features", parents=short)
    listing.set_defaults(run=_detectors)

    simulate = commands.add_parser("simulate", help="simulate events with truth")
    if simulators:
        _add_simulators(simulate, long)

    graphs = commands.add_parser("graphs", help="read, validate and build graphs; print what was built and how fast",
                                 parents=short)
    graphs.add_argument("inputs", nargs="+", help="event files, directories or glob patterns")
    graphs.add_argument("--detector", type=_known_detector, help="detector name (overrides the files' metadata)")
    graphs.add_argument("--batch-size", type=_positive, default=8192, help="events per record batch")
    graphs.add_argument("--threads", type=_not_negative, default=0, help="numba threads (default: all cores)")
    _add_geometry(graphs)
    graphs.set_defaults(run=_graphs)
    reconstruct = commands.add_parser("reconstruct", help="run a trained pipeline over event files", parents=long)
    reconstruct.add_argument("inputs", nargs="+", help="event files, directories or glob patterns")
    reconstruct.add_argument("-o", "--output", required=True,
                             help="output file (one input) or directory (one output per input, same stem; "
                                  "a trailing slash makes it a directory for one input too)")
    _add_pipeline_choice(reconstruct, "use")
    reconstruct.add_argument("--pipeline-sha256", type=_sha256, metavar="HEX",
                             help="refuse the pipeline unless its SHA-256 (printed as pipeline_sha256 by every "
                                  "run) is this, checked before any weights are read")
    reconstruct.add_argument("--batch-size", type=_positive, default=1024,
                             help="events per batch, the unit of work of a worker (outputs depend on it)")
    reconstruct.add_argument("--workers", type=_not_negative, default=0,
                             help="worker processes, one core each (default: every core; 1: in this process)")
    reconstruct.add_argument("--root-mapping", type=Path, default=None,
                             help="JSON mapping of event-format columns to the branches of .root inputs "
                                  "(default: NanoAOD PF candidates; docs/root-input.md)")
    reconstruct.add_argument("--engine", choices=("local", "ray"), default="local",
                             help="local worker processes, or a Ray Data job (needs the ray extra)")
    reconstruct.add_argument("--ray-address", default=None,
                             help="Ray cluster to run on (default: $RAY_ADDRESS, "
                                  "else a local instance of --workers CPUs)")
    reconstruct.add_argument("--posterior", type=_not_negative, default=0, metavar="N",
                             help="also write N joint samples per event of the direction and log10 E posterior "
                                  "(reco_posterior_* columns; N >= 256; needs a pipeline with a posterior stage)")
    reconstruct.add_argument("--keep-columns", default="",
                             help="input columns to carry into the output, comma separated")
    _add_geometry(reconstruct)
    reconstruct.set_defaults(run=_reconstruct, unit="events")

    training = commands.add_parser("train", help="train stages of a pipeline from event files (a JSON config)",
                                   description="Train the stages a JSON config names; see graphreco.train.config "
                                               "for the layout. A line per epoch goes to stderr (none with -q); "
                                               "a rerun resumes.", parents=long)
    training.add_argument("config", type=Path,
                          help="training config (JSON); a shipped pipeline's is its artifacts/recipe.json")
    training.add_argument("--data", type=Path, help="folder the config's event files are relative to; checkpoints "
                                                    "go to its checkpoints/ (default: the config's folder, "
                                                    "checkpoints in the pipeline folder)")
    training.add_argument("--out", type=Path, help="pipeline folder to write (default: the config's pipeline)")
    training.add_argument("--stages", help="stages to train, comma separated (default: all the config trains); "
                                           "the others are read from the pipeline folder")
    training.add_argument("--epochs", type=_positive, help="epochs of every trained stage (default: the config's)")
    training.add_argument("--recalibrate", action="store_true",
                          help="keep the stages' weights and fit their calibration again on the validation files")
    training.add_argument("--threads", type=_not_negative, default=0, help="torch threads (default: torch's choice)")
    _add_geometry(training)
    training.set_defaults(run=_train, unit="epochs")

    tuning = commands.add_parser(
        "finetune", help="train a pipeline's network stages further on your labelled simulation, within minutes",
        description="Start from a trained pipeline and train every network stage whose truth the labelled files "
                    "hold, within a wall-time budget (planned as epochs before training; a rerun resumes), then "
                    "calibrate on held-out events. With --unlabelled, train domain-adversarially against them and "
                    "adapt the hit selection to their noise fraction.",
        parents=long)
    _add_pipeline_choice(tuning, "start from")
    tuning.add_argument("--labelled", nargs="+", required=True, help="event files with truth, directories or patterns")
    tuning.add_argument("--validation", nargs="+",
                        help="labelled events to validate and calibrate on (default: every 10th minibatch of "
                             "--labelled, held out)")
    tuning.add_argument("--unlabelled", nargs="+", help="events of the condition to adapt to (no truth needed)")
    tuning.add_argument("--minutes", type=float, default=20.0, help="wall-time budget of the training (default 20)")
    tuning.add_argument("--epochs", type=_positive, help="epochs of every stage instead of a plan from --minutes")
    tuning.add_argument("--domain-weight", type=float,
                        help="strength of the domain-adversarial term with --unlabelled (0: none; the hit "
                             "selection's noise fraction is adapted either way; default 0.3)")
    tuning.add_argument("--from-scratch", action="store_true",
                        help="train the network stages from new weights instead, the same way: the comparison")
    tuning.add_argument("--threads", type=_not_negative, default=0, help="torch threads (default: torch's choice)")
    tuning.add_argument("-o", "--output", type=Path, required=True, help="the new pipeline folder (must not exist)")
    _add_geometry(tuning)
    tuning.set_defaults(run=_finetune, unit="epochs")

    calibration = commands.add_parser(
        "calibrate", help="fix a pipeline's energy scale and uncertainties on labelled reference events, weights kept",
        description="Refit the uncertainty scales of every stage that has them and the absolute energy scale on "
                    "labelled reference events (e.g. TA hybrid events with FD energies); no network weight "
                    "changes. Writes a new pipeline folder with calibration.json (before and after).", parents=short)
    _add_pipeline_choice(calibration, "calibrate")
    calibration.add_argument("--reference", nargs="+", required=True,
                             help="labelled event files, directories or glob patterns (true_zenith, true_azimuth, "
                                  "true_energy): a few hundred events; too few for a scale is refused")
    working_point = calibration.add_mutually_exclusive_group()
    working_point.add_argument("--efficiency", type=float,
                               help="also fix the event-score threshold keeping this fraction of the reference "
                                    "signal events (needs true_kind), e.g. 0.7")
    working_point.add_argument("--rejection", type=float,
                               help="or the threshold letting 1/REJECTION of the reference background events "
                                    "through (needs true_kind and at least 10 x REJECTION background events), e.g. 100")
    calibration.add_argument("--unlabelled", nargs="+",
                             help="events of the condition to reconstruct, no truth needed: the hit selection "
                                  "adapts to their noise fraction")
    calibration.add_argument("-o", "--output", type=Path, required=True,
                             help="the new pipeline folder (must not exist)")
    _add_geometry(calibration)
    calibration.set_defaults(run=_calibrate)

    evaluate = commands.add_parser("evaluate", help="score a reconstruction and the classical baseline against truth",
                                   parents=long)
    evaluate.add_argument("truth", type=Path, help="the reconstructed input, with its true_* columns")
    evaluate.add_argument("reco", type=Path, help="the output of graphreco reconstruct")
    drawn = evaluate.add_mutually_exclusive_group()
    drawn.add_argument("--plots", type=Path, help="also draw the figures as PNG into this folder (needs matplotlib)")
    drawn.add_argument("--report", type=Path, metavar="DIR",
                       help="write a report folder: report.md with its PNGs, and report.html as one self-contained "
                            "file (a headline table with statistical errors, the figures, the full record as an "
                            "appendix; needs matplotlib)")
    _add_geometry(evaluate)
    evaluate.set_defaults(run=_evaluate, unit="events")

    export = commands.add_parser("export",
                                 help="export the stages of a trained pipeline to ONNX (needs the export extra)",
                                 description="Write <stage>.onnx (inputs x, edge_index, batch) and manifest.json; "
                                             "with --events also check them against torch and time both, one thread.",
                                 parents=long)
    _add_pipeline_choice(export, "export")
    export.add_argument("-o", "--output", type=Path, required=True, help="folder for the exported files")
    export.add_argument("--events", type=Path,
                        help="event file whose first --batch-events events check parity and speed")
    export.add_argument("--batch-events", type=_positive, default=512,
                        help="events to check on (default: a pipeline chunk)")
    export.add_argument("--repeats", type=_positive, default=5,
                        help="timed runs per stage and runtime (the median counts)")
    export.add_argument("--torchscript", action="store_true",
                        help="also write <stage>.torchscript.pt (torch.jit.script)")
    _add_geometry(export)
    export.set_defaults(run=_export, unit="stages")
    return parser


def exit_code(error: Exception) -> int:
    """The exit code of an error that ended a command: ``EXIT_USAGE`` for what the
    arguments ask (``UsageError``, a missing optional extra), ``EXIT_BAD_INPUT`` for an
    event file, artifact or training config that is unreadable or breaks its contract,
    ``EXIT_INTERNAL`` for anything else (a bug)."""
    from .artifacts import ArtifactError
    from .io import EventFormatError
    from .io.configuration import GeometryNotApplicable
    from .stages.calibration import TooFewReferenceEvents
    from .train.config import TrainConfigError

    if isinstance(error, UsageError | MissingExtra | detectors.OptionError | GeometryNotApplicable):
        return EXIT_USAGE
    if isinstance(error, EventFormatError | FileNotFoundError | FileExistsError | ArtifactError | TrainConfigError
                          | TooFewReferenceEvents):
        return EXIT_BAD_INPUT
    return EXIT_INTERNAL


def _warning_printer(show: Callable[..., None]) -> Callable[..., None]:
    """A ``warnings.showwarning`` that prints a ``CommandWarning`` (about the input, the
    kernel cache) as one line, ``graphreco: warning: ...``, on stderr and hands any other
    to ``show``."""

    def printer(message: Warning | str, category: type[Warning], filename: str, lineno: int, file=None,
                line: str | None = None) -> None:
        if issubclass(category, CommandWarning):
            print(f"graphreco: warning: {message}", file=sys.stderr)
        else:
            show(message, category, filename, lineno, file, line)

    return printer


PARSER_SET = ("command", "unit", "options", "json")
"""Arguments the parser sets itself (or the record's own path): no file a user named."""


def _named_paths(args: argparse.Namespace) -> list[str | Path]:
    """Every string or path the user gave (inputs, outputs, and names that are no file),
    which a ``--json`` record must not replace."""
    values = [value for name, given in vars(args).items() if name not in PARSER_SET
              for value in (given if isinstance(given, list) else [given])]
    return [value for value in values if isinstance(value, str | Path)]


def _report(args: argparse.Namespace, result: dict, seconds: float) -> None:
    """The record of a command where ``--json`` sends it, and its summary unless ``-q``
    or ``--json -`` (standard output then holds the record alone)."""
    if args.json == STDOUT:
        print(strict_json(result))
        return
    if args.json is not None:
        write_record(Path(args.json), result)
    if not args.quiet:
        from .summary import show

        show(args, result, seconds)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    with warnings.catch_warnings():  # parsing too: a --detector loads the detector and its kernels
        warnings.showwarning = _warning_printer(warnings.showwarning)
        args = build_parser(simulators=argv[:1] == ["simulate"]).parse_args(argv)
        code, start = 0, time.perf_counter()
        try:
            if args.json not in (None, STDOUT):
                check_record_path(Path(args.json), _named_paths(args))
            with progress.bar(args.command, getattr(args, "unit", ""),
                              show=getattr(args, "progress", False) and not args.quiet):
                try:
                    result = args.run(args)
                except PartialFailure as failure:
                    result, code = failure.result, EXIT_BAD_INPUT
            _report(args, result, time.perf_counter() - start)
        except Exception as error:  # noqa: BLE001 - reported once, by its exit code, for the batch system
            code = exit_code(error)
            if code == EXIT_INTERNAL:
                print(f"graphreco: internal error: {type(error).__name__}: {error}", file=sys.stderr)
            else:
                print(f"graphreco: error: {error}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
