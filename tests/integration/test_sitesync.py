"""sitesync against a real rsync daemon on a loopback port (and local paths).

Covers the job form and the getperf form, the guards (max_delete, empty source, unreachable
source, role and failover-flag gates, the job lock), the after-command, SIGKILL mid-transfer
and --estimate against rsync's own --stats.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import time

import pytest

from fixtures.common import BUILD_DIR, require, run, stop_pid, tempdir, write_config
from fixtures.rsyncd import RsyncDaemon


def binary(name):
    """A built tool: add_tool puts binaries under BUILD_DIR/tools."""
    for path in (os.path.join(BUILD_DIR, "tools", name), os.path.join(BUILD_DIR, name)):
        if os.path.exists(path):
            return path
    raise AssertionError(f"{name} is not built in {BUILD_DIR}")


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(path, mode) as f:
        f.write(data)


RSYNC_TEMP = re.compile(r"^\..+\.[A-Za-z0-9]{6}$")


def is_rsync_temp(rel):
    """rsync's own temp file ".NAME.XXXXXX", beside NAME until it is complete."""
    return bool(RSYNC_TEMP.match(os.path.basename(rel)))


def tree(root, skip_partial=True):
    """{relative path: bytes} of the regular files under root."""
    out = {}
    for d, dirs, files in os.walk(root):
        if skip_partial:
            dirs[:] = [x for x in dirs if x != ".rsync-partial"]
        for f in files:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = fh.read()
    return out


@pytest.fixture
def daemon():
    with RsyncDaemon(["archive_site1", "archive_site2", "empty"]) as d:
        yield d


@pytest.fixture
def work():
    d = tempdir("hakit-sitesync-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def config(work, jobs="", extra=""):
    text = f"""
state_dir: {work}/state
run_dir: {work}/run
log: {{syslog: false}}
{extra}
sync:
{jobs}
"""
    return write_config(work, text)


def sitesync_env(cfg):
    # TMPDIR in the test's dir: a killed run's temp files go away with it.
    return dict(os.environ, HAKIT_CONFIG=cfg, TMPDIR=os.path.dirname(cfg))


def sitesync(cfg, *args, cwd=None, timeout=120):
    env = sitesync_env(cfg)
    return subprocess.run([binary("sitesync"), *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd, env=env, stdin=subprocess.DEVNULL)


def journal(work):
    path = os.path.join(work, "state", "journal.jsonl")
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]


def fill_site(d, n=20):
    src = d.path("archive_site1")
    for i in range(n):
        write(os.path.join(src, f"arc_{i:03d}.zip"), f"archive {i}\n" * 50)
    write(os.path.join(src, "sub", "deep.txt"), "deep\n")
    return src


def job(work, url, name="site1", extra=""):
    lines = [f"  {name}:", f"    source: {url}", f"    dest: {work}/{name}"]
    lines += [f"    {l}" for l in extra.strip().splitlines() if l.strip()]
    return "\n".join(lines) + "\n"


def test_full_then_incremental_sync_with_journal_and_metrics(daemon, work):
    src = fill_site(daemon)
    cfg = config(work, job(work, daemon.url("archive_site1")))
    r = sitesync(cfg, "site1")
    assert r.returncode == 0, r.stderr
    assert tree(f"{work}/site1") == tree(src)
    e = journal(work)[-1]
    assert (e["tool"], e["job"], e["result"], e["files"]) == ("sitesync", "site1", "ok", 21)
    metrics = open(f"{work}/state/metrics/sitesync.site1.prom").read()
    assert 'hakit_sitesync_files_transferred{job="site1"} 21' in metrics
    assert 'hakit_sitesync_exit_code{job="site1"} 0' in metrics

    # Incremental: one new file, one changed, the rest untouched (mtime kept).
    before = os.stat(f"{work}/site1/arc_000.zip").st_mtime_ns
    write(os.path.join(src, "arc_100.zip"), "new\n")
    write(os.path.join(src, "arc_001.zip"), "changed, longer than before\n")
    r = sitesync(cfg, "-v", "site1")
    assert r.returncode == 0, r.stderr
    assert tree(f"{work}/site1") == tree(src)
    assert journal(work)[-1]["files"] == 2
    assert os.stat(f"{work}/site1/arc_000.zip").st_mtime_ns == before
    assert "2 files" in r.stderr


def test_getperf_form_one_round_into_dot_rsync(daemon, work):
    src = fill_site(daemon, 5)
    cfg = config(work)
    home = os.path.join(work, "home")
    os.makedirs(home)
    r = sitesync(cfg, "-t", "1", "-v", daemon.url("archive_site1"), cwd=home)
    assert r.returncode == 0, r.stderr
    assert tree(f"{home}/.rsync/archive_site1") == tree(src)
    e = journal(work)[-1]
    assert e["rounds"] == 1 and e["rounds_run"] == 1
    assert e["dest"] == f"{home}/.rsync/archive_site1"


def test_getperf_form_default_rounds_interval_delete_and_grep(daemon, work):
    src = fill_site(daemon, 3)
    write(os.path.join(daemon.path("archive_site2"), "site2.log"), "x\n")
    cfg = config(work)
    home = os.path.join(work, "home")
    os.makedirs(home)
    # Default 9 rounds, one every 300 ms; two sources, each into its own ./.rsync/<module>.
    t0 = time.monotonic()
    r = sitesync(cfg, "--interval", "300ms", daemon.url("archive_site1"),
                 daemon.url("archive_site2"), cwd=home)
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    runs = [e for e in journal(work) if e["job"] in ("archive_site1", "archive_site2")]
    assert [(e["job"], e["rounds"], e["rounds_run"] + e["rounds_skipped"]) for e in runs] == [
        ("archive_site1", 9, 9), ("archive_site2", 9, 9)]
    assert took >= 2 * 8 * 0.3  # 8 waits of 300 ms per source
    assert tree(f"{home}/.rsync/archive_site2") == {"site2.log": b"x\n"}

    # Mirror with delete by default; --disable-delete keeps what the source dropped.
    os.remove(os.path.join(src, "arc_000.zip"))
    r = sitesync(cfg, "-t", "1", "--disable-delete", daemon.url("archive_site1"), cwd=home)
    assert r.returncode == 0, r.stderr
    assert os.path.exists(f"{home}/.rsync/archive_site1/arc_000.zip")
    r = sitesync(cfg, "-t", "1", daemon.url("archive_site1"), cwd=home)
    assert r.returncode == 0, r.stderr
    assert tree(f"{home}/.rsync/archive_site1") == tree(src)

    # --grep keeps only names containing a keyword.
    write(os.path.join(src, "other.dat"), "o\n")
    r = sitesync(cfg, "-t", "1", "--grep", "arc_001,deep", daemon.url("archive_site1"),
                 os.path.join(work, "grepped"), cwd=home)
    assert r.returncode == 0, r.stderr
    assert sorted(tree(os.path.join(work, "grepped"))) == ["arc_001.zip", "sub/deep.txt"]


def test_local_paths_and_deletes_within_max_delete(work):
    src = os.path.join(work, "src")
    for i in range(10):
        write(os.path.join(src, f"f{i}"), f"{i}\n")
    cfg = config(work)
    dest = os.path.join(work, "dest")
    r = sitesync(cfg, "-t", "1", "--max-delete", "3", src, dest)
    assert r.returncode == 0, r.stderr
    for i in range(3):
        os.remove(os.path.join(src, f"f{i}"))
    r = sitesync(cfg, "-t", "1", "--max-delete", "3", src, dest)
    assert r.returncode == 0, r.stderr
    assert tree(dest) == tree(src)
    assert journal(work)[-1]["deleted"] == 3


def test_max_delete_exceeded_deletes_nothing(daemon, work):
    src = fill_site(daemon)
    cfg = config(work, job(work, daemon.url("archive_site1"), extra="max_delete: 3"))
    assert sitesync(cfg, "site1").returncode == 0
    for i in range(5):
        os.remove(os.path.join(src, f"arc_{i:03d}.zip"))
    write(os.path.join(src, "arc_200.zip"), "new one\n")
    r = sitesync(cfg, "-v", "site1")
    assert r.returncode == 2, r.stderr
    assert "more than max_delete 3" in r.stderr
    have = tree(f"{work}/site1")
    assert all(f"arc_{i:03d}.zip" in have for i in range(5)), "something was deleted"
    assert "arc_200.zip" in have  # new files still arrive
    e = journal(work)[-1]
    assert (e["result"], e["exit"], e["deleted"]) == ("refused", 2, 0)


def test_empty_source_is_refused_and_nothing_deleted(daemon, work):
    src = fill_site(daemon)
    cfg = config(work, job(work, daemon.url("archive_site1"), extra="min_source_fraction: 0"))
    assert sitesync(cfg, "site1").returncode == 0
    # The source goes empty (unmounted): a mirror would wipe the node's copy.
    for name in os.listdir(src):
        p = os.path.join(src, name)
        shutil.rmtree(p) if os.path.isdir(p) else os.remove(p)
    before = tree(f"{work}/site1")
    r = sitesync(cfg, "-v", "site1")
    assert r.returncode == 2, r.stderr
    assert "source lists no files" in r.stderr
    assert tree(f"{work}/site1") == before and len(before) == 21


def test_shrunken_source_is_refused(daemon, work):
    src = fill_site(daemon)
    cfg = config(work, job(work, daemon.url("archive_site1")))
    assert sitesync(cfg, "site1").returncode == 0
    for i in range(15):
        os.remove(os.path.join(src, f"arc_{i:03d}.zip"))
    r = sitesync(cfg, "-v", "site1")
    assert r.returncode == 2, r.stderr
    assert "min_source_fraction" in r.stderr
    assert len(tree(f"{work}/site1")) == 21


def test_unreachable_source_touches_nothing(work):
    from fixtures.common import free_port
    port = free_port()
    dest = os.path.join(work, "site1")
    write(os.path.join(dest, "keep.txt"), "precious\n")
    cfg = config(work, job(work, f"rsync://127.0.0.1:{port}/archive_site1",
                           extra="contimeout: 2s"))
    t0 = time.monotonic()
    r = sitesync(cfg, "-v", "site1")
    assert r.returncode == 1, r.stderr
    assert time.monotonic() - t0 < 20
    assert "rsync exit 10" in r.stderr
    assert tree(dest) == {"keep.txt": b"precious\n"}
    assert journal(work)[-1]["result"] == "failed"


def test_role_and_failover_flag_gates(daemon, work):
    fill_site(daemon, 2)
    cfg = config(work, job(work, daemon.url("archive_site1"), extra="when: backup\ninstance: VI_1"),
                 extra="instances:\n  VI_1: {vip: {address: 192.0.2.99, interface: eth9}}")
    state = os.path.join(work, "state")
    os.makedirs(state, exist_ok=True)
    write(os.path.join(state, "role.VI_1"), json.dumps({"role": "master", "time": "", "event": "x"}))
    r = sitesync(cfg, "-v", "site1")
    assert r.returncode == 0, r.stderr
    assert "skipped: when: backup, but instance VI_1 is master" in r.stderr
    assert not os.path.exists(f"{work}/site1")

    write(os.path.join(state, "role.VI_1"), json.dumps({"role": "backup", "time": "", "event": "x"}))
    r = sitesync(cfg, "-v", "site1")
    assert r.returncode == 0, r.stderr
    assert len(tree(f"{work}/site1")) == 3

    # No role recorded: the VIP (not on this host) says backup.
    os.remove(os.path.join(state, "role.VI_1"))
    r = sitesync(cfg, "-v", "site1")
    assert r.returncode == 0 and "skipped:" not in r.stderr, r.stderr

    # The failover flag stops the copying (the Nagios standby after a failover).
    write(os.path.join(state, "failover.flag"),
          json.dumps({"time": "2026-11-22T03:00:00Z", "set_by": "notify_master", "reason": "test"}))
    os.remove(os.path.join(daemon.path("archive_site1"), "arc_000.zip"))
    write(os.path.join(daemon.path("archive_site1"), "late.zip"), "late\n")
    r = sitesync(cfg, "-v", "site1")
    assert r.returncode == 0, r.stderr
    assert "skipped: failover flag set" in r.stderr
    assert not os.path.exists(f"{work}/site1/late.zip")
    r = sitesync(cfg, "-v", "--ignore-failover-flag", "site1")
    assert r.returncode == 0, r.stderr
    assert os.path.exists(f"{work}/site1/late.zip")


def after_script(work, body):
    path = os.path.join(work, "after.py")
    write(path, "import os, sys, time\n" + body)
    return path


def test_after_command_success_failure_timeout(daemon, work):
    src = fill_site(daemon, 2)
    out = os.path.join(work, "after.out")
    script = after_script(work, f"""
new = open(os.environ["HAKIT_SYNC_NEW_FILES"]).read().split("\\n")
with open({out!r}, "a") as f:
    f.write(os.environ["HAKIT_SYNC_JOB"] + " " + os.getcwd() + " " +
            ",".join(sorted(n for n in new if n)) + "\\n")
mode = open({os.path.join(work, 'mode')!r}).read().strip()
if mode == "fail":
    sys.exit(4)
if mode == "hang":
    time.sleep(60)
""")
    python = require("python3")
    cfg = config(work, job(work, daemon.url("archive_site1"),
                           extra=f"after: [{python}, {script}]\nafter_timeout: 1s"))
    write(os.path.join(work, "mode"), "ok")
    r = sitesync(cfg, "-v", "site1")
    assert r.returncode == 0, r.stderr
    line = open(out).read().splitlines()[-1]
    assert line == f"site1 {work}/site1 arc_000.zip,arc_001.zip,sub/deep.txt"

    write(os.path.join(work, "mode"), "fail")
    write(os.path.join(src, "arc_005.zip"), "5\n")
    r = sitesync(cfg, "-v", "site1")
    assert r.returncode == 1, r.stderr
    assert "after-command" in r.stderr and "exit 4" in r.stderr
    assert open(out).read().splitlines()[-1].endswith(" arc_005.zip")
    assert journal(work)[-1]["result"] == "failed"

    write(os.path.join(work, "mode"), "hang")
    write(os.path.join(src, "arc_006.zip"), "6\n")
    t0 = time.monotonic()
    r = sitesync(cfg, "-v", "site1")
    took = time.monotonic() - t0
    assert r.returncode == 1, r.stderr
    assert "timed out" in r.stderr
    assert took < 15, took  # 1 s timeout + the 2 s TERM→KILL grace, not 60 s


def test_two_concurrent_runs_one_runs_one_exits_quietly(daemon, work):
    fill_site(daemon, 2)
    script = after_script(work, "time.sleep(3)\n")
    python = require("python3")
    cfg = config(work, job(work, daemon.url("archive_site1"), extra=f"after: [{python}, {script}]"))
    env = sitesync_env(cfg)
    first = subprocess.Popen([binary("sitesync"), "site1"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        lock = os.path.join(work, "run", "sitesync", "site1.lock")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if os.path.exists(lock) and open(lock).read().strip() == str(first.pid):
                break
            time.sleep(0.05)
        t0 = time.monotonic()
        r = sitesync(cfg, "-v", "site1")
        assert r.returncode == 0, r.stderr
        assert time.monotonic() - t0 < 2.5
        lines = [l for l in r.stderr.splitlines() if "already running" in l]
        assert len(lines) == 1 and f"pid {first.pid}" in lines[0], r.stderr
        assert first.wait(timeout=60) == 0
    finally:
        stop_pid(first)
    runs = [e for e in journal(work) if e["job"] == "site1"]
    assert len(runs) == 1  # the quiet one does not journal


def children_of(pid):
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(p))
    return out


def test_sigkill_mid_transfer_leaves_no_partial_files(daemon, work):
    src = daemon.path("archive_site1")
    big = os.urandom(1024 * 1024) * 40  # 40 MiB
    write(os.path.join(src, "storage", "big.rrd"), big)
    write(os.path.join(src, "small.txt"), "small\n")
    cfg = config(work, job(work, daemon.url("archive_site1"), extra="bwlimit: 8MB/s"))
    env = sitesync_env(cfg)
    proc = subprocess.Popen([binary("sitesync"), "site1"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    dest = os.path.join(work, "site1")
    try:
        # Wait until bytes are flowing into rsync's temp file in the destination.
        deadline = time.monotonic() + 30
        grown = False
        while time.monotonic() < deadline and not grown:
            for d, _, files in os.walk(dest):
                for f in files:
                    if os.path.getsize(os.path.join(d, f)) > 4 * 1024 * 1024:
                        grown = True
            time.sleep(0.05)
        assert grown, "the transfer never started"
        # SIGKILL sitesync and the rsync it runs (its own process group), mid-transfer.
        kids = children_of(proc.pid)
        assert kids, "no rsync child"
        os.kill(proc.pid, signal.SIGKILL)
        for k in kids:
            try:
                os.killpg(k, signal.SIGKILL)
            except ProcessLookupError:
                pass  # already gone with sitesync (test_sitesync_getperf checks that)
        proc.wait(timeout=10)
    finally:
        stop_pid(proc)
    # Readers see only whole files: nothing under its real name that is not complete. The
    # half-written data sits in rsync's ".big.rrd.XXXXXX" beside it.
    left = tree(dest)
    temps = [rel for rel in left if is_rsync_temp(rel)]
    assert [os.path.dirname(rel) for rel in temps] == ["storage"], sorted(left)
    for rel, data in left.items():
        if rel not in temps:
            assert rel == "small.txt" and data == open(
                os.path.join(src, rel), "rb").read(), f"{rel} is partial"
    assert not os.path.exists(os.path.join(dest, "storage", "big.rrd"))
    # The next run finishes the job and sweeps what the killed one left (under the lock).
    r = sitesync(cfg, "-v", "--bwlimit", "1G", "site1")
    assert r.returncode == 0, r.stderr
    assert tree(dest) == tree(src)  # the temp file too is gone
    assert "removed 1 temp file left by a killed transfer" in r.stderr, r.stderr
    assert not os.path.exists(os.path.join(dest, ".rsync-partial")), r.stderr


def test_estimate_equals_rsyncs_own_stats(daemon, work):
    src = fill_site(daemon, 30)
    write(os.path.join(src, "storage", "big.rrd"), os.urandom(3 * 1024 * 1024))
    dest = os.path.join(work, "site1")
    write(os.path.join(dest, "stale.txt"), "old\n")
    cfg = config(work)
    r = sitesync(cfg, "--estimate", "--bandwidth", "1MB/s", daemon.url("archive_site1"), dest)
    assert r.returncode == 0, r.stderr
    m = re.search(r"(\d+) files to transfer, (\d+) bytes .*; (\d+) to delete", r.stdout)
    assert m, r.stdout
    own = run([require("rsync"), "-a", "--delete", "-n", "--stats", "--no-human-readable",
               daemon.url("archive_site1") + "/", dest + "/"])
    assert own.returncode == 0, own.stderr
    files = re.search(r"Number of regular files transferred: (\d+)", own.stdout).group(1)
    size = re.search(r"Total transferred file size: (\d+)", own.stdout).group(1)
    deleted = re.search(r"Number of deleted files: (\d+)", own.stdout).group(1)
    assert (m.group(1), m.group(2), m.group(3)) == (files, size, deleted)
    assert int(files) == 32
    t = re.search(r"at 1\.00 MiB/s: ([\d.]+) s", r.stdout)
    assert t and abs(float(t.group(1)) - int(size) / (1024 * 1024)) < 0.01, r.stdout
    # Nothing was touched.
    assert tree(dest) == {"stale.txt": b"old\n"}


def test_dry_run_changes_nothing(daemon, work):
    fill_site(daemon, 3)
    dest = os.path.join(work, "d")
    write(os.path.join(dest, "stale.txt"), "old\n")
    cfg = config(work)
    r = sitesync(cfg, "-n", "-v", "-t", "1", daemon.url("archive_site1"), dest)
    assert r.returncode == 0, r.stderr
    assert "would transfer 4 files" in r.stdout and "delete 1 entry" in r.stdout, r.stdout
    assert "delete stale.txt" in r.stdout
    assert tree(dest) == {"stale.txt": b"old\n"}


def test_usage_errors_exit_3(work):
    cfg = config(work, job(work, "rsync://127.0.0.1:1/x"))
    r = sitesync(cfg, "nosuchjob")
    assert r.returncode == 3 and "no sync: job named 'nosuchjob'" in r.stderr
    r = sitesync(cfg, "-t", "0", "rsync://127.0.0.1:1/x")
    assert r.returncode == 3
    r = sitesync(cfg, "/only/a/local/source")
    assert r.returncode == 3 and "needs a DEST" in r.stderr
