"""The lab itself, before any hakit tool: namespaces, bridge, keepalived moving a VIP.

If this fails, every other e2e test fails for the same reason: look here first.
"""
import os
import shutil
import subprocess
import tempfile
import time

from fixtures.keepalived import Keepalived
from fixtures.netns import VIP, Lab, list_namespaces

CONF = """
global_defs {{
  enable_script_security
  script_user root
}}
vrrp_script alive {{
  script "/usr/bin/test -e {flag}"
  interval 1
  timeout 2
  fall 2
  rise 1
}}
vrrp_instance VI_1 {{
  state BACKUP
  nopreempt
  interface eth0
  virtual_router_id 61
@n1  priority 150
@n2  priority 100
  advert_int 1
@n1  unicast_src_ip 192.0.2.11
@n2  unicast_src_ip 192.0.2.12
  unicast_peer {{
@n1    192.0.2.12
@n2    192.0.2.11
  }}
  virtual_ipaddress {{
    {vip}/24 dev eth0
  }}
  track_script {{
    alive
  }}
}}
"""


def test_namespaces_bridge_and_vip_failover():
    work = tempfile.mkdtemp(prefix="hakit-e2e-lab-")
    try:
        with Lab(nodes=("n1", "n2")) as lab:
            names = list_namespaces()
            for n in ("n1", "n2", "cl"):
                assert lab.ns(n) in names
            # No default route, only our subnet.
            for n in ("n1", "n2", "cl"):
                routes = lab.run(n, ["ip", "-4", "route", "show"], check=True).stdout
                assert "default" not in routes
                assert "192.0.2.0/24" in routes
            # The bridge connects the nodes and the client.
            r = lab.run("cl", ["ping", "-c", "1", "-W", "2", "192.0.2.11"])
            assert r.returncode == 0, r.stdout + r.stderr

            flags = {n: os.path.join(work, f"ok-{n}") for n in ("n1", "n2")}
            for f in flags.values():
                open(f, "w").close()
            kas = {}
            for n in ("n1", "n2"):
                kas[n] = Keepalived(lab, n, CONF.format(flag=flags[n], vip=VIP), work).start()
            # Both start BACKUP (nopreempt); the higher priority one takes the VIP.
            lab.wait_vip("n1", timeout=20)
            assert lab.vip_holders() == ["n1"]
            # The check fails on the master: FAULT, priority 0 advert, the VIP moves.
            os.unlink(flags["n1"])
            took = lab.wait_vip("n2", timeout=20)
            assert not lab.has_vip("n1")
            kas["n1"].wait_log(r"Entering FAULT STATE", timeout=10)
            assert took < 10
            # The client reaches the VIP on its new holder.
            r = lab.run("cl", ["ping", "-c", "1", "-W", "2", VIP])
            assert r.returncode == 0, r.stdout + r.stderr
            # nopreempt: n1 recovers and stays BACKUP.
            open(flags["n1"], "w").close()
            kas["n1"].wait_log(r"Entering BACKUP STATE", timeout=15)
            assert lab.vip_holders() == ["n2"]
            for n in ("n1", "n2"):
                assert not kas[n].security_violations(), kas[n].log()
            ids = lab.id
        # Everything of this lab is gone.
        assert not [n for n in list_namespaces() if n.startswith(ids + "-")]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_leftovers_of_a_dead_run_are_removed():
    # A namespace named like a lab of a PID that no longer exists.
    p = subprocess.Popen(["/bin/true"])
    p.wait()
    stale = f"hke2e{p.pid}-n1"
    subprocess.run(["ip", "netns", "add", stale], check=True)
    try:
        with Lab(nodes=("n1",), client=False):
            assert stale not in list_namespaces()
    finally:
        subprocess.run(["ip", "netns", "del", stale], capture_output=True)


def test_services_in_namespaces_and_client_through_vip():
    """MariaDB replicates across the bridge, nginx answers in each node, the client writes
    through the VIP and the sampler sees both read_only values."""
    import cluster
    work = tempfile.mkdtemp(prefix="hakit-e2e-lab-")
    dbs = {}
    try:
        with Lab(nodes=("n1", "n2")) as lab:
            dbs = cluster.start_databases(lab, ("n1", "n2"), work)
            cluster.seed_primary(dbs["n1"])
            cluster.replicate(dbs["n2"], dbs["n1"])
            assert dbs["n2"].read_only() and not dbs["n1"].read_only()
            for n in ("n1", "n2"):
                cluster.Nginx(lab, n, work).start()
                r = lab.run(n, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                "http://127.0.0.1/site1/"])
                assert r.stdout == "200"
            open(os.path.join(work, "ok-n1"), "w").close()
            open(os.path.join(work, "ok-n2"), "w").close()
            for n in ("n1", "n2"):
                Keepalived(lab, n, CONF.format(flag=os.path.join(work, f"ok-{n}"), vip=VIP),
                           work).start()
            lab.wait_vip("n1", timeout=20)
            sampler = cluster.ReadOnlySampler(dbs)
            sampler.start()
            writer = cluster.Writer(lab, work)
            writer.wait_acks(20, timeout=30)
            writer.stop()
            sampler.stop()
            acks, _ = writer.records()
            assert {a[2] for a in acks} == {101}
            ids = {int(r[0]) for r in dbs["n2"].sql("SELECT id FROM app.writes")}
            deadline = time.monotonic() + 10
            while not {a[0] for a in acks} <= ids and time.monotonic() < deadline:
                time.sleep(0.1)
                ids = {int(r[0]) for r in dbs["n2"].sql("SELECT id FROM app.writes")}
            assert {a[0] for a in acks} <= ids  # replicated
            assert len(sampler.samples) > 10
            assert sampler.dual_writable_seconds() == 0.0
            assert all(s["n1"] is True and s["n2"] is False for _, s in sampler.samples)
            for db in dbs.values():
                db.stop()
    finally:
        for db in dbs.values():
            db.destroy()
        shutil.rmtree(work, ignore_errors=True)
