"""The HTTP listener: /healthz and /readyz for health checks, /metrics in Prometheus' text
format (parsed by prometheus_client) with what real clients did (offsets, a group's lag),
bad requests answered with their status; a default port already taken is left out with a
warning, an asked-for one that cannot bind stops the start."""

import json
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from prometheus_client.parser import text_string_to_metric_families

from conftest import free_port, swiftlet_binary
from support import create_topics, unique, wait_until


def http_base(running):
    found = re.search(r"HTTP on http://(\S+): ", running.log())
    assert found, running.log()
    return f"http://{found.group(1)}"


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def samples(base):
    status, text = get(base + "/metrics")
    assert status == 200
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def test_health_metrics_and_lag_as_clients_move(broker_factory):
    running = broker_factory(extra_args=["--http-listen", "127.0.0.1:0"]).start()
    try:
        base = http_base(running)
        assert get(base + "/healthz") == (200, "ok\n")
        assert get(base + "/readyz") == (200, "ready\n")
        topic, group = unique("observed"), unique("observed-group")
        producer = Producer({"bootstrap.servers": running.bootstrap})
        for index in range(25):
            producer.produce(topic, str(index).encode(), partition=0)
        assert producer.flush(10) == 0
        metrics = samples(base)
        assert metrics[("kafka_log_log_end_offset", (("partition", "0"), ("topic", topic)))] == 25
        assert metrics[("kafka_log_segments", (("partition", "0"), ("topic", topic)))] >= 1
        # A consumer commits 10, then all 25: the group's lag follows.
        consumer = Consumer({"bootstrap.servers": running.bootstrap, "group.id": group, "auto.offset.reset": "earliest",
                             "enable.auto.commit": False})
        consumer.subscribe([topic])
        read = []
        while len(read) < 25:
            message = consumer.poll(1)
            if message is not None and message.error() is None:
                read.append(message)
                if len(read) == 10:
                    consumer.commit(message, asynchronous=False)
        lag_key = ("kafka_consumergroup_lag", (("group", group), ("partition", "0"), ("topic", topic)))
        assert samples(base)[lag_key] == 15
        consumer.commit(read[-1], asynchronous=False)
        wait_until(lambda: samples(base)[lag_key] == 0, 5, lambda: samples(base).get(lag_key))
        assert samples(base)[("kafka_consumergroup_members", (("group", group),))] == 1
        consumer.close()
        assert get(base + "/nowhere")[0] == 404
        request = urllib.request.Request(base + "/metrics", method="POST", data=b"x")
        assert get_request(request) == 405
        with socket.create_connection(("127.0.0.1", int(base.rsplit(":", 1)[1])), timeout=10) as connection:
            connection.sendall(b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 10_000 + b"\r\n\r\n")
            assert connection.recv(100).startswith(b"HTTP/1.1 431")
    finally:
        assert running.stop() == 0


def get_request(request):
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_taken_default_port_is_left_out_and_an_asked_for_one_stops_the_start(broker_factory, tmp_path):
    import subprocess
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        taken = holder.getsockname()[1]
        # The default is 127.0.0.1:9644; a port named by --http-listen (or http.listeners) is asked for.
        asked = subprocess.run([swiftlet_binary(), "--listen", "127.0.0.1:0", "--data-dir", str(tmp_path / "data"),
                                "--http-listen", f"127.0.0.1:{taken}"], capture_output=True, text=True, timeout=30)
        assert asked.returncode == 64 and "Address already in use" in asked.stderr, asked.stderr
    with socket.socket() as holder:
        try:
            holder.bind(("127.0.0.1", 9644))
            holder.listen()
        except OSError:
            pass  # another broker holds the default already: the same situation
        running = broker_factory().start()
        try:
            assert "HTTP listener 127.0.0.1:9644 not started" in running.log()
            assert Producer({"bootstrap.servers": running.bootstrap}).list_topics(timeout=10).brokers
        finally:
            assert running.stop() == 0


def test_readyz_answers_starting_until_the_logs_are_recovered(broker_factory, tmp_path):
    """A broker killed with 4,000 partitions recovers them at its next start: meanwhile its
    HTTP port already answers, /healthz 200 and /readyz 503 with the reason, then 200."""
    http = free_port()
    running = broker_factory(extra_args=["--http-listen", f"127.0.0.1:{http}"]).start()
    admin = AdminClient({"bootstrap.servers": running.bootstrap})
    names = [unique("recovered") for _ in range(8)]
    for future in admin.create_topics([NewTopic(name, num_partitions=500) for name in names]).values():
        future.result(60)
    running.kill()
    restarted = subprocess.Popen(
        [swiftlet_binary(), "serve", "--data-dir", running.data_dir, "--listen", running.bootstrap,
         "--http-listen", f"127.0.0.1:{http}"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        answers = []
        deadline = time.monotonic() + 30
        while not answers or answers[-1] != (200, "ready\n"):
            assert time.monotonic() < deadline, answers[-3:]
            try:
                answers.append(get(f"http://127.0.0.1:{http}/readyz"))
                if answers[-1][0] == 503:
                    assert get(f"http://127.0.0.1:{http}/healthz") == (200, "ok\n")
            except OSError:
                time.sleep(0.002)
        assert (503, "starting: recovering logs and replaying coordinators\n") in answers, answers
        assert set(answers) <= {(503, "starting: recovering logs and replaying coordinators\n"), (200, "ready\n")}, answers
    finally:
        restarted.terminate()
        assert restarted.wait(30) == 0, restarted.stderr.read()


def family_samples(base, name):
    """The samples of one family, by their labels."""
    return {labels: value for (sample, labels), value in samples(base).items() if sample == name}


def test_hot_path_counters_follow_real_clients(broker_factory):
    """Each event loop counts what clients do; the scrape sums them: records and bytes in and
    out per topic, requests per API and version with their latency histograms, error codes in
    responses, connections per listener, fetches parked on an empty partition."""
    running = broker_factory(extra_args=["--http-listen", "127.0.0.1:0"]).start()
    try:
        base = http_base(running)
        topic, idle = unique("counted"), unique("counted-idle")
        create_topics(running, {topic: 1, idle: 1})
        producer = Producer({"bootstrap.servers": running.bootstrap, "linger.ms": 0})
        for index in range(40):
            producer.produce(topic, f"value-{index}".encode(), partition=0)
        assert producer.flush(10) == 0
        consumer = Consumer({"bootstrap.servers": running.bootstrap, "group.id": unique("counted-group"),
                             "auto.offset.reset": "earliest"})
        consumer.subscribe([topic])
        read = 0
        deadline = time.time() + 15
        while read < 40 and time.time() < deadline:
            message = consumer.poll(0.5)
            read += message is not None and message.error() is None
        assert read == 40
        topic_label = (("topic", topic),)
        assert family_samples(base, "kafka_server_brokertopicmetrics_messages_in_total")[topic_label] == 40
        assert family_samples(base, "kafka_server_brokertopicmetrics_bytes_in_total")[topic_label] > 40 * 7
        assert family_samples(base, "kafka_server_brokertopicmetrics_bytes_out_total")[topic_label] > 40 * 7
        assert family_samples(base, "kafka_server_brokertopicmetrics_messages_out_total")[topic_label] == 40
        requests = family_samples(base, "kafka_network_requests_total")
        produce_versions = {dict(labels)["version"] for labels in requests if dict(labels)["request"] == "Produce"}
        assert produce_versions and all(int(version) >= 3 for version in produce_versions)
        handler = family_samples(base, "kafka_network_request_handler_time_seconds_count")
        assert handler[(("request", "Produce"),)] >= 1 and handler[(("request", "Metadata"),)] >= 1
        sent = family_samples(base, "kafka_network_response_send_time_seconds_count")
        assert sent[(("request", "Fetch"),)] >= 1
        buckets = family_samples(base, "kafka_network_request_handler_time_seconds_bucket")
        assert buckets[(("le", "+Inf"), ("request", "Produce"))] == handler[(("request", "Produce"),)]
        connections = family_samples(base, "kafka_server_socket_server_connections")
        assert connections[(("listener", "PLAINTEXT"),)] >= 2
        # A fetch far past the end is refused: the error is counted per API and per topic.
        stray = Consumer({"bootstrap.servers": running.bootstrap, "group.id": unique("stray"),
                          "auto.offset.reset": "error", "enable.auto.commit": False})
        stray.assign([TopicPartition(topic, 0, 1000)])
        errors = lambda: family_samples(base, "kafka_network_request_errors_total")
        wait_until(lambda: errors().get((("error", "OFFSET_OUT_OF_RANGE"), ("request", "Fetch")), 0) >= 1, 10,
                   lambda: (errors(), stray.poll(0.2)))
        assert family_samples(base, "kafka_server_brokertopicmetrics_failed_fetch_requests_total")[topic_label] >= 1
        stray.close()
        # A consumer on an empty partition waits in the broker between polls.
        waiting = Consumer({"bootstrap.servers": running.bootstrap, "group.id": unique("waiting"),
                            "fetch.wait.max.ms": 5000, "auto.offset.reset": "earliest"})
        waiting.assign([TopicPartition(idle, 0, 0)])
        parked = lambda: family_samples(base, "swiftlet_fetches_parked")[()]
        wait_until(lambda: (waiting.poll(0.1), parked())[1] >= 1, 10, parked)
        waiting.close()
        consumer.close()
        wait_until(lambda: family_samples(base, "kafka_server_socket_server_connections")[(("listener", "PLAINTEXT"),)] <= 1,
                   10, lambda: family_samples(base, "kafka_server_socket_server_connections"))
        assert family_samples(base, "kafka_server_socket_server_connection_creation_total")[(("listener", "PLAINTEXT"),)] >= 4
    finally:
        assert running.stop() == 0


def with_properties(broker_factory, tmp_path, properties):
    """A started broker with the HTTP listener on a free port and `properties` as its file."""
    config = tmp_path / "server.properties"
    config.write_text(properties + "\n")
    return broker_factory(extra_args=["--http-listen", "127.0.0.1:0", "--config", str(config)]).start()


def test_client_telemetry_from_librdkafka_appears_on_metrics(broker_factory, tmp_path):
    """KIP-714: librdkafka subscribes when ApiVersions lists 71 and 72, pushes its standard
    metrics (zstd-compressed OTLP) every telemetry.push.interval.ms, and /metrics and the
    console show the latest values per client instance."""
    running = with_properties(broker_factory, tmp_path, "telemetry.push.interval.ms=1000")
    try:
        base = http_base(running)
        client_id = unique("pushing-producer")
        producer = Producer({"bootstrap.servers": running.bootstrap, "client.id": client_id})
        for _ in range(5):
            producer.produce(unique("telemetry"), b"x")
        assert producer.flush(10) == 0

        def pushed():
            producer.poll(0.2)
            family = family_samples(base, "clients_org_apache_kafka_producer_connection_creation_total")
            return [value for labels, value in family.items() if dict(labels)["client_id"] == client_id]
        wait_until(lambda: pushed() and pushed()[0] >= 1, 15, pushed)
        status, body = get(base + "/api/v1/clients")
        clients = json.loads(body)
        instance = next(entry for entry in clients["telemetry"] if entry["clientId"] == client_id)
        assert instance["softwareName"] == "confluent-kafka-python"
        names = {metric["name"] for metric in instance["metrics"]}
        assert "org.apache.kafka.producer.request.latency.avg" in names
        assert any(client["clientId"] == client_id for client in clients["clients"])
    finally:
        assert running.stop() == 0


def test_metrics_off_leaves_the_state_gauges(broker_factory, tmp_path):
    """metrics.enabled=false: the loops count nothing (the benchmark's baseline); what the
    scrape reads from the logs and groups stays."""
    running = with_properties(broker_factory, tmp_path, "metrics.enabled=false")
    try:
        base = http_base(running)
        topic = unique("uncounted")
        producer = Producer({"bootstrap.servers": running.bootstrap})
        producer.produce(topic, b"x", partition=0)
        assert producer.flush(10) == 0
        names = {name for name, _ in samples(base)}
        assert "kafka_log_log_end_offset" in names and "kafka_network_requests_total" not in names
    finally:
        assert running.stop() == 0


def test_a_kip_848_consumer_group_shows_its_members(broker_factory):
    """A consumer group of the new protocol (group.protocol=consumer): its member and
    assignment in the console's API, its member count on /metrics."""
    running = broker_factory(extra_args=["--http-listen", "127.0.0.1:0"]).start()
    try:
        base = http_base(running)
        topic, group = unique("kip848"), unique("kip848-group")
        create_topics(running, {topic: 2})
        consumer = Consumer({"bootstrap.servers": running.bootstrap, "group.id": group, "group.protocol": "consumer"})
        consumer.subscribe([topic])

        def described():
            consumer.poll(0.2)
            return json.loads(get(base + f"/api/v1/groups/{group}")[1])
        wait_until(lambda: described().get("members") and described()["members"][0]["assignments"], 20, described)
        members = described()["members"]
        assert len(members) == 1 and sorted(members[0]["assignments"][0]["partitions"]) == [0, 1]
        assert samples(base)[("kafka_consumergroup_members", (("group", group),))] == 1
        consumer.close()
    finally:
        assert running.stop() == 0
