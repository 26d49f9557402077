"""notify_master / notify_backup without a database: invocation forms, serialization,
supersede, stale events, anti-flap, the failover flag, the action engine, notifications."""
import json
import os
import random
import subprocess
import sys
import time

import pytest

from fixtures.common import free_port
from fixtures.notify_env import Node
from fixtures.smtp_sink import SmtpSink
from fixtures.webhook import WebhookReceiver

PY = "/usr/bin/python3"

MARKER = r'''
import os, sys, time
log, tag, ms = sys.argv[1], sys.argv[2], int(sys.argv[3])
with open(log, "a") as f:
    f.write(f"start {tag} {os.getpid()}\n"); f.flush()
    time.sleep(ms / 1000.0)
    f.write(f"end {tag} {os.getpid()}\n")
'''

FAIL_N = r'''
import os, sys
counter = sys.argv[1]; fails = int(sys.argv[2])
n = int(open(counter).read()) if os.path.exists(counter) else 0
open(counter, "w").write(str(n + 1))
sys.exit(1 if n < fails else 0)
'''


@pytest.fixture
def node():
    n = Node("events")
    with open(os.path.join(n.dir, "marker.py"), "w") as f:
        f.write(MARKER)
    with open(os.path.join(n.dir, "fail_n.py"), "w") as f:
        f.write(FAIL_N)
    n.marks = os.path.join(n.dir, "marks.log")
    yield n
    n.destroy()


def marker(node, tag, ms=0):
    return f"[{PY}, {node.dir}/marker.py, {node.marks}, {tag}, '{ms}']"


def basic(node, extra_instance="", extra=""):
    node.write_config(f"""
instances:
  VI_1:
    promote:
      - run: {marker(node, 'MASTER')}
    demote:
      - run: {marker(node, 'BACKUP')}
{extra_instance}
{extra}""")


def marks(node):
    if not os.path.exists(node.marks):
        return []
    with open(node.marks) as f:
        return [line.split() for line in f if line.strip()]


def test_both_invocation_forms(node):
    basic(node)
    r = node.run("notify_master", "--instance", "VI_1")
    assert r.returncode == 0, r.stderr
    assert node.role() == "master"
    r = node.run("notify_master", "INSTANCE", "VI_1", "BACKUP", "100")
    assert r.returncode == 0, r.stderr
    assert node.role() == "backup"
    r = node.run("notify_backup", "--instance", "VI_1", "--state", "FAULT")
    assert r.returncode == 0, r.stderr
    assert node.role() == "fault"
    r = node.run("notify_backup", "INSTANCE", "VI_1", "MASTER", "100")
    assert r.returncode == 0, r.stderr
    assert node.role() == "master"
    assert [m[1] for m in marks(node) if m[0] == "start"] == ["MASTER", "BACKUP", "BACKUP", "MASTER"]
    t = node.transitions()
    assert [e["event"]["state"] for e in t] == ["MASTER", "BACKUP", "FAULT", "MASTER"]
    assert t[1]["event"]["priority"] == 100 and t[1]["args"][-4:] == ["INSTANCE", "VI_1", "BACKUP", "100"]
    assert t[2]["from"] == "backup" and t[2]["to"] == "fault"
    assert all(e["actions"][0]["outcome"] == "ok" and "ms" in e["actions"][0] for e in t)


@pytest.mark.parametrize("args,msg", [
    (["--instance", "VI_9"], "unknown instance 'VI_9'"),
    (["--instance", "VI_l"], "did you mean 'VI_1'"),
    (["INSTANCE", "VI_1"], "TYPE NAME STATE"),
    (["INSTANCE", "VI_1", "MASTER", "x"], "PRIORITY"),
    (["BOGUS", "VI_1", "MASTER", "100"], "INSTANCE or GROUP"),
    (["INSTANCE", "VI_1", "SLEEPY", "100"], "state must be"),
    (["--instance", "VI_2", "INSTANCE", "VI_1", "MASTER"], "disagree"),
    ([], "no instance"),
])
def test_bad_arguments_exit_3_and_change_nothing(node, args, msg):
    basic(node)
    r = node.run("notify_master", *args)
    assert r.returncode == 3, r.stderr
    assert msg in r.stderr
    assert "nothing changed" in r.stderr
    assert marks(node) == []
    assert node.journal() == []
    assert node.role() is None


def test_bad_option_and_bad_config_exit_3(node):
    basic(node)
    r = node.run("notify_backup", "--instance", "VI_1", "--no-such")
    assert r.returncode == 3
    node.write_config("instances:\n  VI_1:\n    promote:\n      - flag: sett\n"
                      "      - notify: nobody\n")
    r = node.run("notify_master", "--instance", "VI_1")
    assert r.returncode == 3
    assert "must be set or clear" in r.stderr
    assert "no notifications: channel named 'nobody'" in r.stderr
    assert node.journal() == []


def test_group_form(node):
    basic(node, extra_instance="  G1:\n    promote:\n      - run: " + marker(node, "GROUP") + "\n")
    r = node.run("notify_master", "GROUP", "G1", "MASTER", "50")
    assert r.returncode == 0, r.stderr
    assert node.role("G1") == "master"
    assert marks(node)[0][1] == "GROUP"
    assert node.transitions()[0]["event"]["type"] == "GROUP"


def test_stale_events_are_skipped_by_vip(node):
    # 127.0.0.1 is on lo here; 192.0.2.77 (TEST-NET-1) is on no interface: no traffic is sent.
    node.write_config(f"""
instances:
  HERE:
    vip: {{address: 127.0.0.1, interface: lo}}
    promote: [{{run: {marker(node, 'HERE-MASTER')}}}]
    demote: [{{run: {marker(node, 'HERE-BACKUP')}}}]
  GONE:
    vip: {{address: 192.0.2.77}}
    promote: [{{run: {marker(node, 'GONE-MASTER')}}}]
    demote: [{{run: {marker(node, 'GONE-BACKUP')}}}]
""")
    for args in (["--instance", "HERE"], ["INSTANCE", "GONE", "MASTER", "100"]):
        assert node.run("notify_master", *args).returncode == 0
    for args in (["--instance", "HERE"], ["--instance", "GONE"]):
        assert node.run("notify_backup", *args).returncode == 0
    ran = [m[1] for m in marks(node) if m[0] == "start"]
    assert ran == ["HERE-MASTER", "GONE-BACKUP"]
    decisions = [(e["instance"], e["event"]["state"], e["decision"]) for e in node.transitions()]
    assert decisions == [("HERE", "MASTER", "ran"), ("GONE", "MASTER", "stale"),
                         ("HERE", "BACKUP", "stale"), ("GONE", "BACKUP", "ran")]
    stale = [e for e in node.transitions() if e["decision"] == "stale"]
    assert "not on this host" in stale[0]["message"] and "still on" in stale[1]["message"]
    assert node.role("GONE") == "backup" and node.role("HERE") == "master"
    # FAULT and STOP always demote, VIP or not.
    assert node.run("notify_backup", "--instance", "HERE", "--state", "FAULT").returncode == 0
    assert node.transitions()[-1]["decision"] == "ran" and node.role("HERE") == "fault"


def test_anti_flap_refuses_then_force(node):
    basic(node, extra_instance="    min_interval: 1h\n")
    assert node.run("notify_master", "--instance", "VI_1").returncode == 0
    r = node.run("notify_master", "--instance", "VI_1")
    assert r.returncode == 2
    assert "anti-flap" in r.stderr and "--force" in r.stderr
    assert node.transitions()[-1]["decision"] == "refused"
    assert len([m for m in marks(node) if m[0] == "start"]) == 1
    r = node.run("notify_master", "--instance", "VI_1", "--force")
    assert r.returncode == 0, r.stderr
    assert len([m for m in marks(node) if m[0] == "start"]) == 2
    assert "hakit_notify_promotions_total{instance=\"VI_1\"} 2" in node.metrics()


def test_failover_flag_set_and_cleared(node):
    node.write_config("instances:\n  VI_1:\n    promote: [{flag: set}]\n")
    assert node.run("notify_master", "--instance", "VI_1").returncode == 0
    assert node.flag_set()
    with open(os.path.join(node.state_dir, "failover.flag")) as f:
        flag = json.load(f)
    assert flag["instance"] == "VI_1" and flag["set_by"] == "notify_master"
    assert "hakit_failover_flag 1" in node.metrics()
    r = node.run("notify_backup", "--clear-failover-flag")
    assert r.returncode == 3 and "--reason" in r.stderr
    assert node.flag_set()
    r = node.run("notify_backup", "--clear-failover-flag", "--reason", "old master re-attached")
    assert r.returncode == 0, r.stderr
    assert not node.flag_set()
    assert "hakit_failover_flag 0" in node.metrics()
    last = node.journal()[-1]
    assert last["kind"] == "failover-flag" and last["reason"] == "old master re-attached"
    assert last["was_set"] is True


def test_retries_backoff_and_on_failure(node):
    counter = os.path.join(node.dir, "count")
    node.write_config(f"""
instances:
  VI_1:
    promote:
      - run: [{PY}, {node.dir}/fail_n.py, {counter}, '2']
        retries: 2
        backoff: 100ms
      - run: [/bin/false]
        on_failure: continue
      - run: {marker(node, 'AFTER')}
      - run: [/bin/false]
        retries: 1
        backoff: 10ms
      - run: {marker(node, 'NEVER')}
""")
    t0 = time.monotonic()
    r = node.run("notify_master", "--instance", "VI_1")
    assert r.returncode == 1
    assert time.monotonic() - t0 >= 0.3  # 100 ms + 200 ms of backoff
    assert "FAILED at 'run /bin/false'" in r.stderr
    assert "not run: [run " in r.stderr and "NEVER" in r.stderr
    acts = node.transitions()[-1]["actions"]
    assert [a["outcome"] for a in acts] == ["ok", "failed", "ok", "failed", "not-run"]
    assert acts[0]["attempts"] == 3 and acts[3]["attempts"] == 2
    assert [m[1] for m in marks(node) if m[0] == "start"] == ["AFTER"]
    # A failed promotion does not claim the master role.
    assert node.role() is None
    assert node.transitions()[-1]["outcome"] == "failed"


def test_action_timeout_kills_the_command(node):
    node.write_config("instances:\n  VI_1:\n    promote:\n"
                      "      - run: [/bin/sleep, '30']\n        timeout: 300ms\n")
    t0 = time.monotonic()
    r = node.run("notify_master", "--instance", "VI_1")
    assert r.returncode == 1
    assert time.monotonic() - t0 < 10
    assert "timed out" in node.transitions()[-1]["actions"][0]["error"]


def test_concurrent_events_never_interleave_and_last_wins(node):
    basic(node, extra_instance="    lock_timeout: 5m\n")
    # Each action takes 20 ms so overlapping runs would show up as interleaved markers.
    node.write_config(f"""
instances:
  VI_1:
    promote: [{{run: {marker(node, 'MASTER', 20)}}}]
    demote: [{{run: {marker(node, 'BACKUP', 20)}}}]
""")
    rng = random.Random(5)
    procs = []
    for i in range(100):
        state = rng.choice(["MASTER", "BACKUP"])
        tool = "notify_master" if state == "MASTER" else "notify_backup"
        if i % 2:
            procs.append(node.popen(tool, "INSTANCE", "VI_1", state, "100"))
        else:
            procs.append(node.popen(tool, "--instance", "VI_1"))
    for p in procs:
        p.communicate(timeout=300)
        assert p.returncode == 0
    m = marks(node)
    assert m, "no action ran"
    for i in range(0, len(m), 2):
        assert m[i][0] == "start" and m[i + 1][0] == "end", f"interleaved at {i}: {m[i:i + 2]}"
        assert m[i][1:] == m[i + 1][1:]
    t = node.transitions()
    assert len(t) == 100
    newest = max(t, key=lambda e: e["ticket"])
    assert newest["decision"] == "ran"
    ran = [e for e in t if e["decision"] == "ran"]
    assert ran[-1]["ticket"] == newest["ticket"], "the newest event must be the last to run"
    assert m[-1][1] == newest["event"]["state"]
    assert node.role() == newest["to"]
    superseded = [e for e in t if e["decision"] == "superseded"]
    assert len(ran) + len(superseded) == 100
    assert len(superseded) > 0
    assert sorted(e["ticket"] for e in t) == list(range(1, 101))


def test_sigkill_leaves_no_lock_behind(node):
    node.write_config(f"""
instances:
  VI_1:
    promote: [{{run: {marker(node, 'SLOW', 30000)}}}]
    demote: [{{run: {marker(node, 'BACKUP')}}}]
""")
    p = node.popen("notify_master", "--instance", "VI_1")
    deadline = time.monotonic() + 20
    while not marks(node) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marks(node), "slow action did not start"
    p.kill()
    p.communicate()
    r = node.run("notify_backup", "--instance", "VI_1", timeout=20)
    assert r.returncode == 0, r.stderr
    assert node.role() == "backup"
    assert node.transitions()[-1]["lock_wait_ms"] < 5000


def test_notifications_reach_smtp_sink_and_webhook(node):
    with SmtpSink() as sink, WebhookReceiver() as hook:
        node.write_config(f"""
instances:
  VI_1:
    promote:
      - run: {marker(node, 'MASTER')}
      - notify: ops
notifications:
  ops:
    email: {{smtp: '{sink.url}', from: ha@example.com, to: [ops@example.com, dba@example.com]}}
    webhook: {{url: '{hook.url}', headers: ['X-Test: 1']}}
""")
        r = node.run("notify_master", "INSTANCE", "VI_1", "MASTER", "100")
        assert r.returncode == 0, r.stderr
        msg = sink.wait_message()
        req = hook.wait_request()
    host = os.uname().nodename
    assert msg["mail_from"] == "<ha@example.com>"
    assert msg["rcpt_to"] == ["<ops@example.com>", "<dba@example.com>"]
    subject = msg["message"]["Subject"]
    assert "VI_1" in subject and "MASTER" in subject and host in subject and "ok" in subject
    body = msg["message"].get_payload()
    assert "instance VI_1 went MASTER" in body and "run " in body
    doc = req["json"]
    assert req["headers"]["Content-Type"] == "application/json" and req["headers"]["X-Test"] == "1"
    assert doc["instance"] == "VI_1" and doc["state"] == "MASTER" and doc["host"] == host
    assert doc["priority"] == 100 and doc["outcome"] == "ok" and doc["to"] == "master"
    assert doc["actions"][0]["outcome"] == "ok"
    acts = node.transitions()[-1]["actions"]
    assert acts[1]["details"] == {"email": "sent", "webhook": "sent"}


def test_dead_smtp_server_does_not_block_promotion(node):
    dead = free_port()  # nothing listens there
    node.write_config(f"""
instances:
  VI_1:
    promote:
      - notify: ops
      - run: {marker(node, 'MASTER')}
notifications:
  ops:
    email: {{smtp: 'smtp://127.0.0.1:{dead}', from: ha@example.com, to: ops@example.com, timeout: 2s}}
""")
    t0 = time.monotonic()
    r = node.run("notify_master", "--instance", "VI_1")
    assert r.returncode == 0, r.stderr
    assert time.monotonic() - t0 < 5
    assert node.role() == "master"
    assert [m[1] for m in marks(node) if m[0] == "start"] == ["MASTER"]
    acts = node.transitions()[-1]["actions"]
    assert acts[0]["outcome"] == "failed" and "e-mail" in acts[0]["error"]
    assert node.transitions()[-1]["outcome"] == "ok"


def test_failed_promotion_still_alerts(node):
    with SmtpSink() as sink:
        node.write_config(f"""
instances:
  VI_1:
    promote:
      - run: [/bin/false]
      - flag: set
      - notify: ops
notifications:
  ops: {{email: {{smtp: '{sink.url}', from: ha@example.com, to: ops@example.com}}}}
""")
        r = node.run("notify_master", "--instance", "VI_1")
        assert r.returncode == 1
        msg = sink.wait_message()
    assert "FAILED" in msg["message"]["Subject"]
    assert not node.flag_set()
    assert [a["outcome"] for a in node.transitions()[-1]["actions"]] == ["failed", "not-run", "ok"]
