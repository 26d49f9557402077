#!/usr/bin/python3
"""CPU cost of checking, resident mode vs script mode, on this machine.

    HAKIT_BUILD_DIR=$PWD/build PYTHONPATH=tests /usr/bin/python3 tests/bench/bench_resident_cpu.py [SECONDS]

One HTTP check against a private nginx on loopback (tests/fixtures/nginx.py), for SECONDS
(default 60) in each mode:
- resident: hakitd with `daemon.period: 200ms` probing it in-process; its CPU time (user +
  system, every thread) from /proc/PID/stat.
- script: `check_http_200 --check site` run once a second, as keepalived's vrrp_script with
  `interval 1` would; the CPU time of the check processes (RUSAGE_CHILDREN). keepalived's own
  fork/exec cost per run is not counted, which flatters script mode.
Prints both as CPU seconds per hour of checking, and the load average before and after.
"""
import os
import resource
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from fixtures.keepalived import built  # noqa: E402
from fixtures.nginx import Nginx  # noqa: E402

CONFIG = """\
log: {{syslog: false, level: warning}}
state_dir: {d}/state
run_dir: {d}/run
checks:
  site: {{type: http, url: "{url}", timeout: 1s}}
daemon:
  period: 200ms
  checks: [site]
"""


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks  # utime, stime


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 60.0
    print("load average before:", open("/proc/loadavg").read().split()[:3])
    with Nginx() as ng, tempfile.TemporaryDirectory(prefix="hakit-bench-") as d:
        cfg = os.path.join(d, "hakit.yaml")
        with open(cfg, "w") as f:
            f.write(CONFIG.format(d=d, url=ng.url("/ok")))
        os.chmod(cfg, 0o600)

        daemon = subprocess.Popen([built("hakitd"), "--config", cfg],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2.0)  # start-up and the first probes are not the steady state
        c0 = cpu_seconds(daemon.pid)
        time.sleep(seconds)
        resident = cpu_seconds(daemon.pid) - c0
        daemon.terminate()
        daemon.wait(timeout=30)
        probes = seconds / 0.2

        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        runs = 0
        start = time.monotonic()
        while time.monotonic() - start < seconds:
            t = time.monotonic()
            subprocess.run([built("check_http_200"), "--config", cfg, "--check", "site"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            runs += 1
            time.sleep(max(0.0, 1.0 - (time.monotonic() - t)))
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        script = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    per_hour = 3600.0 / seconds
    print(f"resident (hakitd, 200 ms, ~{probes:.0f} probes): {resident:.3f} CPU s in {seconds:.0f} s"
          f" -> {resident * per_hour:.1f} CPU s per hour")
    print(f"script (check_http_200 every 1 s, {runs} runs): {script:.3f} CPU s in {seconds:.0f} s"
          f" -> {script * per_hour:.1f} CPU s per hour")
    print("load average after:", open("/proc/loadavg").read().split()[:3])


if __name__ == "__main__":
    main()
