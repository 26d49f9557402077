"""Helpers for the check_mysql_slave integration tests."""
import os
import re
import time

from fixtures.common import BUILD_DIR, run

STATES = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}


def binary():
    for p in (os.path.join(BUILD_DIR, "tools", "check_mysql_slave"),
              os.path.join(BUILD_DIR, "check_mysql_slave")):
        if os.path.exists(p):
            return p
    raise AssertionError(f"check_mysql_slave not built in {BUILD_DIR}")


def conn_args(server, creds):
    return ["-H", server.host, "-P", str(server.port), "-u", creds.user,
            "--password-file", creds.password_file]


def check(*args, env_config=None, timeout=30, **kw):
    """Runs the check; returns (exit code, the one stdout line, stderr, seconds). `kw` goes to
    subprocess (e.g. preexec_fn from FakeDns.resolver_preexec())."""
    env = dict(os.environ)
    env.pop("HAKIT_CONFIG", None)
    if env_config:
        env["HAKIT_CONFIG"] = env_config
    argv = [binary(), "--maintenance-file", ""] + [str(a) for a in args]
    t = time.monotonic()
    r = run(argv, timeout=timeout, env=env, **kw)
    took = time.monotonic() - t
    lines = r.stdout.splitlines()
    assert len(lines) == 1, f"expected one line on stdout, got {r.stdout!r} (stderr {r.stderr!r})"
    line = lines[0]
    m = re.match(r"MYSQL (OK|WARNING|CRITICAL|UNKNOWN) - ", line)
    assert m, line
    # The printed state agrees with the exit code (WARNING exits 0 unless --warning-fails).
    if r.returncode != 0:
        assert m.group(1) == STATES[r.returncode], (r.returncode, line)
    return r.returncode, line, r.stderr, took


def state_of(line):
    return line.split(" ")[1]


def perf(line, label):
    """A perfdata value as a float, or None."""
    if "|" not in line:
        return None
    for item in line.split("|", 1)[1].split():
        k, _, v = item.partition("=")
        if k == label:
            return float(re.match(r"[-0-9.]+", v).group(0))
    return None


def wait_for(pred, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached within {timeout}s (last: {last!r})")
