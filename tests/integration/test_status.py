"""hakit-status against a real state dir written by the real notify tools.

notify_master promotes an instance (its VIP is 127.0.0.1 on lo, so the event is not stale),
sets the failover flag and journals the transition; hakit-status must show all of it, in the
table and in --json; notify_master --clear-failover-flag clears it again.
"""
import json
import os

import shutil

from fixtures.common import BUILD_DIR, run, tempdir, write_config


def binary(name):
    """A built tool: add_tool puts binaries under BUILD_DIR/tools."""
    for path in (os.path.join(BUILD_DIR, "tools", name), os.path.join(BUILD_DIR, name)):
        if os.path.exists(path):
            return path
    raise AssertionError(f"{name} is not built in {BUILD_DIR}")


CONFIG = """
state_dir: {d}/state
run_dir: {d}/run
log: {{syslog: false}}
instances:
  VI_1:
    vip: {{address: 127.0.0.1, interface: lo}}
    promote:
      - flag: set
    demote: []
  VI_2:
    vip: {{address: 192.0.2.77, interface: eth9}}
sync:
  site1: {{source: "rsync://127.0.0.1:1/archive_site1", dest: {d}/site1/}}
"""


def status(cfg, *args):
    r = run([binary("hakit-status"), "--config", cfg, *args])
    assert r.returncode == 0, r.stderr
    return r


def test_status_follows_what_the_notify_tools_write():
    d = tempdir()
    try:
        cfg = write_config(d, CONFIG.format(d=d))

        # A fresh node: nothing recorded yet, still a clean report.
        j = json.loads(status(cfg, "--json").stdout)
        assert [i["name"] for i in j["instances"]] == ["VI_1", "VI_2"]
        assert j["instances"][0]["role"] is None
        assert j["instances"][0]["vip_present"] is True      # 127.0.0.1 is on lo
        assert j["instances"][1]["vip_present"] is False     # 192.0.2.77 is nowhere here
        assert j["failover_flag"] == {"set": False}
        assert j["journal"] == []
        assert j["sync"][0]["job"] == "site1" and j["sync"][0]["last_run"] is None

        # The real notify_master promotes VI_1: role record, flag and journal entry.
        r = run([binary("notify_master"), "--config", cfg, "--instance", "VI_1"])
        assert r.returncode == 0, r.stderr
        j = json.loads(status(cfg, "--json").stdout)
        vi1 = j["instances"][0]
        assert vi1["role"] == "master" and vi1["role_event"] == "MASTER"
        assert vi1["vip_present"] is True
        assert j["failover_flag"]["set"] is True
        assert j["failover_flag"]["instance"] == "VI_1"
        assert j["journal"][-1]["instance"] == "VI_1"
        assert j["journal"][-1]["outcome"] == "ok"
        assert not any("VI_1" in w for w in j["warnings"])

        table = status(cfg).stdout
        assert "VI_1" in table and "master" in table
        assert "127.0.0.1 on lo" in table
        assert "SET " in table
        assert "VI_1 ?->master MASTER ok 1 actions" in table

        # Clearing the flag is journaled and shows up as the newest entry.
        r = run([binary("notify_master"), "--config", cfg, "--clear-failover-flag",
                 "--reason", "old master re-attached"])
        assert r.returncode == 0, r.stderr
        j = json.loads(status(cfg, "--json", "-n", "1").stdout)
        assert j["failover_flag"] == {"set": False}
        assert len(j["journal"]) == 1
        assert j["journal"][0]["kind"] == "failover-flag"
        assert "failover flag clear" in status(cfg, "-n", "1").stdout
        assert "old master re-attached" in status(cfg, "-n", "1").stdout

        # --instance filters; an unknown instance is a usage error (exit 3, one line).
        j = json.loads(status(cfg, "--json", "--instance", "VI_2").stdout)
        assert [i["name"] for i in j["instances"]] == ["VI_2"]
        assert j["journal"] == []
        r = run([binary("hakit-status"), "--config", cfg, "--instance", "VI_9"])
        assert r.returncode == 3
        assert len(r.stderr.strip().splitlines()) == 1 and "VI_9" in r.stderr

        # --write-metrics leaves a node_exporter textfile next to the tools' own.
        status(cfg, "--write-metrics")
        prom = open(os.path.join(d, "state", "metrics", "hakit_status.prom")).read()
        assert 'hakit_status_role{instance="VI_1",role="master"} 1' in prom
        assert 'hakit_status_vip_present{instance="VI_2"} 0' in prom
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_sync_runs_and_a_torn_journal_line():
    d = tempdir()
    try:
        cfg = write_config(d, CONFIG.format(d=d))
        os.makedirs(os.path.join(d, "state"))
        lines = [
            {"time": "2026-11-22T01:05:00.000Z", "tool": "sitesync", "event": "sync",
             "job": "site1", "result": "ok", "files": 4, "bytes": 4096, "seconds": 1.5},
            {"time": "2026-11-22T01:10:00.000Z", "tool": "sitesync", "event": "sync",
             "job": "site1", "result": "failed", "message": "rsync exit 10"},
        ]
        with open(os.path.join(d, "state", "journal.jsonl"), "w") as f:
            for line in lines:
                f.write(json.dumps(line) + "\n")
            f.write('{"time": "2026-11-22T01:11:0')  # a crash mid-write
        j = json.loads(status(cfg, "--json").stdout)
        site1 = j["sync"][0]
        assert site1["last_run"]["result"] == "failed"
        assert site1["last_success"] == "2026-11-22T01:05:00.000Z"
        assert len(j["journal"]) == 2
        table = status(cfg).stdout
        assert "sync site1 failed: rsync exit 10" in table
        assert "sync site1 ok 4 files 4.0 KiB 1.5s" in table
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_bad_config_is_a_usage_error():
    d = tempdir()
    try:
        # An unknown top-level key is not hakit-status's to refuse (one file serves every
        # tool): a warning with the did-you-mean hint; --check-config refuses it.
        cfg = write_config(d, "state_dirr: /tmp\n")
        r = run([binary("hakit-status"), "--config", cfg])
        assert r.returncode == 0
        assert "state_dirr: unknown key (did you mean 'state_dir'?)" in r.stderr
        r = run([binary("hakit-status"), "--config", cfg, "--check-config"])
        assert r.returncode == 3
        assert "state_dirr: unknown key (did you mean 'state_dir'?)" in r.stderr
        # What hakit-status itself needs must be right.
        cfg = write_config(d, "state_dir: relative/dir\n")
        r = run([binary("hakit-status"), "--config", cfg])
        assert r.returncode == 3
        assert "state_dir: must be an absolute path" in r.stderr
        r = run([binary("hakit-status"), "--config", os.path.join(d, "missing.yaml")])
        assert r.returncode == 3
    finally:
        shutil.rmtree(d, ignore_errors=True)


CHECK_CONFIG = """
state_dir: {d}/state
run_dir: {d}/run
log: {{syslog: false}}
instances:
  VI_1:
    vip: {{address: 127.0.0.1, interface: lo}}
    promote:
      - run: [{promote}]
      - flag: set
    demote: []
"""


def check_line(cfg):
    """hakit-status --check: (exit code, state word, the one line)."""
    r = run([binary("hakit-status"), "--config", cfg, "--check"])
    lines = r.stdout.splitlines()
    assert len(lines) == 1, r
    word = lines[0].split(" ")[1]
    assert lines[0].startswith("HAKIT-STATUS ") and word in ("OK", "WARNING", "CRITICAL"), r
    assert r.returncode == {"OK": 0, "WARNING": 1, "CRITICAL": 2}[word], r
    return r.returncode, word, lines[0]


def test_check_follows_what_the_notify_tools_write():
    d = tempdir()
    try:
        # A failing promote action: the real notify_master journals a failed promotion.
        cfg = write_config(d, CHECK_CONFIG.format(d=d, promote="/bin/false"))
        # A fresh node whose VIP (127.0.0.1) is already here: role and VIP disagree.
        rc, word, line = check_line(cfg)
        assert word == "WARNING" and "recorded role is unknown" in line, line
        r = run([binary("notify_master"), "--config", cfg, "--instance", "VI_1"])
        assert r.returncode != 0
        rc, word, line = check_line(cfg)
        assert word == "CRITICAL" and "VI_1: the last promotion failed" in line, line
        assert "/bin/false" in line, line

        # Fixed and promoted again: the flag is set (WARNING), nothing failed any more.
        cfg = write_config(d, CHECK_CONFIG.format(d=d, promote="/bin/true"))
        r = run([binary("notify_master"), "--config", cfg, "--instance", "VI_1"])
        assert r.returncode == 0, r.stderr
        rc, word, line = check_line(cfg)
        assert word == "WARNING" and "failover flag set" in line, line
        assert "failover_flag=1" in line

        r = run([binary("notify_master"), "--config", cfg, "--clear-failover-flag",
                 "--reason", "old master re-attached"])
        assert r.returncode == 0, r.stderr
        rc, word, line = check_line(cfg)
        assert word == "OK" and "VI_1 master (VIP here)" in line, line

        # The VIP here, the role now says backup (notify_backup ran, keepalived did not move
        # the address): role and VIP disagree.
        r = run([binary("notify_backup"), "--config", cfg, "--instance", "VI_1",
                 "--state", "FAULT"])
        assert r.returncode == 0, r.stderr
        rc, word, line = check_line(cfg)
        assert word == "WARNING" and "the VIP 127.0.0.1 is on this host" in line, line

        # Another node took VI_1 over (its failover flag) while this one holds the VIP.
        with open(os.path.join(d, "state", "failover.flag"), "w") as f:
            json.dump({"time": "2026-11-22T03:00:00.000Z", "host": "the-other-node",
                       "set_by": "notify_master", "reason": "promoted", "instance": "VI_1"}, f)
        rc, word, line = check_line(cfg)
        assert word == "CRITICAL" and "split brain suspected" in line, line
    finally:
        shutil.rmtree(d, ignore_errors=True)
