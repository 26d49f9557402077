"""The etcd arbiter against a real 3-member etcd (tests/fixtures/etcd.py) and a real MariaDB
primary + replica: two hakit "nodes" contend for one instance's lease; a promotion without the
lease is refused; the renewer survives one member down or hung; with the majority down the
holder sets its database read-only BEFORE its lease can expire, and the other node gets the
lease only after that."""
import json
import os
import threading
import time

import pytest

from fixtures import etcd
from fixtures.mariadb import start_admin_pair
from fixtures.notify_env import Node

TTL_S = 6  # the default; a frozen leader costs an election (1-2 s) well inside ttl - margin


@pytest.fixture(scope="module")
def cluster():
    c = etcd.Cluster(3).start()
    yield c
    c.destroy()


@pytest.fixture
def pair():
    p = start_admin_pair(gtid=True)
    yield p
    p.destroy()


def make_node(name, cluster, local, peer, creds, prefix):
    n = Node(name)
    eps = ", ".join(cluster.endpoints)
    n.write_config(f"""
mysql:
  local: {local.profile_yaml(creds)}
  peer: {peer.profile_yaml(creds, connect_timeout='1s')}
arbiters:
  lab:
    type: etcd
    endpoints: [{eps}]
    ttl: {TTL_S}s
    node: {name}
    prefix: {prefix}
    timeout: 300ms
    renew_interval: 1s
    acquire_timeout: 8s
instances:
  VI_1:
    arbiter: lab
    promote:
      - mysql_promote: {{mysql: local, catchup_timeout: 10s}}
    demote:
      - mysql_demote: {{mysql: local}}
""")
    n.name = name
    return n


@pytest.fixture
def nodes(request, cluster, pair):
    prefix = f"/hakit-test/{request.node.name}/"
    a = make_node("na", cluster, pair.primary, pair.replica, pair.creds, prefix)
    b = make_node("nb", cluster, pair.replica, pair.primary, pair.creds, prefix)
    a.key = b.key = prefix + "VI_1"
    yield a, b
    a.destroy()
    b.destroy()


def keep(node):
    return node.run("hakit-arbiter", "keep", "--instance", "VI_1", verbose=False, timeout=30)


def record(node):
    with open(os.path.join(node.run_dir, "arbiter.VI_1.json")) as f:
        return json.load(f)


def boottime_ms():
    return int(time.clock_gettime(time.CLOCK_BOOTTIME) * 1000)


class Renewer:
    """keepalived's vrrp_script for one node: `hakit-arbiter keep` every second."""

    def __init__(self, node):
        self.node = node
        self.results = []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        while not self.stop_event.is_set():
            r = keep(self.node)
            self.results.append((boottime_ms(), r.returncode, r.stdout.strip()))
            self.stop_event.wait(1.0)

    def stop(self):
        self.stop_event.set()
        self.thread.join(timeout=30)


def test_writable_node_takes_the_lease_and_promotion_elsewhere_is_refused(cluster, pair, nodes):
    a, b = nodes
    r = keep(a)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "acquired" in r.stdout
    assert cluster.get(a.key) == "na"
    assert record(a)["phase"] == "holding"
    # A second tick renews.
    r = keep(a)
    assert r.returncode == 0 and "lease held by na" in r.stdout, r.stdout
    # The replica's node is read-only and holds nothing: fine.
    r = keep(b)
    assert r.returncode == 0 and "standby" in r.stdout, r.stdout

    # nb's promotion waits acquire_timeout for na's lease, which na keeps renewing: refused.
    renewer = Renewer(a)
    try:
        r = b.run("notify_master", "--instance", "VI_1")
    finally:
        renewer.stop()
    assert r.returncode == 2, r.stdout + r.stderr
    assert pair.replica.variable("read_only") == "ON"
    e = b.transitions()[-1]
    assert e["decision"] == "refused"
    assert e["arbiter"]["lease"] == "refused" and e["arbiter"]["holder"] == "na"
    assert "held by na" in e["message"]
    assert cluster.get(a.key) == "na"

    # na steps down (read-only): its next tick hands the lease back, and nb's promotion wins.
    pair.primary.set_read_only(True)
    r = keep(a)
    assert r.returncode == 0 and "released" in r.stdout, r.stdout
    assert cluster.get(a.key) is None
    r = b.run("notify_master", "--instance", "VI_1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert pair.replica.variable("read_only") == "OFF"
    assert cluster.get(a.key) == "nb"
    e = b.transitions()[-1]
    assert e["arbiter"]["lease"] == "held"
    # nb renews from now on; demotion hands the lease back after read_only=ON.
    r = keep(b)
    assert r.returncode == 0 and "lease held by nb" in r.stdout, r.stdout
    r = b.run("notify_backup", "--instance", "VI_1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert pair.replica.variable("read_only") == "ON"
    assert b.transitions()[-1]["arbiter"]["lease"] == "released"
    assert cluster.get(a.key) is None


def test_writable_node_whose_key_another_holds_fences_at_once(cluster, pair, nodes):
    a, b = nodes
    # nb holds the lease (its DB read-only: a promotion in progress, say) ...
    pair.primary.set_read_only(True)
    r = b.run("notify_master", "--instance", "VI_1")
    assert r.returncode == 0, r.stdout + r.stderr
    assert cluster.get(a.key) == "nb"
    # ... while na's server is writable (a stray SET GLOBAL read_only=OFF): na fences itself.
    pair.primary.set_read_only(False)
    r = keep(a)
    assert r.returncode == 2, r.stdout
    assert "self-fenced" in r.stdout and "held by nb" in r.stdout
    assert pair.primary.variable("read_only") == "ON"
    fence = [e for e in a.journal() if e.get("kind") == "self-fence"]
    assert fence and fence[-1]["holder"] == "nb" and fence[-1]["read_only"] is True


def renews_through(node, seconds=5.0):
    """Ticks once a second like keepalived: none may fail (a lost leader costs an election,
    about a second, which shows as a WARNING: renewal failed, deadline not reached), and the
    lease must be renewed again within `seconds`."""
    deadline = time.monotonic() + seconds
    outputs = []
    while time.monotonic() < deadline:
        r = keep(node)
        outputs.append(r.stdout.strip())
        assert r.returncode == 0, outputs
        if "lease held by na" in r.stdout and len(outputs) >= 2:
            return outputs
        time.sleep(0.5)
    raise AssertionError(f"lease not renewed within {seconds}s: {outputs}")


def test_one_member_down_or_hung_the_lease_still_renews(cluster, pair, nodes):
    a, _ = nodes
    assert keep(a).returncode == 0
    cluster.members[0].stop()
    try:
        renews_through(a)
    finally:
        cluster.restart(cluster.members[0])
    # A hung member (accepts, never answers) must not eat the request budget.
    cluster.members[1].freeze()
    try:
        renews_through(a)
    finally:
        cluster.members[1].resume()
        cluster.wait_healthy()
    assert pair.primary.variable("read_only") == "OFF"
    assert not [e for e in a.journal() if e.get("kind") == "self-fence"]


def test_majority_down_holder_fences_before_its_lease_can_expire(cluster, pair, nodes):
    a, b = nodes
    assert keep(a).returncode == 0
    renewer = Renewer(a)
    try:
        time.sleep(1.5)
        assert pair.primary.variable("read_only") == "OFF"
        for m in cluster.members[1:]:
            m.freeze()
        # The lease cannot be renewed any more: na must be read-only before it can expire.
        deadline = time.monotonic() + 3 * TTL_S
        while time.monotonic() < deadline and not any(rc == 2 for _, rc, _ in renewer.results):
            time.sleep(0.1)
        fenced = [(t, out) for t, rc, out in renewer.results if rc == 2]
        assert fenced, renewer.results
        fence_time, out = fenced[0]
        assert "self-fenced" in out, out
        assert pair.primary.variable("read_only") == "ON"
        entry = [e for e in a.journal() if e.get("kind") == "self-fence"][-1]
        assert entry["read_only"] is True and "renew" in entry["reason"]
        rec = record(a)
        # The last renewal na saw succeed was sent at last_send: etcd cannot expire the lease
        # before last_send + ttl, and na was read-only before that moment.
        expiry_floor = rec["last_send_boottime_ms"] + rec["ttl_ms"]
        assert fence_time < expiry_floor, (fence_time, expiry_floor, renewer.results)

        # The quorum comes back while na's renewer keeps ticking (read-only now: it hands the
        # lease back). nb gets the lease, never before that floor.
        for m in cluster.members[1:]:
            m.resume()
        cluster.wait_healthy()
        r = b.run("notify_master", "--instance", "VI_1")
        acquired_at = boottime_ms()
    finally:
        renewer.stop()
        for m in cluster.members[1:]:
            if m.frozen:
                m.resume()
    assert r.returncode == 0, r.stdout + r.stderr
    assert acquired_at >= expiry_floor
    assert cluster.get(a.key) == "nb"
    assert pair.replica.variable("read_only") == "OFF"
    assert pair.primary.variable("read_only") == "ON"


def test_status_and_preflight(cluster, pair, nodes):
    a, _ = nodes
    r = a.run("hakit-arbiter", "preflight", verbose=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.count("ok  ") == 4, r.stdout  # 3 members + the write
    assert "write " + a.key.rsplit("/", 1)[0] + "/preflight/na" in r.stdout, r.stdout
    assert keep(a).returncode == 0
    r = a.run("hakit-arbiter", "status", verbose=False)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("ARBITER OK - VI_1: held by na"), r.stdout
    assert "lab 3/3 members reachable" in r.stdout
    cluster.members[2].stop()
    try:
        r = a.run("hakit-arbiter", "status", verbose=False)
        assert r.returncode == 1 and "2/3 members reachable" in r.stdout, r.stdout
        r = a.run("hakit-arbiter", "preflight", verbose=False)
        assert r.returncode == 1, r.stdout
        assert f"FAIL lab: member {cluster.members[2].client_url}" in r.stdout, r.stdout
    finally:
        cluster.restart(cluster.members[2])
