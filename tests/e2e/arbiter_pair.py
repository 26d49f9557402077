"""The monitoring pair with the etcd arbiter (keepalived-conf/monitoring-pair-arbiter.conf +
examples/monitoring-pair-arbiter.yaml): MonitoringPair plus a third namespace, n3, and one
etcd member in each of n1, n2 and n3 (the usual deployment puts the third on a monitoring or
app host). Used by e2e.arbiter_partition and tests/e2e/bench_partition.py."""
import time

from fixtures import etcd
from fixtures.common import require
from fixtures.keepalived import InstalledTools, TOOLS, render, sample
from fixtures.netns import Lab
import cluster
from pair import MonitoringPair

KEY = "/hakit/VI_1"


class ArbiterPair(MonitoringPair):
    """MonitoringPair with a third namespace running the third etcd member."""

    def __init__(self, **kwargs):
        super().__init__(mode="hakit", **kwargs)
        self.lab = Lab(nodes=("n1", "n2", "n3"))
        self.etcd = None

    def close(self):
        try:
            if self.etcd:
                self.etcd.destroy()
        finally:
            super().close()

    def start_etcd(self):
        nodes = ("n1", "n2", "n3")
        self.etcd = etcd.Cluster(3, hosts=[self.lab.address(n) for n in nodes],
                                 wraps=[self.lab.argv(n, []) for n in nodes], base=f"{self.work}/etcd")
        self.etcd.start()
        self.log("etcd: one member in each of n1, n2, n3")

    def hakit_config(self, node):
        if self.etcd is None:
            self.start_etcd()
            self.tools.close()
            self.tools = InstalledTools(names=TOOLS + ("hakit-arbiter", "hakit-status"))
        files = self.files[node]
        peer = "192.0.2.11" if node == "n2" else "192.0.2.12"
        subs = {"peer: {host: 192.0.2.12": f"peer: {{host: {peer}",
                "node: n1 ": f"node: {node} ",
                "/srv/site1/": f"{self.work}/site1-{node}/",
                "site_home: /srv/site1\n": f"site_home: {self.work}/site1-{node}\n"}
        subs.update(getattr(self, "subs", {}) or {})
        return files.write_config(cluster.example("monitoring-pair-arbiter.yaml", files, subs))

    def keepalived_conf(self, node):
        return render(sample("monitoring-pair-arbiter.conf"), self.tools.libexec,
                      self.files[node].config)

    def cut_off(self, node, on=True):
        """Drops everything on node's eth0 in both directions; the link stays up (a firewall
        or a dead switch port, not a cable keepalived would see go down)."""
        nft = require("nft")
        if not on:
            r = self.lab.run(node, [nft, "delete", "table", "inet", "hakit_off"])
            assert r.returncode == 0, r.stderr
            return
        for cmd in (["add", "table", "inet", "hakit_off"],
                    ["add", "chain", "inet", "hakit_off", "in",
                     "{ type filter hook input priority 0 ; }"],
                    ["add", "chain", "inet", "hakit_off", "out",
                     "{ type filter hook output priority 0 ; }"],
                    ["add", "rule", "inet", "hakit_off", "in", "iifname", "eth0", "drop"],
                    ["add", "rule", "inet", "hakit_off", "out", "oifname", "eth0", "drop"]):
            r = self.lab.run(node, [nft, *cmd])
            assert r.returncode == 0, r.stderr

    def writable(self):
        """Nodes answering read_only=OFF (a query that fails, e.g. a session killed by a fence,
        counts as not writable)."""
        out = []
        for n in ("n1", "n2"):
            ok, rows, _ = self.dbs[n].try_sql("SELECT @@global.read_only")
            if ok and rows and rows[0] and rows[0][0] == "0":
                out.append(n)
        return out

    def one_writable_with_vip(self):
        """The node that is the only writable one, holds the VIP and the lease; None if none."""
        w = self.writable()
        if len(w) == 1 and self.lab.vip_holders(nodes=["n1", "n2"]) == w and \
                self.lease_holder() == w[0]:
            return w[0]
        return None

    def lease_holder(self):
        """The node named by the lease key; None when absent or while no member can answer
        (etcd elects a leader again after a heal: a second or two)."""
        try:
            return self.etcd.get(KEY)
        except AssertionError:
            return None

    def wait_one_writable_with_vip(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            n = self.one_writable_with_vip()
            if n:
                return n
            time.sleep(0.1)
        raise AssertionError("not exactly one writable VIP holder with the lease: "
                             f"{(self.writable(), self.lab.vip_holders(nodes=['n1', 'n2']), self.lease_holder())}")
