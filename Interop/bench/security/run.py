"""TLS and SASL against plaintext, on one swiftlet process with a PLAINTEXT, an SSL and a
SASL_SSL listener (SCRAM-SHA-256): produce and consume throughput and broker CPU per GB on
each, TLS handshakes per second, and SCRAM authentications per second. A benchmark, not a
test: run it from the repository root with the release binary built.

    Interop/.venv/bin/python Interop/bench/security/run.py [--swiftlet PATH] [--megabytes N]
"""

import argparse
import os
import pathlib
import socket
import ssl
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "tests"))
from brokers import free_port  # noqa: E402
import procstat  # noqa: E402

from confluent_kafka import Consumer, Producer  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402


def make_certificate(directory):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-keyout", "key.pem", "-out", "cert.pem", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"], check=True, capture_output=True, cwd=directory)
    keystore = os.path.join(directory, "keystore.pem")
    with open(keystore, "w") as file:
        file.write(open(os.path.join(directory, "key.pem")).read() + open(os.path.join(directory, "cert.pem")).read())
    return keystore, os.path.join(directory, "cert.pem")


def throughput(settings, topic, megabytes, pid):
    payload = b"x" * 1_000
    count = megabytes * 1_000
    producer = Producer({**settings, "acks": 1, "linger.ms": 5, "batch.size": 1_000_000})
    cpu = procstat.cpu_seconds(pid)
    started = time.monotonic()
    for _ in range(count):
        while True:
            try:
                producer.produce(topic, payload)
                break
            except BufferError:
                producer.poll(0.001)
    producer.flush(120)
    produce_seconds = time.monotonic() - started
    produce_cpu = procstat.cpu_seconds(pid) - cpu
    consumer = Consumer({**settings, "group.id": f"bench-{topic}", "auto.offset.reset": "earliest",
                         "fetch.max.bytes": 50_000_000, "max.partition.fetch.bytes": 10_000_000})
    consumer.subscribe([topic])
    received = 0
    cpu = procstat.cpu_seconds(pid)
    started = time.monotonic()
    while received < count:
        for message in consumer.consume(10_000, 1.0):
            if message.error() is None:
                received += 1
    consume_seconds = time.monotonic() - started
    consume_cpu = procstat.cpu_seconds(pid) - cpu
    consumer.close()
    gigabytes = megabytes / 1_000
    return (megabytes / produce_seconds, produce_cpu / gigabytes, megabytes / consume_seconds, consume_cpu / gigabytes)


def handshakes_per_second(port, authority, seconds=3.0):
    context = ssl.create_default_context(cafile=authority)
    done = 0
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        with socket.create_connection(("127.0.0.1", port)) as raw:
            with context.wrap_socket(raw, server_hostname="localhost"):
                done += 1
    return done / (time.monotonic() - started)


def authentications_per_second(port, seconds=3.0):
    done = 0
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        admin = AdminClient({"bootstrap.servers": f"127.0.0.1:{port}", "security.protocol": "SASL_PLAINTEXT",
                             "sasl.mechanism": "SCRAM-SHA-256", "sasl.username": "bench", "sasl.password": "bench-secret"})
        admin.list_topics(timeout=10)
        done += 1
        del admin
    return done / (time.monotonic() - started)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--swiftlet", default=".build/release/swiftlet")
    parser.add_argument("--megabytes", type=int, default=300)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        keystore, authority = make_certificate(directory)
        ports = {name: free_port() for name in ("plain", "ssl", "sasl_ssl", "sasl")}
        properties = os.path.join(directory, "server.properties")
        with open(properties, "w") as file:
            file.write(f"listeners=PLAINTEXT://127.0.0.1:{ports['plain']},SSL://127.0.0.1:{ports['ssl']},"
                       f"SASL_SSL://127.0.0.1:{ports['sasl_ssl']},SASL_PLAINTEXT://127.0.0.1:{ports['sasl']}\n"
                       f"ssl.keystore.location={keystore}\nsasl.enabled.mechanisms=SCRAM-SHA-256\n")
        process = subprocess.Popen([arguments.swiftlet, "--memory", "--config", properties, "--user", "bench:bench-secret"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(1)
            tls = {"security.protocol": "SSL", "ssl.ca.location": authority}
            sasl_ssl = {**tls, "security.protocol": "SASL_SSL", "sasl.mechanism": "SCRAM-SHA-256", "sasl.username": "bench",
                        "sasl.password": "bench-secret"}
            rows = []
            for name, settings in (("PLAINTEXT", {}), ("SSL", tls), ("SASL_SSL", sasl_ssl)):
                port = ports[{"PLAINTEXT": "plain", "SSL": "ssl", "SASL_SSL": "sasl_ssl"}[name]]
                rows.append((name, *throughput({"bootstrap.servers": f"127.0.0.1:{port}", **settings}, f"bench-{name.lower()}",
                                               arguments.megabytes, process.pid)))
            print(f"{arguments.megabytes} MB of 1 KB records, acks=1, one partition; broker in memory")
            print("| listener | produce MB/s | broker CPU s/GB | consume MB/s | broker CPU s/GB |")
            print("|---|---|---|---|---|")
            for name, produce, produce_cpu, consume, consume_cpu in rows:
                print(f"| {name} | {produce:.0f} | {produce_cpu:.2f} | {consume:.0f} | {consume_cpu:.2f} |")
            print(f"TLS handshakes (TLS 1.3, P-256), one client: {handshakes_per_second(ports['ssl'], authority):.0f}/s")
            print(f"SCRAM-SHA-256 authentications (4096 iterations), one client, with a Metadata each: "
                  f"{authentications_per_second(ports['sasl']):.0f}/s")
        finally:
            process.terminate()
            process.wait(30)


if __name__ == "__main__":
    main()
