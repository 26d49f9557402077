"""Scenario 5: ordered resources with local recovery (LifeKeeper-like).

A resource start that fails once is retried locally (the action's retries): no failover.
The scheduler (the quick-checked top resource) stops and is restarted within the check's
fall window: no failover. It then keeps failing: the node goes to FAULT, its resources go
down top-down, and the peer starts them bottom-up."""
import os
import shutil
import sys
import tempfile
import time

import cluster
from fixtures.keepalived import InstalledTools, Keepalived, render, sample
from fixtures.netns import Lab

HERE = os.path.dirname(os.path.abspath(__file__))
BOTTOM_UP = ["filesystem", "db", "scheduler", "route"]


def config(files, node):
    res = os.path.join(files.state, "res")

    def argv(action, name):
        return f"[{sys.executable}, {os.path.join(HERE, 'resource.py')}, {action}, {name}, {res}]"

    subs = {
        "[/usr/bin/mount, /srv/app]": argv("start", "filesystem"),
        "[/usr/bin/systemctl, start, mariadb]": argv("start", "db"),
        "[/usr/bin/systemctl, start, app-scheduler]": argv("start", "scheduler"),
        "[/usr/sbin/ip, route, replace, 198.51.100.0/24, via, 192.0.2.1]": argv("start", "route"),
        "[/usr/sbin/ip, route, del, 198.51.100.0/24]": argv("stop", "route"),
        "[/usr/bin/systemctl, stop, app-scheduler]": argv("stop", "scheduler"),
        "[/usr/bin/systemctl, stop, mariadb]": argv("stop", "db"),
        "[/usr/bin/umount, /srv/app]": argv("stop", "filesystem"),
    }
    text = cluster.example("ordered-resources.yaml", files, subs)
    assert "/usr/bin/systemctl" not in text and "/sbin/ip" not in text  # every resource mapped
    files.write_config(text)
    os.makedirs(res, exist_ok=True)
    return res


def order(res):
    try:
        with open(os.path.join(res, "order.log")) as f:
            return [l.split() for l in f.read().splitlines()]
    except FileNotFoundError:
        return []


def transitions(files):
    return [e for e in files.journal() if e.get("kind") == "transition" and "decision" in e]


def wait(cond, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout}s: {what}")


def test_ordered_resources_local_recovery_then_failover():
    work = tempfile.mkdtemp(prefix="hakit-e2e-ordered-")
    os.chmod(work, 0o755)
    tools = InstalledTools(names=("check_http_200", "notify_master", "notify_backup"))
    try:
        with Lab(nodes=("n1", "n2")) as lab:
            files, res, ka, ng = {}, {}, {}, {}
            for n in ("n1", "n2"):
                ng[n] = cluster.Nginx(lab, n, work).start()
                files[n] = cluster.NodeFiles(work, n)
                res[n] = config(files[n], n)
            # The scheduler fails its first start on n1: local recovery must absorb it.
            with open(os.path.join(res["n1"], "scheduler.fail"), "w") as f:
                f.write("1")
            for n in ("n1", "n2"):
                conf = render(sample("ordered-resources.conf"), tools.libexec, files[n].config)
                ka[n] = Keepalived(lab, n, conf, work).start()
            lab.wait_vip("n1", timeout=30)
            promo = wait(lambda: [e for e in transitions(files["n1"])
                                  if e["event"]["state"] == "MASTER"], 60, "n1 promotion")[-1]
            assert promo["outcome"] == "ok", promo
            sched = [a for a in promo["actions"] if "scheduler" in a["action"]][0]
            assert sched["attempts"] == 2 and sched["outcome"] == "ok", sched
            # (keepalived starts every node in BACKUP: the stop list ran first, harmlessly.)
            assert [o for o in order(res["n1"]) if o[0] == "start"] == [
                                        ["start", "filesystem"], ["start", "db"],
                                        ["start", "scheduler", "FAILED"], ["start", "scheduler"],
                                        ["start", "route"]]
            assert lab.vip_holders() == ["n1"]

            # The scheduler dies once and its supervisor restarts it within the fall window
            # (3 x 2 s): no failover.
            n_before = len(transitions(files["n1"])) + len(transitions(files["n2"]))
            ng["n1"].stop()
            time.sleep(2.5)
            ng["n1"].start()
            time.sleep(5)
            assert lab.vip_holders() == ["n1"]
            assert len(transitions(files["n1"])) + len(transitions(files["n2"])) == n_before

            # It keeps failing: FAULT, top-down stop on n1, bottom-up start on n2.
            mark = {n: len(order(res[n])) for n in ("n1", "n2")}
            ng["n1"].stop()
            lab.wait_vip("n2", timeout=30)
            wait(lambda: [e for e in transitions(files["n2"]) if e["event"]["state"] == "MASTER"
                          and e["decision"] == "ran"], 60, "n2 promotion")
            wait(lambda: [e for e in transitions(files["n1"]) if e["event"]["state"] == "FAULT"
                          and e["decision"] == "ran"], 60, "n1 demotion")
            assert order(res["n2"])[mark["n2"]:] == [["start", r] for r in BOTTOM_UP]
            assert order(res["n1"])[mark["n1"]:] == [["stop", r] for r in BOTTOM_UP[::-1]]
            assert ka["n1"].state() == "FAULT" and lab.vip_holders() == ["n2"]
            for k in ka.values():
                k.stop()
    finally:
        tools.close()
        if not os.environ.get("HAKIT_E2E_KEEP"):
            shutil.rmtree(work, ignore_errors=True)
