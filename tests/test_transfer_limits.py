"""`scalesearch load` of a file that is not a dump: a gzip that inflates to one huge line is refused once
`MAX_RECORD_BYTES` of that line is read (memory stays bounded), and a plain-text file, a gzip of text, a corrupt
gzip, a wrong first record, or a record that is not one of a dump's or out of its place, is one line naming the
file (and the line), exit 2, with nothing created: a database that did not exist still does not, one that did is
unchanged. Running out of memory while loading gives `load`'s remedy, not training advice."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna")

from support.search import REPO, dump

from scalesearch.cli import main
from scalesearch.errors import InputError
from scalesearch.search.dumpfile import MAX_RECORD_BYTES, load_study

COMMITTED = REPO / "results" / "resnext_control_pilot" / "study.jsonl.gz"
HEADER = json.dumps({"format": "scalesearch-dump", "version": 1, "study": "x"}).encode() + b"\n"
MIB_OF_X = gzip.compress(b"x" * (1 << 20), compresslevel=1)  # one gzip member: 1 MiB inflated, ~5 KB on disk


def write_gzip(path: Path, *members: bytes) -> Path:
    """A gzip file of several members, read back as one stream: what each inflates to, concatenated."""
    path.write_bytes(b"".join(members))
    return path


def long_line_dump(path: Path, mib: int) -> Path:
    """A dump whose second line is `mib` MiB long: each MiB one small compressed member, nothing inflated here."""
    return write_gzip(path, gzip.compress(HEADER + b'{"table": "trial", "row": "'), *[MIB_OF_X] * mib,
                      gzip.compress(b'"}\n'))


def bad_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    """case -> (file, the text its one-line error must hold)."""
    cases = {}
    p = tmp / "plain.txt"
    p.write_text("hello\nworld\n")
    cases["plain text"] = (p, f"{p}: not a scalesearch dump (BadGzipFile")
    p = write_gzip(tmp / "text.jsonl.gz", gzip.compress(b"hello world\n"))
    cases["gzip of text"] = (p, f"{p}:1: not JSON")
    p = write_gzip(tmp / "corrupt.jsonl.gz", gzip.compress(HEADER)[:10] + b"\xff" * 64)
    cases["corrupt gzip"] = (p, f"{p}: not a scalesearch dump (zlib.error")
    p = long_line_dump(tmp / "long.jsonl.gz", 4 * MAX_RECORD_BYTES >> 20)
    cases["record over the bound"] = (p, f"{p}:2: a line longer than {MAX_RECORD_BYTES:,} bytes")
    p = write_gzip(tmp / "noheader.jsonl.gz", gzip.compress(b'{"table": "study", "row": {}}\n'))
    cases["wrong first record"] = (p, f"{p}:1: not a scalesearch dump (no 'scalesearch-dump' header)")
    p = write_gzip(tmp / "list.jsonl.gz", gzip.compress(HEADER + b"[1, 2]\n"))
    cases["record not an object"] = (p, f"{p}:2: unexpected record [1, 2]")
    p = write_gzip(tmp / "deep.jsonl.gz", gzip.compress(HEADER + b"[" * 200_000 + b"\n"))
    cases["JSON nested too deep"] = (p, f"{p}:2: not JSON")
    with gzip.open(COMMITTED, "rb") as f:  # a real header and study record, then a trial whose row is no object
        head = f.readline() + f.readline()
    p = write_gzip(tmp / "shape.jsonl.gz", gzip.compress(head + b'{"table": "trial", "ref": 1, "row": "x"}\n'))
    cases["record of the wrong shape"] = (p, f"{p}:3: a trial record without its row")
    p = write_gzip(tmp / "order.jsonl.gz", gzip.compress(HEADER + b'{"table": "epoch", "trial": 1, "row": {}}\n'))
    cases["record out of order"] = (p, f"{p}:2: an epoch record before the study record")
    return cases


@pytest.fixture(scope="module")
def existing(tmp_path_factory) -> Path:
    """A SQLite database holding a committed study."""
    db = tmp_path_factory.mktemp("existing") / "r.db"
    assert load_study(COMMITTED, f"sqlite:///{db}")[1] > 0
    return db


@pytest.mark.parametrize("case", ["plain text", "gzip of text", "corrupt gzip", "record over the bound",
                                  "wrong first record", "record not an object", "JSON nested too deep",
                                  "record of the wrong shape", "record out of order"])
def test_a_file_that_is_not_a_dump_is_one_line_exit_2_and_creates_nothing(tmp_path, existing, capsys, case):
    path, expected = bad_files(tmp_path)[case]
    before = dump(existing)
    new = tmp_path / "new.db"
    for db in (new, existing):
        assert main(["load", str(path), "--db", f"sqlite:///{db}"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and err.startswith("scalesearch: error: ") and expected in err, (case, err)
        assert "batch-size" not in err
    assert not new.exists() and not list(tmp_path.glob("new.db*"))
    assert dump(existing) == before


def test_a_huge_line_is_refused_having_held_no_more_than_the_bound(tmp_path):
    """A line four times the bound: the reader stops once the bound is passed, so what it held at its peak is
    about the bound (reading the line whole, as a text line, would hold it four times over)."""
    path = long_line_dump(tmp_path / "long.jsonl.gz", 4 * MAX_RECORD_BYTES >> 20)
    with pytest.raises(InputError):  # warm-up: every import `load` makes is done before measuring
        load_study(path, f"sqlite:///{tmp_path / 'warm.db'}")
    tracemalloc.start()
    try:
        with pytest.raises(InputError, match="a line longer than"):
            load_study(path, f"sqlite:///{tmp_path / 'new.db'}")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1.5 * MAX_RECORD_BYTES, f"peak {peak:,} bytes"
    assert not (tmp_path / "new.db").exists()


# The CLI with its address space capped a little above what it holds once `load` has imported what it needs.
_CAPPED_CLI = """
import resource, sys
import optuna, sqlalchemy  # what `load` imports before it reads the file
from scalesearch.cli import main
import scalesearch.search.dumpfile
with open("/proc/self/status") as f:
    size = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
resource.setrlimit(resource.RLIMIT_AS, (size + (256 << 20), resource.RLIM_INFINITY))
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc to cap the address space")
def test_out_of_memory_while_loading_gives_loads_remedy_not_training_advice(tmp_path):
    """A record within the bound (16 MiB) that decodes into about 5.6 million lists (over 400 MB): more memory than
    the capped process has. The message names what `load` holds and what to do, and no training option."""
    lists = gzip.compress(b"[]," * (1 << 18), compresslevel=1)  # 768 KiB inflated
    path = write_gzip(tmp_path / "many.jsonl.gz", gzip.compress(HEADER + b"["), *[lists] * 22, gzip.compress(b"[]]\n"))
    db = tmp_path / "new.db"
    r = subprocess.run([sys.executable, "-c", _CAPPED_CLI, "load", str(path), "--db", f"sqlite:///{db}"],
                       capture_output=True, text=True, timeout=120, cwd=REPO, check=False,
                       env={k: v for k, v in os.environ.items() if k != "SCALESEARCH_DEBUG"})
    assert r.returncode == 2, r.stderr[-2000:]
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("scalesearch: error: out of memory"), r.stderr
    assert "dump's records are held" in r.stderr
    assert "--batch-size" not in r.stderr and "--resolution" not in r.stderr
    assert not db.exists()
