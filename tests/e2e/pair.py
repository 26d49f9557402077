"""The monitoring pair (scenario 1) in the lab, with hakit or with the naive setup, and the
failover measurement shared by the e2e test, the benchmark and scripts/demo.sh.

    with MonitoringPair(mode="hakit") as pair:   # or mode="naive"
        pair.start()
        figures = pair.failover()                 # stop nginx on the master, measure

Resident mode (mode="resident"): hakitd on each node runs the checks in-process into the
track files of keepalived-conf/monitoring-pair-resident.conf and reads keepalived's notify
FIFO (examples/monitoring-pair-resident.yaml); no script is forked.

Naive setup (what the issue compares against): a curl check every 1 s, fall 2, and
notify_master "STOP SLAVE; SET GLOBAL read_only=0" / notify_backup "SET GLOBAL read_only=1"
through the mariadb client; notify_fault not wired.
"""
import json
import os
import shutil
import tempfile
import time
import zipfile

import cluster
from fixtures.common import require
from fixtures.keepalived import TOOLS, InstalledTools, Keepalived, render, sample
from fixtures.netns import VIP, Lab

# The webhook receiver the alerts: channel posts to (run by the partition test on the client).
ALERT_URL = "http://192.0.2.50:8080/hakit"

NAIVE_CONF = """
# The naive setup: curl check, SQL one-liners as hooks, notify_fault not wired.
global_defs {{
   enable_script_security
   script_user root
}}
vrrp_script chk_curl {{
   script "{curl} -sf -o /dev/null --max-time 2 http://127.0.0.1/site1/"
   interval 1
   timeout 3
   fall 2
   rise 1
}}
vrrp_instance VI_1 {{
   state BACKUP
   nopreempt
   interface eth0
   virtual_router_id 51
@n1   priority 150
@n2   priority 100
   advert_int 1
@n1   unicast_src_ip 192.0.2.11
@n2   unicast_src_ip 192.0.2.12
   unicast_peer {{
@n1      192.0.2.12
@n2      192.0.2.11
   }}
   virtual_ipaddress {{
      192.0.2.100/24 dev eth0
   }}
   track_script {{
      chk_curl
   }}
   notify_master "{mariadb} --no-defaults -uroot --socket={socket} -e 'STOP SLAVE; SET GLOBAL read_only=0'"
   notify_backup "{mariadb} --no-defaults -uroot --socket={socket} -e 'SET GLOBAL read_only=1'"
}}
"""

RSYNCD_CONF = """
pid file = {dir}/rsyncd.pid
log file = {dir}/rsyncd.log
use chroot = no
[{module}]
   path = {dir}/{module}
   read only = yes
   uid = root
   gid = root
"""


def archive_name(node, i):
    """The getperf archive #i the agent `<node>web` ships to node's rsync module."""
    return f"arc_{node}web__Linux_20261125_14{i * 5:02d}.zip"


# The site's aggregation in the e2e lab: records its argv (the extracted files) per call.
AGGREGATE = """#!{python}
import json, sys
with open({log!r}, "a") as f:
    f.write(json.dumps(sys.argv[1:]) + "\\n")
"""


class Rsyncd:
    """An rsync daemon in a node namespace serving one module (default: archive_site1)."""

    def __init__(self, lab, node, work, module="archive_site1"):
        self.lab, self.node = lab, node
        self.dir = os.path.join(work, f"rsyncd-{node}")
        self.data = os.path.join(self.dir, module)
        os.makedirs(self.data, exist_ok=True)
        # What a getperf agent ships: one archive per agent, category and 5-minute slot.
        for i in range(3):
            with zipfile.ZipFile(os.path.join(self.data, archive_name(node, i)), "w",
                                 zipfile.ZIP_DEFLATED) as z:
                z.writestr(f"Linux/20261125/14{i * 5:02d}/vmstat.txt", f"collected on {node} #{i}\n")
        self.conf = os.path.join(self.dir, "rsyncd.conf")
        with open(self.conf, "w") as f:
            f.write(RSYNCD_CONF.format(dir=self.dir, module=module))
        self.proc = None

    def start(self):
        self.proc = self.lab.popen(self.node, [require("rsync"), "--daemon", "--no-detach",
                                               f"--config={self.conf}", "--port=873"],
                                   log=os.path.join(self.dir, "rsyncd.out"), name="rsyncd")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if ":873" in self.lab.run(self.node, ["ss", "-Hltn", "sport = :873"]).stdout:
                return self
            time.sleep(0.05)
        raise AssertionError(f"rsyncd on {self.node} did not listen")


class MonitoringPair:
    """Two nodes: MariaDB n1 -> n2 replication, nginx, rsyncd, keepalived; a client."""

    NODES = ("n1", "n2")

    def __init__(self, mode="hakit", log=print):
        assert mode in ("hakit", "hakit-fast", "naive", "resident")
        self.mode = mode
        self.log = log
        self.work = tempfile.mkdtemp(prefix="hakit-e2e-pair-")
        os.chmod(self.work, 0o755)
        self.lab = Lab(nodes=self.NODES)
        self.tools = None
        self.dbs, self.nginx, self.rsyncd, self.ka, self.files = {}, {}, {}, {}, {}
        self.hakitd = {}
        self.writer = self.sampler = None
        self.subs = {}  # extra substitutions in the nodes' hakit.yaml (e.g. a shorter min_interval)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        try:
            if self.sampler:
                self.sampler.stop()
            for ka in self.ka.values():
                ka.stop()
            for n in list(self.hakitd):
                self.stop_hakitd(n)
            self.lab.close()
        finally:
            for db in self.dbs.values():
                db.destroy()
            if self.tools:
                self.tools.close()
            if not os.environ.get("HAKIT_E2E_KEEP"):
                shutil.rmtree(self.work, ignore_errors=True)

    # --- set-up -----------------------------------------------------------------------------
    def hakit_config(self, node):
        files = self.files[node]
        peer = "192.0.2.11" if node == "n2" else "192.0.2.12"
        subs = {"peer: {host: 192.0.2.12": f"peer: {{host: {peer}",
                "/srv/site1/": os.path.join(self.work, f"site1-{node}") + "/",
                "site_home: /srv/site1\n": f"site_home: {self.work}/site1-{node}\n",
                # Alerts go to the lab's webhook receiver (tests/e2e/receiver.py on the client).
                'ops: {email: {smtp: "smtp://127.0.0.1:25", from: hakit@mon1.example.com, '
                'to: [ops@example.com]}}': f'ops: {{webhook: {{url: "{ALERT_URL}"}}}}'}
        name = "monitoring-pair-resident.yaml" if self.mode == "resident" else "monitoring-pair.yaml"
        return files.write_config(cluster.example(name, files, {**subs, **self.subs}))

    def keepalived_conf(self, node):
        if self.mode == "naive":
            return NAIVE_CONF.format(curl=require("curl"), mariadb=require("mariadb"),
                                     socket=self.dbs[node].socket)
        if self.mode == "resident":
            text = render(sample("monitoring-pair-resident.conf"), self.tools.libexec,
                          self.files[node].config, {"/run/hakit": self.files[node].run})
            # keepalived's process events (vrrp_track_process) exist only in the host's first
            # network namespace; in the lab's namespaces keepalived cannot watch hakitd and
            # would stay FAULT. The sample says so: there, hakitd's exit guard guards alone.
            head, rest = text.split("vrrp_track_process hakitd {", 1)
            text = head + rest.split("}", 1)[1]
            head, rest = text.split("   track_process {", 1)
            return head + rest.split("}", 1)[1]
        text = render(sample("monitoring-pair.conf"), self.tools.libexec, self.files[node].config)
        if self.mode == "hakit-fast":
            # The naive setup's detection (interval 1, fall 2) with hakit's tools, to tell
            # the keepalived settings' share of the failover time from the tools'.
            head, rest = text.split("vrrp_script chk_site {", 1)
            block, tail = rest.split("}", 1)
            block = block.replace("interval 2", "interval 1").replace("fall 3", "fall 2")
            text = head + "vrrp_script chk_site {" + block + "}" + tail
        return text

    def start(self, master_delay=0):
        """Everything up, n1 MASTER; `master_delay` (s) makes n2 a delayed replica."""
        self.lab.start()
        self.log("lab: namespaces n1, n2 and a client on one bridge (192.0.2.0/24)")
        if self.mode != "naive":
            self.tools = InstalledTools(names=TOOLS + ("hakitd",))
        self.dbs = cluster.start_databases(self.lab, self.NODES, self.work)
        cluster.seed_primary(self.dbs["n1"])
        cluster.replicate(self.dbs["n2"], self.dbs["n1"])
        if master_delay:
            # Seeded (users, schema) first, then delayed: a lagging replica.
            self.dbs["n2"].sql("STOP SLAVE")
            self.dbs["n2"].sql(f"CHANGE MASTER TO MASTER_DELAY={int(master_delay)}")
            self.dbs["n2"].sql("START SLAVE")
        self.log("mariadb: n1 primary (writable), n2 replica (read_only), GTID replication"
                 + (f", MASTER_DELAY={master_delay}" if master_delay else ""))
        for n in self.NODES:
            self.nginx[n] = cluster.Nginx(self.lab, n, self.work).start()
            self.rsyncd[n] = Rsyncd(self.lab, n, self.work).start()
            self.files[n] = cluster.NodeFiles(self.work, n)
            os.makedirs(os.path.join(self.work, f"site1-{n}", ".rsync"), exist_ok=True)
            bindir = os.path.join(self.work, f"site1-{n}", "bin")
            os.makedirs(bindir, exist_ok=True)
            with open(os.path.join(bindir, "aggregate"), "w") as f:
                f.write(AGGREGATE.format(python=require("python3"),
                                         log=self.aggregate_log(n)))
            os.chmod(os.path.join(bindir, "aggregate"), 0o755)
            if self.mode != "naive":
                self.hakit_config(n)
        if self.mode == "resident":
            for n in self.NODES:
                self.start_hakitd(n)
        for n in self.NODES:
            self.ka[n] = Keepalived(self.lab, n, self.keepalived_conf(n), self.work).start()
        self.lab.wait_vip("n1", timeout=30)
        self.ka["n2"].wait_log(r"Entering BACKUP STATE", timeout=20)
        self.settle()
        self.log(f"keepalived ({self.mode}): VIP {VIP} on n1, n2 BACKUP")
        assert not self.dbs["n1"].read_only() and self.dbs["n2"].read_only()

    # --- resident mode ----------------------------------------------------------------------
    def hakitd_log(self, node):
        return os.path.join(self.work, f"hakitd-{node}.log")

    def track_file(self, node, check="site"):
        return os.path.join(self.files[node].run, "track", check)

    def start_hakitd(self, node):
        """hakitd in the node (as hakitd.service would run it), its track files written."""
        self.hakitd[node] = self.lab.popen(
            node, [self.tools.path("hakitd"), "--config", self.files[node].config],
            log=self.hakitd_log(node), name=f"hakitd-{node}")
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if all(os.path.exists(self.track_file(node, c)) for c in ("site", "replica")):
                return self.hakitd[node]
            assert self.hakitd[node].poll() is None, \
                f"hakitd on {node} exited:\n{self.hakitd_logged(node)[-3000:]}"
            time.sleep(0.05)
        raise AssertionError(f"hakitd on {node} wrote no track file:\n{self.hakitd_logged(node)}")

    def stop_hakitd(self, node):
        proc = self.hakitd.pop(node, None)
        if proc:
            self.lab.stop(proc, timeout=30)

    def kill_hakitd(self, node):
        """SIGKILL: no chance to write "failed"; keepalived's track_process guard must act."""
        proc = self.hakitd.pop(node)
        self.lab.kill(proc)

    def hakitd_logged(self, node):
        try:
            with open(self.hakitd_log(node), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def aggregate_log(self, node):
        """Where node's aggregation records its calls (one JSON argv per line)."""
        return os.path.join(self.work, f"aggregate-{node}.jsonl")

    def aggregate_calls(self, node):
        path = self.aggregate_log(node)
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [json.loads(l) for l in f if l.strip()]

    def settle(self, timeout=20):
        """Waits until the start-up notifications are done (hakit: journaled)."""
        if self.mode == "naive":
            time.sleep(1.0)
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ([e for e in self.journal("n1", "MASTER") if "outcome" in e]
                    and [e for e in self.journal("n2", "BACKUP") if "outcome" in e]):
                return
            time.sleep(0.1)
        raise AssertionError("start-up notifications not journaled: n1 "
                             f"{self.files['n1'].journal()} n2 {self.files['n2'].journal()}")

    def journal(self, node, state=None):
        """The node's notify transitions (optionally only those for keepalived state STATE)."""
        out = []
        for e in self.files[node].journal():
            if e.get("kind") != "transition":
                continue
            ev = e.get("event") if isinstance(e.get("event"), dict) else {}
            if state is None or ev.get("state") == state:
                out.append(e)
        return out

    def wait_journal(self, node, state, timeout=30, outcome=None):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            entries = [e for e in self.journal(node, state) if "outcome" in e or "decision" in e]
            if outcome:
                entries = [e for e in entries if e.get("outcome") == outcome]
            if entries:
                return entries[-1]
            time.sleep(0.1)
        raise AssertionError(f"{node}: no journaled {state} transition in {timeout}s: "
                             f"{self.files[node].journal()[-5:]}")

    def sitesync(self, node, job="site1"):
        """Runs `sitesync JOB` in the node (as cron would); returns (CompletedProcess, journal
        entry of this run or None, what it logged). A gated run logs "skipped" only."""
        logf = os.path.join(self.files[node].logdir, "hakit.log")
        start = os.path.getsize(logf) if os.path.exists(logf) else 0
        before = len(self.files[node].journal())
        r = self.lab.run(node, [self.tools.path("sitesync"), "--config", self.files[node].config,
                                job], timeout=120)
        entries = [e for e in self.files[node].journal()[before:]
                   if e.get("tool") == "sitesync" and e.get("job") == job]
        with open(logf, errors="replace") as f:
            f.seek(start)
            logged = f.read()
        return r, (entries[-1] if entries else None), logged

    # --- the failover -----------------------------------------------------------------------
    def failover(self, observe=4.0):
        """Stops nginx on n1 while the client writes through the VIP; returns the figures."""
        self.sampler = cluster.ReadOnlySampler(self.dbs, period=0.01)
        self.sampler.start()
        self.writer = cluster.Writer(self.lab, self.work, period=0.02)
        self.writer.wait_acks(50, timeout=30)
        t0 = time.time()
        self.nginx["n1"].stop()
        self.log("failure: nginx stopped on n1 (the master); the client keeps writing")
        deadline = time.monotonic() + 60
        t_vip = None
        while time.monotonic() < deadline:
            if self.lab.has_vip("n2"):
                t_vip = time.time()
                break
            time.sleep(0.01)
        assert t_vip, f"VIP never reached n2:\n{self.ka['n1'].log()[-2000:]}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            acks, _ = self.writer.records()
            if any(a[2] == 102 and a[1] >= t0 for a in acks):
                break
            time.sleep(0.05)
        time.sleep(observe)
        self.writer.stop()
        self.sampler.stop()
        acks, errors = self.writer.records()
        present = {int(r[0]) for r in self.dbs["n2"].sql("SELECT id FROM app.writes")}
        figures = cluster.failover_figures(acks, t0, 102, present, t_vip)
        figures["dual_writable_s"] = round(self.sampler.dual_writable_seconds(), 3)
        last = self.sampler.writable_until("n1", t0)
        figures["old_master_writable_s"] = round(last - t0, 3) if last else 0.0
        figures["old_master_read_only_at_end"] = self.dbs["n1"].read_only()
        figures["new_master_writable"] = not self.dbs["n2"].read_only()
        figures["observed_s"] = round(time.time() - t0, 3)
        figures["write_errors"] = len([e for e in errors if e[1] >= t0])
        return figures


def describe(figures):
    """Readable lines for the demo and the bench."""
    f = figures
    return [
        f"VIP moved to n2 in {f['time_to_vip_s']:.2f} s",
        f"writes accepted by n2 (promoted) {f['time_to_writable_s']:.2f} s after the failure"
        if f["time_to_writable_s"] is not None else "n2 never accepted a write",
        f"rows acknowledged {f['rows_acknowledged']}, present on n2 {f['rows_present']}, "
        f"lost {f['rows_lost']}",
        f"both databases writable for {f['dual_writable_s'] * 1000:.0f} ms "
        f"(read_only sampled every 10 ms on both)",
        f"old master n1 writable until {f['old_master_writable_s']:.2f} s after the failure"
        + (" (and still writable at the end)" if not f["old_master_read_only_at_end"] else
           ", then read_only"),
    ]
