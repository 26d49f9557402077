"""check_mysql_slave --mode galera against a real 3-node Galera cluster (galera-4, rsync SST)."""
import time

import pytest

from check_mysql_common import check, conn_args, perf, state_of, wait_for
from fixtures.mariadb import galera_cluster  # noqa: F401  (pytest fixture)


@pytest.fixture
def cluster(galera_cluster):  # noqa: F811
    yield galera_cluster
    for node in galera_cluster.nodes:
        node.resume()
    galera_cluster.wait_size(3, timeout=90)


def galera(node, creds, *extra):
    return check(*conn_args(node, creds), "--mode", "galera", *extra)


def test_every_node_healthy(cluster):
    for node in cluster.nodes:
        rc, line, _, _ = galera(node, cluster.creds, "--min-cluster-size", "3")
        assert rc == 0, line
        assert "Galera node Synced, Primary, cluster size 3 (min 3)" in line, line
        assert perf(line, "cluster_size") == 3


def test_cluster_smaller_than_n(cluster):
    rc, line, _, _ = galera(cluster.nodes[0], cluster.creds, "--min-cluster-size", "4")
    assert rc == 2 and "cluster size 3 < 4" in line, line


def test_desynced_node(cluster):
    node = cluster.nodes[1]
    node.sql("SET GLOBAL wsrep_desync=ON")
    try:
        wait_for(lambda: node.status("wsrep_local_state") == "2", 30, "node desynced")
        rc, line, _, _ = galera(node, cluster.creds, "--min-cluster-size", "3")
        assert rc == 2 and "Donor/Desynced (2), not Synced" in line, line
        rc, line, _, _ = galera(node, cluster.creds, "--min-cluster-size", "3", "--allow-donor")
        assert rc == 0 and state_of(line) == "OK" and "Donor/Desynced (allowed)" in line, line
        # The other nodes are not affected.
        rc, line, _, _ = galera(cluster.nodes[0], cluster.creds, "--min-cluster-size", "3")
        assert rc == 0, line
    finally:
        node.sql("SET GLOBAL wsrep_desync=OFF")
    wait_for(lambda: node.status("wsrep_local_state") == "4", 30, "node synced again")


def test_node_outside_primary_component(cluster):
    node = cluster.nodes[2]
    cluster.isolate(node)
    try:
        wait_for(lambda: node.status("wsrep_cluster_status") != "Primary", 60,
                 "isolated node leaving the Primary component")
        rc, line, _, _ = galera(node, cluster.creds)
        assert rc == 2 and "outside the Primary component" in line, line
        # The two others keep a Primary component of 2: healthy for -n 2, not for -n 3.
        wait_for(lambda: cluster.nodes[0].status("wsrep_cluster_size") == "2", 60,
                 "the others seeing 2 nodes")
        rc, line, _, _ = galera(cluster.nodes[0], cluster.creds, "--min-cluster-size", "2")
        assert rc == 0, line
        rc, line, _, _ = galera(cluster.nodes[0], cluster.creds, "--min-cluster-size", "3")
        assert rc == 2 and "cluster size 2 < 3" in line, line
    finally:
        cluster.rejoin(node, timeout=90)


def test_hung_node_costs_the_timeout(cluster):
    node = cluster.nodes[2]
    node.pause()
    try:
        rc, line, _, took = galera(node, cluster.creds, "-t", "500ms")
        assert rc == 2 and "no answer within the 500 ms timeout" in line, line
        assert 0.49 <= took <= 0.65, took
    finally:
        node.resume()
    time.sleep(0.1)
