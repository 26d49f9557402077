"""One hakit.yaml is copied to every node: a mistake in one tool's section must never change
what another tool does (keepalived would take a failed check as a fault on every node).

For each tool, the same run is made with a clean config and with a typo planted in every
section the tool does not read; exit code and stdout must be the same. --check-config and
`hakit-config check` must still find every planted typo. Real binaries, a real HTTP server
of the test's own, no MariaDB needed (the mysql check targets a closed port: CRITICAL).
"""
import http.server
import os
import re
import threading

import pytest

from fixtures.common import free_port, run, tempdir, tool, write_config

BASE = """\
state_dir: {d}/state
run_dir: {d}/run
log: {{syslog: false}}
mysql:
  local: {{host: 127.0.0.1, port: {closed}, user: hakit, connect_timeout: 300ms}}
  peer: {{host: 127.0.0.1, port: {closed}}}
checks:
  site: {{type: http, url: "http://127.0.0.1:{port}/", timeout: 2s}}
  down: {{type: http, url: "http://127.0.0.1:{closed}/", timeout: 2s}}
  replica: {{type: mysql, mysql: local, timeout: 1s}}
instances:
  VI_1:
    vip: {{address: 127.0.0.1, interface: lo}}
    promote:
      - run: [/bin/true]
    demote:
      - run: [/bin/true]
  VI_2:
    promote:
      - notify: ops
notifications:
  ops: {{webhook: {{url: "http://127.0.0.1:{closed}/hook"}}}}
sync:
  site1: {{source: "rsync://127.0.0.1:{closed}/archive_site1", dest: {d}/site1/}}
"""

# One typo per section, each in an entry the runs below do not use (or a section the tool
# does not own), as an operator's careless edit would leave it.
TYPOS = {
    "sync": ("dest: {d}/site1/}}", "dest: {d}/site1/, afer: [/bin/true]}}"),
    "instances": ("      - notify: ops", "      - notfy: ops"),
    "notifications": ('url: "http://127.0.0.1:{closed}/hook"', 'ulr: "http://127.0.0.1:{closed}/hook"'),
    "mysql peer": ("peer: {{host: 127.0.0.1, port: {closed}}}", "peer: {{host: 127.0.0.1, prot: {closed}}}"),
    "checks down": ('down: {{type: http, url: "http://127.0.0.1:{closed}/", timeout: 2s}}',
                    'down: {{type: http, url: "http://127.0.0.1:{closed}/", timout: 2s}}'),
    "unknown section": ("sync:\n", "sycn: {{}}\nsync:\n"),
}


@pytest.fixture(scope="module")
def web():
    class Ok(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"hello\n"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    port = free_port()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Ok)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield port
    srv.shutdown()
    srv.server_close()


def config_text(d, port, closed, typo=None):
    text = BASE
    if typo:
        old, new = TYPOS[typo]
        assert old in text, old
        text = text.replace(old, new, 1)
    return text.format(d=d, port=port, closed=closed)


def stable(out):
    """stdout without timings (they differ run to run)."""
    return re.sub(r"[0-9]+\.[0-9]+ ?s|time=[^ ]*|size=[^ ]*", "T", out)


def runs(cfg):
    """The runs whose outcome must not depend on other sections: (name, argv)."""
    return [
        ("check_http_200 ok", [tool("check_http_200"), "--config", cfg, "--check", "site"]),
        ("check_http_200 down", [tool("check_http_200"), "--config", cfg, "--check", "down"]),
        ("check_mysql_slave", [tool("check_mysql_slave"), "--config", cfg, "--check", "replica"]),
        ("notify_master", [tool("notify_master"), "--config", cfg, "--instance", "VI_1", "--force"]),
        ("notify_backup", [tool("notify_backup"), "--config", cfg, "--instance", "VI_1"]),
        ("hakit-status", [tool("hakit-status"), "--config", cfg, "--json"]),
    ]


# The runs that read the section a typo is in are not expected to be unaffected.
READS = {
    "checks down": {"check_http_200 down"},
    "mysql peer": set(),
    "instances": set(),  # VI_2 is not VI_1
}


@pytest.mark.parametrize("typo", sorted(TYPOS))
def test_typo_elsewhere_changes_nothing(web, typo):
    closed = free_port()
    d = tempdir()
    clean = write_config(d, config_text(d, web, closed), name="clean.yaml")
    broken = write_config(d, config_text(d, web, closed, typo), name="broken.yaml")
    for (name, argv_clean), (_, argv_broken) in zip(runs(clean), runs(broken)):
        if name in READS.get(typo, set()):
            continue
        a = run(argv_clean, timeout=30)
        b = run(argv_broken, timeout=30)
        assert a.returncode == b.returncode, (typo, name, a.stdout, a.stderr, b.stdout, b.stderr)
        if name.startswith("check"):
            assert stable(a.stdout) == stable(b.stdout), (typo, name, a.stdout, b.stdout)
            assert len(b.stdout.splitlines()) == 1, b.stdout
    # The outcomes themselves are the expected ones (so "unchanged" means something).
    codes = {name: run(argv, timeout=30).returncode for name, argv in runs(broken)}
    assert codes["check_http_200 ok"] == 0
    assert codes["check_mysql_slave"] == 2
    assert codes["notify_master"] == 0
    assert codes["hakit-status"] == 0
    if typo != "checks down":
        assert codes["check_http_200 down"] == 2
    # And the whole-file check finds the typo, with its position and a suggestion.
    for argv in ([tool("hakit-config"), "check", "--config", broken],
                 [tool("check_http_200"), "--config", broken, "--check-config"]):
        r = run(argv, timeout=30)
        assert r.returncode == 3, (argv, r.stdout, r.stderr)
        assert re.search(r"broken\.yaml:\d+:\d+: ", r.stderr), r.stderr
    r = run([tool("hakit-config"), "check", "--config", clean], timeout=30)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"config OK: {clean}\n"


def test_own_entry_is_strict_and_says_why_on_stdout(web):
    """A typo in the entry the check reads is an UNKNOWN with one Nagios line."""
    d = tempdir()
    cfg = write_config(d, config_text(d, web, free_port()).replace("timeout: 2s}", "timout: 2s}", 1))
    r = run([tool("check_http_200"), "--config", cfg, "--check", "site"], timeout=30)
    assert r.returncode == 3
    assert r.stdout.startswith("HTTP UNKNOWN - config: "), r.stdout
    assert "checks.site.timout: unknown key (did you mean 'timeout'?)" in r.stdout
    assert len(r.stdout.splitlines()) == 1


def test_every_exit_3_prints_one_unknown_line(web):
    d = tempdir()
    cfg = write_config(d, config_text(d, web, free_port()))
    cases = [
        [tool("check_http_200"), "--no-such-option"],
        [tool("check_http_200"), "--config", cfg, "--check", "nosuch"],
        [tool("check_http_200"), "--config", os.path.join(d, "absent.yaml"), "--check", "site"],
        [tool("check_http_200"), "ftp://127.0.0.1/"],
        [tool("check_mysql_slave"), "--config", cfg, "--check", "site"],
        [tool("check_mysql_slave"), "--bogus"],
        [tool("check_mysql_slave"), "--config", cfg, "--mysql", "nosuch"],
    ]
    for argv in cases:
        r = run(argv, timeout=30)
        assert r.returncode == 3, (argv, r.stdout, r.stderr)
        lines = r.stdout.splitlines()
        assert len(lines) == 1, (argv, r.stdout)
        assert re.match(r"^(HTTP|MYSQL) UNKNOWN - \S", lines[0]), (argv, r.stdout)


def test_unreadable_config_named_check_says_the_fix_no_config_goes_on(web):
    """Nagios runs checks as 'nagios'; root's hakit.yaml is 0600. (The unreadable *default*
    file, skipped by ad-hoc checks, is a unit test: tests/unit/test_common_cli.cpp.)"""
    d = tempdir()
    os.chmod(d, 0o755)
    cfg = write_config(d, config_text(d, web, free_port()), mode=0o600)
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
    r = run(nobody + [tool("check_http_200"), "--config", cfg, "--check", "site"], timeout=30)
    assert r.returncode == 3
    assert r.stdout.startswith(f"HTTP UNKNOWN - config {cfg}"), r.stdout
    assert "Permission denied" in r.stdout and "chmod 0640" in r.stdout
    # $HAKIT_CONFIG names a file this user cannot read: --no-config runs the ad-hoc check.
    env = dict(os.environ, HAKIT_CONFIG=cfg)
    r = run(nobody + [tool("check_http_200"), "--no-config", f"http://127.0.0.1:{web}/"],
            env=env, timeout=30)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.startswith("HTTP OK - 200")
