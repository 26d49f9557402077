"""check_http_200 against a misbehaving server of our own: a hang costs the timeout plus at
most 50 ms (measured by libcurl, and by the wall clock with slack for a loaded 2-core box),
resets and garbage give CRITICAL naming the cause, huge and endless bodies are cut at the cap,
redirect loops end. Never a hang, never a crash (exit codes 0-3 only)."""
import os
import shutil

import pytest

from check_http_common import check
from fixtures.common import tempdir, write_config
from fixtures.badhttp import BadHttp, FakeDns

TIMEOUT = 1.0
# The contract is timeout + 50 ms; the wall clock also pays process start-up and a busy
# machine's scheduling, so it gets more room, but never "a second more".
WALL_SLACK = 0.35


@pytest.fixture(scope="module")
def bad():
    with BadHttp(max_seconds=20) as b:
        yield b


def assert_costs_timeout(r, phase):
    assert (r.state, r.rc) == ("CRITICAL", 2), r
    assert "timeout after" in r.summary and phase in r.summary, r
    assert TIMEOUT - 0.01 <= r.perf["time"] <= TIMEOUT + 0.05, r
    assert r.wall <= TIMEOUT + WALL_SLACK, f"took {r.wall:.3f} s: {r}"


def test_accepts_and_never_reads(bad):
    r = check(f"http://127.0.0.1:{bad.silent_port}/", "-t", "1s")
    assert_costs_timeout(r, "waiting for the response")


def test_reads_and_never_answers(bad):
    assert_costs_timeout(check(bad.url("/hang"), "-t", "1s"), "waiting for the response")


def test_slow_headers(bad):
    assert_costs_timeout(check(bad.url("/slow-headers"), "-t", "1s"), "reading the headers")


def test_slow_body(bad):
    r = check(bad.url("/slow-body"), "-t", "1s")
    assert_costs_timeout(r, "reading the body")
    assert "status 200 received" in r.summary


def test_connect_timeout_option_is_separate(bad):
    # The connect succeeds at once; only the total timeout applies to a hung answer.
    r = check(bad.url("/hang"), "-t", "1s", "--connect-timeout", "200ms")
    assert_costs_timeout(r, "waiting for the response")


def test_dead_dns_server_costs_the_timeout():
    # The resolver waits 5 s per try; the threaded resolver keeps the lookup inside --timeout.
    with FakeDns("silent") as dns:
        r = check("http://hang-dns.test/", "-t", "1s", preexec_fn=dns.resolver_preexec())
        assert dns.queries > 0, "the check did not ask our DNS server"
    assert_costs_timeout(r, "resolving")
    assert "hang-dns.test" in r.summary, r


def test_reset_mid_body(bad):
    r = check(bad.url("/reset"), "-t", "5s")
    assert (r.state, r.rc) == ("CRITICAL", 2), r
    assert "reset" in r.summary.lower() or "closed" in r.summary, r
    assert r.wall < 3, r


def test_close_without_response(bad):
    r = check(bad.url("/close"))
    assert r.state == "CRITICAL" and "without a response" in r.summary, r


def test_garbage_status_line(bad):
    r = check(bad.url("/garbage"))
    assert (r.state, r.rc) == ("CRITICAL", 2), r
    assert "not a valid HTTP response" in r.summary, r


def test_fifty_megabyte_body_is_cut_at_the_cap(bad):
    r = check(bad.url("/big"), "-t", "10s")
    assert r.state == "OK" and "body cut" in r.summary, r
    assert r.perf["size"] == 1024 * 1024
    r = check(bad.url("/big"), "-t", "10s", "--max-body", "64k")
    assert r.perf["size"] == 64 * 1024, r


def test_endless_body_is_cut_and_body_match_sees_the_prefix(bad):
    r = check(bad.url("/endless"), "-t", "10s", "--max-body", "100k", "-s", "xxxx")
    assert r.state == "OK" and r.perf["size"] == 100 * 1024, r
    r = check(bad.url("/endless"), "-t", "10s", "--max-body", "100k", "-s", "never there")
    assert r.state == "CRITICAL" and "first max_body bytes" in r.summary, r


def test_redirect_loop(bad):
    r = check(bad.url("/loop"))
    assert r.state == "CRITICAL" and "302" in r.summary, r  # not followed by default
    r = check(bad.url("/loop"), "--follow", "5")
    assert (r.state, r.rc) == ("CRITICAL", 2), r
    assert "more than 5 redirects" in r.summary, r


def test_response_time_thresholds_and_warning_exit(bad):
    # /delay answers after 0.3 s: slower than 100 ms, well inside the timeout.
    r = check(bad.url("/delay"), "-w", "100ms")
    assert (r.state, r.rc) == ("WARNING", 0), r  # default: a WARNING does not fail keepalived
    assert "response time" in r.summary and "warning 0.100 s" in r.summary, r
    r = check(bad.url("/delay"), "-w", "100ms", "--warning-fails")
    assert (r.state, r.rc) == ("WARNING", 1), r  # Nagios convention on request
    r = check(bad.url("/delay"), "-w", "100ms", "-c", "200ms")
    assert (r.state, r.rc) == ("CRITICAL", 2), r
    r = check(bad.url("/delay"), "-w", "5s", "-c", "10s")
    assert (r.state, r.rc) == ("OK", 0), r
    assert "time=" in r.stdout and ";5;10;0" in r.stdout, r


def test_tls_handshake_that_never_completes(bad):
    # TCP connects (the kernel accepts), the ClientHello is never answered.
    r = check(f"https://127.0.0.1:{bad.silent_port}/", "-t", "1s")
    assert_costs_timeout(r, "TLS handshake")


def test_hostile_regex_is_unknown_not_a_crash(bad):
    """20,000 '(' overflowed glibc regcomp's stack: every tool crashed at config load."""
    deep = "(" * 20000
    r = check(bad.url("/ok"), "-r", deep)
    assert (r.state, r.rc) == ("UNKNOWN", 3) and "bad regex" in r.summary, r
    assert len(r.stdout) < 400, len(r.stdout)
    d = tempdir()
    try:
        cfg = write_config(d, f"log: {{syslog: false}}\nmaintenance_file: ''\nchecks:\n"
                              f"  site: {{type: http, url: '{bad.url('/ok')}', body_regex: '{deep}'}}\n")
        from check_http_common import binary
        from fixtures.common import run
        p = run([binary(), "--config", cfg, "--check-config"])
        assert p.returncode == 3, (p.returncode, p.stderr[-500:])  # not a signal
        assert "checks.site.body_regex" in p.stderr and "bad regex" in p.stderr, p.stderr[-500:]
    finally:
        shutil.rmtree(d, ignore_errors=True)
    # A backtracking bomb against a 1 MiB body ends well inside the timeout.
    r = check(bad.url("/big"), "-r", "^(a|aa)*(a*)*b$", "--max-body", "1MiB", "-t", "3s")
    assert r.state == "CRITICAL" and "not found in the body" in r.summary, r
    assert r.wall < 2.0, r


def test_maintenance_file_fifo_and_dev_zero_end_promptly(bad):
    d = tempdir()
    try:
        fifo = os.path.join(d, "maintenance")
        os.mkfifo(fifo)
        for path in (fifo, "/dev/zero"):
            r = check(bad.url("/ok"), "--maintenance-file", path, timeout=10)
            assert (r.state, r.rc) == ("CRITICAL", 2), r
            assert "maintenance" in r.summary and "not a regular file" in r.summary, r
            assert r.wall < 1.0, r
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_password_in_url_is_refused(bad):
    r = check(f"http://probe:s3cret@127.0.0.1:{bad.port}/ok")
    assert (r.state, r.rc) == ("UNKNOWN", 3), r
    assert "--auth-file" in r.summary and "s3cret" not in r.stdout + r.stderr, r


def test_control_characters_escaped_and_secrets_hidden_in_debug(bad):
    r = check(bad.url("/ctrl"), "-vv", "--header", "X-Api-Key: topsecret-key",
              "--header", "Cookie: sid=topsecret-sent")
    assert r.state == "CRITICAL", r
    assert "\\x1b[2J\\x07now" in r.summary, r
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout, r
    assert "curl >" in r.stderr and "X-Api-Key: <hidden>" in r.stderr, r.stderr
    for secret in ("topsecret-key", "topsecret-sent", "topsecret-cookie"):
        assert secret not in r.stderr, secret
