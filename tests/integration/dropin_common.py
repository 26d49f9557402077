"""Side by side with monitoring-plugins: a command line written for check_http / check_curl /
check_mysql runs unchanged, only the binary name replaced, against the same fixture; the
hakit tool must reach the same state as the real plugin.

Command lines are written as Nagios command definitions are (a string with $MACROS$), split
with shlex (a parser: nothing runs a shell) after the macros are expanded.
"""
import os
import re
import shlex

from check_http_common import default_config
from fixtures.common import run

PLUGINS = "/usr/lib/nagios/plugins"
STATES = {0: "OK", 1: "WARNING", 2: "CRITICAL", 3: "UNKNOWN"}


def plugin(name):
    """The real monitoring-plugins binary (Debian monitoring-plugins-basic/-standard)."""
    path = os.path.join(PLUGINS, name)
    assert os.access(path, os.X_OK), f"{path} missing: apt-get install monitoring-plugins"
    return path


def expand(template, macros):
    """A Nagios command line with its $MACROS$ expanded, as an argv."""
    line = template
    for k, v in macros.items():
        line = line.replace(f"${k}$", str(v))
    assert "$" not in line, f"unexpanded macro in {line!r}"
    return shlex.split(line)


class Outcome:
    def __init__(self, argv, proc):
        self.argv = argv
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        first = (proc.stdout.splitlines() or [""])[0]
        m = re.match(r"^\S+ (OK|WARNING|CRITICAL|UNKNOWN)\b", first)
        # The state word of the line; the real plugins' lines vary ("HTTP OK:", "Uptime: ..."
        # for check_mysql), so theirs is read from the exit code.
        self.word = m.group(1) if m else None
        self.line = first

    def __repr__(self):
        return f"rc={self.rc} {self.stdout.strip()!r} stderr={self.stderr.strip()[:300]!r} argv={self.argv}"


def run_real(argv, timeout=30):
    return Outcome(argv, run(argv, timeout=timeout))


def run_hakit(tool, argv, timeout=30):
    """argv of the real plugin with only argv[0] replaced by the hakit tool."""
    mine = [tool] + argv[1:]
    env = {k: v for k, v in os.environ.items() if k != "HAKIT_CONFIG"}
    # The minimal config (no syslog, no maintenance file) through the environment, so the
    # command line stays the plugin's.
    env["HAKIT_CONFIG"] = default_config()
    return Outcome(mine, run(mine, timeout=timeout, env=env))


def assert_same_state(real, mine):
    """The hakit tool reached the real plugin's state: the word on its one line is the state
    of the plugin's exit code, and so is the exit code, except WARNING, which exits 0 unless
    --warning-fails (hakit's keepalived default, docs/migrating-from-monitoring-plugins.md)."""
    want = STATES[real.rc]
    assert len(mine.stdout.splitlines()) == 1, mine
    assert mine.word == want, f"real plugin {real!r}\nhakit {mine!r}"
    assert mine.rc == (0 if want == "WARNING" else real.rc), mine
