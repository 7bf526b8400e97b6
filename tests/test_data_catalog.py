"""The dataset catalog: one row per dataset holds its facts and names its reader; the rows stay torch-free, every
reader resolves, and a row added to the table is loaded, split and described with no other change."""

from __future__ import annotations

import subprocess
import sys

import pytest

from scalesearch.data.catalog import DATASETS, ReadRequest, dataset_info, reader_function
from scalesearch.data.loader import load_dataset
from scalesearch.errors import InputError


def test_every_row_names_a_reader_that_resolves_to_a_function():
    for name, info in DATASETS.items():
        assert info.name == name
        assert callable(reader_function(info.reader)), name
        assert not info.classes or len(info.classes) == info.num_classes, name


def test_reading_the_catalog_imports_no_torch():
    code = ("import sys\nfrom scalesearch.data.catalog import DATASETS, dataset_info\n"
            "rows = [dataset_info(n) for n in DATASETS]\nprint('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_a_row_added_to_the_table_is_loaded_with_no_other_change(monkeypatch):
    from support import catalog_row

    row = catalog_row.ROW
    monkeypatch.setitem(DATASETS, row.name, row)
    data = load_dataset(row.name, val_size=4, train_size=10, test_size=6, seed=3, offset=7)
    assert (len(data.train), len(data.val), len(data.test)) == (10, 4, 6)
    assert data.num_classes == 3 and data.resolution == 6 and data.in_channels == 1
    # its settings reach the reader, and the same seed gives the same splits
    again = load_dataset(row.name, val_size=4, train_size=10, test_size=6, seed=3, offset=7)
    assert bool((data.train.x == again.train.x).all())
    other = load_dataset(row.name, val_size=4, train_size=10, test_size=6, seed=3, offset=8)
    assert not bool((data.train.x == other.train.x).all())
    with pytest.raises(InputError, match="unknown offsets"):
        load_dataset(row.name, val_size=4, offsets=1)
    # a row without settings refuses them, naming the datasets that take some
    with pytest.raises(InputError, match=f"apply to .*{row.name}"):
        load_dataset("fashion-mnist", val_size=4, offset=1)


def test_the_reader_of_own_data_needs_a_path():
    with pytest.raises(InputError, match="needs a path"):
        dataset_info("npz").read(ReadRequest(dataset_info("npz")))
