"""Security: the local Ray that `scalesearch run` starts listens on 127.0.0.1 only and runs no dashboard; the
database file and the results folder are created owner-only whatever the umask; no spec field, query or study name
reaches a shell or a SQL string (hostile names are rejected with one line or stored verbatim, and the package
builds no SQL or command line from text).
"""

from __future__ import annotations

import ast
import os
import stat
import subprocess
from pathlib import Path

import pytest

pytest.importorskip("ray")
pytest.importorskip("optuna")

from support.procs import descendants, listening, resume, step_until, wait_gone
from support.search import (
    REPO,
    cli,
    cli_popen,
    dump,
    optuna_trials,
    spec_text,
    study_running,
)

import scalesearch
from scalesearch.store import Reader

HOSTILE = "x'; DROP TABLE scalesearch_trials; --"
RAY_DASHBOARD_PORT = 8265


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _niceness(pid: int) -> int | None:
    """The process's nice value (/proc/PID/stat's 19th field); None once it has gone."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[16])
    except OSError:
        return None


def _http_status(addr: str) -> int | None:
    """The HTTP status of `GET /` at HOST:PORT (None: no HTTP answer; Ray's gRPC ports say nothing HTTP)."""
    import http.client

    host, port = addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=2)
    try:
        conn.request("GET", "/")
        return conn.getresponse().status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="needs Linux /proc")
def test_local_ray_is_loopback_only_without_dashboard_is_stopped_at_the_end_and_files_are_owner_only(tmp_path):
    results = tmp_path / "fresh" / "results"  # neither folder exists yet: the run creates them
    db = results / "scalesearch.db"
    spec = tmp_path / "spec.yaml"
    spec.write_text(spec_text("sec", "architecture: {family: cifar_resnet, args: {depth: 8, width: w}}\n"
                                     "parameters: {w: {grid: [4, 6]}}\nsearch: {sampler: grid}\n",
                              train="epochs: 4, batch_size: 50, warmup_epochs: 0"))
    # nothing of the test's Ray settings: scalesearch itself keeps its Ray on loopback
    env = {k: v for k, v in os.environ.items()
           if k not in ("RAY_ADDRESS", "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "RAY_worker_niceness")}
    proc = cli_popen("run", str(spec), "--db", str(db), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                     env=env, preexec_fn=lambda: os.umask(0))  # the most permissive umask
    modes: dict[str, int] = {}

    def running() -> bool:
        try:
            return Reader(db).counts("sec").get("running", 0) >= 1
        except (LookupError, FileNotFoundError, ValueError):
            return False

    try:
        # looked at with the driver stopped while a trial runs (`_procs.step_until`): its Ray is all there
        step_until(proc.pid, running, "a running trial", ready=lambda: study_running(str(db), "sec"))
        pids = descendants(proc.pid) | {proc.pid}
        sockets = listening(pids)
        commands = {p: _cmdline(p) for p in pids}
        nice = {p: _niceness(p) for p in pids}
        pages = {addr: _http_status(addr) for _, addr in sockets}
        for p in (results.parent, results, db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            if p.exists():
                modes[p.name] = stat.S_IMODE(p.stat().st_mode)
        resume(proc.pid)
        out, _ = proc.communicate(timeout=240)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out
    assert "local Ray 127.0.0.1:" in out  # the run says where its Ray listens
    assert len(sockets) >= 3, sockets  # the GCS, the raylet, the object manager... were found
    assert all(addr.startswith(("127.0.0.1:", "::1:")) for _, addr in sockets), sockets
    assert not [a for _, a in sockets if a.endswith(f":{RAY_DASHBOARD_PORT}")]  # no dashboard on its port ...
    assert not [(a, code) for a, code in pages.items() if code == 200], pages  # ... nor a web page on any port
    heads = [p for p, c in commands.items() if "dashboard/dashboard.py" in c]  # Ray's head process, if it runs one,
    assert all("--disable-frontend" in commands[p] for p in heads)  # has its web frontend off ...
    assert not [a for p, a in sockets if p in heads]  # ... and listens on nothing
    assert modes["results"] == 0o700 and modes["fresh"] == 0o700, modes
    # Ray's workers (the running trial's among them) at the driver's niceness, not Ray's default 15, which leaves a
    # search's trials waiting behind every other program of the machine
    workers = {p for p, c in commands.items() if c.startswith("ray::")}
    assert workers and {nice[p] for p in workers} == {nice[proc.pid]}, {commands[p]: nice[p] for p in pids}
    assert modes["scalesearch.db"] == 0o600 and modes.get("scalesearch.db-wal", 0o600) == 0o600, modes
    assert not wait_gone(pids - {proc.pid}, 60)
    print(f"\n{len(sockets)} listening sockets, all on loopback: {sorted(a for _, a in sockets)}; modes "
          f"{ {k: oct(v) for k, v in modes.items()} }")


def test_hostile_names_are_rejected_or_stored_verbatim(tmp_path, ray_session):
    db_path = tmp_path / "r.db"
    db = str(db_path)
    text = spec_text("ok", f"""\
architecture: {{family: cifar_resnet, args: {{depth: 8, width: 4, shortcut: s}}}}
parameters: {{s: {{choice: ["A", "{HOSTILE}"]}}}}
search: {{sampler: grid}}
""", train="epochs: 1, batch_size: 50, warmup_epochs: 0")
    good = tmp_path / "ok.yaml"
    good.write_text(text)
    assert scalesearch.run(str(good), db=db, address=ray_session.address, progress=False).state == "finished"
    # a spec value is data: the candidate that carries it is rejected (not a shortcut) and stored verbatim
    trials = {t.values["s"]: t for t in Reader(db).trials("ok")}
    assert trials["A"].state == "completed"
    assert trials[HOSTILE].state == "rejected" and trials[HOSTILE].parameters == {"s": HOSTILE}
    assert HOSTILE in trials[HOSTILE].rejected_by[0] and HOSTILE in Reader(db).study("ok").spec_text
    assert [o.params["s"] for o in optuna_trials(f"sqlite:///{db_path}", "ok") if o.state.name == "PRUNED"] == [HOSTILE]
    before = dump(db_path)
    bad_spec = tmp_path / "bad.yaml"
    bad_spec.write_text(text.replace("study: ok", f'study: "{HOSTILE}"'))
    cases = {
        "study name in a spec": (["run", str(bad_spec), "--db", db], "study"),
        "--study": (["run", str(good), "--db", db, "--study", HOSTILE], "--study"),
        "status": (["status", HOSTILE, "--db", db], "no study"),
        "resume": (["resume", HOSTILE, "--db", db], "no study"),
        "query": (["query", HOSTILE, "--db", db], HOSTILE[:10]),
        "query --where": (["query", "ok", "--db", db, "--where", "val_acc > 0; DROP TABLE scalesearch_trials"],
                          "--where"),
    }
    for what, (args, message) in cases.items():
        r = cli(*args, timeout=120)
        assert r.returncode == 2, (what, r.stdout, r.stderr)
        assert r.stderr.count("\n") == 1 and message in r.stderr, (what, r.stderr)
    assert dump(db_path) == before  # nothing written, nothing dropped
    assert len(Reader(db).trials("ok")) == 2


def _int_of_constants(e: ast.expr) -> bool:
    """`int(...)` of literals and UPPER_CASE module constants."""
    if not (isinstance(e, ast.Call) and isinstance(e.func, ast.Name) and e.func.id == "int" and len(e.args) == 1):
        return False
    for n in ast.walk(e.args[0]):
        if isinstance(n, (ast.Call, ast.Attribute, ast.Subscript)) or (isinstance(n, ast.Name) and not n.id.isupper()):
            return False
    return True


def _sql_safe(node: ast.expr) -> bool:
    """A SQL argument built from no text at run time: a literal, a SQLAlchemy construct (a call: its values are
    bound parameters), a choice between literals, or an f-string of int() of constants."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return True
    if isinstance(node, ast.Call):
        return True
    if isinstance(node, ast.IfExp):
        return _sql_safe(node.body) and _sql_safe(node.orelse)
    if isinstance(node, ast.JoinedStr):
        return all(_int_of_constants(v.value) for v in node.values if isinstance(v, ast.FormattedValue))
    return False


def test_the_package_builds_no_sql_or_command_line_from_text():
    problems = []
    for path in sorted((REPO / "scalesearch").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        where = path.relative_to(REPO)
        for n in ast.walk(tree):
            if not isinstance(n, ast.Call):
                continue
            f = n.func
            name = f.attr if isinstance(f, ast.Attribute) else f.id if isinstance(f, ast.Name) else ""
            owner = f.value.id if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) else ""
            sql = name in ("execute", "exec_driver_sql", "executescript", "executemany") or \
                (name == "text" and owner in ("sa", "sqlalchemy"))
            if sql and n.args and not _sql_safe(n.args[0]):
                problems.append(f"{where}:{n.lineno}: SQL from text: {ast.unparse(n)[:80]}")
            if isinstance(f, ast.Name) and f.id in ("eval", "exec"):
                problems.append(f"{where}:{n.lineno}: {f.id}()")
            if owner == "os" and (name in ("system", "popen") or name.startswith(("exec", "spawn"))):
                problems.append(f"{where}:{n.lineno}: os.{name}")
            if owner == "subprocess" or name == "Popen":
                if any(k.arg == "shell" for k in n.keywords):
                    problems.append(f"{where}:{n.lineno}: shell=")
                if n.args and not isinstance(n.args[0], (ast.List, ast.Tuple)):
                    problems.append(f"{where}:{n.lineno}: a command that is not a list: {ast.unparse(n)[:80]}")
    assert not problems, "\n".join(problems)
