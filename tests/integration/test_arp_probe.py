"""Two VIP holders, seen on a real link: the ARP probe hakit's guard and notify_master use
(common/arp_probe.cpp) against real kernels in network namespaces (tests/fixtures/netns.py):
nobody else answers while the VIP is on one node only; the other node's MAC answers once both
hold it (what two keepalived MASTERs that cannot hear each other's VRRP look like); and the
probe changes no neighbour's ARP cache (sender 0.0.0.0)."""
import os

from fixtures.common import BUILD_DIR
from fixtures.netns import Lab, VIP

HELPER = os.path.join(BUILD_DIR, "tests", "unit", "test_helper")


def holders(lab, node, iface="eth0", wait_ms=200):
    r = lab.run(node, [HELPER, "arp-holders", VIP, iface, str(wait_ms)], check=False)
    assert r.returncode == 0, f"arp-holders on {node} failed: {r.stderr}"
    return r.stdout.split()


def mac_of(lab, node):
    r = lab.run(node, ["ip", "-o", "link", "show", "eth0"], check=True)
    words = r.stdout.split()
    return words[words.index("link/ether") + 1]


def test_other_vip_holders_on_a_real_link():
    assert os.access(HELPER, os.X_OK), f"{HELPER} not built"
    with Lab(nodes=("n1", "n2"), client=True) as lab:
        lab.run("n1", ["ip", "addr", "add", f"{VIP}/24", "dev", "eth0"], check=True)
        # Held by n1 only: nobody else answers.
        assert holders(lab, "n1") == []
        # n2 takes it too (its keepalived cannot hear n1's VRRP): n1 sees n2, n2 sees n1.
        lab.run("n2", ["ip", "addr", "add", f"{VIP}/24", "dev", "eth0"], check=True)
        assert holders(lab, "n1") == [mac_of(lab, "n2")]
        assert holders(lab, "n2") == [mac_of(lab, "n1")]
        # The client (holding nothing) sees both: the probe asks the link, not our address.
        assert sorted(holders(lab, "cl")) == sorted([mac_of(lab, "n1"), mac_of(lab, "n2")])
        # The probes changed no neighbour's cache: the client never learnt the VIP from them.
        neigh = lab.run("cl", ["ip", "neigh", "show", VIP], check=True).stdout
        assert "lladdr" not in neigh, neigh
        # n2 lets go: n1 is alone again.
        lab.run("n2", ["ip", "addr", "del", f"{VIP}/24", "dev", "eth0"], check=True)
        assert holders(lab, "n1") == []
        # An interface that does not exist, an IPv6 address: a clear error, exit 1.
        r = lab.run("n1", [HELPER, "arp-holders", VIP, "eth9", "100"], check=False)
        assert r.returncode == 1 and "eth9" in r.stderr, r.stderr
        r = lab.run("n1", [HELPER, "arp-holders", "2001:db8::1", "eth0", "100"], check=False)
        assert r.returncode == 1 and "not an IPv4 address" in r.stderr, r.stderr
