"""Rows of the read side written out: a DataFrame as a fixed-width table, CSV, JSON records or Parquet, to a file
or standard output (what `scalesearch query` writes).

`reading_columns` picks the columns a person reads first for the table format; `format_table` lays a frame out
as text; `write_frame` writes it in one of `FORMATS`. pandas, numpy and pyarrow are imported inside the functions,
so that the CLI declares `--format` from `FORMATS` without loading them (`scalesearch.results` loads pandas on
import, which is why this module is not inside it). User errors (an unknown format, an `--out` in a missing folder,
Parquet to a terminal or without pyarrow) are one-line `InputError`/`FileError`s.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from scalesearch.errors import FileError, InputError, MissingFileError
from scalesearch.util.text import table

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["FORMATS", "format_table", "reading_columns", "write_frame"]

FORMATS = ("table", "csv", "json", "parquet")


def reading_columns(df: pd.DataFrame, *, aggregated: bool) -> pd.DataFrame:
    """The columns a person reads first: ids, label, parameters, costs, metrics (every column stays in csv,
    json and parquet)."""
    params = list(df.attrs.get("parameters", []))
    if aggregated:
        want = ["study", "arch", *params, "macs", "params", "n_complete", "val_acc_mean", "val_acc_se", "val_acc_lo",
                "val_acc_hi", "test_acc_mean"]
    else:
        want = ["study", "number", "state", "arch", *params, "macs", "params", "val_acc", "test_acc", "repeat",
                "seed"]
    cols = [c for c in dict.fromkeys(want) if c in df.columns]
    out = df[cols]
    if not aggregated and "test_acc" in out.columns and out["test_acc"].isna().all():
        out = out.drop(columns="test_acc")
    out.attrs = dict(df.attrs)
    return out


def _cell(v: Any, col: str) -> str:
    """One table cell: integers with separators, accuracies to 4 decimals, other floats to 4 digits, hashes cut."""
    import numpy as np
    import pandas as pd

    if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)) or (v is pd.NaT):
        return "-"
    if isinstance(v, (bool, np.bool_)):
        return str(bool(v)).lower()
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}" if col in ("macs", "params", "acts") else str(int(v))
    if isinstance(v, (float, np.floating)):
        f = float(v)
        if col in ("macs", "params", "acts") and f.is_integer():
            return f"{int(f):,}"
        if f.is_integer() and abs(f) < 1e15 and col in ("seed", "repeat", "number", "epochs", "steps", "n_complete",
                                                         "n_incomplete", "optuna_trial", "attempts"):
            return str(int(f))
        if "acc" in col:
            return f"{f:.4f}"
        return f"{f:.4g}"
    if isinstance(v, pd.Timestamp):
        return v.isoformat(sep=" ", timespec="seconds")
    s = " ".join(str(v).split())
    if col in ("config_key", "key"):
        return s[:12]
    return s if len(s) <= 40 else s[:37] + "..."


def format_table(df: pd.DataFrame) -> str:
    """A fixed-width text table: numbers right-aligned, text left-aligned, "-" for no value.

    Example:
        >>> import pandas as pd
        >>> print(format_table(pd.DataFrame({"arch": ["n=1", "n=2"], "macs": [1000, 25000], "val_acc": [0.5, None]})))
        arch    macs  val_acc
        ----  ------  -------
        n=1    1,000   0.5000
        n=2   25,000        -
    """
    cols = [str(c) for c in df.columns]
    cells = [[_cell(v, c) for v in df[c].tolist()] for c in cols]
    numeric = [df[c].dtype.kind in "iuf" for c in cols]
    return table([cols, *zip(*cells, strict=True)], align="".join(">" if num else "<" for num in numeric))


def _jsonable(df: pd.DataFrame) -> str:
    return df.to_json(orient="records", date_format="iso", date_unit="s", double_precision=15, force_ascii=False)


def write_frame(df: pd.DataFrame, fmt: str, out: str | os.PathLike[str] | None = None, *,
                total: int | None = None, stream: IO[str] | None = None) -> None:
    """Write a DataFrame as a table, CSV, JSON records or Parquet, to a file or standard output.

    Args:
        df: the rows.
        fmt: one of `FORMATS`.
        out: a file to write (its folder must exist), or None for standard output.
        total: rows before filtering, for the table's footer.
        stream: the text stream for standard output (default sys.stdout).
    """
    stream = stream or sys.stdout
    if fmt not in FORMATS:
        raise InputError(f"--format: expected one of {', '.join(FORMATS)}, got {fmt!r}")
    if fmt == "parquet":
        if out is None:
            if stream.isatty():
                raise InputError("--format parquet: binary output; give --out FILE or redirect standard output")
            import io

            buf = io.BytesIO()
            _to_parquet(df, buf)
            stream.flush()
            sys.stdout.buffer.write(buf.getvalue())
            sys.stdout.buffer.flush()
            return
        _check_out(out)
        _to_parquet(df, out)
        return
    if fmt == "csv":
        text = df.to_csv(index=False, date_format="%Y-%m-%dT%H:%M:%S")
    elif fmt == "json":
        text = _jsonable(df) + "\n"
    else:
        if df.empty:
            text = "no rows match\n" if total else "no trials\n"
        else:
            text = format_table(df) + "\n"
            if total is not None and len(df) < total:
                text += f"({len(df)} of {total} rows)\n"
    if out is None:
        stream.write(text)
        stream.flush()
    else:
        _check_out(out)
        Path(out).write_text(text, encoding="utf-8")


def _check_out(out: str | os.PathLike[str]) -> None:
    path = Path(out)
    if path.is_dir():
        raise FileError(f"--out {path}: is a folder; expected a file name")
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise MissingFileError(f"--out {path}: no folder {parent}")


def _missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v))


def _to_parquet(df: pd.DataFrame, target: Any) -> None:
    """Parquet through pyarrow; columns of mixed Python types (a parameter that is a number in one study and a
    name in another) are written as text."""
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        raise InputError("--format parquet: needs pyarrow (pip install pyarrow)") from None
    d = df.copy()
    d.attrs = {}
    for c in d.columns:
        if d[c].dtype == object:
            kinds = {type(v) for v in d[c].tolist() if not _missing(v)}
            if len(kinds) > 1:
                d[c] = d[c].map(lambda v: None if _missing(v) else str(v))
    d.to_parquet(target, index=False)
