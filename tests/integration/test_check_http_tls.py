"""check_http_200 over https against nginx with certificates made by openssl in the test:
valid, expired, not yet valid, wrong host, self-signed, expiring soon, client certificate
required; --insecure, --ca-file, --sni, --resolve, certificate-expiry thresholds."""
import pytest

from check_http_common import check
from fixtures.nginx import Nginx
from fixtures.tls import TestPKI


@pytest.fixture(scope="module")
def env():
    pki = TestPKI()
    try:
        with Nginx(pki) as ng:
            yield pki, ng
    finally:
        pki.close()


def test_valid_certificate(env):
    pki, ng = env
    r = check(ng.https_url("valid", "/ok"), "--ca-file", pki.ca, "-s", "site up")
    assert (r.state, r.rc) == ("OK", 0), r


def test_verification_is_on_by_default(env):
    pki, ng = env
    # The system store does not know the test CA.
    r = check(ng.https_url("valid", "/ok"))
    assert (r.state, r.rc) == ("CRITICAL", 2), r
    assert r.summary.startswith("TLS:"), r


@pytest.mark.parametrize("case,words", [
    ("expired", "expired"),
    ("notyet", "not yet valid"),
    ("wronghost", "localhost"),
    ("selfsigned", "self-signed"),
])
def test_bad_certificates_are_critical_naming_the_cause(env, case, words):
    pki, ng = env
    r = check(ng.https_url(case, "/ok"), "--ca-file", pki.ca)
    assert (r.state, r.rc) == ("CRITICAL", 2), r
    assert r.summary.startswith("TLS:") and words in r.summary, r
    # --insecure accepts it (an operator's explicit choice).
    r = check(ng.https_url(case, "/ok"), "--ca-file", pki.ca, "--insecure")
    assert r.state == "OK", r


def test_certificate_expiry_thresholds(env):
    pki, ng = env
    r = check(ng.https_url("soon", "/ok"), "--ca-file", pki.ca, "--cert-warning", "30")
    assert (r.state, r.rc) == ("WARNING", 0), r
    assert "certificate expires in 4 days" in r.summary or "certificate expires in 5 days" in r.summary, r
    r = check(ng.https_url("soon", "/ok"), "--ca-file", pki.ca, "--cert-warning", "30",
              "--cert-critical", "7")
    assert (r.state, r.rc) == ("CRITICAL", 2), r
    r = check(ng.https_url("valid", "/ok"), "--ca-file", pki.ca, "--cert-warning", "30")
    assert r.state == "OK", r
    # Expiry is judged even when verification is off (a check with --insecure still warns).
    r = check(ng.https_url("expired", "/ok"), "--insecure", "--cert-critical", "7")
    assert r.state == "CRITICAL" and "expired 1 days ago" in r.summary, r


def test_client_certificate_required(env):
    pki, ng = env
    r = check(ng.https_url("client", "/ok"), "--ca-file", pki.ca)
    assert (r.state, r.rc) == ("CRITICAL", 2), r  # nginx answers 400 without a client cert
    r = check(ng.https_url("client", "/ok"), "--ca-file", pki.ca,
              "--client-cert", pki.cert("client"), "--client-key", pki.key("client"), "-s", "site up")
    assert (r.state, r.rc) == ("OK", 0), r


def test_sni_and_resolve_probe_one_node_by_name(env):
    pki, ng = env
    port = ng.https_ports["valid"]
    # Connect to 127.0.0.1 but verify and send the name "localhost".
    r = check(f"https://127.0.0.1:{port}/ok", "-H", "localhost", "--ca-file", pki.ca)
    assert r.state == "OK", r
    r = check(f"https://www.example.test:{port}/ok", "--resolve",
              f"www.example.test:{port}:127.0.0.1", "--ca-file", pki.ca)
    assert r.state == "CRITICAL" and "www.example.test" in r.summary, r  # name not in the cert
    r = check(f"https://localhost:{port}/ok", "--resolve", f"localhost:{port}:127.0.0.1",
              "--ca-file", pki.ca)
    assert r.state == "OK", r
    r = check(f"https://localhost:1/ok", "-I", "127.0.0.1", "-p", str(port), "--ca-file", pki.ca)
    assert r.state == "OK", r


def test_missing_ca_file_is_critical_with_cause(env):
    pki, ng = env
    r = check(ng.https_url("valid", "/ok"), "--ca-file", "/nonexistent/ca.pem")
    assert r.rc in (2, 3) and "TLS" in r.summary, r
