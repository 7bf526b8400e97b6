"""Shared fixtures. torchvision 0.29.1 is the test-only reference for parameter counts."""

from __future__ import annotations

import importlib
import os
import sys
import types
import warnings

import pytest
from hypothesis import settings

# CI (CI=true) replays a fixed set of examples so that a landing never hangs on a random draw; local runs explore
# new examples each time, and HYPOTHESIS_PROFILE=thorough explores many more.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("thorough", max_examples=1500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if os.environ.get("CI") else "default"))

# `make test` runs two pytest workers on a 2-core machine: each test process, and every process a test starts (a
# driver, `scalesearch train`, a script), runs torch on one intra-op thread, as a search's trial worker does. With
# torch's default, a thread per core, OpenMP's threads spun waiting for work against the other worker's processes
# (test_properties alone: 25 CPU-s on two threads, 12 on one). Set before torch is first imported; a value the
# caller set is kept.
os.environ.setdefault("OMP_NUM_THREADS", "1")

# Ray's environment (loopback only, no usage statistics, ...), set as scalesearch sets it before Ray is first
# imported: some tests import Ray themselves before any scalesearch code connects.
from scalesearch.search.cluster import set_ray_environment

set_ray_environment()


@pytest.fixture(scope="session")
def tv_models():
    """torchvision.models, imported with its C-extension meta registrations skipped.

    torchvision 0.29.1's compiled ops target torch>=2.14, and the project pins torch 2.13.0 (the local CPU
    build). The model builders are pure Python and need none of those ops, so the module that registers fake
    kernels for them (and fails when they are absent) is replaced by an empty one before import.
    """
    if "torchvision" not in sys.modules:
        sys.modules.setdefault("torchvision._meta_registrations", types.ModuleType("torchvision._meta_registrations"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            tv = importlib.import_module("torchvision")
        except ImportError:
            pytest.skip("torchvision (test-only reference) is not installed")
    if not tv.__version__.startswith("0.29.1"):
        pytest.skip(f"reference counts are pinned to torchvision 0.29.1, found {tv.__version__}")
    return importlib.import_module("torchvision.models")


@pytest.fixture(scope="session")
def postgres():
    """A throw-away PostgreSQL server on 127.0.0.1 (tests/support/pgserver.py); skips with the reason where none can be
    started. Each test creates its own database with `postgres.create_database(name)`."""
    from support import pgserver

    try:
        server = pgserver.start()
    except pgserver.Unavailable as e:
        pytest.skip(f"no PostgreSQL server: {e}")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def ray_session():
    """One local Ray for the whole test session (bound to 127.0.0.1): in-process drivers reuse it, CLI subprocesses
    join it with `--address`, so the search tests pay for one Ray start-up."""
    pytest.importorskip("ray")
    pytest.importorskip("optuna")
    from scalesearch.search.cluster import connect

    # No module preloading: Ray starts an idle worker pool once, which the first two actors take; every later trial
    # actor is a fresh process whatever is preloaded (measured: the same CPU with and without it).
    session = connect(None, num_cpus=4)
    yield session
    session.close()  # stops Ray only if this fixture started it


@pytest.fixture(scope="module")
def toy_db(request, tmp_path_factory, ray_session):
    """The rediscovery experiments the test file names in `EXPERIMENTS`, trained at toy size once for the file
    (support/toy_rediscover.py): (db URL, study names per experiment, folder)."""
    from support.toy_rediscover import train_toy

    return train_toy(tuple(request.module.EXPERIMENTS), tmp_path_factory.mktemp("rediscover"), ray_session)
