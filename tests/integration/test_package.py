"""The Debian package: built with CPack, installed with dpkg on this machine, used, upgraded
with an edited conffile, removed and purged, leaving nothing behind.

It installs into the real /usr, /etc and /var, so it refuses to run over an existing hakit
installation (it would remove it) and always purges what it installed.
"""
import http.server
import json
import os
import re
import shutil
import subprocess
import threading

import pytest

from fixtures.common import BUILD_DIR, SOURCE_DIR, free_port, require, run, tempdir

PKG = "hakit"
SYSTEM_PATHS = ["/etc/hakit", "/var/lib/hakit", "/var/log/hakit", "/run/hakit",
                "/usr/libexec/hakit", "/etc/logrotate.d/hakit", "/usr/lib/tmpfiles.d/hakit.conf",
                "/usr/share/doc/hakit", "/usr/share/hakit"]


def installed():
    r = run(["dpkg-query", "-W", "-f", "${Status}", PKG])
    return r.returncode == 0 and "install ok installed" in r.stdout


def dpkg(*args, timeout=300):
    r = run(["dpkg", *args], timeout=timeout,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, f"dpkg {' '.join(args)}: {r.stdout}{r.stderr}"
    return r


def field(deb, name):
    return run(["dpkg-deb", "-f", deb, name]).stdout.strip()


@pytest.fixture(scope="module")
def deb():
    require("cpack")
    require("dpkg-deb")
    out = tempdir("hakit-deb-")
    r = run(["cpack", "-G", "DEB", "-B", out, "--config",
             os.path.join(BUILD_DIR, "CPackConfig.cmake")], timeout=600, cwd=BUILD_DIR)
    assert r.returncode == 0, r.stdout + r.stderr
    debs = [f for f in os.listdir(out) if f.endswith(".deb")]
    assert len(debs) == 1, debs
    yield os.path.join(out, debs[0])
    shutil.rmtree(out, ignore_errors=True)


# Left by ad-hoc tool runs with the default config; kept aside and put back, never deleted.
STATE_PATHS = ["/var/lib/hakit", "/run/hakit", "/var/log/hakit"]


@pytest.fixture
def clean_machine():
    """Fails rather than touch an installation the test did not make; purges whatever it made."""
    assert not installed(), f"package {PKG} is installed on this machine: purge it first"
    present = [p for p in SYSTEM_PATHS if p not in STATE_PATHS and os.path.lexists(p)]
    assert not present, f"refusing to install over existing files: {present}"
    aside = tempdir("hakit-aside-")
    moved = []
    try:
        for p in STATE_PATHS:
            if os.path.lexists(p):
                shutil.move(p, os.path.join(aside, p.strip("/").replace("/", "_")))
                moved.append(p)
        yield
    finally:
        if installed():
            run(["dpkg", "--purge", PKG], timeout=300)
        for p in moved:
            if not os.path.lexists(p):
                shutil.move(os.path.join(aside, p.strip("/").replace("/", "_")), p)
        shutil.rmtree(aside, ignore_errors=True)


def test_package_metadata(deb):
    depends = field(deb, "Depends")
    assert "rsync" in depends
    assert re.search(r"\blibc6\b", depends), f"no shlibdeps in Depends: {depends}"
    assert "keepalived" in field(deb, "Recommends")
    assert field(deb, "Package") == PKG
    assert field(deb, "Version").startswith(open(os.path.join(SOURCE_DIR, "CMakeLists.txt"))
                                            .read().split("project(hakit VERSION ")[1].split()[0])
    ctl = tempdir("hakit-ctl-")
    try:
        assert run(["dpkg-deb", "-e", deb, ctl]).returncode == 0
        conffiles = open(os.path.join(ctl, "conffiles")).read().split()
        assert conffiles == ["/etc/hakit/hakit.yaml", "/etc/logrotate.d/hakit"]
    finally:
        shutil.rmtree(ctl, ignore_errors=True)
    # Every file in the archive: root-owned, not writable by group/others.
    listing = run(["dpkg-deb", "-c", deb]).stdout.splitlines()
    assert listing
    for line in listing:
        mode, owner = line.split()[0], line.split()[1]
        assert owner == "root/root", line
        if not mode.startswith("l"):
            assert mode[5] != "w" and mode[8] != "w", line
    names = {line.split()[5].lstrip(".") for line in listing}
    for p in ("/usr/libexec/hakit/hakit-status", "/usr/sbin/hakit-status",
              "/usr/share/man/man8/hakit-status.8.gz", "/etc/hakit/hakit.yaml",
              "/usr/lib/tmpfiles.d/hakit.conf"):
        assert p in names, p


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        body = b"site is up\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_install_use_upgrade_remove_purge(deb, clean_machine):
    dpkg("-i", deb)
    assert installed()
    # postinst made the directories; the conffile is in place.
    for d in ("/var/lib/hakit", "/run/hakit", "/var/log/hakit"):
        assert os.path.isdir(d), d
    assert os.path.isfile("/etc/hakit/hakit.yaml")

    # A check from the installed path, against a real HTTP server on loopback.
    port = free_port()
    server = http.server.HTTPServer(("127.0.0.1", port), _Ok)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        r = run(["/usr/libexec/hakit/check_http_200", f"http://127.0.0.1:{port}/", "-t", "5s"])
    finally:
        server.shutdown()
        server.server_close()
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("HTTP OK"), r.stdout

    # The operator command, through the symlink on PATH, with the default config.
    r = run(["/usr/sbin/hakit-status", "--json"])
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["state_dir"] == "/var/lib/hakit"
    assert j["failover_flag"]["set"] is False
    require("man")
    assert run(["man", "-w", "hakit-status"]).stdout.strip() == \
        "/usr/share/man/man8/hakit-status.8.gz"

    # Upgrade to a newer version with the operator's edit in the conffile: the edit survives.
    with open("/etc/hakit/hakit.yaml", "a") as f:
        f.write("# edited by the operator\n")
    work = tempdir("hakit-upgrade-")
    try:
        tree = os.path.join(work, "tree")
        assert run(["dpkg-deb", "-R", deb, tree]).returncode == 0
        control = os.path.join(tree, "DEBIAN", "control")
        text = open(control).read()
        version = re.search(r"^Version: (.*)$", text, re.M).group(1)
        with open(control, "w") as f:
            f.write(text.replace(f"Version: {version}", f"Version: {version}+test1"))
        newer = os.path.join(work, "newer.deb")
        r = run(["dpkg-deb", "--root-owner-group", "-b", tree, newer])
        assert r.returncode == 0, r.stderr
        dpkg("-i", newer)
        assert run(["dpkg-query", "-W", "-f", "${Version}", PKG]).stdout == f"{version}+test1"
        assert open("/etc/hakit/hakit.yaml").read().endswith("# edited by the operator\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)

    # Some state, as the tools would leave it.
    with open("/var/lib/hakit/journal.jsonl", "w") as f:
        f.write('{"kind":"transition","instance":"VI_1"}\n')

    # remove: binaries go, the conffile and the state stay.
    dpkg("-r", PKG)
    assert not os.path.exists("/usr/libexec/hakit/hakit-status")
    assert not os.path.lexists("/usr/sbin/hakit-status")
    assert os.path.isfile("/etc/hakit/hakit.yaml")
    assert os.path.isfile("/var/lib/hakit/journal.jsonl")

    # purge: nothing is left.
    dpkg("--purge", PKG)
    assert not installed()
    left = [p for p in SYSTEM_PATHS if os.path.lexists(p)]
    assert not left, f"left behind after purge: {left}"
