"""A throw-away two-node Ray cluster for the tests, on this machine and on 127.0.0.1 only.

Measured with Ray 2.60: `ray start --head --node-ip-address 127.0.0.1` still advertises the machine's outward
address, and with RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 (which keeps every service on loopback) `ray start --address`
refuses to join. Ray's own multi-node test utility, `ray.cluster_utils.Cluster`, with that variable set, starts a
head and a second node on 127.0.0.1 that Ray schedules on like any two nodes.

The cluster lives in a child process (`python tests/support/raycluster.py`), so that none of Ray's process-wide state
(the connected driver, internal KV, `/tmp/ray/ray_current_cluster`) leaks into the test process, and in its own
temporary folder (RAY_TMPDIR): `ray.init()` anywhere else never finds it. The child prints one JSON line (the GCS
address, both node ids, the PID of the second node's raylet) and ends the cluster when its stdin closes, so a
test that dies leaves nothing running. Node failures are detected within a few seconds (health checks every
second, 3 misses).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

HEALTH = {"health_check_period_ms": 1000, "health_check_failure_threshold": 3, "health_check_timeout_ms": 1000}


@dataclass
class RayCluster:
    """A running two-node cluster: `address` (GCS HOST:PORT), `head_id` and `node_id` (the second node), and
    `raylet_pid` (the second node's raylet, whose children are that node's workers)."""

    proc: subprocess.Popen
    root: str
    address: str
    head_id: str
    node_id: str
    raylet_pid: int

    def stop(self) -> None:
        """End the cluster (every process of both nodes) and remove its folder."""
        try:
            if self.proc.stdin is not None:
                self.proc.stdin.close()
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
        shutil.rmtree(self.root, ignore_errors=True)


def start(timeout: float = 120.0) -> RayCluster:
    """Start the cluster in a child process; RuntimeError with the child's last output when it cannot start."""
    root = tempfile.mkdtemp(prefix="ssrc-", dir="/tmp")  # short: Ray's socket paths must fit in 107 bytes
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    env.update(RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0", RAY_TMPDIR=root)
    with open(os.path.join(root, "cluster.log"), "w") as log:  # the child writes through its own copy
        proc = subprocess.Popen([sys.executable, __file__, root], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=log, text=True, env=env)
    deadline = time.monotonic() + timeout
    line = ""
    while time.monotonic() < deadline and proc.poll() is None:
        line = proc.stdout.readline() if proc.stdout is not None else ""
        if line.startswith("{"):
            info = json.loads(line)
            return RayCluster(proc, root, info["address"], info["head_id"], info["node_id"], info["raylet_pid"])
    proc.kill()
    proc.wait(timeout=30)
    with open(os.path.join(root, "cluster.log")) as f:
        tail = f.read()[-2000:]
    shutil.rmtree(root, ignore_errors=True)
    raise RuntimeError(f"the two-node Ray cluster did not start: {tail}")


def _serve(root: str) -> None:
    """The child: start the cluster, say where it is, keep it until stdin closes."""
    from ray.cluster_utils import Cluster

    temp_dir = os.path.join(root, "ray")
    os.makedirs(temp_dir, exist_ok=True)
    common = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "temp_dir": temp_dir}
    cluster = Cluster(initialize_head=True, shutdown_at_exit=True,
                      head_node_args={**common, "include_dashboard": False, "_system_config": HEALTH})
    try:
        second = cluster.add_node(**common)
        cluster.wait_for_nodes()
        print(json.dumps({"address": cluster.address, "head_id": cluster.head_node.node_id,
                          "node_id": second.node_id,
                          "raylet_pid": second.all_processes["raylet"][0].process.pid}), flush=True)
        sys.stdin.read()  # until the test closes our stdin (or dies)
    finally:
        cluster.shutdown()


if __name__ == "__main__":
    _serve(sys.argv[1])
