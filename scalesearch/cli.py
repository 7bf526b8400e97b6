"""The `scalesearch` command line.

Each subcommand has an `_add_<name>(subparsers)` that declares its arguments and a `_cmd_<name>(args) -> int`
that runs it. User-facing failures are raised as exceptions (ValueError, OSError and their subclasses) and
turned into one line on stderr with exit status 2 by `main`; a traceback is shown only with SCALESEARCH_DEBUG=1.
Heavy modules (torch, optuna, ray) are imported inside the handlers so that `--help` stays fast.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from typing import Any, Callable, Sequence

from scalesearch.datasets import DATASETS
from scalesearch.errors import InputError
from scalesearch.recipe import SCHEDULES, TrainConfig
from scalesearch.spec import MAX_SAMPLES


def _add_count(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("count", help="analytic params and MACs of a preset, a NetSpec JSON file or a spec file")
    p.add_argument("model", metavar="PRESET_OR_SPEC", help="a preset name (see `scalesearch presets`), "
                   "a NetSpec .json file, or a spec .yaml file (its baseline point)")
    _add_shape_args(p)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.set_defaults(func=_cmd_count)


def _add_shape_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--resolution", type=int, default=None, help="input resolution (default: the model's)")
    p.add_argument("--in-channels", type=int, default=None, help="input channels (default: the model's)")
    p.add_argument("--classes", type=int, default=None, help="number of classes (default: the model's)")


def _check_resolution(option: str, value: int, low: int, high: int, stride: int | None = None) -> None:
    """One range for a resolution option: what the data and the network both accept, saying why the floor."""
    from scalesearch.checks import FieldError, range_text

    if not low <= value <= high:
        why = f" (the network's total stride is {stride if stride is not None else low})"
        raise FieldError(option, range_text("an integer", low, high) + why, value)


def _with_shape_args(spec: Any, args: argparse.Namespace) -> Any:
    """`spec` with the input shape the options ask for, each option checked against what the network accepts
    (one range per option, naming it)."""
    from scalesearch.arch import MAX_CLASSES, MAX_INPUT_RESOLUTION, MAX_WIDTH
    from scalesearch.checks import check_int

    if args.resolution is not None:
        _check_resolution("--resolution", args.resolution, spec.total_stride, MAX_INPUT_RESOLUTION)
    if args.in_channels is not None:
        check_int("--in-channels", args.in_channels, 1, MAX_WIDTH)
    if args.classes is not None:
        check_int("--classes", args.classes, 1, MAX_CLASSES)
    return spec.with_io(args.in_channels, args.classes, args.resolution)


def _cmd_count(args: argparse.Namespace) -> int:
    from scalesearch.cost import count, format_table
    from scalesearch.load import load_netspec

    spec = _with_shape_args(load_netspec(args.model), args)
    cost = count(spec)
    if args.json:
        print(json.dumps({"model": args.model, "hash": spec.hash, "params": cost.params, "macs": cost.macs,
                          "acts": cost.acts, "in_channels": spec.in_channels, "num_classes": spec.num_classes,
                          "resolution": spec.resolution, "stages": [p.to_dict() for p in cost.parts],
                          "netspec": spec.to_dict()}))
        return 0
    print(f"{args.model}: {spec.in_channels}x{spec.resolution}x{spec.resolution} input, {spec.num_classes} classes, "
          f"hash {spec.hash}")
    print(format_table(spec, cost))
    return 0


def _add_presets(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("presets", help="list the preset architectures")
    p.set_defaults(func=_cmd_presets)


def _cmd_presets(args: argparse.Namespace) -> int:
    from scalesearch.arch import preset, preset_names
    from scalesearch.cost import count, human

    print(f"{'preset':<20} {'input':>10} {'classes':>7} {'params':>8} {'MACs':>8}")
    for name in preset_names():
        spec = preset(name)
        c = count(spec)
        shape = f"{spec.in_channels}x{spec.resolution}x{spec.resolution}"
        print(f"{name:<20} {shape:>10} {spec.num_classes:>7} {human(c.params):>8} {human(c.macs):>8}")
    print("(also any wrn_<depth>_<k> with depth = 6n+4)")
    return 0


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train one network and print per-epoch metrics",
        description="Train one network on a dataset and print per-epoch metrics. Input channels and classes "
                    "come from the dataset; the resolution is the dataset's unless --resolution resizes it. "
                    "A spec file trains its baseline with its own `dataset:` and `train:` sections; options "
                    "given here override them. Unset training options take scalesearch.recipe.TrainConfig's "
                    "defaults.")
    p.add_argument("model", metavar="PRESET_OR_SPEC", help="a preset name (see `scalesearch presets`), "
                   "a NetSpec .json file, or a spec .yaml file (its baseline point)")
    p.add_argument("--dataset", choices=tuple(DATASETS), default=None,
                   help="the dataset (required unless the model is a spec file, whose `dataset:` is the default)")
    p.add_argument("--data-dir", default=None, help="root folder of the dataset files "
                   "(default: $SCALESEARCH_DATA, else /usr/share/datasets)")
    d = TrainConfig.field_defaults()
    p.add_argument("--epochs", type=int, default=None, help=f"epochs (default {d['epochs']})")
    p.add_argument("--max-steps", type=int, default=None, help="step budget, overrides --epochs")
    p.add_argument("--train-size", type=int, default=None,
                   help="training images, a seeded subset (default: all left after the validation split)")
    p.add_argument("--val-size", type=int, default=None,
                   help="validation images carved from the training set (default 5000, or the spec's)")
    p.add_argument("--test-size", type=int, default=None, help="test images, a seeded subset (default: all)")
    p.add_argument("--resolution", type=int, default=None,
                   help="resize the dataset to RxR once (default: the dataset's own resolution)")
    p.add_argument("--batch-size", type=int, default=None, help=f"batch size (default {d['batch_size']})")
    p.add_argument("--lr", type=float, default=None, help=f"peak learning rate (default {d['lr']})")
    p.add_argument("--weight-decay", type=float, default=None, help=f"weight decay (default {d['weight_decay']})")
    p.add_argument("--schedule", choices=SCHEDULES, default=None,
                   help=f"learning-rate schedule after the warm-up (default {d['schedule']})")
    p.add_argument("--warmup-epochs", type=float, default=None,
                   help=f"linear warm-up epochs (default {d['warmup_epochs']})")
    p.add_argument("--label-smoothing", type=float, default=None,
                   help=f"label smoothing (default {d['label_smoothing']})")
    p.add_argument("--crop-padding", type=int, default=None,
                   help="random-crop padding in pixels (default: resolution/8, i.e. 4 at 32px)")
    p.add_argument("--no-augment", action="store_true", help="no random crop and flip")
    p.add_argument("--seed", type=int, default=d["seed"], help="training seed: initial weights, shuffling, "
                   f"augmentation (default {d['seed']})")
    p.add_argument("--data-seed", type=int, default=0, help="seed of the subsets and the validation split, "
                   "kept apart from --seed so that runs with different seeds are scored on the same images "
                   "(default 0)")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), default="auto", help="default auto")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (pays off on long runs)")
    p.add_argument("--test", action=argparse.BooleanOptionalAction, default=True,
                   help="report accuracy on the test set at the end (default; --no-test skips it)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object on stdout at the end (the tables go to stderr)")
    p.set_defaults(func=_cmd_train)


_TRAIN_OPTIONS = ("epochs", "max_steps", "batch_size", "lr", "weight_decay", "schedule", "warmup_epochs",
                  "label_smoothing", "crop_padding")


def _option_error(e: Any) -> ValueError:
    """A TrainConfig / dataset FieldError re-addressed to the command-line option that set the field."""
    from scalesearch.checks import FieldError

    return FieldError("--" + e.field.replace("_", "-"), e.expected, e.got, problem=e.problem)


def _train_job(args: argparse.Namespace) -> tuple[Any, Any, str, dict[str, Any]]:
    """(NetSpec, TrainConfig, dataset name, load_dataset kwargs) of a `train` command, every value checked
    before anything is printed or loaded. A spec file contributes its baseline, its `dataset:` and its `train:`
    sections; options given on the command line override them."""
    from scalesearch.checks import FieldError, check_int
    from scalesearch.datasets import (
        MAX_DATA_RESOLUTION,
        MIN_DATA_RESOLUTION,
        dataset_info,
    )
    from scalesearch.load import SPEC_SUFFIXES, load_netspec
    from scalesearch.recipe import MAX_SEED, TrainConfig

    check_int("--data-seed", args.data_seed, 0, MAX_SEED)
    overrides: dict[str, Any] = {}
    data_kwargs: dict[str, Any] = {}
    dataset = args.dataset
    if os.path.splitext(args.model)[1].lower() in SPEC_SUFFIXES:
        from scalesearch.spec import default_candidate, load_spec

        spec = load_spec(args.model)
        candidate = default_candidate(spec)
        overrides = dict(candidate.train)
        native = candidate.netspec
        data_kwargs = {k: v for k, v in spec.dataset.load_kwargs().items() if v is not None}
        if dataset is None or dataset == spec.dataset.name:
            dataset = spec.dataset.name
            if native.resolution != spec.dataset.input_resolution:  # the baseline scales the resolution
                data_kwargs["resolution"] = native.resolution
        else:  # another dataset: the spec's sizes and options were meant for its own
            data_kwargs = {}
    elif dataset is None:
        raise InputError("--dataset: required unless the model is a spec file (which names its dataset); "
                         f"expected one of {', '.join(DATASETS)}")
    else:
        native = load_netspec(args.model)
    info = dataset_info(dataset)
    for opt in ("train_size", "val_size", "test_size", "resolution"):
        if getattr(args, opt) is not None:
            data_kwargs[opt] = getattr(args, opt)
    flags = {k: getattr(args, k) for k in _TRAIN_OPTIONS if getattr(args, k) is not None}
    if args.no_augment:
        flags["augment"] = False
    try:
        cfg = TrainConfig(**{**overrides, **flags, "seed": args.seed, "device": args.device,
                             "eval_test": args.test, "compile": args.compile})
    except FieldError as e:
        raise _option_error(e) if e.field in flags or e.field == "seed" else e from None
    if "resolution" in data_kwargs:  # one range for the option: what the data and the network both accept
        low = max(MIN_DATA_RESOLUTION, native.total_stride)
        name = "--resolution" if args.resolution is not None else "dataset.resolution"
        _check_resolution(name, data_kwargs["resolution"], low, MAX_DATA_RESOLUTION, native.total_stride)
    in_channels = int(data_kwargs.get("in_channels", info.in_channels))
    num_classes = int(data_kwargs.get("num_classes", info.num_classes))
    resolution = int(data_kwargs.get("resolution") or data_kwargs.get("image_size", info.resolution))
    netspec = native.with_io(in_channels, num_classes, resolution)
    if "crop_padding" not in flags and "crop_padding" not in overrides:  # the ResNet paper's 4 px at 32 px
        cfg = dataclasses.replace(cfg, crop_padding=max(1, round(resolution / 8)))
    return netspec, cfg, dataset, data_kwargs


def _cmd_train(args: argparse.Namespace) -> int:
    import time

    import torch

    from scalesearch import trial
    from scalesearch.checks import FieldError
    from scalesearch.cost import count, human
    from scalesearch.data import load_dataset
    from scalesearch.train import DivergenceError, resolve_device, steps_per_epoch

    spec, cfg, dataset, data_kwargs = _train_job(args)
    device = resolve_device(cfg.device)
    try:
        data = load_dataset(dataset, data_dir=args.data_dir, seed=args.data_seed, device=device, **data_kwargs)
    except FieldError as e:  # a size or resolution: name the option if the command line set it
        raise _option_error(e) if getattr(args, e.field, None) is not None else e from None
    out = sys.stderr if args.json else sys.stdout
    job = trial.Job(netspec=spec.to_dict(), train=dataclasses.asdict(cfg),
                    data={"name": dataset, **data_kwargs, "seed": args.data_seed}, seed=cfg.seed)
    cost = count(spec)
    n_train = len(data.train)
    batch = min(cfg.batch_size, n_train)
    spe = steps_per_epoch(n_train, cfg.batch_size)
    length = (f"{cfg.max_steps} steps" if cfg.max_steps is not None
              else f"{cfg.epochs} epoch{'s' if cfg.epochs != 1 else ''}")
    threads = f" ({torch.get_num_threads()} threads)" if device.type == "cpu" else ""
    aug = f"crop pad {cfg.crop_padding} ({cfg.crop_pad_mode}) + flip" if cfg.augment else "none"
    used = spe * batch
    left = (f"; full batches only: each epoch trains on {used:,} of the {n_train:,} images (a new shuffle each "
            "epoch)") if used < n_train else ""
    print(f"model    {args.model}: {spec.describe()}", file=out)
    print(f"         {spec.in_channels}x{spec.resolution}x{spec.resolution} -> {spec.num_classes} classes, "
          f"{human(cost.params)} params, {human(cost.macs)} MACs, hash {spec.hash}", file=out)
    print(f"data     {data.summary()}", file=out)
    print(f"recipe   {length} x {spe} steps of batch {batch}{left}", file=out)
    print(f"         SGD lr {cfg.lr:g} {cfg.schedule} (warm-up {cfg.warmup_epochs:g} ep), momentum {cfg.momentum:g}"
          f"{' nesterov' if cfg.nesterov else ''}, wd {cfg.weight_decay:g}, label smoothing "
          f"{cfg.label_smoothing:g}, aug {aug}, seed {cfg.seed}", file=out)
    print(f"device   {device}{threads}", file=out)
    if device.type == "cpu":
        print(f"note     a CPU run ({n_train} training images, {length}): expect a few hundred images/s "
              "for a ResNet-20; short runs rank nothing at convergence, use a GPU and the full recipe for final "
              "numbers", file=out)

    print(f"{'epoch':>5} {'lr':>8} {'train_loss':>10} {'train_acc':>9} {'val_loss':>8} {'val_acc':>7} "
          f"{'s':>7} {'img/s':>7}", file=out, flush=True)
    tty = sys.stderr.isatty()
    epoch_no = [1]
    last_draw = [0.0]

    def progress(i: int, n: int) -> None:
        now = time.monotonic()
        if i < n and now - last_draw[0] < 0.1:
            return
        last_draw[0] = now
        width = 30
        done = width * i // n
        sys.stderr.write(f"\r  epoch {epoch_no[0]} [{'#' * done}{'.' * (width - done)}] {i}/{n}\033[K")
        sys.stderr.flush()

    def on_epoch(m: dict[str, Any], last: bool) -> None:
        if tty:
            sys.stderr.write("\r\033[K")
        print(f"{m['epoch']:>5} {m['lr']:>8.4g} {m['train_loss']:>10.4f} {m['train_acc']:>9.4f} "
              f"{_num(m['val_loss'], '8.4f')} {_num(m['val_acc'], '7.4f')} {m['seconds']:>7.1f} "
              f"{m['images_per_s']:>7.0f}", file=out, flush=True)
        epoch_no[0] = m["epoch"] + 1

    try:
        result = trial.run(job, data, on_epoch=on_epoch, progress=progress if tty else None, catch=False)
    except DivergenceError as e:
        if tty:
            sys.stderr.write("\r\033[K")
        raise InputError(f"{e} (--lr is {cfg.lr:g})") from e

    test = f", test acc {result['test_acc']:.4f}" if result.get("test_acc") is not None else ""
    print(f"val acc {_num(result['val_acc'], '.4f')} (best {_num(result['best_val_acc'], '.4f')}){test}; "
          f"{result['train_seconds']:.1f} s training, {result['images_per_s']:.0f} img/s, "
          f"{result['total_seconds']:.1f} s in all", file=out)
    if args.json:
        summary = {"model": args.model, "hash": spec.hash, "params": cost.params, "macs": cost.macs,
                   "dataset": {"name": data.name, "train": len(data.train), "val": len(data.val),
                               "test": len(data.test), "resolution": data.resolution,
                               "in_channels": data.in_channels, "num_classes": data.num_classes},
                   "config": dataclasses.asdict(cfg), "job": job.to_dict(), **result}
        print(json.dumps(summary))
    return 0


def _num(v: float | None, fmt: str) -> str:
    """A metric for the table: formatted, or 'nan' right-aligned to the same width where it is missing."""
    width = fmt.split(".")[0]
    return format(v, fmt) if v is not None else format("nan", f">{width or 0}")


def _add_validate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("validate", help="parse, resolve and cost a spec file without training",
                       description="Parse a spec file, resolve its baseline, points and every grid point (or a "
                       "seeded random sample of a continuous space), cost them analytically and print the number "
                       "of candidates, the MACs/params range, how many each constraint rejects and how close the "
                       "matched parameters come to their targets. Nothing is trained or written.")
    p.add_argument("spec", metavar="SPEC", help="a spec .yaml file (format: docs/spec.md)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    p.add_argument("--samples", type=int, default=256, metavar="N",
                   help="random candidates costed when the space cannot be enumerated (default: 256, at most "
                   f"{MAX_SAMPLES:,})")
    p.set_defaults(func=_cmd_validate)


def _cmd_validate(args: argparse.Namespace) -> int:
    from scalesearch.checks import check_int
    from scalesearch.spec import check_space, format_report, load_spec

    check_int("--samples", args.samples, 1, MAX_SAMPLES)
    spec = load_spec(args.spec)
    report = check_space(spec, samples=args.samples)
    if args.json:
        print(json.dumps({"file": args.spec, **report.to_dict()}, default=str))
    else:
        print(format_report(report, spec))
    return 0


def _add_engine(sub: argparse._SubParsersAction) -> None:
    """The search engine's commands: run, resume, status, studies, query (scalesearch.search.commands)."""
    from scalesearch.search.commands import (
        add_commands,  # light: Ray, Optuna, torch load inside the handlers
    )

    add_commands(sub)


def _add_results(sub: argparse._SubParsersAction) -> None:
    """The read side's commands: plot and report (scalesearch.results_cli; query is registered with the engine's
    commands and handled there too)."""
    from scalesearch.results_cli import add_commands

    add_commands(sub)


_COMMANDS: tuple[Callable[[argparse._SubParsersAction], None], ...] = (
    _add_engine, _add_validate, _add_count, _add_train, _add_presets, _add_results,
)


class _Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2), like every other scalesearch error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def _add_rediscover(sub: argparse._SubParsersAction) -> None:
    """The papers' experiments: rediscover (scalesearch.rediscover, which loads numpy and pandas)."""
    from scalesearch.rediscover import add_commands

    add_commands(sub)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser of every subcommand. Given the command line `argv`, a command that only reads specs
    does not pay for `rediscover`'s imports: it is declared for its own command, for help, or when argv is None."""
    from scalesearch import __version__

    parser = _Parser(prog="scalesearch", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"scalesearch {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in _COMMANDS:
        add(sub)
    first = next((a for a in argv if not a.startswith("-") or a in ("-h", "--help")), None) if argv is not None \
        else "rediscover"
    if first in (None, "rediscover", "-h", "--help"):
        _add_rediscover(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(argv).parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("scalesearch: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`scalesearch count x | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except (MemoryError, RuntimeError) as e:
        if not isinstance(e, MemoryError) and "out of memory" not in str(e):
            raise  # a bug: keep the traceback
        if os.environ.get("SCALESEARCH_DEBUG"):
            raise
        print(f"scalesearch: error: out of memory ({' '.join(str(e).split())[:200] or 'MemoryError'}); "
              "try a smaller --batch-size, --resolution or model", file=sys.stderr)
        return 2
    except (ValueError, OSError, LookupError) as e:
        if os.environ.get("SCALESEARCH_DEBUG"):
            raise
        msg = " ".join(str(e).split()) or type(e).__name__
        print(f"scalesearch: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
