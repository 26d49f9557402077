"""sitesync finishing getperf's job against a real rsync daemon serving getperf archives
built here (python zipfile): extraction into SITE/analysis/<agent>/ with getperf's
time-directory rules, the aggregation command (a fake that records its argv), --purge,
hostile archives, signals (SIGINT/SIGTERM/SIGKILL mid-transfer), root and a site user in
either order, the guards, and rsync's progress at a terminal.
"""
import fcntl
import json
import os
import pty
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import termios
import time
import zipfile

import pytest

from fixtures.common import require, stop_pid, tempdir, write_config
from fixtures.rsyncd import RsyncDaemon
from test_sitesync import binary, children_of, config, journal, sitesync, sitesync_env, tree, write


@pytest.fixture
def daemon():
    with RsyncDaemon(["archive_site1"]) as d:
        yield d


@pytest.fixture
def work():
    d = tempdir("hakit-sitesync-getperf-")
    os.chmod(d, 0o755)  # the site user of the user tests must reach into it
    yield d
    shutil.rmtree(d, ignore_errors=True)


def make_zip(path, entries, symlinks=()):
    """A getperf archive: entries {name: bytes}; duplicate names via a list of pairs."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    items = entries.items() if isinstance(entries, dict) else entries
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in items:
            if name.endswith("/"):
                z.writestr(zipfile.ZipInfo(name), b"")
            else:
                z.writestr(name, data)
        for name, target in symlinks:
            info = zipfile.ZipInfo(name)
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            z.writestr(info, target)


# Two agents, two categories, both time-directory forms, nested files, a dot file.
ARCHIVES = {
    "arc_host1__Linux_20150619_1416.zip": {
        "Linux/20150619/1416/vmstat.txt": b"vmstat 1\n",
        "Linux/20150619/1416/iostat.txt": b"iostat 1\n",
        "Linux/20150619/1416/net/eth0.txt": b"eth0\n",
        "Linux/.stamp": b"s",
    },
    "arc_host1__HW_20150619_1457.zip": {
        "HW/20150619_1457/cpu.txt": b"cpu\n",
        "HW/20150619_1457/disk/sda.txt": b"sda\n",
    },
    "arc_host2__Linux_20150619_1416.zip": {
        "Linux/20150619/141600/vmstat.txt": b"vmstat 2\n",
    },
}

# getperf's analysis tree for them, file by file.
EXPECTED = {
    "host1/Linux/20150619/141600/vmstat.txt": b"vmstat 1\n",
    "host1/Linux/20150619/141600/iostat.txt": b"iostat 1\n",
    "host1/Linux/20150619/141600/net/eth0.txt": b"eth0\n",
    "host1/Linux/.stamp": b"s",
    "host1/HW/20150619/145700/cpu.txt": b"cpu\n",
    "host1/HW/20150619/145700/disk/sda.txt": b"sda\n",
    "host2/Linux/20150619/141600/vmstat.txt": b"vmstat 2\n",
}


def recorder(work):
    """A fake aggregator: appends {argv, cwd, SITEHOME} as one JSON line per call."""
    log = os.path.join(work, "aggregate.jsonl")
    script = os.path.join(work, "aggregate.py")
    with open(script, "w") as f:
        f.write(f"#!{sys.executable}\n"
                "import json, os, sys\n"
                f"with open({log!r}, 'a') as f:\n"
                "    f.write(json.dumps({'argv': sys.argv[1:], 'cwd': os.getcwd(),\n"
                "                        'sitehome': os.environ.get('SITEHOME')}) + '\\n')\n"
                "print('aggregated', len(sys.argv) - 1)\n")
    os.chmod(script, 0o755)
    return script, log


def calls(log):
    if not os.path.exists(log):
        return []
    with open(log) as f:
        return [json.loads(l) for l in f if l.strip()]


def test_getperf_round_extracts_like_getperf_and_aggregates_exactly_those_files(daemon, work):
    src = daemon.path("archive_site1")
    for name, entries in ARCHIVES.items():
        make_zip(os.path.join(src, name), entries)
    write(os.path.join(src, "notes.txt"), "not an archive\n")
    cfg = config(work)
    site = os.path.join(work, "site1")
    os.makedirs(site)
    script, log = recorder(work)
    r = sitesync(cfg, "-t", "1", "--aggregate", script, daemon.url("archive_site1"), cwd=site)
    assert r.returncode == 0, r.stderr
    assert tree(os.path.join(site, "analysis")) == EXPECTED
    got = calls(log)
    assert len(got) == 1
    # Exactly the extracted files (the dot file is not aggregated, as in getperf).
    want = sorted(os.path.join(site, "analysis", p) for p in EXPECTED if "/." not in p)
    assert sorted(got[0]["argv"]) == want
    assert got[0]["cwd"] == site and got[0]["sitehome"] == site
    e = journal(work)[-1]
    assert (e["archives"], e["extracted"], e["aggregate"]) == (3, 6, "ok")
    assert e["dest"] == f"{site}/.rsync/archive_site1"
    # No hidden extraction directory is left.
    assert not [d for a in os.listdir(f"{site}/analysis") for d in os.listdir(f"{site}/analysis/{a}")
                if d.startswith(".sitesync-extract.")]

    # Only archives new in a round: nothing new → no extraction, no aggregation call.
    r = sitesync(cfg, "-t", "1", "--aggregate", script, daemon.url("archive_site1"), cwd=site)
    assert r.returncode == 0, r.stderr
    assert len(calls(log)) == 1
    # One new archive → its files only; GETPERF_HOME's script/sumup is the default aggregator.
    make_zip(os.path.join(src, "arc_host3__Linux_20150619_1500.zip"),
             {"Linux/20150619/1500/vmstat.txt": b"3\n"})
    gp = os.path.join(work, "getperf")
    os.makedirs(os.path.join(gp, "script"))
    shutil.copy(script, os.path.join(gp, "script", "sumup"))
    env = dict(sitesync_env(cfg), GETPERF_HOME=gp)
    r = subprocess.run([binary("sitesync"), "-t", "1", daemon.url("archive_site1")], cwd=site,
                       env=env, capture_output=True, text=True, timeout=120,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert calls(log)[-1]["argv"] == [f"{site}/analysis/host3/Linux/20150619/150000/vmstat.txt"]


def test_failed_aggregation_fails_the_run_with_one_stderr_line(daemon, work):
    make_zip(os.path.join(daemon.path("archive_site1"), "arc_h__Linux_20150619_1416.zip"),
             {"Linux/20150619/1416/a.txt": b"a"})
    cfg = config(work)
    site = os.path.join(work, "site1")
    os.makedirs(site)
    r = sitesync(cfg, "-t", "1", "--aggregate", require("false"), daemon.url("archive_site1"),
                 cwd=site)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr  # cron mails exactly this
    assert "aggregation" in lines[0] and "exit 1" in lines[0] and site in lines[0]


def test_hostile_archives_are_refused_and_nothing_lands_outside(daemon, work):
    src = daemon.path("archive_site1")
    make_zip(os.path.join(src, "arc_evil__Linux_20150619_1416.zip"),
             {"Linux/ok.txt": b"ok", "../../../escaped.txt": b"x"})
    make_zip(os.path.join(src, "arc_abs__Linux_20150619_1416.zip"), {"/tmp/abs-escape.txt": b"x"})
    make_zip(os.path.join(src, "arc_link__Linux_20150619_1416.zip"), {"Linux/a.txt": b"a"},
             symlinks=[("Linux/passwd", "/etc/passwd")])
    with pytest.warns(UserWarning):  # zipfile warns about the duplicate: that is the point
        make_zip(os.path.join(src, "arc_dup__Linux_20150619_1416.zip"),
                 [("Linux/x.txt", b"1"), ("Linux/x.txt", b"2")])
    make_zip(os.path.join(src, "arc_bomb__Linux_20150619_1416.zip"),
             {"Linux/zeros.bin": bytes(16 << 20)})
    make_zip(os.path.join(src, "arc_good__Linux_20150619_1416.zip"),
             {"Linux/20150619/1416/fine.txt": b"fine"})
    cfg = config(work)
    site = os.path.join(work, "site1")
    os.makedirs(site)
    script, log = recorder(work)
    r = sitesync(cfg, "-t", "1", "--aggregate", script, daemon.url("archive_site1"), cwd=site)
    assert r.returncode == 1, r.stderr
    for why in ("'..' component", "absolute path", "symbolic link", "a second entry", "zip bomb"):
        assert why in r.stderr, (why, r.stderr)
    assert tree(os.path.join(site, "analysis")) == {
        "good/Linux/20150619/141600/fine.txt": b"fine"}
    assert not os.path.exists(os.path.join(work, "escaped.txt"))
    assert not os.path.exists(os.path.join(site, "escaped.txt"))
    assert not os.path.exists("/tmp/abs-escape.txt")
    # The good archive was still aggregated.
    assert calls(log)[-1]["argv"] == [f"{site}/analysis/good/Linux/20150619/141600/fine.txt"]
    e = journal(work)[-1]
    assert (e["archives"], e["archives_refused"]) == (1, 5)


def test_purge_keeps_the_retention_and_refuses_to_empty_the_tree(daemon, work):
    site = os.path.join(work, "site1")
    now = time.time()
    fmt = lambda t: time.strftime("%Y%m%d/%H%M%S", time.localtime(t))
    old, recent = fmt(now - 3 * 3600), fmt(now - 600)
    for t in (old, recent):
        write(os.path.join(site, "analysis", "h", "Linux", t, "a.txt"), "a")
        write(os.path.join(site, "summary", "h", "Linux", t, "s.txt"), "s")
    write(os.path.join(daemon.path("archive_site1"), "x.txt"), "x")
    cfg = config(work)
    r = sitesync(cfg, "-t", "1", "--purge", daemon.url("archive_site1"), cwd=site)
    assert r.returncode == 0, r.stderr
    for tree_ in ("analysis", "summary"):
        assert not os.path.exists(os.path.join(site, tree_, "h", "Linux", old)), tree_
        assert os.path.exists(os.path.join(site, tree_, "h", "Linux", recent)), tree_
    assert journal(work)[-1]["purged"] == 2
    # With 1 minute of retention everything would go: refused, the option is named.
    r = sitesync(cfg, "-t", "1", "--purge", "--purge-analysis", "1m", daemon.url("archive_site1"),
                 cwd=site)
    assert r.returncode == 2
    assert "--purge-may-empty" in r.stderr
    assert os.path.exists(os.path.join(site, "analysis", "h", "Linux", recent))
    r = sitesync(cfg, "-t", "1", "--purge", "--purge-analysis", "1m", "--purge-may-empty",
                 daemon.url("archive_site1"), cwd=site)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(os.path.join(site, "analysis", "h", "Linux", recent))


def rsync_pids():
    """Every rsync client process on this machine (the daemon excluded by its --daemon arg)."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == b"rsync" and b"--daemon" not in argv:
            out.append(int(p))
    return out


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def start_big_transfer(daemon, work, cfg):
    src = daemon.path("archive_site1")
    write(os.path.join(src, "storage", "big.rrd"), os.urandom(1024 * 1024) * 40)
    write(os.path.join(src, "small.txt"), "small\n")
    env = sitesync_env(cfg)
    proc = subprocess.Popen([binary("sitesync"), "site1"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    dest = os.path.join(work, "site1")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        sizes = [os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(dest) for f in fs]
        if any(s > 4 * 1024 * 1024 for s in sizes):
            break
        time.sleep(0.05)
    else:
        stop_pid(proc)
        raise AssertionError("the transfer never started")
    kids = children_of(proc.pid)
    assert kids, "no rsync child"
    # rsync's own forked receiver too.
    family = kids + [g for k in kids for g in children_of(k)]
    return proc, family, dest, src


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_signals_reach_rsync_and_are_waited_for(daemon, work, sig):
    from test_sitesync import job
    cfg = config(work, job(work, daemon.url("archive_site1"), extra="bwlimit: 8MB/s"))
    proc, family, dest, src = start_big_transfer(daemon, work, cfg)
    try:
        os.kill(proc.pid, sig)
        proc.wait(timeout=20)
        # When sitesync is gone, so is every rsync it started: nothing writes on.
        assert not [p for p in family if alive(p)]
        assert proc.returncode == 1
        assert f"interrupted by SIG{signal.Signals(sig).name[3:]}" in proc.stderr.read()
    finally:
        stop_pid(proc)
    assert not os.path.exists(os.path.join(dest, "storage", "big.rrd"))
    # rsync removed its own temp file on the signal: only whole files are left.
    for rel, data in tree(dest).items():
        assert data == open(os.path.join(src, rel), "rb").read(), f"{rel} is partial"
    # The lock is free at once: the next run finishes the job and leaves no temp file.
    r = sitesync(cfg, "--bwlimit", "1G", "site1")
    assert r.returncode == 0, r.stderr
    assert tree(dest) == tree(src)  # with no temp file left beside a real name
    assert not os.path.exists(os.path.join(dest, ".rsync-partial"))


def test_sigkill_takes_rsync_along_and_the_job_stays_locked_until_it_is_gone(daemon, work):
    from test_sitesync import job
    cfg = config(work, job(work, daemon.url("archive_site1"), extra="bwlimit: 8MB/s"))
    proc, family, dest, src = start_big_transfer(daemon, work, cfg)
    try:
        os.kill(proc.pid, signal.SIGKILL)  # sitesync only: rsync is not touched by the test
        proc.wait(timeout=10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and [p for p in family if alive(p)]:
            # While any of them lives, a second run must not start a second writer.
            r = sitesync(cfg, "-v", "site1", timeout=30)
            if [p for p in family if alive(p)]:
                assert r.returncode == 0 and ("already running" in r.stderr or
                                              "another run" in r.stderr), r.stderr
            time.sleep(0.1)
        assert not [p for p in family if alive(p)], "rsync outlived a SIGKILLed sitesync"
    finally:
        stop_pid(proc)
    r = sitesync(cfg, "--bwlimit", "1G", "site1")
    assert r.returncode == 0, r.stderr
    assert tree(dest) == tree(src)  # with no temp file left beside a real name
    assert not os.path.exists(os.path.join(dest, ".rsync-partial"))


@pytest.fixture
def site_user(work):
    """A throwaway system user, removed afterwards."""
    name = f"hk13s{os.getpid() % 100000}"
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                    name], check=True)
    try:
        yield pwd.getpwnam(name)
    finally:
        subprocess.run(["userdel", name], check=False)


def run_as(user, argv, cwd, env):
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
                          user=user.pw_uid, group=user.pw_gid, extra_groups=[],
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("root_first", [True, False])
def test_root_and_the_site_user_in_either_order(daemon, work, site_user, root_first):
    from test_sitesync import job
    make_zip(os.path.join(daemon.path("archive_site1"), "arc_h__Linux_20150619_1416.zip"),
             {"Linux/20150619/1416/a.txt": b"a"})
    os.chmod(daemon.path("archive_site1"), 0o755)
    root_cfg = config(work, job(work, daemon.url("archive_site1")))
    # The site user: its own home and config (root's is 0600), the same run_dir.
    home = os.path.join(work, "home")
    os.makedirs(home)
    os.chown(home, site_user.pw_uid, site_user.pw_gid)
    user_cfg = write_config(home, f"state_dir: {home}/state\nrun_dir: {work}/run\n"
                                  "log: {syslog: false}\n")
    os.chown(user_cfg, site_user.pw_uid, site_user.pw_gid)
    user_tmp = os.path.join(work, "tmp")
    os.makedirs(user_tmp)
    os.chmod(user_tmp, 0o1777)
    user_env = dict(os.environ, HAKIT_CONFIG=user_cfg, TMPDIR=user_tmp)

    def as_root():
        r = sitesync(root_cfg, "site1")
        assert r.returncode == 0, r.stderr
        st = os.stat(os.path.join(work, "run", "sitesync"))
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (0, 0o700)

    def as_user():
        r = run_as(site_user, [binary("sitesync"), "-t", "1", daemon.url("archive_site1")],
                   home, user_env)
        assert r.returncode == 0, r.stderr
        assert r.stderr == ""  # quiet without a terminal
        assert os.path.exists(f"{home}/analysis/h/Linux/20150619/141600/a.txt")
        # run_dir is root's: the private fallback, really used, owned and 0700.
        lock_dir = os.path.join(user_tmp, f"hakit-sitesync-{site_user.pw_uid}")
        st = os.stat(lock_dir)
        assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (site_user.pw_uid, 0o700)
        assert os.listdir(lock_dir)

    for step in ((as_root, as_user) if root_first else (as_user, as_root)):
        step()
    # And again, in the other order, now that both directories exist.
    for step in ((as_user, as_root) if root_first else (as_root, as_user)):
        step()


def test_guards_nan_fraction_and_symlinked_destination(daemon, work):
    write(os.path.join(daemon.path("archive_site1"), "a.txt"), "a")
    cfg = config(work)
    for bad in ("nan", "inf", "-nan"):
        r = sitesync(cfg, "--min-source-fraction", bad, daemon.url("archive_site1"),
                     os.path.join(work, "d"))
        assert r.returncode == 3, (bad, r.stderr)
    real = os.path.join(work, "real")
    os.makedirs(real)
    write(os.path.join(real, "precious.txt"), "keep")
    link = os.path.join(work, "link")
    os.symlink(real, link)
    r = sitesync(cfg, "-t", "1", daemon.url("archive_site1"), link)
    assert r.returncode == 2
    assert "is a symlink" in r.stderr and "--follow-dest-symlink" in r.stderr
    assert os.path.exists(os.path.join(real, "precious.txt"))
    r = sitesync(cfg, "-t", "1", "--follow-dest-symlink", "--disable-delete",
                 daemon.url("archive_site1"), link)
    assert r.returncode == 0, r.stderr
    assert os.path.exists(os.path.join(real, "a.txt"))


def test_progress_shows_at_a_terminal(daemon, work):
    write(os.path.join(daemon.path("archive_site1"), "big.bin"), os.urandom(4 << 20))
    cfg = config(work)
    site = os.path.join(work, "site1")
    os.makedirs(site)
    master, slave = pty.openpty()

    def own_terminal():
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([binary("sitesync"), "-t", "1", daemon.url("archive_site1")],
                            cwd=site, env=sitesync_env(cfg), stdin=slave, stdout=slave,
                            stderr=slave, preexec_fn=own_terminal)
    os.close(slave)
    out = b""
    try:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        assert proc.wait(timeout=60) == 0, out
    finally:
        stop_pid(proc)
        os.close(master)
    text = out.decode(errors="replace")
    assert "to-chk=" in text or "xfr#" in text, text  # rsync's own progress line
    assert f"{site}/.rsync/archive_site1" in text  # where the data went


def processes_naming(text):
    """{pid: comm} of the live processes whose command line contains `text`."""
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmd and alive(int(p)):
            try:
                with open(f"/proc/{p}/comm") as f:
                    out[int(p)] = f.read().strip()
            except OSError:
                pass
    return out


def test_notify_sync_action_timeout_ends_the_whole_tree(daemon, work):
    """notify_master's `sync` action against a slow source, with a 1 s action timeout: when
    notify returns, neither sitesync nor any rsync of that run is left, the job lock is free
    and no partial file stands under a real name."""
    from test_sitesync import job
    src = daemon.path("archive_site1")
    write(os.path.join(src, "storage", "big.rrd"), os.urandom(1024 * 1024) * 40)
    write(os.path.join(src, "small.txt"), "small\n")
    instances = ("instances:\n  VI_1:\n    promote:\n"
                 "      - sync: site1\n        timeout: 1s\n")
    # 1 MB/s: the 40 MiB file takes 40 s, far beyond the action's timeout.
    cfg = config(work, job(work, daemon.url("archive_site1"), extra="bwlimit: 1MB/s"),
                 extra=instances)
    dest = os.path.join(work, "site1")
    notify = subprocess.Popen([binary("notify_master"), "--config", cfg, "-v", "--instance",
                               "VI_1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, text=True,
                              env=dict(os.environ, TMPDIR=work))
    seen = {}
    try:
        # Every process of the run names the destination (rsync) or the config (sitesync).
        while notify.poll() is None:
            seen.update(processes_naming(dest))
            seen.update(processes_naming(cfg))
            time.sleep(0.02)
        err = notify.stderr.read()
    finally:
        stop_pid(notify)
    assert notify.returncode == 1, err
    # The run really started both (sitesync's guardian is a forked sitesync).
    assert "sitesync" in seen.values() and "rsync" in seen.values(), seen
    acts = [e for e in journal(work) if "actions" in e][-1]["actions"]
    assert acts[0]["outcome"] == "failed" and "timed out" in acts[0]["error"], acts
    # The tree ends with notify's kill: sitesync's guardian takes rsync along (rsync leads
    # its own process group, out of reach of a group kill), so allow it a moment.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and (processes_naming(dest) or processes_naming(cfg)):
        time.sleep(0.1)
    assert not processes_naming(dest) and not processes_naming(cfg), "a process of the run is left"
    assert not [p for p in seen if alive(p)], "a process of the run is left"
    # No half-written file under a real name (rsync's ".big.rrd.XXXXXX" at most).
    assert not os.path.exists(os.path.join(dest, "storage", "big.rrd"))
    for rel, data in tree(dest).items():
        if not os.path.basename(rel).startswith(".big.rrd."):
            assert data == open(os.path.join(src, rel), "rb").read(), f"{rel} is partial"
    # The job lock is free: the next run does the whole job and sweeps any temp file.
    r = sitesync(cfg, "-v", "--bwlimit", "1G", "site1")
    assert r.returncode == 0 and "already running" not in r.stderr, r.stderr
    assert tree(dest) == tree(src)
