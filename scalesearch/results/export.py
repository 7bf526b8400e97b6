"""`scalesearch export`: a trained network out of a study, ready to use without scalesearch.

For each trial asked (`--trial N`, `--best` or `--front`) whose final weights the search kept (`search.keep`),
`export_trials` writes `<out>/trial_<N>/`:

    netspec.json  the architecture as data: `scalesearch.create_model(netspec)` rebuilds the network
    weights.pt    its state_dict (`torch.load(..., weights_only=True)`)
    model.ts      TorchScript of exactly `build_model(netspec)` with the weights, in eval mode: no preprocessing
                  inside; it takes float images normalised with the mean and std in card.md
    card.md       metrics (val_acc, test_acc), MACs, params, activations, the dataset (name, sizes, resolution,
                  channels, class names, mean, std), the training recipe, seed, hardware and the spec's hash
    model.onnx    with `onnx=True`, where the `onnx` package is installed

Nothing here writes to the database.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from scalesearch.errors import InputError, MissingFileError, NotFoundError
from scalesearch.store import CHECKPOINT_KEY, Reader, checkpoint_dir

__all__ = ["export_trials"]

def _chosen(db: str | None, study: str, trial: int | None, best: bool, front: bool) -> list[int]:
    if sum([trial is not None, best, front]) != 1:
        raise InputError("export: give exactly one of --trial N, --best or --front")
    from scalesearch.results.query import query

    if trial is not None:
        return [trial]
    if best:
        df = query(db, [study], where="state == 'COMPLETE'", sort="val_acc", top=1)
    else:
        df = query(db, [study], pareto=True)
    if df.empty:
        raise NotFoundError(f"study {study!r} has no completed trial to export")
    return [int(n) for n in df["number"]]


def export_trials(db: str | None, study: str, out: str | Path, *, trial: int | None = None, best: bool = False,
                  front: bool = False, onnx: bool = False) -> list[Path]:
    """Export the chosen trials of `study` into `out` (created); returns the trial folders written.

    Raises:
        InputError: not exactly one choice; a trial that did not complete. NotFoundError: no such study or trial.
        MissingFileError: a trial whose weights were not kept (the message says which `keep` would keep them).
    """
    import torch

    from scalesearch.nets import NetSpec
    from scalesearch.nets.build import build_model

    numbers = _chosen(db, study, trial, best, front)
    with Reader(db) as reader:
        record = reader.study(study)
        trials = {t.number: t for t in reader.trials(study)}
        url = reader.url
    folder = checkpoint_dir(url, study)
    done = []
    for n in numbers:
        t = trials.get(n)
        if t is None:
            raise NotFoundError(f"--trial {n}: study {study!r} has no trial {n}")
        if t.state != "completed" or not t.netspec:
            raise InputError(f"--trial {n}: the trial is {t.state}; only a completed trial has trained weights")
        name = (t.metrics or {}).get(CHECKPOINT_KEY)
        if not name or not (folder / name).is_file():
            raise MissingFileError(f"trial {n} of {study!r} has no kept weights in {folder} (the spec's search.keep "
                                   "keeps the Pareto front by default; `keep: all` keeps every trial)")
        target = Path(out) / f"trial_{n}"
        target.mkdir(parents=True, exist_ok=True)
        spec = NetSpec.from_json(t.netspec)
        state = torch.load(folder / name, map_location="cpu", weights_only=True)
        model = build_model(spec)
        model.load_state_dict(state)
        model.eval()
        (target / "netspec.json").write_text(t.netspec + "\n", encoding="utf-8")
        shutil.copyfile(folder / name, target / "weights.pt")
        example = torch.zeros(1, spec.in_channels, spec.resolution, spec.resolution)
        with torch.no_grad():
            scripted = torch.jit.trace(model, example)
        scripted.save(str(target / "model.ts"))
        if onnx:
            _onnx(model, example, target / "model.onnx")
        (target / "card.md").write_text(_card(record, t, spec, study), encoding="utf-8")
        done.append(target)
    return done


def _onnx(model: Any, example: Any, path: Path) -> None:
    try:
        import onnx  # noqa: F401  (torch.onnx needs it)
    except ImportError:
        raise InputError("--onnx: the onnx package is not installed; pip install 'scalesearch[onnx]'") from None
    import torch

    torch.onnx.export(model, example, str(path), input_names=["images"], output_names=["logits"],
                      dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}})


def _plain(o: Any) -> Any:
    """JSON for the records' read-only mappings and tuples."""
    from collections.abc import Mapping

    return dict(o) if isinstance(o, Mapping) else list(o) if isinstance(o, (tuple, set)) else str(o)


def _data_facts(t: Any) -> dict[str, Any]:
    """The dataset as the trial trained on it: name, sizes, resolution, channels, classes, mean and std."""
    from scalesearch.trial.job import load_data

    data = load_data(dict(t.data or {}))
    return {"name": data.name, "train": len(data.train), "val": len(data.val), "test": len(data.test),
            "resolution": data.resolution, "channels": data.in_channels, "mean": list(data.mean),
            "std": list(data.std)}


def _card(record: Any, t: Any, spec: Any, study: str) -> str:
    from scalesearch.spec import parse_spec

    facts = _data_facts(t)
    classes = record.classes  # stored with the study (schema 2); older studies: from the spec, if it still reads
    if not classes:
        try:
            classes = parse_spec(record.spec_text, f"<study {study}>").dataset.classes
        except (ValueError, OSError):
            classes = tuple(str(i) for i in range(spec.num_classes))
    m = t.metrics or {}
    rows = [("study", study), ("trial", t.number), ("val_acc", t.val_acc), ("test_acc", t.test_acc),
            ("MACs", t.macs), ("params", t.params), ("activations", t.acts), ("seed", t.seed),
            ("epochs", t.epochs_done), ("device", m.get("device")), ("node", t.node),
            ("spec hash", record.spec_hash)]
    hw = ", ".join(f"{k}: {v}" for k, v in (record.hardware or {}).items() if not isinstance(v, (dict, list)))
    lines = [f"# {study}, trial {t.number}", "", "| field | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows]
    lines += ["", "## Input", "",
              f"Float images [N, {facts['channels']}, {facts['resolution']}, {facts['resolution']}], pixel values "
              "scaled to [0, 1], then normalised per channel: (x - mean) / std with", "",
              f"- mean: {facts['mean']}", f"- std: {facts['std']}", "",
              f"model.ts holds no preprocessing. Its output is {spec.num_classes} logits, in the order of the class "
              "names below.", "",
              "## Dataset", "",
              f"{facts['name']}: train {facts['train']}, val {facts['val']}, test {facts['test']} images at "
              f"{facts['resolution']} px, {facts['channels']} channel(s).", "",
              "Classes (label order): " + ", ".join(f"{i}: {c}" for i, c in enumerate(classes)), "",
              "## Training recipe", "", "```json", json.dumps(dict(t.train or {}), indent=1, sort_keys=True, default=_plain), "```", "",
              "## Hardware", "", hw or "not recorded", ""]
    return "\n".join(lines)
