"""A short live fuzzing session (livefuzz.py): real clients' requests, mutated, against the
binary. The broker must survive, stay small, serve a real client afterwards and stop cleanly."""

import os
import tempfile

from confluent_kafka import Consumer, Producer, TopicPartition

from conftest import RunningBroker, free_port
from livefuzz import session

SECONDS = float(os.environ.get("INTEROP_FUZZ_SECONDS", "20"))


def test_mutated_client_requests_do_not_bring_the_broker_down():
    with tempfile.TemporaryDirectory() as directory:
        proxy_port = free_port()
        broker = RunningBroker(os.path.join(directory, "data"),
                               extra_args=["--advertised-listener", f"127.0.0.1:{proxy_port}"]).start()
        try:
            recorded, sent = session(broker, proxy_port, SECONDS, seed=20261126)
            assert broker.process.poll() is None, f"the broker died after {sent} mutated frames:\n{broker.log()[-4000:]}"
            assert recorded > 50 and sent > 1000, (recorded, sent)
            # Nothing a frame claimed was allocated: the broker stays small.
            assert broker.memory("VmHWM") < 512
        finally:
            code = broker.stop()
        assert code == 0, broker.log()[-4000:]
        # The data directory it left behind opens, and a real client still reads and writes.
        restarted = RunningBroker(os.path.join(directory, "data"), port=broker.port).start()
        try:
            producer = Producer({"bootstrap.servers": restarted.bootstrap})
            producer.produce("after-fuzzing", b"still here")
            assert producer.flush(10) == 0
            consumer = Consumer({"bootstrap.servers": restarted.bootstrap, "group.id": "after-fuzzing"})
            consumer.assign([TopicPartition("after-fuzzing", 0, 0)])
            message = None
            for _ in range(50):
                message = consumer.poll(0.2)
                if message and not message.error():
                    break
            consumer.close()
            assert message is not None and message.value() == b"still here"
        finally:
            assert restarted.stop() == 0, restarted.log()[-4000:]
