"""check_mysql_slave over TLS to a real MariaDB with test certificates (tests/fixtures/tls.py)."""
import os
import shutil

import pytest

from check_mysql_common import check, conn_args, state_of
from fixtures.mariadb import Server, _mysql_ids
from fixtures.tls import TestPKI


@pytest.fixture(scope="module")
def tls_server():
    pki = TestPKI()
    srv = Server("tls", 401)
    try:
        # mariadbd runs as mysql: it reads its certificate from its own (mysql-owned) dir.
        tls_dir = os.path.join(srv.base, "tls")
        os.makedirs(tls_dir)
        for src, dst in ((pki.cert("valid"), "server.pem"), (pki.key("valid"), "server.key"),
                         (pki.ca, "ca.pem")):
            shutil.copy(src, os.path.join(tls_dir, dst))
        uid, gid = _mysql_ids()
        for f in os.listdir(tls_dir):
            os.chown(os.path.join(tls_dir, f), uid, gid)
        srv.extra_args += [f"--ssl-cert={tls_dir}/server.pem", f"--ssl-key={tls_dir}/server.key",
                           f"--ssl-ca={tls_dir}/ca.pem"]
        srv.start()
        srv.creds = srv.create_user("hakit")
        srv.tls_creds = srv.create_user("hakit_tls")
        srv.sql("ALTER USER 'hakit_tls'@'%' REQUIRE SSL")
        srv.x509_creds = srv.create_user("hakit_x509")
        srv.sql("ALTER USER 'hakit_x509'@'%' REQUIRE X509")
        srv.pki = pki
        yield srv
    finally:
        srv.destroy()
        pki.close()


def test_tls_verified_against_the_ca(tls_server):
    s = tls_server
    # The account refuses unencrypted connections ...
    rc, line, _, _ = check(*conn_args(s, s.tls_creds))
    assert rc == 2 and "access denied" in line, line
    # ... and passes over TLS with the server certificate verified.
    rc, line, _, _ = check(*conn_args(s, s.tls_creds), "--tls-ca", s.pki.ca)
    assert rc == 0 and "master, no replication, writable" in line, line
    rc, line, _, _ = check(*conn_args(s, s.tls_creds), "--tls", "--tls-no-verify")
    assert rc == 0, line


def test_tls_untrusted_certificate_fails(tls_server):
    s = tls_server
    rc, line, _, _ = check(*conn_args(s, s.creds), "--tls-ca", s.pki.cert("selfsigned"))
    assert rc == 2 and state_of(line) == "CRITICAL" and "TLS" in line, line


def test_tls_client_certificate(tls_server):
    s = tls_server
    key = s.write_secret("client.key", open(s.pki.key("client")).read())
    rc, line, _, _ = check(*conn_args(s, s.x509_creds), "--tls-ca", s.pki.ca)
    assert rc == 2 and "access denied" in line, line
    rc, line, _, _ = check(*conn_args(s, s.x509_creds), "--tls-ca", s.pki.ca,
                           "--tls-cert", s.pki.cert("client"), "--tls-key", key)
    assert rc == 0, line
