"""Scenario 2: master/standby with the failover flag (Nagios-like). The freshness check fails
on the master -> the standby promotes, sets the flag, the notification arrives, log copying
stops while the flag is set; the operator clears the flag and re-attaches the old master as a
replica with the documented commands, and it comes back as BACKUP."""
import json
import os
import shutil
import sys
import tempfile
import time

import cluster
from fixtures.common import require
from fixtures.keepalived import InstalledTools, Keepalived, render, sample
from fixtures.netns import Lab
from pair import Rsyncd

HERE = os.path.dirname(os.path.abspath(__file__))


def nagios_config(files, node, dbs, work):
    peer = "192.0.2.11" if node == "n2" else "192.0.2.12"
    sock = dbs[node].socket
    start = (f'run: [{require("mariadb")}, --no-defaults, -uroot, "--socket={sock}", -e, '
             '"UPDATE nagios.programstatus SET last_update=NOW()"]')
    subs = {
        "peer: {host: 192.0.2.12": f"peer: {{host: {peer}",
        "rsync://192.0.2.12/nagios_logs": f"rsync://{peer}/nagios_logs",
        # The lab has no Nagios: "starting" it is what Nagios does first, writing its status.
        "service: {start: nagios}": start,
        "service: {stop: nagios}": "run: [/bin/true]",
        "/var/log/nagios/archives": os.path.join(work, f"archives-{node}"),
    }
    return files.write_config(cluster.example("nagios-standby.yaml", files, subs))


def transitions(files, state):
    return [e for e in files.journal() if e.get("kind") == "transition"
            and e.get("event", {}).get("state") == state and "decision" in e]


def wait(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s: {what}")


def sitesync(lab, tools, files, node):
    logf = os.path.join(files.logdir, "hakit.log")
    start = os.path.getsize(logf) if os.path.exists(logf) else 0
    r = lab.run(node, [tools.path("sitesync"), "--config", files.config, "nagios_logs"],
                timeout=120)
    with open(logf, errors="replace") as f:
        f.seek(start)
        return r, f.read()


def test_nagios_standby_failover_flag_and_reattach():
    work = tempfile.mkdtemp(prefix="hakit-e2e-nagios-")  # mysql must reach its datadir below
    os.chmod(work, 0o755)
    tools = InstalledTools()
    dbs = {}
    try:
        with Lab(nodes=("n1", "n2")) as lab:
            dbs = cluster.start_databases(lab, ("n1", "n2"), work)
            n1, n2 = dbs["n1"], dbs["n2"]
            cluster.seed_primary(n1)
            n1.sql("CREATE DATABASE nagios")
            n1.sql("CREATE TABLE nagios.programstatus (id INT PRIMARY KEY, last_update DATETIME)")
            n1.sql("INSERT INTO nagios.programstatus VALUES (1, NOW())")
            cluster.replicate(n2, n1)
            hook_out = os.path.join(work, "webhook.out")
            lab.popen("cl", [sys.executable, os.path.join(HERE, "receiver.py"), "192.0.2.50",
                             "8080", hook_out], name="receiver")
            files, ka = {}, {}
            for n in ("n1", "n2"):
                Rsyncd(lab, n, work, module="nagios_logs").start()
                os.makedirs(os.path.join(work, f"archives-{n}"))
                files[n] = cluster.NodeFiles(work, n)
                nagios_config(files[n], n, dbs, work)
            for n in ("n1", "n2"):
                conf = render(sample("nagios-standby.conf"), tools.libexec, files[n].config)
                ka[n] = Keepalived(lab, n, conf, work).start()
            lab.wait_vip("n1", timeout=30)
            wait(lambda: transitions(files["n2"], "BACKUP"), 30, "n2 BACKUP journaled")
            wait(lambda: transitions(files["n1"], "MASTER"), 30, "n1 MASTER journaled")
            assert not os.path.exists(os.path.join(files["n2"].state, "failover.flag"))

            # Normal roles: the standby copies the master's logs.
            r, logged = sitesync(lab, tools, files["n2"], "n2")
            assert r.returncode == 0, logged
            assert os.listdir(os.path.join(work, "archives-n2")), logged

            # Nagios on the master dies: its status row goes stale.
            n1.sql("UPDATE nagios.programstatus SET last_update = NOW() - INTERVAL 10 MINUTE")
            t0 = time.monotonic()
            lab.wait_vip("n2", timeout=60)
            took = time.monotonic() - t0
            promo = wait(lambda: transitions(files["n2"], "MASTER"), 60, "n2 promotion")[-1]
            assert promo["decision"] == "ran" and promo["outcome"] == "ok", promo
            assert not n2.read_only() and n1.read_only()
            flag = os.path.join(files["n2"].state, "failover.flag")
            assert os.path.exists(flag), "promotion did not set the failover flag"
            hooks = wait(lambda: open(hook_out).read() if os.path.exists(hook_out) else "", 30,
                         "FAILOVER webhook")
            doc = json.loads(hooks.splitlines()[-1])
            assert "MASTER" in json.dumps(doc) and "VI_NAGIOS" in json.dumps(doc), doc
            print(f"standby promoted {took:.1f} s after the status went stale; webhook: "
                  f"{hooks.splitlines()[-1][:200]}")

            # Log copying stops while the flag is set.
            before = set(os.listdir(os.path.join(work, "archives-n2")))
            r, logged = sitesync(lab, tools, files["n2"], "n2")
            assert r.returncode == 0 and "nagios_logs: skipped:" in logged and "flag" in logged, logged

            # The operator: re-attach the old master as a replica (the statement the demotion
            # journaled), then clear the flag.
            n1.sql("CHANGE MASTER TO MASTER_HOST='192.0.2.12', MASTER_PORT=3306, "
                   "MASTER_USER='repl', MASTER_PASSWORD='replpass', MASTER_USE_GTID=current_pos")
            n1.sql("START SLAVE")
            r = lab.run("n2", [tools.path("notify_backup"), "--config", files["n2"].config,
                               "--clear-failover-flag", "--reason", "n1 re-attached as replica"])
            assert r.returncode == 0, r.stdout + r.stderr
            assert not os.path.exists(flag)
            n2.sql("INSERT INTO app.writes (id) VALUES (424242)")
            wait(lambda: n1.scalar("SELECT COUNT(*) FROM app.writes WHERE id=424242") == "1", 30,
                 "n1 replicates from n2")
            # n1 is healthy again (replica threads running, read-only so fresh): BACKUP.
            ka["n1"].wait_log(r"Entering BACKUP STATE", timeout=60,
                              start=ka["n1"].log().rfind("Entering FAULT STATE"))
            assert lab.vip_holders() == ["n2"]
            # Log copying resumes (from the old master, now the peer).
            r, logged = sitesync(lab, tools, files["n2"], "n2")
            assert r.returncode == 0 and "nagios_logs: ok: 1 round run" in logged, logged
            for k in ka.values():
                k.stop()
    finally:
        for db in dbs.values():
            db.destroy()
        tools.close()
        if not os.environ.get("HAKIT_E2E_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
