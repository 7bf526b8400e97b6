"""The core's commands: `count`, `presets`, `train`, `validate`.

`count`, `presets` and `validate` read specs and cost them arithmetically: they import no torch. `train` builds its
job with `scalesearch.trial.standalone` (a preset or file merged with the options, every value checked) and prints the
recipe, one line per epoch and the result.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from typing import Any

from scalesearch.data.catalog import DATASETS
from scalesearch.spec import MAX_SAMPLES
from scalesearch.train.config import SCHEDULES, TrainConfig

__all__ = ["add_count", "add_presets", "add_train", "add_validate"]

_MODEL_HELP = ("a preset name (see `scalesearch presets`), a NetSpec .json file, or a spec .yaml file (its baseline "
               "point)")


# --------------------------------------------------------------------------------------------------------------
# count, presets


def add_count(sub: argparse._SubParsersAction, full: bool = True) -> None:
    """Declare `scalesearch count` (with `full` False its help line only)."""
    p = sub.add_parser("count", help="analytic params and MACs of a preset, a NetSpec JSON file or a spec file")
    if not full:
        return
    p.add_argument("model", metavar="PRESET_OR_SPEC", help=_MODEL_HELP)
    p.add_argument("--resolution", type=int, default=None, help="input resolution (default: the model's)")
    p.add_argument("--in-channels", type=int, default=None, help="input channels (default: the model's)")
    p.add_argument("--classes", type=int, default=None, help="number of classes (default: the model's)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    p.set_defaults(func=_cmd_count)


def _cmd_count(args: argparse.Namespace) -> int:
    from scalesearch.nets.cost import count, format_table
    from scalesearch.spec.refs import load_netspec, with_shape

    spec = with_shape(load_netspec(args.model), in_channels=args.in_channels, num_classes=args.classes,
                      resolution=args.resolution)
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


def add_presets(sub: argparse._SubParsersAction, full: bool = True) -> None:
    """Declare `scalesearch presets`."""
    p = sub.add_parser("presets", help="list the preset architectures")
    p.set_defaults(func=_cmd_presets)


def _cmd_presets(args: argparse.Namespace) -> int:
    from scalesearch.nets.cost import presets_table

    print(presets_table())
    return 0


def add_datasets(sub: argparse._SubParsersAction, full: bool = True) -> None:
    """Declare `scalesearch datasets`."""
    p = sub.add_parser("datasets", help="list the dataset kinds a spec's `dataset: {name: ...}` may name, and "
                                        "what each expects")
    p.set_defaults(func=_cmd_datasets)


def _cmd_datasets(args: argparse.Namespace) -> int:
    for d in DATASETS.values():
        shape = ("from your files" if d.files else
                 f"{d.in_channels}x{d.resolution}x{d.resolution}, {d.num_classes} classes, "
                 f"{d.train_size:,} train / {d.test_size:,} test")
        print(f"{d.name:<14}{d.description} ({shape})")
        print(f"{'':<14}expects: {d.expects}")
    return 0


# --------------------------------------------------------------------------------------------------------------
# train


def add_train(sub: argparse._SubParsersAction, full: bool = True) -> None:
    """Declare `scalesearch train` (with `full` False its help line only)."""
    p = sub.add_parser(
        "train", help="train one network and print per-epoch metrics",
        description="Train one network on a dataset and print per-epoch metrics. Input channels and classes "
                    "come from the dataset; the resolution is the dataset's unless --resolution resizes it. "
                    "A spec file trains its baseline with its own `dataset:` and `train:` sections and its study "
                    "seed, exactly as its search trains the baseline's repeat 0 (the same trial key); options "
                    "given here override them. Unset training options take scalesearch.train.config.TrainConfig's "
                    "defaults.")
    if not full:
        return
    p.add_argument("model", metavar="PRESET_OR_SPEC", help=_MODEL_HELP)
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
                   help=f"random-crop padding in pixels (default {d['crop_padding']}, or the spec file's)")
    p.add_argument("--no-augment", action="store_true", help="no random crop and flip")
    p.add_argument("--seed", type=int, default=None, help="training seed: initial weights, shuffling, "
                   "augmentation (default: a spec file's repeat-0 seed, as its search trains it; "
                   f"{d['seed']} otherwise)")
    p.add_argument("--data-seed", type=int, default=None, help="seed of the subsets and the validation split, "
                   "kept apart from --seed so that runs with different seeds are scored on the same images "
                   "(default 0, every study's)")
    p.add_argument("--device", choices=("cpu", "cuda", "auto"), default="auto", help="default auto")
    p.add_argument("--compile", action="store_true", help="torch.compile the model (pays off on long runs)")
    p.add_argument("--test", action=argparse.BooleanOptionalAction, default=None,
                   help="report accuracy on the test set at the end (default: a spec file's train.eval_test, as "
                   "its search does; on for a preset or NetSpec file; --no-test skips it)")
    p.add_argument("--json", action="store_true",
                   help="print one JSON object on stdout at the end (the tables go to stderr)")
    p.set_defaults(func=_cmd_train)


def _cmd_train(args: argparse.Namespace) -> int:
    from scalesearch.errors import InputError
    from scalesearch.trial.standalone import DATA_OPTIONS, TRAIN_OPTIONS, standalone_job

    options = {k: getattr(args, k, None) for k in (*TRAIN_OPTIONS, *DATA_OPTIONS)}
    if args.no_augment:
        options["augment"] = False
    tj = standalone_job(args.model, dataset=args.dataset, options=options, seed=args.seed, data_seed=args.data_seed,
                   device=args.device, eval_test=args.test, compile=args.compile)

    import torch

    from scalesearch.nets.cost import count, human
    from scalesearch.train.loop import resolve_device, steps_per_epoch

    spec, cfg = tj.netspec, tj.config
    device = resolve_device(cfg.device)
    data = tj.load_data(device=device, data_dir=args.data_dir)
    out = sys.stderr if args.json else sys.stdout
    job = tj.job
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
        result = tj.run(data, on_epoch=on_epoch, progress=progress if tty else None)
    except InputError:  # the loss diverged
        if tty:
            sys.stderr.write("\r\033[K")
        raise

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


# --------------------------------------------------------------------------------------------------------------
# validate


def add_validate(sub: argparse._SubParsersAction, full: bool = True) -> None:
    """Declare `scalesearch validate` (with `full` False its help line only)."""
    p = sub.add_parser("validate", help="parse, resolve and cost a spec file without training",
                       description="Parse a spec file, resolve its baseline, points and every grid point (or a "
                       "seeded random sample of a continuous space), cost them analytically and print the number "
                       "of candidates, the MACs/params range, how many each constraint rejects and how close the "
                       "matched parameters come to their targets. Nothing is trained or written.")
    if not full:
        return
    p.add_argument("spec", metavar="SPEC", help="a spec .yaml file (format: docs/spec.md)")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of the summary")
    p.add_argument("--samples", type=int, default=256, metavar="N",
                   help="random candidates costed when the space cannot be enumerated (default: 256, at most "
                   f"{MAX_SAMPLES:,})")
    p.set_defaults(func=_cmd_validate)


def _cmd_validate(args: argparse.Namespace) -> int:
    from scalesearch.spec import check_space, format_report, load_spec
    from scalesearch.util.checks import check_int

    check_int("--samples", args.samples, 1, MAX_SAMPLES)
    spec = load_spec(args.spec)
    report = check_space(spec, samples=args.samples)
    if args.json:
        print(json.dumps({"file": args.spec, **report.to_dict()}, default=str))
    else:
        print(format_report(report, spec))
    return 0
