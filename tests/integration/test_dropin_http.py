"""check_http_200 as a drop-in for check_http and check_curl: command lines from their --help
examples and from Debian's Nagios command definitions (/etc/nagios-plugins/config/http.cfg),
unchanged but for the binary name, against nginx, the misbehaving server and the TLS
certificates of the fixtures; both real plugins run side by side and must agree with it.

The documented differences (docs/migrating-from-monitoring-plugins.md) are asserted as such at
the end: a redirect or a 4xx without -e, a certificate of an unknown CA, -a in argv."""
import pytest

from check_http_common import binary
from dropin_common import assert_same_state, expand, plugin, run_hakit, run_real
from fixtures.badhttp import BadHttp
from fixtures.nginx import Nginx
from fixtures.tls import TestPKI


@pytest.fixture(scope="module")
def env():
    pki = TestPKI()
    try:
        with Nginx(pki) as ng, BadHttp(max_seconds=20) as bad:
            yield pki, ng, bad
    finally:
        pki.close()


def macros(env):
    pki, ng, bad = env
    return {"HOSTADDRESS": "127.0.0.1", "HOSTNAME": "site.example", "PORT": ng.port,
            "BADPORT": bad.port, "TLSPORT": ng.https_ports["valid"],
            "SOONPORT": ng.https_ports["soon"], "EXPIREDPORT": ng.https_ports["expired"]}


# (command line as in a Nagios command definition, expected state of both real plugins)
PLAIN = [
    # Debian http.cfg: check_http, check_httpname, check_http2, check_squid, check_cups, _4
    ("$P$ -H '$HOSTADDRESS$' -I '$HOSTADDRESS$' -p $PORT$", "OK"),
    ("$P$ -H '$HOSTNAME$' -I '$HOSTADDRESS$' -p $PORT$ -s 'vhost site.example'", "OK"),
    ("$P$ -H '$HOSTADDRESS$' -I '$HOSTADDRESS$' -p $PORT$ -s 'vhost site.example'", "CRITICAL"),
    ("$P$ -H '$HOSTNAME$' -I '$HOSTADDRESS$' -w '5' -c '10' -p $PORT$", "OK"),
    ("$P$ -H '$HOSTADDRESS$' -p '$PORT$'  -u '/ok'", "OK"),
    ("$P$ -I '$HOSTADDRESS$' -p $PORT$ -u /ok -s 'site up'", "OK"),
    ("$P$ -H '$HOSTADDRESS$' -I '$HOSTADDRESS$' -4 -p $PORT$", "OK"),
    # -e: status line text or codes, comma separated
    ("$P$ -I $HOSTADDRESS$ -p $PORT$ -u /404 -e 404", "OK"),
    ("$P$ -I $HOSTADDRESS$ -p $PORT$ -u /ok -e 'HTTP/1.1 200'", "OK"),
    ("$P$ -I $HOSTADDRESS$ -p $PORT$ -u /204 -e 200,204", "OK"),
    ("$P$ -I $HOSTADDRESS$ -p $PORT$ -u /ok -e 204", "CRITICAL"),
    ("$P$ -I $HOSTADDRESS$ -p $PORT$ -u /500", "CRITICAL"),
    # body: -s, -r, -R, --invert-regex
    ("$P$ -I $HOSTADDRESS$ -p $PORT$ -u /ok -s nothere", "CRITICAL"),
    ("$P$ -I $HOSTADDRESS$ -p $PORT$ -u /json -r '\"db\": *\"up\"'", "OK"),
    ("$P$ -I $HOSTADDRESS$ -p $PORT$ -u /json -R '\"DB\": *\"UP\"'", "OK"),
    ("$P$ -I $HOSTADDRESS$ -p $PORT$ -u /json -r '\"DB\": *\"UP\"'", "CRITICAL"),
    ("$P$ -I $HOSTADDRESS$ -p $PORT$ -u /maintenance-page -r maintenance --invert-regex",
     "CRITICAL"),
    ("$P$ -I $HOSTADDRESS$ -p $PORT$ -u /ok -r maintenance --invert-regex", "OK"),
    # -f: what a redirect is
    ("$P$ -I $HOSTADDRESS$ -p $PORT$ -u /301 -f ok", "OK"),
    ("$P$ -I $HOSTADDRESS$ -p $PORT$ -u /301 -f warning", "WARNING"),
    ("$P$ -I $HOSTADDRESS$ -p $PORT$ -u /301 -f critical", "CRITICAL"),
    ("$P$ -I $HOSTADDRESS$ -p $PORT$ -u /302 -f follow -s 'site up'", "OK"),
    ("$P$ -I $HOSTADDRESS$ -p $PORT$ -u /302 --onredirect=sticky -s 'site up'", "OK"),
    # headers, user agent, method
    ("$P$ -I $HOSTADDRESS$ -p $PORT$ -u /headers -k 'X-Probe: 42' -s x=42", "OK"),
    ("$P$ -I $HOSTADDRESS$ -p $PORT$ -u /headers -A 'Nagios probe' -s 'ua=Nagios probe'", "OK"),
    ("$P$ -I $HOSTADDRESS$ -p $PORT$ -j HEAD", "OK"),
    # response time (-w/-c in seconds, fractions allowed) and timeout (misbehaving server)
    ("$P$ -I $HOSTADDRESS$ -p $BADPORT$ -u /delay -w 0.1 -c 5", "WARNING"),
    ("$P$ -I $HOSTADDRESS$ -p $BADPORT$ -u /delay -w 0.1 -c 0.2", "CRITICAL"),
    ("$P$ -I $HOSTADDRESS$ -p $BADPORT$ -u /hang -t 1", "CRITICAL"),
    ("$P$ -I $HOSTADDRESS$ -p $BADPORT$ -u /delay -t 5", "OK"),
]


@pytest.mark.parametrize("real_name", ["check_http", "check_curl"])
@pytest.mark.parametrize("template,state", PLAIN)
def test_plain_http_lines_reach_the_plugins_state(env, real_name, template, state):
    argv = expand(template, {**macros(env), "P": plugin(real_name)})
    real = run_real(argv)
    assert real.rc == {"OK": 0, "WARNING": 1, "CRITICAL": 2}[state], real  # the fixture is right
    assert_same_state(real, run_hakit(binary(), argv))


# TLS lines from the --help examples. check_http does not verify certificates at all and
# check_curl only with -D; check_http_200 always does, so with the fixture's private CA the
# line gets --ca-file appended (the one documented change for these lines).
TLS = [
    ("$P$ -w 5 -c 10 --ssl -H localhost -p $TLSPORT$", "OK"),
    ("$P$ --ssl -H localhost -I '$HOSTADDRESS$' -p $TLSPORT$ -u /ok -s 'site up'", "OK"),
    ("$P$ -S --sni -H localhost -I $HOSTADDRESS$ -p $TLSPORT$", "OK"),
    ("$P$ -H localhost -C 14 -p $TLSPORT$", "OK"),
    ("$P$ -H localhost -C 30,14 -p $TLSPORT$", "OK"),
    ("$P$ -H localhost -C 30,14 -p $SOONPORT$", "CRITICAL"),
    ("$P$ -H localhost -C 30,3 -p $SOONPORT$", "WARNING"),
    ("$P$ -H localhost -C 30,3 -p $SOONPORT$ --continue-after-certificate -u /500", "CRITICAL"),
    ("$P$ -H localhost -C 30,14 -p $EXPIREDPORT$", "CRITICAL"),
]


@pytest.mark.parametrize("real_name", ["check_http", "check_curl"])
@pytest.mark.parametrize("template,state", TLS)
def test_tls_lines_reach_the_plugins_state(env, real_name, template, state):
    pki = env[0]
    argv = expand(template, {**macros(env), "P": plugin(real_name)})
    real = run_real(argv)
    assert real.rc == {"OK": 0, "WARNING": 1, "CRITICAL": 2}[state], real
    assert_same_state(real, run_hakit(binary(), argv + ["--ca-file", pki.ca]))
    # Unchanged, the unknown CA is the verdict (never a silent pass): CRITICAL, with the cause.
    mine = run_hakit(binary(), argv)
    assert mine.word == "CRITICAL" and mine.rc == 2 and "TLS" in mine.line, mine


def test_check_curl_verify_flag_is_hakits_default(env):
    pki = env[0]
    argv = expand("$P$ -D --ca-cert $CA$ -H localhost -I $HOSTADDRESS$ -p $TLSPORT$ -S",
                  {**macros(env), "P": plugin("check_curl"), "CA": pki.ca})
    real = run_real(argv)
    assert real.rc == 0, real
    assert_same_state(real, run_hakit(binary(), argv))


def test_documented_differences(env):
    m = {**macros(env), "P": plugin("check_http")}
    # Without -e, check_http takes a redirect as OK and a 4xx as WARNING; check_http_200
    # expects 200 (its name): both CRITICAL, with the reason on the line.
    for uri, real_rc in (("/301", 0), ("/404", 1)):
        argv = expand(f"$P$ -I $HOSTADDRESS$ -p $PORT$ -u {uri}", m)
        assert run_real(argv).rc == real_rc
        mine = run_hakit(binary(), argv)
        assert (mine.word, mine.rc) == ("CRITICAL", 2) and "not expected" in mine.line, mine
    # -a puts the password in argv (ps shows it): refused, pointing at --auth-file.
    argv = expand("$P$ -I $HOSTADDRESS$ -p $PORT$ -u /auth/ -a probe:s3cret", m)
    assert run_real(argv).rc == 0
    mine = run_hakit(binary(), argv)
    assert mine.rc == 3 and "--auth-file" in mine.stdout + mine.stderr, mine
    assert "s3cret" not in mine.stdout + mine.stderr
    # WARNING exits 0 for keepalived unless --warning-fails (then 1, as the plugins).
    argv = expand("$P$ -I $HOSTADDRESS$ -p $BADPORT$ -u /delay -w 0.1 -c 5", m)
    mine = run_hakit(binary(), argv + ["--warning-fails"])
    assert (mine.word, mine.rc) == ("WARNING", 1), mine
