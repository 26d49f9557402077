"""check_http_200 against a real nginx: statuses, virtual hosts, body matching, HEAD,
redirects, thresholds, basic auth, the config entry and its overrides, the maintenance
file, proxies from the environment, refused connections and unresolvable names."""
import os
import shutil

import pytest

from check_http_common import binary, check
from fixtures.badhttp import FakeDns
from fixtures.common import free_port, run, tempdir, write_config
from fixtures.nginx import INDEX_BYTES, Nginx


@pytest.fixture(scope="module")
def ng():
    with Nginx() as n:
        yield n


def test_ok_line_exit_and_perfdata(ng):
    r = check(ng.url("/"))
    assert (r.rc, r.state) == (0, "OK"), r
    assert r.summary.startswith("200 in ") and r.summary.endswith(f"{INDEX_BYTES} bytes"), r
    assert r.perf["size"] == INDEX_BYTES
    assert 0 < r.perf["time"] < 1.0


@pytest.mark.parametrize("path,expect,state,rc", [
    ("/204", None, "CRITICAL", 2),
    ("/204", "200,204", "OK", 0),
    ("/204", "2xx", "OK", 0),
    ("/404", None, "CRITICAL", 2),
    ("/404", "200-404", "OK", 0),
    ("/500", None, "CRITICAL", 2),
    ("/500", "5xx", "OK", 0),
])
def test_status_sets(ng, path, expect, state, rc):
    args = [ng.url(path)] + (["-e", expect] if expect else [])
    r = check(*args)
    assert (r.state, r.rc) == (state, rc), r
    status = path.strip("/")
    assert r.summary.startswith(status), r
    if state == "CRITICAL":
        assert f"status {status}" in r.summary and "not expected" in r.summary, r


def test_redirect_not_followed_by_default_then_followed(ng):
    r = check(ng.url("/301"))
    assert r.state == "CRITICAL" and "redirect to" in r.summary and "/ok" in r.summary, r
    r = check(ng.url("/301"), "--follow", "3", "-s", "site up")
    assert r.state == "OK", r
    r = check(ng.url("/301"), "-e", "301")
    assert r.state == "OK", r


def test_virtual_host_by_host_header_and_resolve(ng):
    r = check(ng.url("/"), "--host-header", "site.example", "-s", "vhost site.example")
    assert r.state == "OK", r
    # Without the Host header the default server answers: the string is missing.
    r = check(ng.url("/"), "-s", "vhost site.example")
    assert r.state == "CRITICAL" and "not found in the body" in r.summary, r
    r = check(f"http://site.example:{ng.port}/", "--resolve", f"site.example:{ng.port}:127.0.0.1",
              "-s", "vhost site.example")
    assert r.state == "OK", r
    # -I/-p: the node to connect to; the URL keeps the name (Host header).
    r = check(f"http://site.example:1/", "-I", "127.0.0.1", "-p", str(ng.port),
              "-s", "vhost site.example")
    assert r.state == "OK", r


def test_body_string_regex_invert(ng):
    assert check(ng.url("/json"), "-s", '"status":"ok"').state == "OK"
    assert check(ng.url("/json"), "-r", '"db": *"up"').state == "OK"
    r = check(ng.url("/json"), "-r", '"db": *"down"')
    assert r.state == "CRITICAL" and "regex" in r.summary, r
    r = check(ng.url("/maintenance-page"), "-s", "maintenance", "--invert")
    assert r.state == "CRITICAL" and "body matches string 'maintenance'" in r.summary, r
    assert check(ng.url("/ok"), "-s", "maintenance", "--invert").state == "OK"


def test_head_request_has_no_body(ng):
    r = check(ng.url("/"), "-j", "HEAD")
    assert r.state == "OK" and r.perf["size"] == 0, r


def test_basic_auth_from_secret_file(ng):
    d = tempdir()
    try:
        good = write_config(d, "probe:s3cret\n", name="auth")
        bad = write_config(d, "probe:wrong\n", name="bad")
        assert check(ng.url("/auth/")).summary.startswith("401")
        r = check(ng.url("/auth/"), "--auth-file", good, "-s", "secret area")
        assert r.state == "OK", r
        assert check(ng.url("/auth/"), "--auth-file", bad).state == "CRITICAL"
        os.chmod(good, 0o644)
        r = check(ng.url("/auth/"), "--auth-file", good)
        assert (r.state, r.rc) == ("UNKNOWN", 3), r
        assert "s3cret" not in r.stdout + r.stderr
    finally:
        shutil.rmtree(d)


def test_user_agent_and_headers(ng):
    r = check(ng.url("/headers"), "-s", "ua=check_http_200/")
    assert r.state == "OK", r
    r = check(ng.url("/headers"), "-A", "probe/1", "--header", "X-Probe: 42", "-s", "ua=probe/1 x=42")
    assert r.state == "OK", r


def test_proxy_environment_is_ignored(ng):
    dead = f"http://127.0.0.1:{free_port()}"
    env = {"http_proxy": dead, "HTTP_PROXY": dead, "all_proxy": dead, "ALL_PROXY": dead}
    r = check(ng.url("/ok"), env=env)
    assert r.state == "OK", r
    # An explicit --proxy is used (and here it is dead).
    r = check(ng.url("/ok"), "--proxy", dead)
    assert r.state == "CRITICAL" and "cannot connect" in r.summary, r


def test_connection_refused():
    port = free_port()
    r = check(f"http://127.0.0.1:{port}/")
    assert (r.state, r.rc) == ("CRITICAL", 2), r
    assert "Connection refused" in r.summary and f"127.0.0.1:{port}" in r.summary, r


def test_unresolvable_name():
    # Lookups go to a DNS server of our own on loopback (answering NXDOMAIN), through a
    # resolv.conf bound over the system one in the check's private mount namespace.
    with FakeDns("nxdomain") as dns:
        r = check("http://no-such-host.invalid/", "-t", "3s", preexec_fn=dns.resolver_preexec())
        assert dns.queries > 0, "the check did not ask our DNS server"
    assert (r.state, r.rc) == ("CRITICAL", 2), r
    assert r.summary.startswith("DNS: cannot resolve no-such-host.invalid"), r
    assert r.wall < 2.5, r


def test_config_entry_and_command_line_override(ng):
    d = tempdir()
    try:
        maint = os.path.join(d, "maintenance")
        cfg = write_config(d, f"""\
log: {{syslog: false}}
maintenance_file: {maint}
checks:
  site:
    type: http
    url: {ng.url("/json")}
    body_string: '"status":"ok"'
    timeout: 2s
  broken:
    type: http
    url: {ng.url("/404")}
""")
        r = check("--config", cfg, "--check", "site")
        assert r.state == "OK", r
        r = check("--config", cfg, "--check", "broken")
        assert r.state == "CRITICAL", r
        r = check("--config", cfg, "--check", "broken", "-e", "404")  # command line wins
        assert r.state == "OK", r
        r = check("--config", cfg, "--check", "site", "-s", "nope")
        assert r.state == "CRITICAL" and "'nope' not found" in r.summary, r
        r = check("--config", cfg, "--check", "missing")
        assert (r.state, r.rc) == ("UNKNOWN", 3), r
        assert "site" in r.summary and "broken" in r.summary

        # The maintenance file (config key) forces CRITICAL without a request; its first
        # line says why. --maintenance-file '' disables it for a manual probe.
        with open(maint, "w") as f:
            f.write("planned switchover to node b\n")
        r = check("--config", cfg, "--check", "site")
        assert (r.state, r.rc) == ("CRITICAL", 2), r
        assert "maintenance" in r.summary and "planned switchover" in r.summary, r
        r = check("--config", cfg, "--check", "site", "--maintenance-file", "")
        assert r.state == "OK", r
        other = os.path.join(d, "other")
        open(other, "w").close()
        r = check("--config", cfg, ng.url("/ok"), "--maintenance-file", other)
        assert r.state == "CRITICAL" and other in r.summary, r
    finally:
        shutil.rmtree(d)


def test_bad_config_and_arguments_are_unknown(ng):
    d = tempdir()
    try:
        cfg = write_config(d, "checks:\n  site: {type: http, url: http://x/, timout: 2s}\n")
        proc = run([binary(), "--config", cfg, "--check", "site"])
        assert proc.returncode == 3 and "did you mean 'timeout'" in proc.stderr, proc
    finally:
        shutil.rmtree(d)
    r = check(ng.url("/"), "-e", "300-200")
    assert (r.state, r.rc) == ("UNKNOWN", 3) and "bad status" in r.summary, r
    # Text that is no code, range or class is what check_http -e means: status-line text.
    r = check(ng.url("/"), "-e", "abc")
    assert (r.state, r.rc) == ("CRITICAL", 2) and "not expected (abc)" in r.summary, r
    r = check("ftp://127.0.0.1/")
    assert (r.state, r.rc) == ("UNKNOWN", 3), r
