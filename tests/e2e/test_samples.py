"""Every keepalived-conf/ sample passes `keepalived -t` for each of its nodes with hakit's
binaries installed root-owned, and every examples/ config passes --check-config."""
import glob
import os
import re
import shutil
import tempfile

import pytest

from fixtures.common import SOURCE_DIR, run
from fixtures.keepalived import (EXAMPLES_DIR, built, SAMPLES_DIR, InstalledTools, config_test, render,
                                 sample)

SAMPLES = sorted(os.path.basename(p) for p in glob.glob(os.path.join(SAMPLES_DIR, "*.conf")))
EXAMPLES = sorted(os.path.basename(p) for p in glob.glob(os.path.join(EXAMPLES_DIR, "*.yaml")))
DEPLOYMENTS = ("monitoring-pair", "nagios-standby", "galera", "ordered-resources")


@pytest.fixture(scope="module")
def installed():
    inst = InstalledTools(names=("check_http_200", "check_mysql_slave", "notify_master",
                                 "notify_backup", "hakit-arbiter"))
    yield inst
    inst.close()


def node_ids(text):
    return sorted(set(re.findall(r"^@\^?(\w+)", text, re.M))) or [None]


def test_one_sample_and_one_example_per_deployment():
    for d in DEPLOYMENTS:
        assert f"{d}.conf" in SAMPLES
        assert f"{d}.yaml" in EXAMPLES
    # Resident mode: each sample has its hakit config, with a daemon: section.
    for s in SAMPLES:
        if "-resident" in s:
            example = s.replace(".conf", ".yaml")
            assert example in EXAMPLES, f"{s}: no examples/{example}"
            with open(os.path.join(EXAMPLES_DIR, example)) as f:
                assert "\ndaemon:" in f.read(), f"examples/{example}: no daemon: section"
    assert any("-resident" in s for s in SAMPLES)


@pytest.mark.parametrize("name", SAMPLES)
def test_sample_passes_keepalived_t(name, installed, tmp_path):
    text = sample(name)
    # What the issue asks every sample to wire and explain: script mode's hooks, or resident
    # mode's track files (with their guard) and notify FIFO.
    if "-resident" in name:
        keys = ("enable_script_security", "script_user", "vrrp_version 3", "vrrp_notify_fifo",
                "track_file site {", "init_file 1 overwrite", "weight 0", "vrrp_track_process",
                "process hakitd", "delay", "track_file {", "track_process {")
        advert = re.search(r"^\s*advert_int\s+([0-9.]+)", text, re.M)
        assert advert and float(advert.group(1)) < 1, f"{name}: advert_int is not sub-second"
    else:
        keys = ("enable_script_security", "script_user", "notify_master", "notify_backup",
                "notify_fault", "notify_stop", "interval", "timeout", "fall", "rise")
    for key in keys:
        assert key in text, f"{name}: no {key}"
    ids = node_ids(text)
    assert len(ids) >= 2, f"{name}: per-node lines missing"
    conf = tmp_path / name
    conf.write_text(render(text, installed.libexec, str(tmp_path / "hakit.yaml")))
    for node in ids:
        rc, out = config_test(str(conf), node)
        assert rc == 0, f"{name} for {node}: keepalived -t exited {rc}:\n{out}"
        assert "insecure" not in out and "not found" not in out, out
    # A host that matches none of the "@" lines fails loudly instead of running half-configured.
    rc, out = config_test(str(conf), "nosuchnode")
    assert rc != 0, f"{name}: keepalived -t passed on a host no '@' line names:\n{out}"
    assert "invalid number '$NODE_PRIORITY'" in out, out


def test_keepalived_t_refuses_a_writable_install(installed, tmp_path):
    """The property the samples rely on: a non-root-writable path is rejected."""
    bad = tempfile.mkdtemp(prefix="hakit-e2e-bad-")
    try:
        for t in ("check_http_200", "check_mysql_slave", "notify_master", "notify_backup"):
            shutil.copy2(installed.path(t), os.path.join(bad, t))
        os.chmod(bad, 0o777)
        conf = tmp_path / "bad.conf"
        conf.write_text(render(sample("monitoring-pair.conf"), bad, "/x.yaml"))
        rc, out = config_test(str(conf), "n1")
        assert rc != 0 and "insecure" in out, out
    finally:
        shutil.rmtree(bad, ignore_errors=True)


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_passes_check_config(name, tmp_path):
    with open(os.path.join(EXAMPLES_DIR, name)) as f:
        text = f.read()
    for d in ("etc", "state", "run", "log"):
        (tmp_path / d).mkdir()
    for old, new in {"/etc/hakit/": f"{tmp_path}/etc/", "/var/lib/hakit": f"{tmp_path}/state",
                     "/run/hakit": f"{tmp_path}/run",
                     "/var/log/hakit": f"{tmp_path}/log"}.items():
        text = text.replace(old, new)
    secret = tmp_path / "etc" / "mysql.pass"
    secret.write_text("x\n")
    secret.chmod(0o600)
    cfg = tmp_path / "hakit.yaml"
    cfg.write_text(text)
    cfg.chmod(0o600)
    for t in ("notify_master", "check_mysql_slave", "check_http_200", "sitesync", "hakit-status",
              "hakitd", "hakit-arbiter"):
        assert built(t), f"{t} not built"
        r = run([built(t), "--config", str(cfg), "--check-config"])
        assert r.returncode == 0, f"{t} --check-config {name}: {r.stdout}{r.stderr}"
    r = run([built("hakit-config"), "check", "--config", str(cfg)])
    assert r.returncode == 0 and r.stdout == f"config OK: {cfg}\n", r.stdout + r.stderr
