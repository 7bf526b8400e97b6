"""Figures checked for what they show: front points read back from the SVG, axes, units, valid image files."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest

from scalesearch import analysis as an
from scalesearch import plot

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"


def reference_front(df: pd.DataFrame, x: str, y: str) -> set:
    """O(n^2) front of the complete rows with values (max y, min x): the trial numbers, independent of analysis."""
    d = df[(df["state"] == "COMPLETE") & df[x].notna() & df[y].notna()]
    pts = d[[y, x]].to_numpy(dtype=float) * np.array([-1.0, 1.0])
    keep = set()
    for i, p in enumerate(pts):
        if not np.any(np.all(pts <= p, axis=1) & np.any(pts < p, axis=1)):
            keep.add(int(d["number"].iloc[i]))
    return keep


def trials(seed: int = 0, n: int = 120, studies=("alpha", "beta")) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows, number = [], 0
    for study in studies:
        for i in range(n):
            fam = ["resnet", "resnext", "wrn"][i % 3]
            depth, width = int(rng.choice([8, 14, 20])), int(rng.choice([8, 16, 32]))
            macs = float(np.round(1e5 * depth * width ** 2 * rng.choice([1.0, 1.0, 1.3])))  # many equal MACs
            acc = float(np.round(1 - 0.8 * macs ** -0.12 + rng.normal(0, 0.005), 3))  # rounded: ties in accuracy
            rows.append({"study": study, "number": number, "state": "COMPLETE", "family": fam, "depth": depth,
                         "width": width, "macs": macs, "params": macs / 40, "acts": macs / 10, "val_acc": acc,
                         "seed": i % 2, "arch": f"{fam}-d{depth}w{width}", "config_key": f"{fam}{depth}{width}"})
            number += 1
    df = pd.DataFrame(rows)
    best = df.sort_values(["val_acc", "macs"], ascending=[False, True]).iloc[0].copy()  # always on the front
    dup = best.copy()
    dup["number"] = number  # an exact duplicate of a front point: both are on the front
    failed = best.copy()
    failed[["number", "state", "val_acc", "macs"]] = [number + 1, "FAILED", 0.9999, 1.0]  # must not count
    nan = best.copy()
    nan[["number", "val_acc", "macs"]] = [number + 2, np.nan, 2.0]  # no accuracy: not drawn, dominates nothing
    out = pd.concat([df, pd.DataFrame([dup, failed, nan])], ignore_index=True)
    return out.astype({"number": int, "val_acc": float, "macs": float})


def read_svg(path):
    return ET.parse(path).getroot()


def groups_by_id(root, prefix: str) -> dict[str, ET.Element]:
    return {g.get("id"): g for g in root.iter(f"{SVG}g") if (g.get("id") or "").startswith(prefix)}


def marker_positions(group: ET.Element) -> list[tuple[float, float]]:
    return [(float(u.get("x")), float(u.get("y"))) for u in group.iter(f"{SVG}use")]


def svg_texts(root) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def check_png(path) -> tuple[int, int]:
    from PIL import Image

    assert path.stat().st_size > 0
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        assert im.format == "PNG" and im.width > 100 and im.height > 100
        return im.size


# ---------------------------------------------------------------------------------------------------------------


def test_import_is_cheap_and_core_free():
    code = ("import sys, scalesearch.plot, scalesearch.analysis; "
            "bad = {'matplotlib', 'plotly', 'torch', 'ray', 'optuna'} & {m.split('.')[0] for m in sys.modules}; "
            "assert not bad, bad")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert r.returncode == 0, r.stderr


def test_pareto_svg_front_points_are_the_reference_front(tmp_path):
    df = trials()
    fig = plot.plot_pareto(df, out=tmp_path / "p.svg")
    root = read_svg(tmp_path / "p.svg")
    studies = list(dict.fromkeys(df["study"]))
    drawn = groups_by_id(root, "front-point-")
    by_study: dict[int, set] = {}
    for gid in drawn:
        s, number = re.fullmatch(r"front-point-(\d+)-(\d+)", gid).groups()
        by_study.setdefault(int(s), set()).add(int(number))
    for s, study in enumerate(studies):
        expect = reference_front(df[df.study == study], "macs", "val_acc")
        assert by_study[s] == expect
    dup_number = int(df["number"].iloc[-3])
    assert any(dup_number in v for v in by_study.values())  # the duplicate of the best point is drawn too

    # every front marker sits where its trial's values put it: display x affine in log10(MACs), y in accuracy
    rows = df.set_index("number")
    xy, data = [], []
    for gid, g in drawn.items():
        (pos,) = marker_positions(g)
        number = int(gid.rsplit("-", 1)[1])
        xy.append(pos)
        data.append((np.log10(rows.loc[number, "macs"]), rows.loc[number, "val_acc"]))
    xy, data = np.array(xy), np.array(data)
    for k in (0, 1):
        coef = np.polyfit(data[:, k], xy[:, k], 1)
        assert np.abs(np.polyval(coef, data[:, k]) - xy[:, k]).max() < 0.05
        assert (coef[0] > 0) if k == 0 else (coef[0] < 0)  # SVG y grows downwards

    # labels name the architectures of the front points
    labels = groups_by_id(root, "front-label-")
    assert set(labels) == {g.replace("front-point-", "front-label-") for g in drawn}
    for gid, g in labels.items():
        assert "".join(g.itertext()).strip() == rows.loc[int(gid.rsplit("-", 1)[1]), "arch"]

    # the step line of each study runs through its front points
    for s in range(len(studies)):
        path = groups_by_id(root, f"front-line-{s}")[f"front-line-{s}"].find(f".//{SVG}path")
        nums = np.array([float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", path.get("d"))]).reshape(-1, 2)
        pts = np.array([marker_positions(g)[0] for gid, g in drawn.items() if gid.startswith(f"front-point-{s}-")])
        for p in pts:
            assert np.min(np.abs(nums - p).sum(axis=1)) < 0.01

    # every complete row with values is drawn once as a point; failed and NaN rows are not
    n_points = sum(len(marker_positions(g)) for g in groups_by_id(root, "points-").values())
    assert n_points == int(((df.state == "COMPLETE") & df.val_acc.notna()).sum())

    texts = svg_texts(root)
    assert "MACs (multiply-accumulates)" in texts and "Validation accuracy" in texts
    assert not any("FLOP" in t for t in texts)
    assert any(re.fullmatch(r"\d+(\.\d+)?[kMG]", t) for t in texts)  # engineering tick labels on the log axis
    assert fig.axes[0].get_xscale() == "log"


def test_pareto_png_and_options(tmp_path):
    df = trials(1, n=60, studies=("one",))
    df["latency_ms"] = df["macs"] / 1e7
    check_png(plot.save(plot.plot_pareto(df), tmp_path / "p.png"))
    fig = plot.plot_pareto({"a": df, "b": df.assign(val_acc=df.val_acc - 0.01)}, x="latency",
                           out=tmp_path / "lat.png")
    assert fig.axes[0].get_xlabel() == "Latency (ms, batch 1)" and fig.axes[0].get_xscale() == "log"
    check_png(tmp_path / "lat.png")
    df["lr"] = np.linspace(0.01, 0.5, len(df))  # numeric with many values: a colour bar
    fig = plot.plot_pareto(df, x="params", color="lr", label=None)
    assert len(fig.axes) == 2 and fig.axes[0].get_xlabel() == "Parameters"
    with pytest.raises(ValueError, match="unknown column 'flops'"):
        plot.plot_pareto(df, x="flops")
    with pytest.raises(ValueError, match=r"\.png, \.svg or \.pdf"):
        plot.save(fig, tmp_path / "p.jpg")


def test_svg_is_reproducible(tmp_path):
    df = trials(2, n=30, studies=("s",))
    plot.plot_pareto(df, out=tmp_path / "a.svg")
    plot.plot_pareto(df, out=tmp_path / "b.svg")
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()


def test_large_scatter_is_rasterized_but_front_stays_vector(tmp_path):
    rng = np.random.default_rng(3)
    n = plot.RASTERIZE_ABOVE + 100
    df = pd.DataFrame({"number": range(n), "state": "COMPLETE", "family": "f", "arch": [f"a{i}" for i in range(n)],
                       "macs": 10 ** rng.uniform(5, 8, n), "val_acc": rng.uniform(0.5, 0.9, n)})
    plot.plot_pareto(df, out=tmp_path / "big.svg")
    root = read_svg(tmp_path / "big.svg")
    assert {int(g.rsplit("-", 1)[1]) for g in groups_by_id(root, "front-point-")} == reference_front(
        df, "macs", "val_acc")
    assert (tmp_path / "big.svg").stat().st_size < 3_000_000


def test_scaling_plot_draws_the_fit_and_held_out_points(tmp_path):
    rows = []
    for fam, a, b in (("depth", 2.0, -0.15), ("width", 3.0, -0.25)):
        for phi in range(4):
            for seed in range(3):
                macs = 1e6 * 2.0 ** phi
                rows.append({"family": fam, "phi": phi, "seed": seed, "macs": macs, "state": "COMPLETE",
                             "config_key": f"{fam}{phi}", "val_acc": 1 - a * macs ** b + 0.002 * (seed - 1)})
    df = pd.DataFrame(rows)
    fig = plot.plot_scaling(df, fit_on=df.phi <= 2, out=tmp_path / "s.svg")
    plot.save(fig, tmp_path / "s.png")
    check_png(tmp_path / "s.png")
    root = read_svg(tmp_path / "s.svg")
    ids = {g.get("id") for g in root.iter(f"{SVG}g")}
    assert {"scaling-points-0", "scaling-points-1", "scaling-held-out-0", "scaling-fit-0",
            "scaling-fit-extrapolated-1"} <= ids
    assert len(marker_positions(groups_by_id(root, "scaling-held-out-0")["scaling-held-out-0"])) == 1
    assert len(marker_positions(groups_by_id(root, "scaling-points-0")["scaling-points-0"])) == 3
    (line,) = fig.findobj(lambda a: getattr(a, "get_gid", lambda: None)() == "scaling-fit-1")
    xs, ys = line.get_data()
    assert np.allclose(ys, 1 - 3.0 * np.asarray(xs) ** -0.25, atol=1e-3)  # the law, up to the seeds' noise
    assert fig.axes[0].get_xscale() == "log" and fig.axes[0].get_xlabel() == "MACs (multiply-accumulates)"


def test_edf_plot_draws_the_edf(tmp_path):
    df = pd.DataFrame({"study": ["a"] * 4 + ["b"] * 2, "state": "COMPLETE", "macs": 1e6,
                       "val_acc": [0.9, 0.8, 0.8, 0.6, 0.7, 0.95]})
    fig = plot.plot_edf(df, n_boot=50, out=tmp_path / "e.png")
    check_png(tmp_path / "e.png")
    (line,) = fig.findobj(lambda a: getattr(a, "get_gid", lambda: None)() == "edf-0")
    xs, ys = line.get_data()
    assert np.allclose(xs, [0.1, 0.2, 0.4]) and np.allclose(ys, [0.25, 0.75, 1.0])
    assert fig.axes[0].get_xlabel() == "Error (1 - validation accuracy)"
    assert fig.findobj(lambda a: getattr(a, "get_gid", lambda: None)() == "edf-band-1")


def test_curves_and_params_plots(tmp_path):
    ep = pd.DataFrame([{"study": s, "number": n, "epoch": e, "val_acc": 0.5 + 0.04 * e - 0.01 * n,
                        "train_loss": 2.0 / e} for s in ("a", "b") for n in range(3) for e in range(1, 6)])
    plot.plot_curves(ep, out=tmp_path / "c.svg")
    root = read_svg(tmp_path / "c.svg")
    assert len(groups_by_id(root, "curve-val_acc-")) == 6 and len(groups_by_id(root, "curve-train_loss-")) == 6
    check_png(plot.save(plot.plot_curves(ep, max_trials=2), tmp_path / "c.png"))
    df = trials(4, n=30, studies=("s",))
    fig = plot.plot_params(df, out=tmp_path / "params.png")
    check_png(tmp_path / "params.png")
    assert [a.get_xlabel() for a in fig.axes if a.get_visible()] == ["depth", "width"]
    fig = plot.plot_params(df, params=["family", "depth"], metric="val_acc")
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["resnet", "resnext", "wrn"]
    with pytest.raises(ValueError, match="unknown column 'nope'"):
        plot.plot_params(df, params=["nope"])


def test_plotly_figure_hover_and_front():
    pytest.importorskip("plotly")
    df = trials(5, n=40)
    fig = plot.pareto_figure_plotly(df)
    assert fig.layout.xaxis.type == "log" and fig.layout.xaxis.title.text == "MACs (multiply-accumulates)"
    fronts = [t for t in fig.data if t.meta["kind"] == "front"]
    for t in fronts:
        study = t.meta["study"]
        assert {int(v) for v in t.customdata} == reference_front(df[df.study == study], "macs", "val_acc")
        assert t.line.shape == "hv"
    points = [t for t in fig.data if t.meta["kind"] == "points"]
    assert sum(len(t.x) for t in points) == int(((df.state == "COMPLETE") & df.val_acc.notna()).sum())
    hover = points[0].text[0]
    for needle in ("MACs: ", "params: ", "val_acc: ", "depth = ", "width = ", "<b>"):
        assert needle in hover
    assert "FLOP" not in fig.to_json()
    # SI tick labels, and room left of the smallest x for the first front label
    assert fig.layout.xaxis.tickformat == "~s"
    drawn = df[(df.state == "COMPLETE") & df.val_acc.notna()]
    assert fig.layout.xaxis.range[0] < np.log10(drawn["macs"].min()) - 0.1


def test_log_axis_labels_major_and_minor_ticks_alike():
    import matplotlib.ticker

    df = trials(3, n=30)
    fig = plot.plot_pareto(df)
    ax = fig.axes[0]
    ax.set_xlim(2e6, 5e7)  # a narrow range: minor ticks get labels too
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    labels = [t.get_text() for t in ax.xaxis.get_majorticklabels() + ax.xaxis.get_minorticklabels() if t.get_text()]
    assert labels and all(re.fullmatch(r"[0-9.]+[kMGT]?", lab) for lab in labels), labels
    assert "10M" in labels and any(lab in ("3M", "5M", "20M", "30M") for lab in labels), labels
    assert type(ax.xaxis.get_major_formatter()) is type(ax.xaxis.get_minor_formatter())
    assert not isinstance(ax.xaxis.get_minor_formatter(), matplotlib.ticker.LogFormatterSciNotation)


def test_front_helper_agrees_with_plot(tmp_path):
    """The plotted front uses analysis.pareto_front: the same rows, seen from the figure object."""
    df = trials(6, n=50, studies=("s",))
    fig = plot.plot_pareto(df)
    drawn = {int(a.get_gid().rsplit("-", 1)[1]) for a in fig.axes[0].lines
             if (a.get_gid() or "").startswith("front-point-")}
    assert drawn == set(an.pareto_front(df)["number"]) == reference_front(df, "macs", "val_acc")
