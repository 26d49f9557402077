"""`cmake --install` into a scratch DESTDIR, then checks what an operator and keepalived see.

- layout: binaries in /usr/libexec/hakit, operator symlinks in /usr/sbin, man pages, the
  sample config, logrotate and tmpfiles.d;
- every installed file root-owned and not writable by group/others;
- man pages made from each tool's --help (every long option appears in its page);
- an existing /etc/hakit/hakit.yaml is never overwritten by a later install;
- keepalived with enable_script_security accepts every installed tool: `keepalived -t`, then a
  short real run in a network namespace of the test's own (the script security check happens
  only when keepalived really starts), with a negative control that proves the check is live.
"""
import gzip
import os
import re
import shutil
import stat
import subprocess
import time

import pytest

from fixtures.common import BUILD_DIR, SOURCE_DIR, require, run, stop_pid, tempdir

SECURITY_PATTERNS = re.compile(r"SECURITY VIOLATION|[Ii]nsecure|Unsafe permissions|unsafe")


def expected_tools():
    """Every add_tool() NAME of the build (cmake/packaging.cmake writes the list)."""
    path = os.path.join(BUILD_DIR, "hakit-tools.txt")
    assert os.path.isfile(path), f"{path} missing: is cmake/packaging.cmake included?"
    names = set(open(path).read().split())
    assert names
    return names


def cmake_install(prefix, destdir=None, umask=None):
    env = dict(os.environ)
    if destdir:
        env["DESTDIR"] = destdir
    pre = (lambda: os.umask(umask)) if umask is not None else None
    r = run(["cmake", "--install", BUILD_DIR, "--prefix", prefix], env=env, timeout=300,
            preexec_fn=pre)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


@pytest.fixture(scope="module")
def root():
    d = tempdir("hakit-install-")
    cmake_install("/usr", d)
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_layout(root):
    libexec = os.path.join(root, "usr/libexec/hakit")
    tools = expected_tools()
    assert "hakit-status" in tools
    assert set(os.listdir(libexec)) == tools
    for t in tools:
        exe = os.path.join(libexec, t)
        assert os.access(exe, os.X_OK), exe
        link = os.path.join(root, "usr/sbin", t)
        assert os.path.islink(link), f"no operator symlink {link}"
        assert os.readlink(link) == f"../libexec/hakit/{t}"
        assert os.path.samefile(link, exe)
        assert os.path.isfile(os.path.join(root, "usr/share/man/man8", f"{t}.8.gz")), t
    for f in ("etc/hakit/hakit.yaml", "etc/logrotate.d/hakit", "usr/lib/tmpfiles.d/hakit.conf",
              "usr/share/hakit/hakit.yaml.sample", "usr/share/doc/hakit/operations.md",
              "usr/share/doc/hakit/metrics.md", "usr/share/doc/hakit/resident-mode.md",
              "usr/lib/systemd/system/hakitd.service"):
        assert os.path.isfile(os.path.join(root, f)), f
    for d in ("var/lib/hakit", "var/log/hakit", "run/hakit"):
        assert os.path.isdir(os.path.join(root, d)), d
    # The operator runs the symlink; it is the same binary.
    r = run([os.path.join(root, "usr/sbin/hakit-status"), "--version"])
    assert r.returncode == 0 and r.stdout.startswith("hakit-status ")


def test_owned_by_root_and_not_writable_by_others(root):
    bad = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                continue
            if st.st_uid != 0 or st.st_mode & 0o022:
                bad.append(f"{p} uid={st.st_uid} mode={oct(st.st_mode & 0o7777)}")
    assert not bad, "\n".join(bad)


def test_directories_are_0755_whatever_the_umask():
    """An admin's umask 077 must not make /usr/libexec/hakit or the man directories 0700:
    keepalived's script_user and operators could not run or read what was installed."""
    d = tempdir("hakit-install-")
    try:
        cmake_install("/usr", d, umask=0o077)
        bad = []
        for dirpath, dirnames, _ in os.walk(d):
            for name in dirnames:
                p = os.path.join(dirpath, name)
                mode = stat.S_IMODE(os.lstat(p).st_mode)
                # The log directory is 0750 on purpose (logs can name hosts and users).
                want = 0o750 if p.endswith("/var/log/hakit") else 0o755
                if mode != want:
                    bad.append(f"{p[len(d):]} {oct(mode)} (want {oct(want)})")
        assert not bad, "\n".join(bad)
        # Files keep their own modes: readable by all, binaries executable by all.
        exe = os.path.join(d, "usr/libexec/hakit/hakit-status")
        assert stat.S_IMODE(os.stat(exe).st_mode) == 0o755
        assert stat.S_IMODE(os.stat(os.path.join(d, "etc/hakit/hakit.yaml")).st_mode) == 0o644
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_man_pages_come_from_help(root):
    for t in expected_tools():
        exe = os.path.join(root, "usr/libexec/hakit", t)
        help_text = run([exe, "--help"]).stdout
        page = gzip.open(os.path.join(root, "usr/share/man/man8", f"{t}.8.gz"), "rt").read()
        assert re.search(rf'^\.TH "?{re.escape(t.upper())}"? "?8"?', page, re.M), t
        assert ".SH EXAMPLES" in page, f"{t}: no EXAMPLES section"
        # help2man writes each '-' as '\-'; every long option of --help is documented.
        options = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]+", help_text))
        assert "--config" in options
        missing = [o for o in options if o.replace("-", r"\-") not in page]
        assert not missing, f"{t}: {missing} in --help but not in the man page"


def test_installed_config_is_valid_for_every_tool(root):
    cfg = os.path.join(root, "etc/hakit/hakit.yaml")
    for t in expected_tools():
        r = run([os.path.join(root, "usr/libexec/hakit", t), "--config", cfg, "--check-config"])
        assert r.returncode == 0, f"{t}: {r.stdout}{r.stderr}"
        assert "config OK" in r.stdout


def test_an_install_never_overwrites_the_config():
    d = tempdir("hakit-install-")
    try:
        cmake_install("/usr", d)
        cfg = os.path.join(d, "etc/hakit/hakit.yaml")
        sample = open(os.path.join(SOURCE_DIR, "packaging/hakit.yaml")).read()
        assert open(cfg).read() == sample
        with open(cfg, "a") as f:
            f.write("# the operator's edit\n")
        r = cmake_install("/usr", d)
        assert "Keeping:" in r.stdout
        assert open(cfg).read() == sample + "# the operator's edit\n"
        # The fresh sample is always there to compare with.
        assert open(os.path.join(d, "usr/share/hakit/hakit.yaml.sample")).read() == sample
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_other_prefix_keeps_everything_under_it():
    d = tempdir("hakit-install-")
    try:
        prefix = os.path.join(d, "opt/hakit")
        cmake_install(prefix)
        assert os.path.isfile(os.path.join(prefix, "etc/hakit/hakit.yaml"))
        assert os.path.isfile(os.path.join(prefix, "libexec/hakit/hakit-status"))
        assert os.path.isdir(os.path.join(prefix, "var/lib/hakit"))
        assert os.path.islink(os.path.join(prefix, "sbin/hakit-status"))
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_logrotate_config_parses(root):
    logrotate = require("logrotate")
    state = os.path.join(root, "logrotate.state")
    r = run([logrotate, "-d", "-s", state, os.path.join(root, "etc/logrotate.d/hakit")])
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout + r.stderr
    assert "rotating pattern: /var/log/hakit/*.log" in out
    assert "error" not in out.lower(), out


def test_tmpfiles_creates_the_directories(root):
    tmpfiles = require("systemd-tmpfiles")
    alt = tempdir("hakit-tmpfiles-")
    try:
        # --root resolves users and groups in the alternative root's own /etc.
        os.makedirs(os.path.join(alt, "etc"))
        for f in ("passwd", "group"):
            shutil.copy(f"/etc/{f}", os.path.join(alt, "etc", f))
        conf = os.path.join(root, "usr/lib/tmpfiles.d/hakit.conf")
        r = run([tmpfiles, "--create", f"--root={alt}", conf])
        assert r.returncode == 0, r.stdout + r.stderr
        for d, mode in (("run/hakit", 0o755), ("var/lib/hakit", 0o755), ("var/log/hakit", 0o750)):
            st = os.stat(os.path.join(alt, d))
            assert stat.S_IMODE(st.st_mode) == mode, d
            assert st.st_uid == 0
    finally:
        shutil.rmtree(alt, ignore_errors=True)


def keepalived_conf(root):
    libexec = os.path.join(root, "usr/libexec/hakit")
    cfg = os.path.join(root, "etc/hakit/hakit.yaml")
    tools = sorted(expected_tools())
    scripts = "".join(
        f'vrrp_script chk_{t.replace("-", "_")} {{\n'
        f'  script "{libexec}/{t} --config {cfg} --check-config"\n'
        f"  interval 2\n  timeout 3\n  fall 3\n  rise 2\n}}\n" for t in tools)
    track = "".join(f'    chk_{t.replace("-", "_")}\n' for t in tools)
    notify = ""
    for hook, t in (("notify_master", "notify_master"), ("notify_backup", "notify_backup"),
                    ("notify_fault", "notify_backup")):
        assert t in tools, f"{t} is not built"
        notify += f'  {hook} "{libexec}/{t} --config {cfg} --check-config"\n'
    return f"""
global_defs {{
  enable_script_security
  script_user root
}}
{scripts}
vrrp_instance VI_1 {{
  state BACKUP
  interface veth0
  virtual_router_id 51
  priority 100
  advert_int 5
  nopreempt
  virtual_ipaddress {{
    192.0.2.100/24
  }}
  track_script {{
{track}  }}
{notify}}}
""", tools


def run_keepalived(ns, conf, workdir, until, timeout=40.0):
    """Runs keepalived in the namespace until every pattern in `until` is in its log."""
    log_path = os.path.join(workdir, "keepalived.log")
    keepalived = require("keepalived")
    with open(log_path, "w") as log:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, keepalived, "-n", "-l", "-D", "-f", conf,
             "-p", os.path.join(workdir, "k.pid"), "-r", os.path.join(workdir, "v.pid"),
             "-c", os.path.join(workdir, "c.pid")],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = open(log_path).read()
            if all(p in text for p in until) or proc.poll() is not None:
                break
            time.sleep(0.2)
    finally:
        stop_pid(proc)
    return open(log_path).read()


def test_keepalived_accepts_the_installed_tools(root):
    require("keepalived")
    require("ip")
    conf_text, tools = keepalived_conf(root)
    conf = os.path.join(root, "keepalived.conf")
    with open(conf, "w") as f:
        f.write(conf_text)

    ns = f"hakit-inst-{os.getpid()}"
    assert run(["ip", "netns", "add", ns]).returncode == 0
    try:
        # The instance's interface exists only in the test's own namespace.
        for argv in (["ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1"],
                     ["ip", "addr", "add", "192.0.2.1/24", "dev", "veth0"],
                     ["ip", "link", "set", "veth0", "up"], ["ip", "link", "set", "veth1", "up"]):
            r = run(["ip", "netns", "exec", ns, *argv])
            assert r.returncode == 0, r.stderr

        r = run(["ip", "netns", "exec", ns, require("keepalived"), "-t", "-f", conf])
        assert r.returncode == 0, r.stdout + r.stderr
        assert not SECURITY_PATTERNS.search(r.stdout + r.stderr), r.stdout + r.stderr

        wanted = [f'VRRP_Script(chk_{t.replace("-", "_")}) succeeded' for t in tools]
        log = run_keepalived(ns, conf, root, wanted)
        assert "Startup complete" in log, log
        assert not SECURITY_PATTERNS.search(log), log
        missing = [w for w in wanted if w not in log]
        assert not missing, f"{missing}\n{log}"

        # Negative control: a world-writable tool must be refused, or the check above is moot.
        exe = os.path.join(root, "usr/libexec/hakit/hakit-status")
        os.chmod(exe, 0o757)
        try:
            log = run_keepalived(ns, conf, root, ["Unsafe permissions found for script"])
        finally:
            os.chmod(exe, 0o755)
        assert f"Unsafe permissions found for script '{exe}'" in log, log
    finally:
        run(["ip", "netns", "del", ns])


def test_hakit_yaml_man_page_is_generated_from_the_parsers(root):
    """hakit.yaml(5) lists every key the parsers read, with types and defaults."""
    page = gzip.open(os.path.join(root, "usr/share/man/man5", "hakit.yaml.5.gz"), "rt").read()
    assert re.search(r"^\.TH HAKIT\.YAML 5", page, re.M)
    keys = run([os.path.join(root, "usr/libexec/hakit", "hakit-config"), "keys"]).stdout
    paths = [line.split()[0] for line in keys.splitlines() if line.strip()]
    assert len(paths) > 100, keys
    for p in paths:
        assert p.replace("-", r"\-") in page, p
    # A few that an operator looks up, with their defaults from the code.
    for key, default in [("checks.HTTP_NAME.timeout", "1500ms"), ("checks.MYSQL_NAME.lag.warning", None), ("sync.NAME.max_delete", None),
                         ("instances.NAME.promote[].mysql_promote.catchup_timeout", "1m"),
                         ("mysql.NAME.port", "3306")]:
        line = next((l for l in keys.splitlines() if l.split()[0] == key), None)
        assert line, key
        if default:
            assert f"default {default}" in line, line
