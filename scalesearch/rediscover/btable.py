"""EfficientNet B0 -> B7 (no training): the phi each released model's multipliers imply under a set of coefficients,
its exact MACs against the nominal 2**phi (`efficientnet_b_table`), and the markdown, CSV and figure of it
(`write_b_table`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from scalesearch.rediscover.drawing import save_figure
from scalesearch.rediscover.efficientnet import PAPER_COEFFICIENTS
from scalesearch.rediscover.reading import OUT_REMEDY
from scalesearch.util.files import output_folder
from scalesearch.util.text import md_table

B_TABLE_FOLDER = "efficientnet_b0_b7"  # the table's folder under a results root


def efficientnet_b_table(coefficients: Mapping[str, Sequence[float]] | None = None) -> pd.DataFrame:
    """B0 -> B7: the phi each released model's multipliers imply, and its exact MACs against the nominal 2**phi.

    For each coefficient set (alpha, beta, gamma) and each released Bk (width w, depth d, resolution r, PAPERS.md):
    phi_d = log d / log alpha, phi_w = log w / log beta, phi_r = log(r / 224) / log gamma, and phi_ls, the least-
    squares phi of the three (log of each multiplier against phi * log of its coefficient). MACs are the exact
    analytic MACs of the preset (3 x r x r input, 1000 classes, conv + linear multiply-adds); `phi_macs` =
    log2(MACs / B0's MACs), the phi the MACs imply under the 2**phi rule; `nominal_x` = 2**k for Bk.

    Args:
        coefficients: name -> (alpha, beta, gamma); default the paper's only.

    Returns:
        One row per (coefficients, Bk).
    """
    from scalesearch import nets as arch
    from scalesearch.nets import cost

    coefficients = dict(coefficients or {"paper": PAPER_COEFFICIENTS})
    macs0 = cost.count(arch.PRESETS["efficientnet_b0"]()).macs
    rows = []
    for name, (a, b, g) in coefficients.items():
        la, lb, lg = math.log(a), math.log(b), math.log(g)
        for k, (bname, (w, d, r, _)) in enumerate(arch.EFFICIENTNET_COEFFICIENTS.items()):
            c = cost.count(arch.PRESETS[f"efficientnet_{bname}"]())
            ld, lw, lr = math.log(d), math.log(w), math.log(r / 224)
            phi_ls = (ld * la + lw * lb + lr * lg) / (la * la + lb * lb + lg * lg)
            rows.append({"coefficients": name, "alpha": a, "beta": b, "gamma": g, "model": bname.upper(),
                         "width": w, "depth": d, "resolution": r,
                         "phi_d": ld / la if la else math.nan, "phi_w": lw / lb if lb else math.nan,
                         "phi_r": lr / lg if lg else math.nan, "phi_ls": phi_ls,
                         "macs": c.macs, "params": c.params, "macs_x_b0": c.macs / macs0,
                         "phi_macs": math.log2(c.macs / macs0), "nominal_phi": k, "nominal_x": 2.0 ** k,
                         "x_at_phi_ls": 2.0 ** phi_ls})
    return pd.DataFrame(rows)


_PAPER_B = {"B0": (0.39, 77.1), "B1": (0.70, 79.1), "B2": (1.0, 80.1), "B3": (1.8, 81.6), "B4": (4.2, 82.9),
            "B5": (9.9, 83.6), "B6": (19, 84.0), "B7": (37, 84.3)}


def _b_table_markdown(tab: pd.DataFrame) -> str:
    head = ["coefficients", "model", "w", "d", "r", "phi_d", "phi_w", "phi_r", "phi (LS)", "MACs (exact)",
            "paper FLOPs", "MACs / B0", "2^phi (LS)", "nominal 2^k", "phi from MACs"]
    rows = [[f"{r['coefficients']} ({r['alpha']:g}, {r['beta']:g}, {r['gamma']:g})", str(r["model"]),
             f"{r['width']:g}", f"{r['depth']:g}", str(r["resolution"]), f"{r['phi_d']:.2f}", f"{r['phi_w']:.2f}",
             f"{r['phi_r']:.2f}", f"{r['phi_ls']:.2f}", f"{r['macs'] / 1e9:.3f} G", f"{_PAPER_B[r['model']][0]:g} B",
             f"{r['macs_x_b0']:.2f}x", f"{r['x_at_phi_ls']:.2f}x", f"{r['nominal_x']:g}x", f"{r['phi_macs']:.2f}"]
            for _, r in tab.iterrows()]
    return md_table(head, rows)


def write_b_table(out: str | Path | None = None, coefficients: Mapping[str, Sequence[float]] | None = None, *,
                  found_note: str = "") -> Path:
    """Write the B0 -> B7 analysis (markdown + CSV + figure) into `out` (default results/efficientnet_b0_b7, created
    and marked, or used when it is marked, else refused: `util.files.output_folder`); returns the markdown path."""
    tab = efficientnet_b_table(coefficients)
    named = out is not None
    folder = output_folder(out if named else Path("results") / B_TABLE_FOLDER, named=named, remedy=OUT_REMEDY)
    tab.to_csv(folder / "b0_b7.csv", index=False, float_format="%.6g")
    paper = tab[tab["coefficients"] == "paper"]
    rest = paper.iloc[1:]
    spread = (rest[["phi_d", "phi_w", "phi_r"]].max(axis=1) - rest[["phi_d", "phi_w", "phi_r"]].min(axis=1))
    short = rest["macs_x_b0"] / rest["nominal_x"]
    lines = [
        "# EfficientNet B0 -> B7: the phi each released model implies (no training)", "",
        ("Computed by `scalesearch rediscover b0-b7` from the released multipliers "
         "(width, depth, resolution; PAPERS.md) and the exact analytic MACs of the presets (3 x r x r input, "
         "1000 classes; conv and linear multiply-adds, what the paper calls FLOPs)."), "",
        ("phi_d = log(d) / log(alpha), phi_w = log(w) / log(beta), phi_r = log(r / 224) / log(gamma); phi (LS) is the "
         "least-squares phi of the three log multipliers; 'phi from MACs' = log2(MACs / MACs(B0)). Under compound "
         "scaling with alpha * beta^2 * gamma^2 = 2 one integer phi would give phi_d = phi_w = phi_r = k and MACs "
         "2^k x B0."), "", found_note, "", _b_table_markdown(tab), "",
        "## What it shows", "",
        (f"- Under the paper's coefficients the three implied phis of one model disagree by "
         f"{spread.min():.2f} to {spread.max():.2f} (B1..B7): the released models do not follow one phi. "
         f"B1's width is not scaled at all (phi_w = 0) while its depth implies phi = {paper.iloc[1]['phi_d']:.2f}."),
        (f"- B7's exact MACs are {paper.iloc[-1]['macs_x_b0']:.0f}x B0's, i.e. phi = {paper.iloc[-1]['phi_macs']:.2f} "
         f"from MACs, against nominal 2^7 = 128x; its least-squares phi is {paper.iloc[-1]['phi_ls']:.2f}."),
        "- Every B_k costs less than the nominal 2^k x B0: " + ", ".join(
            f"{m} {x:.2f}x vs {n:g}x"
            for m, x, n in zip(rest["model"], rest["macs_x_b0"], rest["nominal_x"], strict=True))
        + f" ({short.min():.0%} to {short.max():.0%} of nominal; furthest behind: "
        f"{rest['model'].iloc[int(np.argmin(short.to_numpy()))]}).",
        ("- The paper's product alpha * beta^2 * gamma^2 is 1.92, not 2, and channel/repeat rounding adds to the "
         "drift: 'phi from MACs' and phi (LS) differ per model."), "",
        (f"Exact MACs: ours vs the paper's FLOPs (Table 2) agree within the rounding of the paper's figures "
         f"(B0 {paper.iloc[0]['macs'] / 1e9:.3f} G vs 0.39 B)."),
    ]
    md = folder / "b0_b7.md"
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for name, g in tab.groupby("coefficients", sort=False):
            ax.plot(g["nominal_phi"], g["phi_ls"], "o-", label=f"phi (LS), {name}")
        ax.plot(paper["nominal_phi"], paper["phi_macs"], "s--", label="phi from exact MACs")
        ax.plot([0, 7], [0, 7], ":", color="grey", label="one integer phi")
        ax.set_xlabel("model k (B_k)")
        ax.set_ylabel("implied phi")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        save_figure(fig, folder, "b0_b7_phi")
    except ImportError:
        pass
    return md
