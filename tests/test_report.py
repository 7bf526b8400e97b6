"""`report` and `plot`: what the files show (tables against independent references, front points read back from
the SVG), the HTML opened in headless Chromium offline (plot drawn, hover text, no request leaving the page),
and optuna-dashboard serving the same database."""

from __future__ import annotations

import base64
import json
import os
import re
import select
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from support.cli import main_in_process
from support.results_db import real_search, write_study

from scalesearch import plot, results
from scalesearch.results.report import build_report, write_report

SVG = "{http://www.w3.org/2000/svg}"
REPO = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("report") / "r.db"
    url = f"sqlite:///{path}"
    write_study(url, "alpha", repeats=2, fail=2)
    write_study(url, "beta", repeats=1, seed=1, fail=None)
    return url


@pytest.fixture(scope="module")
def report(db, tmp_path_factory):
    folder = tmp_path_factory.mktemp("alpha-report")
    return write_report(db, "alpha", folder)


def config_means(db: str, study: str) -> pd.DataFrame:
    """Mean val_acc of each configuration's COMPLETE trials, computed here with plain pandas."""
    df = results.load_trials(db, study)
    done = df[df["state"] == "COMPLETE"]
    g = done.groupby("config_key")
    return pd.DataFrame({"arch": g["arch"].first(), "macs": g["macs"].first(), "val_acc": g["val_acc"].mean(),
                         "n": g.size(), "first": df.groupby("config_key")["number"].min().loc[g.size().index]})


def brute_front(points: pd.DataFrame, x: str = "macs", y: str = "val_acc") -> set:
    """O(n^2) front (max y, min x): the index labels of the non-dominated rows."""
    p = points[[y, x]].to_numpy(dtype=float) * np.array([-1.0, 1.0])
    return {points.index[i] for i, q in enumerate(p)
            if not np.any(np.all(p <= q, axis=1) & np.any(p < q, axis=1))}


def md_table(text: str, heading: str) -> list[list[str]]:
    """The rows of the first markdown table after `## heading`."""
    lines = text.split(f"## {heading}\n", 1)[1].splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("|"))
    rows = []
    for ln in lines[start + 2:]:
        if not ln.startswith("| "):
            break
        rows.append([c.strip() for c in ln.strip("|").split(" | ")])
    return rows


# --------------------------------------------------------------------------------------------------------------
# The markdown report and its figures


def test_report_files_and_sections(report):
    md = report.markdown.read_text()
    for section in ("# Study `alpha`", "## Leaderboard", "## Pareto front", "## Figures", "## Failures", "## Spec",
                    "## Hardware", "## Package versions"):
        assert section in md, section
    for link in re.findall(r"\]\(([^)]+)\)", md):  # every linked figure exists beside report.md
        assert (report.folder / link).is_file(), link
    names = {p.name for p in report.figures}
    assert {"pareto.png", "pareto.svg", "curves.png", "params.png", "edf.png", "scaling.png"} <= names
    from PIL import Image

    for p in report.figures:
        if p.suffix == ".png":
            with Image.open(p) as im:
                assert im.format == "PNG" and im.width > 300 and im.height > 200
    assert "study: alpha" in md and "macs <= 12 * base_macs" in md  # the spec text
    assert "| torch | 2.13.0 |" in md and "| cores | 2 |" in md  # versions and hardware as stored
    assert "DivergenceError: loss is nan at epoch 2" in md  # the failure, with its error
    assert "| macs <= 12 * base_macs | 3 |" in md  # rejected candidates counted by reason


def test_leaderboard_and_pareto_table_match_independent_means(db, report):
    md = report.markdown.read_text()
    means = config_means(db, "alpha")
    board = md_table(md, "Leaderboard")
    assert [r[1] for r in board] == means.sort_values("val_acc", ascending=False)["arch"].tolist()
    for r in board:
        m = means[means["arch"] == r[1]].iloc[0]
        assert float(r[7]) == pytest.approx(m["val_acc"], abs=5e-5) and r[6].startswith(str(m["n"]))
    front = md_table(md, "Pareto front")
    want = means.loc[sorted(brute_front(means), key=lambda k: means.loc[k, "macs"]), "arch"].tolist()
    assert [r[1] for r in front] == want


def test_pareto_figure_shows_the_front_of_the_configuration_means(db, report):
    root = ET.parse(report.folder / "pareto.svg").getroot()
    ids = {g.get("id") for g in root.iter(f"{SVG}g") if g.get("id")}
    shown = {int(i.rsplit("-", 1)[1]) for i in ids if i.startswith("front-point-0-")}
    means = config_means(db, "alpha")
    assert shown == {int(means.loc[k, "first"]) for k in brute_front(means)}
    labels = {"".join(t.itertext()) for g in root.iter(f"{SVG}g") if (g.get("id") or "").startswith("front-label-")
              for t in g.iter(f"{SVG}text")}
    assert labels == set(means.loc[list(brute_front(means)), "arch"])
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert "MACs (multiply-accumulates)" in texts and not any("FLOP" in t for t in texts)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        d = dict(attrs)
        self.urls += [v for k, v in attrs if k in ("src", "href", "xlink:href", "srcset", "poster", "data") and v]
        if tag == "script":
            self.scripts.append(d)
        if tag == "link":
            self.urls.append(d.get("href") or "")


def test_html_is_self_contained(report):
    page = report.html.read_text()
    p = _Links()
    p.feed(page)
    external = [u for u in p.urls if re.match(r"^\s*(https?:)?//", u, re.IGNORECASE)]
    assert external == [], external
    assert all("src" not in s for s in p.scripts)  # every script is inline
    assert not re.search(r"@import|url\(\s*['\"]?(https?:)?//", page)  # no stylesheet or font from the network
    assert "Plotly.newPlot" in page and page.count("plotly.js v") >= 1
    assert 'id="plot-pareto"' in page and 'id="plot-curves"' in page
    assert page.count("<svg") >= 3  # the static figures, inlined
    # the hover text of the interactive Pareto figure: label, MACs, params, accuracy, parameters (in plotly's JSON)
    page = page.replace("\\u003c", "<").replace("\\u003e", ">").replace("\\u002f", "/")
    assert re.search(r"<b>n=1 width=8</b><br>study alpha number 0<br>MACs: 3.17M<br>params: 19.2K"
                     r"<br>acts: [\d.]+K<br>val_acc: 0.9259<br>test_acc: 0.9159<br>n = 1<br>width = 8\"", page)


def test_build_report_without_complete_trials(tmp_path):
    from scalesearch.store import Store

    url = f"sqlite:///{tmp_path / 'e.db'}"
    st = Store(url)
    st.create_study(name="empty", spec_text="study: empty", spec_canonical="study: empty", spec_hash="h", seed=0,
                    sampler="grid", objectives=[["val_acc", "max"]], repeats=1)
    st.close()
    paths = write_report(url, "empty", tmp_path / "out")
    md = paths.markdown.read_text()
    assert "No configuration has a COMPLETE trial yet." in md and paths.figures == ()
    assert "Plotly" not in paths.html.read_text()
    with pytest.raises(LookupError, match="no study 'nope'.*studies there: empty"):
        build_report(url, "nope")


# --------------------------------------------------------------------------------------------------------------
# The CLI


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return main_in_process(*args, cwd=cwd)  # plot and report start no Ray: the console script's main, in process


def test_cli_report_and_plots(db, tmp_path):
    r = cli("report", "alpha", "--db", db, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["results/alpha/report.md", "results/alpha/report.html"]
    assert (tmp_path / "results/alpha/pareto.svg").is_file()
    for kind in ("pareto", "scaling", "edf", "curves", "params"):
        out = tmp_path / f"{kind}.svg"
        r = cli("plot", "alpha", "beta", "--kind", kind, "--out", str(out), "--db", db, cwd=tmp_path)
        assert r.returncode == 0, (kind, r.stderr)
        root = ET.parse(out).getroot()
        assert root.tag == f"{SVG}svg"
    r = cli("plot", "alpha", "--db", db, cwd=tmp_path)  # default file name, several studies on one figure below
    assert r.returncode == 0 and r.stdout.strip() == "results/alpha/pareto.png"
    # several studies on one Pareto figure: each study's front is read back from the SVG
    out = tmp_path / "two.svg"
    assert cli("plot", "alpha", "beta", "--out", str(out), "--db", db, cwd=tmp_path).returncode == 0
    root = ET.parse(out).getroot()
    ids = {g.get("id") for g in root.iter(f"{SVG}g") if g.get("id")}
    df = results.load_trials(db)
    for s, study in enumerate(("alpha", "beta")):
        d = df[(df["study"] == study) & (df["state"] == "COMPLETE")].set_index("number")
        shown = {int(i.rsplit("-", 1)[1]) for i in ids if i.startswith(f"front-point-{s}-")}
        assert shown == brute_front(d), study


@pytest.mark.parametrize("args, message", [
    (["plot", "alpha", "--color", "colour"], "--color: unknown column 'colour'; the columns are study, number"),
    (["plot", "alpha", "--out", "x.txt"], "--out x.txt: expected a .png, .svg or .pdf file name"),
    (["plot", "alpha", "--x", "latency"], "--x latency: no trial of these studies has a measured latency"),
    (["plot", "gamma"], "no study 'gamma' in"),
    (["report", "alpha", "--top", "0"], "--top: expected an integer >= 1, got 0"),
    (["report", "alpha", "--plotly-js", "https://cdn.plot.ly/plotly.min.js"],
     "--plotly-js: expected 'inline' or a relative path ending in .js (e.g. ../_assets/plotly-"),
    (["report", "alpha", "--plotly-js", "/tmp/plotly.js"], "--plotly-js: expected 'inline' or a relative path"),
    (["plot", "alpha", "--kind", "edf", "--aggregate"], "--aggregate: only for --kind pareto or scaling, not edf"),
    (["plot", "alpha", "--where", "depth > 3"], "--where: unknown column 'depth'; the columns are study, number"),
])
def test_cli_user_errors_are_one_line_with_exit_2(db, tmp_path, args, message):
    r = cli(*args, "--db", db, cwd=tmp_path)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("scalesearch: error: ") and message in r.stderr and r.stderr.count("\n") == 1
    assert list(tmp_path.iterdir()) == []  # nothing written


@pytest.fixture(scope="module")
def shared_reports(db, tmp_path_factory):
    """Two studies' reports sharing one plotly JavaScript file in results/_assets (as the rediscovery writes them)."""
    root = tmp_path_factory.mktemp("shared")
    js = "../_assets/" + plot.plotly_asset()
    first = write_report(db, "alpha", root / "alpha", plotly_js=js)
    asset = root / "_assets" / plot.plotly_asset()
    stamp = asset.stat().st_mtime_ns
    second = write_report(db, "beta", root / "beta", plotly_js=js)
    return first, second, asset, stamp, js


def test_reports_can_share_one_plotly_file(db, shared_reports):
    from plotly.offline import get_plotlyjs

    first, second, asset, stamp, js = shared_reports
    assert asset.read_text(encoding="utf-8") == get_plotlyjs()
    assert asset.stat().st_mtime_ns == stamp  # the second report found it there and did not rewrite it
    assert [p.name for p in asset.parent.iterdir()] == [asset.name]  # no temporary file left
    for rep in (first, second):
        page = rep.html.read_text()
        p = _Links()
        p.feed(page)
        assert [s.get("src") for s in p.scripts if s.get("src")] == [js]
        assert "plotly.js v" not in page and len(page) < len(get_plotlyjs()) / 10  # the library is not inlined
        assert "Plotly.newPlot" in page and 'id="plot-pareto"' in page
    with pytest.raises(ValueError, match=r"^--plotly-js: expected 'inline' or a relative path ending in \.js"):
        write_report(db, "alpha", first.folder.parent / "never", plotly_js="plotly.css")
    assert not (first.folder.parent / "never").exists()


# --------------------------------------------------------------------------------------------------------------
# Headless Chromium, offline, through the DevTools protocol over a pipe (no websocket client needed)


class Chromium:
    """Debian's chromium, headless, networking off, driven over --remote-debugging-pipe (fds 3 and 4)."""

    FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-default-apps", "--disable-extensions", "--no-default-browser-check", "--mute-audio",
             "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9", "--window-size=1280,900")

    def __init__(self, exe: str) -> None:
        self.profile = tempfile.mkdtemp(prefix="scalesearch-chromium-")
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()

        def child() -> None:
            os.dup2(to_r, 3)
            os.dup2(from_w, 4)

        self.proc = subprocess.Popen([exe, *self.FLAGS, f"--user-data-dir={self.profile}", "--remote-debugging-pipe",
                                      "about:blank"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL, pass_fds=(3, 4),
                                     preexec_fn=child)  # noqa: PLW1509 - dup2 only: puts the pipes on fds 3, 4
        os.close(to_r)
        os.close(from_w)
        self.w, self.r = to_w, from_r
        self.buf = b""
        self.id = 0
        self.events: list[dict[str, Any]] = []

    def _pump(self, timeout: float) -> None:
        ready, _, _ = select.select([self.r], [], [], timeout)
        if ready:
            data = os.read(self.r, 1 << 20)
            if not data:
                raise EOFError("chromium closed its DevTools pipe")
            self.buf += data
        while b"\0" in self.buf:
            raw, self.buf = self.buf.split(b"\0", 1)
            self.events.append(json.loads(raw))

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float = 60) -> dict[str, Any]:
        self.id += 1
        msg: dict[str, Any] = {"id": self.id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for i, m in enumerate(self.events):
                if m.get("id") == self.id:
                    self.events.pop(i)
                    if "error" in m:
                        raise RuntimeError(f"{method}: {m['error']}")
                    return m.get("result", {})
            self._pump(0.1)
        raise TimeoutError(method)

    def wait_event(self, method: str, timeout: float = 60) -> dict[str, Any]:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            for m in self.events:
                if m.get("method") == method:
                    return m
            self._pump(0.1)
        raise TimeoutError(method)

    def evaluate(self, session: str, expression: str) -> Any:
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True},
                      session)
        if "exceptionDetails" in r:
            raise RuntimeError(r["exceptionDetails"])
        return r["result"].get("value")

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout=10)
        except (OSError, EOFError, TimeoutError, RuntimeError):
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self.w)
        os.close(self.r)
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (scripts/install-test-deps installs "
                                              "Debian's package)")
@pytest.mark.parametrize("mode", ["inline", "shared"])
def test_html_report_in_headless_chromium_offline(db, report, shared_reports, tmp_path, mode):
    if mode == "shared":  # plotly's JavaScript from the shared local file: the page's one other request
        report = shared_reports[0]
        allowed = [report.html.resolve().as_uri(), shared_reports[2].resolve().as_uri()]
    else:
        allowed = [report.html.resolve().as_uri()]
    browser = Chromium(CHROMIUM)
    try:
        target = browser.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = browser.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Network", "Page", "Runtime"):
            browser.call(f"{domain}.enable", session=session)
        url = report.html.resolve().as_uri()
        browser.call("Page.navigate", {"url": url}, session)
        browser.wait_event("Page.loadEventFired")
        count = ("document.querySelectorAll('#plot-pareto .scatterlayer .trace path.point').length")
        points = 0
        for _ in range(100):
            points = browser.evaluate(session, count)
            if points:
                break
            time.sleep(0.1)
        means = config_means(db, "alpha")
        # every configuration drawn once in the point traces, and once more as a front marker
        assert points == len(means) + len(brute_front(means))
        traces = browser.evaluate(session, "document.querySelectorAll('#plot-pareto g.trace.scatter').length")
        assert traces >= 2
        curves = browser.evaluate(session, "document.querySelectorAll('#plot-curves g.trace.scatter').length")
        assert curves == 2 * results.load_epochs(db, "alpha")["number"].nunique()  # accuracy and loss panels
        # hovering a point shows its label, MACs, params, accuracy and parameters
        # (waits until the label is drawn, not a fixed time: 10 s at most, for a stalled page)
        hover = browser.evaluate(session, """(async () => {
            const gd = document.getElementById('plot-pareto');
            Plotly.Fx.hover(gd, [{curveNumber: 0, pointNumber: 0}]);
            const label = () => (document.querySelector('#plot-pareto .hoverlayer') || {}).textContent || '';
            for (let i = 0; i < 200 && !label().includes('val_acc'); i++) await new Promise(r => setTimeout(r, 50));
            return label(); })()""")
        assert re.search(r"MACs: [\d.]+[KM]", hover) and "params:" in hover and "val_acc: 0.9" in hover
        assert "width = " in hover and "n = " in hover
        shot = browser.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session)
        png = tmp_path / "report.png"
        png.write_bytes(base64.b64decode(shot["data"]))
        keep = os.environ.get("SCALESEARCH_SCREENSHOT")  # a path to keep the screenshot for a person to look at
        if keep:
            shutil.copy(png, keep)
        browser._pump(0.3)
        requests = [m["params"]["request"]["url"] for m in browser.events
                    if m.get("method") == "Network.requestWillBeSent"]
        failed = [m["params"] for m in browser.events if m.get("method") == "Network.loadingFailed"]
    finally:
        browser.close()
    assert requests and requests[0] == url
    assert all(u in allowed or u.startswith("data:") for u in requests), requests  # nothing left the page
    assert set(allowed) <= set(requests)
    assert failed == []
    from PIL import Image

    with Image.open(png) as im:
        assert im.width >= 1200 and im.height > 2000
        px = np.asarray(im.convert("L"), dtype=float)
    assert px.std() > 10  # not a blank page


# --------------------------------------------------------------------------------------------------------------
# optuna-dashboard (the optional extra `dashboard`) on the database of a real search


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_optuna_dashboard_serves_the_study(tmp_path_factory, ray_session):
    exe = shutil.which("optuna-dashboard", path=os.path.dirname(sys.executable)) or shutil.which("optuna-dashboard")
    if exe is None:
        pytest.skip("optuna-dashboard is not installed (pip install -e '.[dashboard]')")
    run = real_search(tmp_path_factory.mktemp("real"), ray_session.address)
    port = free_port()
    log = tmp_path_factory.mktemp("dash") / "dashboard.log"
    with open(log, "w") as f:
        proc = subprocess.Popen([exe, run["url"], "--host", "127.0.0.1", "--port", str(port), "--server", "wsgiref"],
                                stdout=f, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        studies = None
        for _ in range(150):
            try:
                with urllib.request.urlopen(f"{base}/api/studies", timeout=2) as resp:
                    studies = json.load(resp)["study_summaries"]
                break
            except OSError:
                if proc.poll() is not None:
                    raise AssertionError(f"optuna-dashboard exited: {log.read_text()[-2000:]}") from None
                time.sleep(0.2)
        assert studies is not None, log.read_text()[-2000:]
        (tiny,) = [s for s in studies if s["study_name"] == "tiny"]
        with urllib.request.urlopen(f"{base}/api/studies/{tiny['study_id']}", timeout=10) as resp:
            detail = json.load(resp)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    df = results.load_trials(run["url"], "tiny")
    trials = detail["trials"]
    assert len(trials) == len(df)
    done = {t["number"]: t for t in trials if t["state"] == "Complete"}
    want = df[df["state"] == "COMPLETE"]
    assert set(done) == {int(n) for n in want["optuna_trial"]}
    for _, r in want.iterrows():
        assert done[int(r["optuna_trial"])]["values"] == pytest.approx([r["val_acc"], float(r["macs"])])
    assert {t["number"] for t in detail["best_trials"]} <= set(done)
