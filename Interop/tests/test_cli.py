"""The swiftlet command line: a bad flag, value or config key exits non-zero naming it, and
settings take flag > environment > file > default precedence."""

import os
import subprocess

from conftest import RunningBroker, swiftlet_binary


def run_swiftlet(*args, env=None):
    return subprocess.run([swiftlet_binary(), *args], capture_output=True, text=True, timeout=20,
                          env={**os.environ, **(env or {})})


def test_bad_flags_and_values_name_what_is_wrong(tmp_path):
    result = run_swiftlet("--listen", "not-an-address", "--data-dir", str(tmp_path))
    assert result.returncode != 0 and "not-an-address" in result.stderr
    result = run_swiftlet("--no-such-flag")
    assert result.returncode != 0 and "no-such-flag" in result.stderr
    result = run_swiftlet("--reactors", "0", "--data-dir", str(tmp_path))
    assert result.returncode != 0 and "reactors" in result.stderr
    config = tmp_path / "server.properties"
    config.write_text("num.partitions=3\nno.such.key=1\n")
    result = run_swiftlet("--config", str(config), "--data-dir", str(tmp_path))
    assert result.returncode != 0 and "no.such.key" in result.stderr
    config.write_text("num.partitions=many\n")
    result = run_swiftlet("--config", str(config), "--data-dir", str(tmp_path))
    assert result.returncode != 0 and "num.partitions" in result.stderr
    result = run_swiftlet("--data-dir", str(tmp_path), env={"SWIFTLET_LOG_RETENTION_MS": "soon"})
    assert result.returncode != 0 and "log.retention.ms" in result.stderr


def test_precedence_flag_then_environment_then_file(tmp_path):
    import subprocess as sp
    config = tmp_path / "server.properties"
    config.write_text("num.partitions=2\n")
    # The file says 2, the environment 3: auto-created topics get 3 partitions.
    broker = RunningBroker(str(tmp_path / "data"), extra_args=["--config", str(config)])
    os.environ["SWIFTLET_NUM_PARTITIONS"] = "3"
    try:
        broker.start()
    finally:
        del os.environ["SWIFTLET_NUM_PARTITIONS"]
    try:
        sp.run(["kcat", "-b", broker.bootstrap, "-P", "-t", "precedence"], input="x\n", text=True, check=True, timeout=20)
        listing = sp.run(["kcat", "-b", broker.bootstrap, "-L", "-t", "precedence"], capture_output=True, text=True,
                         check=True, timeout=20).stdout
        assert "with 3 partitions" in listing
    finally:
        assert broker.stop() == 0
    assert "listening on" in broker.log()


def test_port_zero_is_advertised_as_bound_and_readiness_is_said(broker):
    # The fixture asked for 127.0.0.1:0: the broker said which port it got, once ready, and
    # Metadata gives clients that port (before, it advertised port 0 and clients could not
    # follow it).
    assert broker.port != 0
    assert f"ready bootstrap=127.0.0.1:{broker.port}\n" in broker.log()
    listing = subprocess.run(["kcat", "-b", broker.bootstrap, "-L"], capture_output=True, text=True, check=True,
                             timeout=20).stdout
    assert f"broker 1 at 127.0.0.1:{broker.port}" in listing
    assert f"try: kcat -b 127.0.0.1:{broker.port} -L" in broker.log()
