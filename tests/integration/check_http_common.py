"""Helpers shared by the check_http_200 integration tests."""
import atexit
import os
import re
import shutil
import time

from fixtures.common import BUILD_DIR, run, tempdir, write_config

LINE = re.compile(r"^HTTP (OK|WARNING|CRITICAL|UNKNOWN) - (.*?)(?: \| (.*))?$")
_default_config = None


def binary():
    """The built check_http_200 (tools/ subdir of the build, or the build dir itself)."""
    for p in (os.path.join(BUILD_DIR, "tools", "check_http_200"),
              os.path.join(BUILD_DIR, "check_http_200")):
        if os.path.exists(p):
            return p
    raise AssertionError(f"check_http_200 not built in {BUILD_DIR}")


def default_config():
    """A minimal hakit.yaml (no syslog, no maintenance file) so the machine's
    /etc/hakit/hakit.yaml never leaks into a test."""
    global _default_config
    if _default_config is None:
        d = tempdir("hakit-http-cfg-")
        atexit.register(shutil.rmtree, d, True)
        _default_config = write_config(d, f"log: {{syslog: false}}\nmaintenance_file: {d}/maintenance\n")
    return _default_config


class Result:
    def __init__(self, proc, wall):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.wall = wall
        lines = proc.stdout.splitlines()
        assert len(lines) == 1, f"want exactly one line on stdout, got {proc.stdout!r} (stderr {proc.stderr!r})"
        m = LINE.match(lines[0])
        assert m, f"not a Nagios line: {lines[0]!r}"
        self.state, self.summary = m.group(1), m.group(2)
        self.perf = {}
        for item in (m.group(3) or "").split():
            label, value = item.split("=", 1)
            self.perf[label] = float(re.match(r"[-0-9.]+", value.split(";")[0]).group(0))

    def __repr__(self):
        return f"rc={self.rc} {self.stdout.strip()!r} stderr={self.stderr.strip()!r}"


def check(*args, env=None, timeout=30, **kw):
    """Runs check_http_200 with args (and the minimal config unless --config is given);
    `kw` goes to subprocess (e.g. preexec_fn from FakeDns.resolver_preexec())."""
    argv = [binary(), *args]
    if "--config" not in args:
        argv += ["--config", default_config()]
    e = {k: v for k, v in os.environ.items() if k != "HAKIT_CONFIG"}
    if env:
        e.update(env)
    start = time.monotonic()
    proc = run(argv, timeout=timeout, env=e, **kw)
    return Result(proc, time.monotonic() - start)
