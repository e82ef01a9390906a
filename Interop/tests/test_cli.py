"""The swiftlet command line: a bad flag, value or config key exits non-zero naming it, and
settings take flag > environment > file > default precedence."""

import os
import subprocess
import time

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


def stock_kraft_properties(client_port, controller_port, log_dirs):
    """Kafka 4.x's shipped config/server.properties, as its keys and values go (comments left
    out), with the ports and log directory of a test."""
    return f"""process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=localhost:{controller_port}
listeners=PLAINTEXT://:{client_port},CONTROLLER://:{controller_port}
inter.broker.listener.name=PLAINTEXT
advertised.listeners=PLAINTEXT://localhost:{client_port},CONTROLLER://localhost:{controller_port}
controller.listener.names=CONTROLLER
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL,SASL_PLAINTEXT:SASL_PLAINTEXT,SASL_SSL:SASL_SSL
num.network.threads=3
num.io.threads=8
socket.send.buffer.bytes=102400
socket.receive.buffer.bytes=102400
socket.request.max.bytes=104857600
log.dirs={log_dirs}
num.partitions=1
num.recovery.threads.per.data.dir=1
offsets.topic.replication.factor=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
#log.flush.interval.messages=10000
#log.flush.interval.ms=1000
log.retention.hours=168
#log.retention.bytes=1073741824
log.segment.bytes=1073741824
log.retention.check.interval.ms=300000
"""


def test_kafkas_stock_kraft_properties_start_the_broker(tmp_path):
    # One warning lists the keys that do not apply; the controller listener is not served;
    # clients are told the advertised localhost address.
    import socket
    from conftest import free_port
    client_port, controller_port = free_port(), free_port()
    config = tmp_path / "server.properties"
    config.write_text(stock_kraft_properties(client_port, controller_port, tmp_path / "kraft-combined-logs"))
    broker = RunningBroker(str(tmp_path / "unused"), extra_args=["--config", str(config)], port=client_port, listen=False)
    broker.start()
    try:
        warnings = [line for line in broker.log().splitlines() if "level=warn" in line and "HTTP listener" not in line]
        assert len(warnings) == 1, broker.log()
        for key in ("process.roles", "controller.quorum.bootstrap.servers", "num.io.threads", "socket.send.buffer.bytes",
                    "share.coordinator.state.topic.min.isr"):
            assert key in warnings[0]
        # Served since cluster mode: not in the warning.
        for key in ("inter.broker.listener.name", "transaction.state.log.min.isr"):
            assert key not in warnings[0]
        listing = subprocess.run(["kcat", "-b", f"127.0.0.1:{client_port}", "-L"], capture_output=True, text=True, check=True,
                                 timeout=20).stdout
        assert f"broker 1 at localhost:{client_port}" in listing
        with socket.socket() as probe:
            assert probe.connect_ex(("127.0.0.1", controller_port)) != 0  # nothing listens there
    finally:
        assert broker.stop() == 0


def test_properties_forms_unknown_keys_and_environment_variables(tmp_path):
    # java.util.Properties' forms; unknown keys fail together with suggestions; KAFKA_* as the
    # apache/kafka image maps them, under SWIFTLET_*; bad variable values exit 64 naming them.
    config = tmp_path / "server.properties"
    config.write_text("! a comment\nnum.partitions 2\nlog.retention.ms: 3600000\nauto.create.topics.enable = \\\n    true\n")
    broker = RunningBroker(str(tmp_path / "data"), extra_args=["--config", str(config)])
    os.environ.update({"KAFKA_NUM_PARTITIONS": "3", "KAFKA_HEAP_OPTS": "-Xmx1G", "SWIFTLET_HOME": "/opt/swiftlet"})
    try:
        broker.start()
    finally:
        for name in ("KAFKA_NUM_PARTITIONS", "KAFKA_HEAP_OPTS", "SWIFTLET_HOME"):
            del os.environ[name]
    try:
        subprocess.run(["kcat", "-b", broker.bootstrap, "-P", "-t", "forms"], input="x\n", text=True, check=True, timeout=20)
        listing = subprocess.run(["kcat", "-b", broker.bootstrap, "-L", "-t", "forms"], capture_output=True, text=True,
                                 check=True, timeout=20).stdout
        assert "with 3 partitions" in listing  # KAFKA_NUM_PARTITIONS over the file's 2
        assert "these variables name no setting and are ignored: SWIFTLET_HOME" in broker.log()
    finally:
        assert broker.stop() == 0

    config.write_text("num.partition=3\nlog.retention.hour=1\n")
    result = run_swiftlet("--config", str(config), "--data-dir", str(tmp_path / "data"))
    assert result.returncode == 64
    assert ("unknown settings: num.partition (did you mean num.partitions?), "
            "log.retention.hour (did you mean log.retention.hours?)") in result.stderr, result.stderr
    for name, value in (("SWIFTLET_REACTORS", "two"), ("SWIFTLET_MEMORY", "maybe"), ("KAFKA_NUM_PARTITIONS", "many")):
        result = run_swiftlet("--data-dir", str(tmp_path / "data"), env={name: value})
        assert result.returncode == 64 and name in result.stderr, (name, result.stderr)


def test_seed_topics_are_made_once_at_start(tmp_path):
    # --topic and SWIFTLET_TOPICS make topics before the broker says it is ready; a restart
    # with other counts leaves them as they are; a bad one exits 64 naming it.
    from confluent_kafka.admin import AdminClient, ConfigResource
    arguments = ["--topic", "orders:3:cleanup.policy=compact,retention.ms=60000", "--topic", "events"]
    broker = RunningBroker(str(tmp_path / "data"), extra_args=arguments)
    os.environ["SWIFTLET_TOPICS"] = "audit:2 metrics"
    try:
        broker.start()
    finally:
        del os.environ["SWIFTLET_TOPICS"]
    try:
        admin = AdminClient({"bootstrap.servers": broker.bootstrap})
        topics = admin.list_topics(timeout=10).topics
        assert {name: len(topics[name].partitions) for name in ("orders", "events", "audit", "metrics")} == {
            "orders": 3, "events": 1, "audit": 2, "metrics": 1}
        resource = ConfigResource(ConfigResource.Type.TOPIC, "orders")
        configs = admin.describe_configs([resource])[resource].result(10)
        assert configs["cleanup.policy"].value == "compact" and configs["retention.ms"].value == "60000"
    finally:
        assert broker.stop() == 0
    again = RunningBroker(str(tmp_path / "data"), extra_args=["--topic", "orders:5"], port=broker.port)
    again.start()
    try:
        topics = AdminClient({"bootstrap.servers": again.bootstrap}).list_topics(timeout=10).topics
        assert len(topics["orders"].partitions) == 3
    finally:
        assert again.stop() == 0
    for bad, named in (("orders:zero", "orders:zero"), ("bad/name", "bad/name"), ("t:1:retention.ms=soon", "retention.ms")):
        result = run_swiftlet("--data-dir", str(tmp_path / "other"), "--topic", bad)
        assert result.returncode == 64 and named in result.stderr, (bad, result.stderr)


def test_log_levels_say_what_they_promise(tmp_path):
    # debug: connections, a consumer group's rebalance and a transaction's states; error: the
    # ready line alone (on stdout); json: an object per line.
    import json
    from confluent_kafka import Consumer, Producer
    debug = RunningBroker(str(tmp_path / "debug"), extra_args=["--log-level", "debug"]).start()
    try:
        producer = Producer({"bootstrap.servers": debug.bootstrap, "transactional.id": "logged-tx"})
        producer.init_transactions(10)
        producer.begin_transaction()
        producer.produce("logged", b"x")
        producer.commit_transaction(10)
        consumer = Consumer({"bootstrap.servers": debug.bootstrap, "group.id": "logged-group", "auto.offset.reset": "earliest"})
        consumer.subscribe(["logged"])
        deadline = time.monotonic() + 20
        while "group logged-group: stable at generation" not in debug.log() and time.monotonic() < deadline:
            consumer.poll(0.2)
        consumer.close()
        log = debug.log()
        for expected in ("level=debug", "on listener PLAINTEXT: connected", "group logged-group: stable at generation 1",
                         "transaction logged-tx (producer id", "CompleteCommit"):
            assert expected in log, (expected, log[-3000:])
    finally:
        assert debug.stop() == 0
    quiet = RunningBroker(str(tmp_path / "quiet"), extra_args=["--log-level", "error"]).start()
    assert quiet.stop() == 0
    assert quiet.log().strip().splitlines() == [f"ready bootstrap=127.0.0.1:{quiet.port}"], quiet.log()
    structured = RunningBroker(str(tmp_path / "json"), extra_args=["--log-format", "json"]).start()
    assert structured.stop() == 0
    lines = [line for line in structured.log().splitlines() if not line.startswith("ready bootstrap=")]
    entries = [json.loads(line) for line in lines]
    assert entries and all(set(entry) == {"time", "level", "msg"} for entry in entries)
    assert any("listening on" in entry["msg"] for entry in entries)
    result = run_swiftlet("--log-format", "xml", "--data-dir", str(tmp_path / "bad"))
    assert result.returncode == 64 and "--log-format" in result.stderr
