"""The HTTP listener: /healthz and /readyz for health checks, /metrics in Prometheus' text
format (parsed by prometheus_client) with what real clients did (offsets, a group's lag),
bad requests answered with their status; a default port already taken is left out with a
warning, an asked-for one that cannot bind stops the start."""

import re
import socket
import urllib.error
import urllib.request

from confluent_kafka import Consumer, Producer
from prometheus_client.parser import text_string_to_metric_families

from conftest import free_port, swiftlet_binary
from support import unique, wait_until


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
