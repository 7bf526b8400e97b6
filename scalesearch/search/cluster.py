"""Ray for a search: a local Ray bound to 127.0.0.1 started (and stopped) by scalesearch, or an existing cluster
joined with `--address`, or the Ray this process already runs (tests, notebooks), left as it is.

Local Ray: `RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0` is set before Ray starts (its single-machine switch: with
`_node_ip_address="127.0.0.1"` alone, six of Ray's services listened on every interface), the dashboard is off
(Ray still runs its head process, with the web frontend disabled and no port open), usage statistics are not
reported, workers' output is not forwarded, worker processes run at the driver's niceness (Ray's default is 15:
a trial would wait behind every other program of the machine), and token authentication stays on (the runtime-env
agent answers HTTP with 401). The local Ray gets one trial's CPUs more
than `max_concurrency` trials need: Tune places the next trial's placement group while the current ones still
hold theirs, and without that slack a reused actor waited 0.5-1 s per trial at concurrency 2 on 2 cores (0.01 s
with it). The concurrency limit, not the CPU count, bounds what runs at once.

`--address HOST:PORT` is checked first, within 3 s each: a TCP connection, then the opening of an HTTP/2 (gRPC)
session, which Ray's GCS answers at once with its SETTINGS frame. `ray.init` itself retries an unreachable address
for minutes, and waited more than 10 minutes on a port where something accepted the connection and said nothing.
With `RAY_USE_TLS=1` the GCS expects TLS first, and only the TCP connection is checked. The driver joins as a Ray
driver on a node of the cluster (Tune's controller runs in it): a Ray Client address (`ray://`) is refused. On a
cluster whose address is on loopback the driver stays on 127.0.0.1 too; on another host it advertises its network
address, as Ray does by default (docs/cluster.md says how to set up a multi-machine cluster).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from dataclasses import dataclass
from typing import Any

from scalesearch.errors import ClusterError, InputError

__all__ = ["RaySession", "connect", "is_loopback", "probe_address", "set_ray_environment"]

PROBE_TIMEOUT_S = 3.0
# the client connection preface of HTTP/2 (RFC 9113, 3.4) and an empty SETTINGS frame: a gRPC server answers with
# its own SETTINGS frame
_HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])

# Environment for Ray and Tune, set before either is imported (Tune reads some at import time).
_RAY_ENV = {
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",  # every service on the node IP (127.0.0.1), not on all interfaces
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",  # no per-trial json/csv/tensorboard files: the database has it all
    "TUNE_DISABLE_STRICT_METRIC_CHECKING": "1",  # a failed trial's last report has no epoch/val_acc
    "RAY_AIR_NEW_OUTPUT": "0",  # the classic reporter honours verbose=0 (scalesearch prints its own progress)
    "RAY_DEDUP_LOGS": "0",
    "RAY_USAGE_STATS_ENABLED": "0",  # Ray reports no usage statistics to its makers' servers
    # Ray starts its worker processes at niceness 15 by default: a trial (the whole point of a search) would wait
    # behind every other program of the machine. Workers of a Ray scalesearch starts run at the driver's niceness
    # (`nice scalesearch run ...` still lowers them all); a cluster started by `ray start` keeps its own setting.
    "RAY_worker_niceness": "0",
    # Tune's experiment checkpoint (its searcher and trial table, for Tuner.restore) is never used: the database is
    # the checkpoint. Without periodic saves a trial costs less, and the final save races its own sync (a
    # FileNotFoundError Ray logs as an error, harmless).
    "TUNE_GLOBAL_CHECKPOINT_S": str(10 ** 9),
}


def set_ray_environment() -> None:
    """Set the environment variables above (those the user has not set)."""
    for k, v in _RAY_ENV.items():
        os.environ.setdefault(k, v)


def probe_address(address: str, timeout: float = PROBE_TIMEOUT_S) -> None:
    """Raise OSError (one line) unless a Ray GCS answers at HOST:PORT within `timeout` seconds (see the module
    docstring); ValueError for a malformed address or a Ray Client one (`ray://`)."""
    if "://" in address:
        raise InputError(f"--address {address!r}: expected HOST:PORT of the Ray cluster's head (its GCS, e.g. "
                         "10.0.0.5:6379); Ray Client addresses (ray://) are not supported: Tune's controller and "
                         "scalesearch's driver must run in this process, on a node of the cluster")
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise InputError(f"--address {address!r}: expected HOST:PORT of a Ray cluster's head (e.g. 10.0.0.5:6379)")
    try:
        conn = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
    except OSError as e:
        why = e.strerror or type(e).__name__ if not isinstance(e, socket.timeout) else f"no answer in {timeout:g} s"
        raise ClusterError(f"--address {address}: cannot reach a Ray cluster there ({why})") from None
    with conn:
        if os.environ.get("RAY_USE_TLS", "0").lower() in ("1", "true"):
            return
        try:
            conn.settimeout(timeout)
            conn.sendall(_HTTP2_PREFACE)
            head = conn.recv(9)
        except TimeoutError:
            raise ClusterError(f"--address {address}: no Ray cluster answered there within {timeout:g} s (something "
                          "accepts connections on that port but does not speak Ray's protocol)") from None
        except OSError as e:
            raise ClusterError(f"--address {address}: cannot reach a Ray cluster there "
                          f"({e.strerror or type(e).__name__})") from None
    if len(head) < 9 or head[3] != 0x04:  # an HTTP/2 frame header whose type is SETTINGS
        raise ClusterError(f"--address {address}: the server there is not a Ray cluster (it does not answer as Ray's "
                      "GCS does)")


@dataclass
class RaySession:
    """The Ray a search runs on. `started`: scalesearch started it (and `close` stops it)."""

    address: str
    started: bool
    cpus: float

    def close(self) -> None:
        """Stop Ray if this session started it (only then)."""
        if self.started:
            import ray

            ray.shutdown()
            self.started = False


def connect(address: str | None, *, num_cpus: float | None = None) -> RaySession:
    """Join `address`, reuse the Ray this process runs, or start a local one bound to 127.0.0.1.

    Args:
        address: HOST:PORT of a running cluster, or None for a local Ray.
        num_cpus: logical CPUs of a local Ray (default: the machine's).

    Raises:
        OSError: the address does not answer.
        ValueError: the address is malformed.
    """
    set_ray_environment()
    if address is not None:
        probe_address(address)
    import ray

    if ray.is_initialized():
        return RaySession(_gcs_address(ray), started=False, cpus=float(ray.cluster_resources().get("CPU", 0)))
    quiet = {"log_to_driver": False, "logging_level": logging.WARNING}
    from ray._private import ray_constants

    if address is not None:
        # A cluster on this machine's loopback (tests, a single-machine `ray start`) keeps the driver on 127.0.0.1
        # too; on another host the driver must advertise its network address, as Ray does by default (with
        # RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 it would look for its node's raylet on 127.0.0.1 and not find it).
        ray_constants.ENABLE_RAY_CLUSTER = not is_loopback(address.rpartition(":")[0])
        ray.init(address=address, **quiet)
        return RaySession(_gcs_address(ray), started=False, cpus=float(ray.cluster_resources().get("CPU", 0)))
    # Ray turns token authentication on for a new local cluster and says so on every start: keep it, quietly.
    logging.getLogger("ray._private.authentication.authentication_token_setup").setLevel(logging.ERROR)
    # Ray reads RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER when it is first imported; if something imported it before
    # set_ray_environment ran, apply the setting now (the services Ray spawns read it from the environment).
    ray_constants.ENABLE_RAY_CLUSTER = False
    # address="local": a new Ray even where `ray start` left its address in /tmp/ray/ray_current_cluster or
    # RAY_ADDRESS is set (`ray.init()` would join that cluster instead, and refuse num_cpus); --address joins one
    ray.init(address="local", _node_ip_address="127.0.0.1", include_dashboard=False, num_cpus=num_cpus, **quiet)
    session = RaySession(_gcs_address(ray), started=True, cpus=float(ray.cluster_resources().get("CPU", 0)))
    if not session.address.startswith("127.0.0.1:"):
        session.close()
        raise ClusterError(f"the local Ray started on {session.address}, not on 127.0.0.1; refusing to run with Ray "
                      "listening beyond this machine (start Ray yourself and pass --address to choose)")
    return session


def is_loopback(host: str) -> bool:
    """Whether every address `host` resolves to is a loopback one (127.0.0.0/8, ::1); False when it does not
    resolve."""
    host = host.strip("[]")
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0].split("%", 1)[0]).is_loopback for i in infos)


def _gcs_address(ray: Any) -> str:
    try:
        return str(ray.get_runtime_context().gcs_address)
    except Exception:  # noqa: BLE001 - informational only
        return "?"
