#!/usr/bin/env python3
"""Capture golden Kafka request (and response) frames from real clients.

What it runs
------------
1. A librdkafka *mock cluster* (one broker), created in this process by a
   confluent-kafka Producer configured with ``test.mock.num.brokers=1``. The mock
   listens on 127.0.0.1:<random port>; nothing here listens on or connects to any
   other address. All clients below talk to this one mock, so data produced by one
   client is there for the next (consumers get real Fetch responses, group offsets
   are committed and fetched back).
2. A list of client *scenarios*, one after another, each as its own process:
   - kcat (``kcat`` from Debian, librdkafka 2.0.2): -L metadata, -P produce once per
     compression codec (none/gzip/snappy/lz4/zstd) with keys (-K), null keys/values
     (-Z) and headers (-H), -C consume, -Q offset query, -G group consumer,
     -P with transactional.id;
   - confluent-kafka (this venv): a producer per codec with keys, values, headers and
     explicit timestamps over two partitions, an idempotent producer
     (enable.idempotence=True), a transactional producer, a group consumer with manual
     commit, and a consumer using the KIP-848 protocol (group.protocol=consumer);
   - kafka-python and aiokafka (this venv): a gzip producer each (their first frames
     are ApiVersions v4 and v0).
   While a scenario runs, ``tcpdump -i lo --immediate-mode`` records the TCP traffic
   to and from the mock's port. (Without --immediate-mode, tcpdump on this kernel
   captures nothing.)
3. Each capture is parsed here (pcap -> TCP streams reassembled by sequence number ->
   Kafka frames cut at their 4-byte big-endian length prefix). Requests are matched to
   responses by correlation id. For each client, the first request of each distinct
   (api key, api version) is written, without the length prefix, to
   ``<client>/<ApiName>-v<version>-1.request.bin`` with its response in
   ``...response.bin``; Produce requests are written once per codec/variant, e.g.
   ``Produce-v7-gzip.request.bin``, ``Produce-v10-none-idempotent.request.bin``
   (librdkafka sends one Produce request per partition: the one for partition 0 is
   kept; aiokafka's holds both partitions). Connections of this process's own idle
   client (the one keeping the mock alive) and connections opened before the capture
   started are left out.
4. Each Produce request is decoded here (record batch header, CRC-32C, codec bits of
   the attributes; records decoded for none/gzip), and the topics are read back from
   the mock with a confluent-kafka consumer (not captured), to check that each batch
   holds exactly the records sent and to learn kcat's wall-clock timestamps.
5. ``manifest.json`` lists every file with client, client version, api key/version,
   header versions, correlation id, client id and, for Produce, the records sent per
   partition.

How to rerun
------------
As root (tcpdump needs it), from the repository root::

    python3 -m venv Interop/.venv
    Interop/.venv/bin/pip install -r Interop/requirements.txt
    apt-get install -y kcat tcpdump        # Debian: kcat 1.7.1 / librdkafka 2.0.2
    Interop/.venv/bin/python Interop/golden/capture.py

Options: ``--keep-pcaps DIR`` keeps the raw captures; ``--only NAME[,NAME]`` runs only
some scenarios (the manifest then lists only those). The output replaces the
``*.bin`` files of the clients it captured. A rerun gives different bytes where
they depend on time or on the mock (kcat's record timestamps, producer ids, member ids,
correlation ids, which request comes first); the manifest always matches the files
beside it. kafka-python is expected to fail after its first request (see
``not_captured`` in the manifest).
"""

import argparse
import gzip
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# --------------------------------------------------------------------------------------
# Kafka API names and flexible versions (from Kafka's message schemas).
# --------------------------------------------------------------------------------------

API = {  # key: (name, first flexible version or None)
    0: ("Produce", 9), 1: ("Fetch", 12), 2: ("ListOffsets", 6), 3: ("Metadata", 9),
    8: ("OffsetCommit", 8), 9: ("OffsetFetch", 6), 10: ("FindCoordinator", 3),
    11: ("JoinGroup", 6), 12: ("Heartbeat", 4), 13: ("LeaveGroup", 4),
    14: ("SyncGroup", 4), 15: ("DescribeGroups", 5), 16: ("ListGroups", 3),
    17: ("SaslHandshake", None), 18: ("ApiVersions", 3), 19: ("CreateTopics", 5),
    20: ("DeleteTopics", 4), 21: ("DeleteRecords", 2), 22: ("InitProducerId", 2),
    23: ("OffsetForLeaderEpoch", 4), 24: ("AddPartitionsToTxn", 3),
    25: ("AddOffsetsToTxn", 3), 26: ("EndTxn", 3), 28: ("TxnOffsetCommit", 3),
    32: ("DescribeConfigs", 4), 36: ("SaslAuthenticate", 2), 37: ("CreatePartitions", 2),
    42: ("DeleteGroups", 2), 60: ("DescribeCluster", 0), 68: ("ConsumerGroupHeartbeat", 0),
    69: ("ConsumerGroupDescribe", 0), 71: ("GetTelemetrySubscriptions", 0),
    72: ("PushTelemetry", 0), 75: ("DescribeTopicPartitions", 0),
}


def api_name(key):
    return API.get(key, ("Api%d" % key, 0))[0]


def is_flexible(key, version):
    first = API.get(key, (None, 0))[1]
    return first is not None and version >= first


def request_header_version(key, version):
    return 2 if is_flexible(key, version) else 1


def response_header_version(key, version):
    if key == 18:  # ApiVersions responses always use header v0
        return 0
    return 1 if is_flexible(key, version) else 0


CODECS = {0: "none", 1: "gzip", 2: "snappy", 3: "lz4", 4: "zstd"}

# --------------------------------------------------------------------------------------
# Records each scenario produces. Values repeat themselves so that every codec really
# shrinks the batch (librdkafka sends a batch uncompressed when compressing would not
# make it smaller).
# --------------------------------------------------------------------------------------

PAD = " lorem-ipsum-golden" * 4


def kcat_records(codec):
    """(stdin text, expected records without timestamps) for kcat -P -K : -Z."""
    hdrs = [] if codec == "none" else [["trace", "golden-kcat"], ["codec", codec]]
    rows = [
        ("kcat-key-0", "kcat %s value 0%s" % (codec, PAD)),
        (None, "kcat %s value 1 (null key)%s" % (codec, PAD)),
        ("kcat-key-2", "kcat %s value 2%s" % (codec, PAD)),
        ("kcat-key-3", None),  # empty value + -Z = null value (tombstone)
    ]
    lines = []
    for k, v in rows:
        lines.append((k + ":" if k is not None else "") + (v or ""))
    recs = [{"key": k, "value": v, "headers": hdrs} for k, v in rows]
    return "\n".join(lines) + "\n", recs


CK_TS0 = 1700000000000  # explicit timestamps for confluent-kafka, kafka-python, aiokafka


def ck_records(tag):
    """Expected records per partition: {partition: [record, ...]}."""
    return {
        0: [
            {"key": "%s-key-0" % tag, "value": "%s p0 value 0%s" % (tag, PAD),
             "headers": [], "timestamp": CK_TS0},
            {"key": None, "value": "%s p0 value 1 (null key)%s" % (tag, PAD),
             "headers": [["h1", "v1"]], "timestamp": CK_TS0 + 1},
            {"key": "%s-key-2" % tag, "value": "%s p0 value 2 (two headers)%s" % (tag, PAD),
             "headers": [["h1", "v1"], ["h2", "v2"]], "timestamp": CK_TS0 + 2},
            {"key": "%s-key-3" % tag, "value": None,
             "headers": [["null-value-header", None]], "timestamp": CK_TS0 + 3},
        ],
        1: [
            {"key": "%s-key-10" % tag, "value": "%s p1 value 0%s" % (tag, PAD),
             "headers": [["h1", "v1"]], "timestamp": CK_TS0 + 10},
            {"key": None, "value": "%s p1 value 1 (null key)%s" % (tag, PAD),
             "headers": [], "timestamp": CK_TS0 + 11},
            {"key": "%s-key-12" % tag, "value": "%s p1 value 2%s" % (tag, PAD),
             "headers": [], "timestamp": CK_TS0 + 12},
        ],
    }


def py_records(tag):
    """Records for kafka-python / aiokafka (header values must be bytes there)."""
    return {0: [
        {"key": "%s-key-0" % tag, "value": "%s value 0%s" % (tag, PAD),
         "headers": [], "timestamp": CK_TS0},
        {"key": None, "value": "%s value 1 (null key)%s" % (tag, PAD),
         "headers": [["h1", "v1"], ["h2", "v2"]], "timestamp": CK_TS0 + 1},
        {"key": "%s-key-2" % tag, "value": "%s value 2%s" % (tag, PAD),
         "headers": [["h1", "v1"]], "timestamp": CK_TS0 + 2},
    ], 1: [
        {"key": "%s-key-10" % tag, "value": "%s p1 value 0%s" % (tag, PAD),
         "headers": [], "timestamp": CK_TS0 + 10},
        {"key": None, "value": "%s p1 value 1 (null key)%s" % (tag, PAD),
         "headers": [["h1", "v1"]], "timestamp": CK_TS0 + 11},
    ]}


def _b(s):
    return None if s is None else s.encode()


# --------------------------------------------------------------------------------------
# Scenarios. Each: name, client, how to run, and what Produce requests it should make.
# --------------------------------------------------------------------------------------

def scenarios(port):
    bs = "127.0.0.1:%d" % port
    kc = ["kcat", "-b", bs, "-m", "10"]
    out = [
        dict(name="kcat-metadata", client="kcat", argv=kc + ["-L"]),
    ]
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"]:
        stdin, recs = kcat_records(codec)
        argv = kc + ["-P", "-t", "kcat-" + codec, "-p", "0", "-K", ":", "-Z",
                     "-z", codec, "-X", "linger.ms=200"]
        for name, value in (recs[0]["headers"]):
            argv += ["-H", "%s=%s" % (name, value)]
        out.append(dict(name="kcat-produce-" + codec, client="kcat", argv=argv, stdin=stdin,
                        produce={"variant": codec, "codec": codec,
                                 "records": {("kcat-" + codec, 0): recs}}))
    out += [
        dict(name="kcat-consume", client="kcat",
             argv=kc + ["-C", "-t", "kcat-gzip", "-p", "0", "-o", "beginning", "-e", "-J"]),
        dict(name="kcat-query", client="kcat",
             argv=kc + ["-Q", "-t", "kcat-none:0:%d" % CK_TS0]),
        dict(name="kcat-group", client="kcat", run_for=8.0,
             argv=kc + ["-G", "swiftlet-kcat-group", "-X", "auto.offset.reset=earliest",
                        "-X", "heartbeat.interval.ms=500", "-X", "session.timeout.ms=6000",
                        "-X", "auto.commit.interval.ms=1000", "-J",
                        "kcat-none", "kcat-gzip", "kcat-snappy", "kcat-lz4", "kcat-zstd"]),
    ]
    stdin, recs = kcat_records("none")
    recs = [dict(r, headers=[]) for r in recs]
    out.append(dict(name="kcat-produce-txn", client="kcat", optional=True,
                    argv=kc + ["-P", "-t", "kcat-txn", "-p", "0", "-K", ":", "-Z",
                               "-X", "transactional.id=swiftlet-kcat-txn", "-X", "linger.ms=200"],
                    stdin=stdin,
                    produce={"variant": "none-transactional", "codec": "none",
                             "records": {("kcat-txn", 0): recs}}))
    py = [sys.executable, str(Path(__file__).resolve()), "--child"]
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"]:
        tag = "ck-" + codec
        out.append(dict(name="ck-produce-" + codec, client="confluent-kafka",
                        argv=py + ["ck-produce", bs, tag, codec, "plain"],
                        produce={"variant": codec, "codec": codec,
                                 "records": {(tag, p): r for p, r in ck_records(tag).items()}}))
    out += [
        dict(name="ck-produce-idempotent", client="confluent-kafka",
             argv=py + ["ck-produce", bs, "ck-idempotent", "none", "idempotent"],
             produce={"variant": "none-idempotent", "codec": "none",
                      "records": {("ck-idempotent", p): r
                                  for p, r in ck_records("ck-idempotent").items()}}),
        dict(name="ck-produce-txn", client="confluent-kafka", optional=True,
             argv=py + ["ck-produce", bs, "ck-txn", "none", "transactional"],
             produce={"variant": "none-transactional", "codec": "none",
                      "records": {("ck-txn", p): r for p, r in ck_records("ck-txn").items()}}),
        dict(name="ck-group-consume", client="confluent-kafka",
             argv=py + ["ck-consume", bs, "classic"]),
        dict(name="ck-group-consume-kip848", client="confluent-kafka", optional=True,
             argv=py + ["ck-consume", bs, "consumer"]),
        dict(name="kafka-python-produce", client="kafka-python", optional=True,
             argv=py + ["kafka-python-produce", bs, "kp-gzip"],
             produce={"variant": "gzip", "codec": "gzip",
                      "records": {("kp-gzip", p): r for p, r in py_records("kp-gzip").items()}}),
        dict(name="aiokafka-produce", client="aiokafka", optional=True,
             argv=py + ["aiokafka-produce", bs, "aio-gzip"],
             produce={"variant": "gzip", "codec": "gzip",
                      "records": {("aio-gzip", p): r for p, r in py_records("aio-gzip").items()}}),
    ]
    return out


# --------------------------------------------------------------------------------------
# Child processes (the clients written in Python).
# --------------------------------------------------------------------------------------

def child(argv):
    kind = argv[0]
    if kind == "ck-produce":
        import confluent_kafka as ck
        bs, tag, codec, mode = argv[1:5]
        conf = {"bootstrap.servers": bs, "client.id": "swiftlet-golden-" + mode,
                "compression.type": codec, "linger.ms": 200, "acks": "all",
                "enable.idempotence": mode in ("idempotent", "transactional")}
        if mode == "transactional":
            conf["transactional.id"] = "swiftlet-ck-txn"
        p = ck.Producer(conf)
        if mode == "transactional":
            p.init_transactions(15)
            p.begin_transaction()
        for part, recs in ck_records(tag).items():
            for r in recs:
                p.produce(tag, value=_b(r["value"]), key=_b(r["key"]), partition=part,
                          timestamp=r["timestamp"],
                          headers=[(h, _b(v)) for h, v in r["headers"]])
        if mode == "transactional":
            c = ck.Consumer({"bootstrap.servers": bs, "group.id": "swiftlet-ck-txn-group"})
            p.flush(15)
            p.send_offsets_to_transaction(
                [ck.TopicPartition("ck-none", 0, 2)], c.consumer_group_metadata(), 15)
            p.commit_transaction(15)
            c.close()
        left = p.flush(15)
        if left:
            sys.exit("%d messages not delivered" % left)
    elif kind == "ck-consume":
        import confluent_kafka as ck
        bs, proto = argv[1:3]
        topics = ["ck-none", "ck-gzip", "ck-snappy", "ck-lz4", "ck-zstd", "ck-idempotent"]
        conf = {"bootstrap.servers": bs, "group.id": "swiftlet-ck-group-" + proto,
                "client.id": "swiftlet-golden-consumer", "enable.auto.commit": False,
                "auto.offset.reset": "earliest", "group.protocol": proto}
        if proto == "classic":
            conf.update({"heartbeat.interval.ms": 500, "session.timeout.ms": 6000})
        c = ck.Consumer(conf)
        c.subscribe(topics)
        want = sum(len(r) for t in topics for r in ck_records(t).values())
        got, deadline = 0, time.time() + 30
        while got < want and time.time() < deadline:
            m = c.poll(0.5)
            if m is not None and not m.error():
                got += 1
        if got < want:
            sys.exit("consumed %d of %d" % (got, want))
        c.commit(asynchronous=False)
        c.committed([ck.TopicPartition("ck-none", 0), ck.TopicPartition("ck-none", 1)], 10)
        c.offsets_for_times([ck.TopicPartition("ck-none", 0, CK_TS0 + 1)], 10)
        time.sleep(1.5)  # a few heartbeats
        c.close()
    elif kind == "kafka-python-produce":
        from kafka import KafkaProducer
        bs, tag = argv[1:3]
        from kafka.errors import KafkaTimeoutError
        try:
            p = KafkaProducer(bootstrap_servers=bs, client_id="swiftlet-golden-kafka-python",
                              compression_type="gzip", linger_ms=200, acks="all",
                              bootstrap_timeout_ms=3000)
        except KafkaTimeoutError:
            sys.exit("kafka-python does not bootstrap from the librdkafka mock: the mock "
                     "answers its ApiVersions v4 with an UNSUPPORTED_VERSION reply that is "
                     "not in Kafka's v0 format, and kafka-python drops the connection; "
                     "only its ApiVersions v4 request is captured")
        for part, recs in py_records(tag).items():
            for r in recs:
                p.send(tag, value=_b(r["value"]), key=_b(r["key"]), partition=part,
                       timestamp_ms=r["timestamp"],
                       headers=[(h, _b(v)) for h, v in r["headers"]])
        p.flush(15)
        p.close()
    elif kind == "aiokafka-produce":
        import asyncio
        from aiokafka import AIOKafkaProducer
        bs, tag = argv[1:3]

        async def run():
            p = AIOKafkaProducer(bootstrap_servers=bs, client_id="swiftlet-golden-aiokafka",
                                 compression_type="gzip", linger_ms=200, acks="all")
            await p.start()
            try:
                futs = []
                for part, recs in py_records(tag).items():
                    for r in recs:
                        futs.append(await p.send(
                            tag, value=_b(r["value"]), key=_b(r["key"]), partition=part,
                            timestamp_ms=r["timestamp"],
                            headers=[(h, _b(v)) for h, v in r["headers"]]))
                await asyncio.gather(*futs)
            finally:
                await p.stop()
        asyncio.run(run())
    else:
        sys.exit("unknown child " + kind)


# --------------------------------------------------------------------------------------
# pcap reading and TCP reassembly (loopback captures, so no loss; still by seq number).
# --------------------------------------------------------------------------------------

def read_pcap(path):
    data = Path(path).read_bytes()
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        raise ValueError("not a pcap file: %s" % path)
    nsec = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    linktype = struct.unpack(e + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        sec, frac, incl, _orig = struct.unpack(e + "IIII", data[off:off + 16])
        off += 16
        pkt = data[off:off + incl]
        off += incl
        yield sec + frac / (1e9 if nsec else 1e6), linktype, pkt


def tcp_segments(path):
    for ts, lt, pkt in read_pcap(path):
        if lt == 1:  # Ethernet
            etype, l3 = struct.unpack(">H", pkt[12:14])[0], pkt[14:]
        elif lt == 113:  # Linux cooked
            etype, l3 = struct.unpack(">H", pkt[14:16])[0], pkt[16:]
        elif lt == 0:  # BSD loopback
            etype, l3 = (0x0800 if pkt[0] == 2 else 0x86DD), pkt[4:]
        else:
            raise ValueError("unsupported link type %d" % lt)
        if etype == 0x0800:
            ihl = (l3[0] & 15) * 4
            total = struct.unpack(">H", l3[2:4])[0]
            if l3[9] != 6:
                continue
            src, dst, l4 = l3[12:16], l3[16:20], l3[ihl:total]
        elif etype == 0x86DD:
            if l3[6] != 6:
                continue
            plen = struct.unpack(">H", l3[4:6])[0]
            src, dst, l4 = l3[8:24], l3[24:40], l3[40:40 + plen]
        else:
            continue
        sport, dport, seq = struct.unpack(">HHI", l4[:8])
        doff = (l4[12] >> 4) * 4
        flags = l4[13]
        yield ts, (src, sport), (dst, dport), seq, flags, l4[doff:]


def tcp_streams(path, server_port):
    """Reassembled connections, in order of their first packet:
    [{'client_port', 'first', 'c2s': (bytes, marks), 's2c': (bytes, marks)}], where
    marks are (stream offset, capture time) of each segment."""
    current, conns = {}, []
    for ts, s, d, seq, flags, payload in tcp_segments(path):
        if d[1] == server_port:
            key, direction = (s, d), "c2s"
        elif s[1] == server_port:
            key, direction = (d, s), "s2c"
        else:
            continue
        c = current.get(key)
        syn_only = (flags & 0x12) == 0x02
        if c is None or (syn_only and (c["c2s"]["segs"] or c["s2c"]["segs"])):
            c = {"client_port": key[0][1], "first": ts,
                 "c2s": {"isn": None, "segs": []}, "s2c": {"isn": None, "segs": []}}
            current[key] = c
            conns.append(c)
        st = c[direction]
        if flags & 0x02:  # SYN
            st["isn"] = (seq + 1) & 0xFFFFFFFF
        if payload:
            st["segs"].append((seq, ts, payload))
    result = []
    for c in conns:
        out = {"client_port": c["client_port"], "first": c["first"],
               "saw_syn": c["c2s"]["isn"] is not None}
        for direction in ("c2s", "s2c"):
            segs = c[direction]["segs"]
            if not segs:
                out[direction] = (b"", [])
                continue
            isn = c[direction]["isn"]
            if isn is None:
                isn = min(s[0] for s in segs)
            rel = sorted((((sq - isn) & 0xFFFFFFFF), ts, p) for sq, ts, p in segs)
            buf, marks = bytearray(), []
            for r, ts, p in rel:
                if r > len(buf):
                    raise ValueError("gap in TCP stream (lost packets?)")
                if r + len(p) <= len(buf):
                    continue  # retransmission
                marks.append((len(buf), ts))
                buf += p[len(buf) - r:]
            out[direction] = (bytes(buf), marks)
        result.append(out)
    return result


def cut_frames(buf, marks):
    frames, off = [], 0
    while off + 4 <= len(buf):
        n = struct.unpack(">i", buf[off:off + 4])[0]
        if off + 4 + n > len(buf):
            break  # connection closed mid-frame
        ts = max([t for o, t in marks if o <= off] or [0])
        frames.append((ts, buf[off + 4:off + 4 + n]))
        off += 4 + n
    return frames


# --------------------------------------------------------------------------------------
# Kafka primitive decoding.
# --------------------------------------------------------------------------------------

class Reader:
    def __init__(self, b, off=0):
        self.b, self.o = b, off

    def take(self, n):
        if self.o + n > len(self.b):
            raise ValueError("read past end")
        v = self.b[self.o:self.o + n]
        self.o += n
        return v

    def i8(self): return struct.unpack(">b", self.take(1))[0]
    def i16(self): return struct.unpack(">h", self.take(2))[0]
    def i32(self): return struct.unpack(">i", self.take(4))[0]
    def u32(self): return struct.unpack(">I", self.take(4))[0]
    def i64(self): return struct.unpack(">q", self.take(8))[0]

    def uvarint(self):
        shift = v = 0
        while True:
            c = self.take(1)[0]
            v |= (c & 0x7F) << shift
            if not c & 0x80:
                return v
            shift += 7

    def varint(self):
        v = self.uvarint()
        return (v >> 1) ^ -(v & 1)

    def string(self, flexible):
        n = self.uvarint() - 1 if flexible else self.i16()
        return None if n < 0 else self.take(n).decode()

    def bytes_(self, flexible):
        n = self.uvarint() - 1 if flexible else self.i32()
        return None if n < 0 else self.take(n)

    def array_len(self, flexible):
        return self.uvarint() - 1 if flexible else self.i32()

    def tagged(self):
        tags = {}
        for _ in range(self.uvarint()):
            t = self.uvarint()
            tags[t] = self.take(self.uvarint())
        return tags


def parse_request_header(frame):
    r = Reader(frame)
    key, ver, corr = r.i16(), r.i16(), r.i32()
    client_id = r.string(False)  # nullable int16-length, even in header v2
    tags = {}
    hv = request_header_version(key, ver)
    if hv == 2:
        tags = r.tagged()
    return {"api_key": key, "api_version": ver, "correlation_id": corr,
            "client_id": client_id, "header_version": hv, "header_tagged_fields": len(tags),
            "body_offset": r.o}


def crc32c(data):
    table = crc32c.table
    if table is None:
        table = []
        for i in range(256):
            c = i
            for _ in range(8):
                c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
            table.append(c)
        crc32c.table = table
    c = 0xFFFFFFFF
    for x in data:
        c = table[(c ^ x) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


crc32c.table = None


def decode_records(raw, count):
    r = Reader(raw)
    out = []
    for _ in range(count):
        length = r.varint()
        end = r.o + length
        r.i8()  # attributes
        ts_delta = r.varint()
        off_delta = r.varint()
        kl = r.varint()
        key = None if kl < 0 else r.take(kl)
        vl = r.varint()
        value = None if vl < 0 else r.take(vl)
        headers = []
        for _ in range(r.varint()):
            hk = r.take(r.varint()).decode()
            hl = r.varint()
            headers.append([hk, None if hl < 0 else r.take(hl).decode()])
        if r.o != end:
            raise ValueError("record length mismatch")
        out.append({"offset_delta": off_delta, "timestamp_delta": ts_delta,
                    "key": None if key is None else key.decode(),
                    "value": None if value is None else value.decode(), "headers": headers})
    if r.o != len(raw):
        raise ValueError("trailing bytes after records")
    return out


def decode_batches(raw):
    """Decode a records field (v2 record batches). Records decoded for none/gzip only."""
    batches, r = [], Reader(raw)
    while r.o < len(raw):
        start = r.o
        base_offset = r.i64()
        length = r.i32()
        end = r.o + length
        leader_epoch = r.i32()
        magic = r.i8()
        if magic != 2:
            raise ValueError("magic %d record batch" % magic)
        crc = r.u32()
        crc_ok = crc == crc32c(raw[r.o:end])
        attrs = r.i16()
        b = {"base_offset": base_offset, "batch_length": length,
             "partition_leader_epoch": leader_epoch, "magic": magic, "crc_ok": crc_ok,
             "attributes": attrs, "codec": CODECS.get(attrs & 7, "codec%d" % (attrs & 7)),
             "timestamp_type": "LogAppendTime" if attrs & 8 else "CreateTime",
             "transactional": bool(attrs & 16), "control": bool(attrs & 32)}
        b["last_offset_delta"] = r.i32()
        b["base_timestamp"] = r.i64()
        b["max_timestamp"] = r.i64()
        b["producer_id"] = r.i64()
        b["producer_epoch"] = r.i16()
        b["base_sequence"] = r.i32()
        b["record_count"] = r.i32()
        body = raw[r.o:end]
        if b["codec"] == "none":
            b["records"] = decode_records(body, b["record_count"])
        elif b["codec"] == "gzip":
            b["records"] = decode_records(gzip.decompress(body), b["record_count"])
        b["start"] = start
        batches.append(b)
        r.o = end
    return batches


def parse_produce_request(frame, hdr):
    v, flex = hdr["api_version"], is_flexible(0, hdr["api_version"])
    r = Reader(frame, hdr["body_offset"])
    req = {"transactional_id": r.string(flex) if v >= 3 else None,
           "acks": r.i16(), "timeout_ms": r.i32(), "partitions": []}
    for _ in range(r.array_len(flex)):
        if v >= 13:
            topic = "topic-id:" + r.take(16).hex()
        else:
            topic = r.string(flex)
        for _ in range(r.array_len(flex)):
            part = r.i32()
            records = r.bytes_(flex)
            if flex:
                r.tagged()
            req["partitions"].append({"topic": topic, "partition": part,
                                      "batches": decode_batches(records or b"")})
        if flex:
            r.tagged()
    if flex:
        r.tagged()
    if r.o != len(frame):
        raise ValueError("Produce request: %d trailing bytes" % (len(frame) - r.o))
    return req


def parse_produce_response(frame, version):
    """Only what we need: (topic, partition) -> (error_code, base_offset)."""
    flex = is_flexible(0, version)
    r = Reader(frame)
    r.i32()  # correlation id
    if flex:
        r.tagged()
    out = {}
    for _ in range(r.array_len(flex)):
        topic = r.string(flex) if version < 13 else r.take(16).hex()
        for _ in range(r.array_len(flex)):
            part, err, base = r.i32(), r.i16(), r.i64()
            if version >= 2:
                r.i64()  # log_append_time
            if version >= 5:
                r.i64()  # log_start_offset
            if version >= 8:
                for _ in range(r.array_len(flex)):
                    r.i32()
                    r.string(flex)
                    if flex:
                        r.tagged()
                r.string(flex)
            if flex:
                r.tagged()
            out[(topic, part)] = (err, base)
        if flex:
            r.tagged()
    return out


# --------------------------------------------------------------------------------------
# Driver.
# --------------------------------------------------------------------------------------

def start_mock():
    import logging
    import confluent_kafka as ck
    found = {}

    class Grab(logging.Handler):
        def emit(self, rec):
            m = re.search(r"replaced with 127\.0\.0\.1:(\d+)", rec.getMessage())
            if m:
                found["port"] = int(m.group(1))

    log = logging.getLogger("swiftlet-golden-mock")
    log.addHandler(Grab())
    log.setLevel(logging.INFO)
    log.propagate = False
    # Never used to send anything: with sparse connections it does not connect, so
    # it adds no traffic to the captures. It only keeps the mock cluster alive.
    host = ck.Producer({"test.mock.num.brokers": 1, "logger": log,
                        "enable.metrics.push": False,
                        "topic.metadata.refresh.interval.ms": -1})
    deadline = time.time() + 10
    while "port" not in found and time.time() < deadline:
        host.poll(0.1)
    if "port" not in found:
        sys.exit("could not learn the mock cluster's port")
    # librdkafka connects this idle client to its mock once, shortly after start.
    # Let that happen now, before any capture; its connections are left out of the
    # captures anyway (see own_client_ports and the SYN rule in main).
    host.list_topics(timeout=10)
    return host, found["port"]


def own_client_ports(port):
    """Local ports of this process's own TCP connections to the mock (the host
    client's, and the read-back consumer's): never part of a scenario."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            link = os.readlink("/proc/self/fd/" + fd)
        except OSError:
            continue
        if link.startswith("socket:["):
            inodes.add(link[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if int(f[2].rsplit(":", 1)[1], 16) == port and f[9] in inodes:
                ports.add(int(f[1].rsplit(":", 1)[1], 16))
    return ports


def capture(sc, port, pcap):
    """Run one scenario with tcpdump recording loopback traffic to/from the mock."""
    td = subprocess.Popen(["tcpdump", "-i", "lo", "--immediate-mode", "-U", "-Z", "root",
                           "-B", "65536", "-s", "0", "-w", str(pcap), "tcp port %d" % port],
                          stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    try:
        line = td.stderr.readline()
        if "listening on" not in line:
            sys.exit("tcpdump did not start: " + line)
        time.sleep(0.3)
        t0 = time.time()
        mine = own_client_ports(port)
        ok, note, out = run_client(sc)
        time.sleep(0.5)
        mine |= own_client_ports(port)
    finally:
        td.send_signal(signal.SIGINT)
        try:
            rest = td.stderr.read()
            td.wait(timeout=10)
        except subprocess.TimeoutExpired:
            td.kill()
            raise
    m = re.search(r"(\d+) packets? dropped by kernel", rest)
    if m and int(m.group(1)):
        sys.exit("tcpdump dropped packets in %s: %s" % (sc["name"], rest))
    return ok, note, out, time.time() - t0, mine


def run_client(sc):
    """-> (ok, note, stdout)."""
    run_for = sc.get("run_for")
    proc = subprocess.Popen(sc["argv"], stdin=subprocess.PIPE if "stdin" in sc
                            else subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        if run_for:
            try:
                proc.wait(timeout=run_for)
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGINT)  # graceful close: commit, LeaveGroup
            out, err = proc.communicate(timeout=30)
        else:
            out, err = proc.communicate(sc.get("stdin"), timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        return False, "timed out: " + err.strip()[-400:], out
    if proc.returncode != 0 and not (run_for and proc.returncode in (-signal.SIGINT, 130)):
        return False, "exit %s: %s" % (proc.returncode, err.strip()[-400:]), out
    return True, "", out


def client_versions():
    import aiokafka
    import confluent_kafka
    import kafka
    v = subprocess.run(["kcat", "-V"], capture_output=True, text=True).stdout
    m = re.search(r"Version (\S+) .*librdkafka (\S+)", v)
    return {
        "kcat": {"client_version": "kcat " + m.group(1), "library": "librdkafka " + m.group(2)},
        "confluent-kafka": {"client_version": "confluent-kafka " + confluent_kafka.__version__,
                            "library": "librdkafka " + confluent_kafka.libversion()[0]},
        "kafka-python": {"client_version": "kafka-python " + kafka.__version__,
                         "library": "kafka-python " + kafka.__version__},
        "aiokafka": {"client_version": "aiokafka " + aiokafka.__version__,
                     "library": "aiokafka " + aiokafka.__version__},
    }


def read_back(port, topics):
    """Read every produced partition back from the mock: {(topic, p): {offset: rec}}."""
    import confluent_kafka as ck
    c = ck.Consumer({"bootstrap.servers": "127.0.0.1:%d" % port, "group.id": "readback",
                     "enable.auto.commit": False, "enable.partition.eof": True})
    tps = [ck.TopicPartition(t, p, ck.OFFSET_BEGINNING) for t, p in sorted(topics)]
    c.assign(tps)
    result = {tp: {} for tp in topics}
    pending, deadline = set(topics), time.time() + 20
    while pending and time.time() < deadline:
        m = c.poll(0.5)
        if m is None:
            continue
        if m.error():
            if m.error().code() == ck.KafkaError._PARTITION_EOF:
                pending.discard((m.topic(), m.partition()))
            continue
        tstype, ts = m.timestamp()
        result[(m.topic(), m.partition())][m.offset()] = {
            "key": None if m.key() is None else m.key().decode(),
            "value": None if m.value() is None else m.value().decode(),
            "headers": [[h, None if v is None else v.decode()] for h, v in (m.headers() or [])],
            "timestamp": ts, "timestamp_type": tstype}
    c.close()
    return result


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        return child(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--keep-pcaps", metavar="DIR")
    ap.add_argument("--only", help="comma-separated scenario names")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (tcpdump)")

    versions = client_versions()
    host, port = start_mock()
    print("mock cluster on 127.0.0.1:%d" % port)
    scs = scenarios(port)
    if args.only:
        names = set(args.only.split(","))
        scs = [s for s in scs if s["name"] in names]
    pcapdir = Path(args.keep_pcaps) if args.keep_pcaps else Path(tempfile.mkdtemp())
    pcapdir.mkdir(parents=True, exist_ok=True)

    chosen = {}  # (client, api, version, variant) -> entry
    order = []
    skipped = []
    produced_topics = set()
    for sc in scs:
        pcap = pcapdir / (sc["name"] + ".pcap")
        ok, note, out, secs, mine = capture(sc, port, pcap)
        streams = [st for st in tcp_streams(pcap, port)
                   if st["saw_syn"] and st["client_port"] not in mine]
        nreq = 0
        for st in streams:
            reqs = cut_frames(*st["c2s"])
            resps = {struct.unpack(">i", f[:4])[0]: f for _, f in cut_frames(*st["s2c"])
                     if len(f) >= 4}
            for ts, frame in reqs:
                hdr = parse_request_header(frame)
                nreq += 1
                variant = None
                if hdr["api_key"] == 0:
                    if not sc.get("produce"):
                        continue
                    req = parse_produce_request(frame, hdr)
                    codecs = {b["codec"] for p in req["partitions"] for b in p["batches"]}
                    if len(codecs) != 1:
                        continue
                    variant = sc["produce"]["variant"]
                    if codecs != {sc["produce"]["codec"]}:
                        sys.exit("%s: Produce batch codec %s, expected %s" % (
                            sc["name"], codecs, sc["produce"]["codec"]))
                    hdr["produce"] = req
                k = (sc["client"], hdr["api_key"], hdr["api_version"], variant)
                if k in chosen:
                    # librdkafka sends one Produce request per partition: keep the one
                    # with the most partitions, else the one for the lowest partition.
                    if variant is None or produce_score(hdr) <= produce_score(
                            chosen[k]["hdr"]):
                        continue
                else:
                    order.append(k)
                chosen[k] = {"scenario": sc, "hdr": hdr, "frame": frame,
                             "response": resps.get(hdr["correlation_id"]), "ts": ts}
        status = "ok" if ok else "FAILED (%s)" % note
        print("%-26s %-7s %3d requests in %d connections, %.1fs" % (
            sc["name"], status, nreq, len(streams), secs))
        if not ok:
            if sc.get("optional"):
                skipped.append({"scenario": sc["name"], "reason": note})
            else:
                sys.exit("required scenario %s failed: %s" % (sc["name"], note))
        if sc.get("produce"):
            produced_topics |= set(sc["produce"]["records"])

    back = read_back(port, produced_topics) if produced_topics else {}

    # Write files.
    clients = sorted({k[0] for k in order})
    for c in clients:
        d = HERE / c
        if d.exists():
            for f in d.glob("*.bin"):
                f.unlink()
        d.mkdir(exist_ok=True)
    entries = []
    produce_seen = set()
    for k in sorted(order, key=lambda k: (k[0], k[1], k[2], k[3] or "")):
        e = chosen[k]
        client, key, ver, variant = k
        hdr, sc = e["hdr"], e["scenario"]
        stem = "%s-v%d-%s" % (api_name(key), ver, variant or "1")
        rel = "%s/%s.request.bin" % (client, stem)
        (HERE / rel).write_bytes(e["frame"])
        item = {"file": rel, "client": client, **versions[client], "scenario": sc["name"],
                "api_key": key, "api_name": api_name(key), "api_version": ver,
                "request_header_version": hdr["header_version"],
                "correlation_id": hdr["correlation_id"], "client_id": hdr["client_id"],
                "size": len(e["frame"])}
        if e["response"] is not None:
            rrel = "%s/%s.response.bin" % (client, stem)
            (HERE / rrel).write_bytes(e["response"])
            item["response_file"] = rrel
            item["response_header_version"] = response_header_version(key, ver)
            item["response_size"] = len(e["response"])
            if key == 18 and e["response"][4:6] == b"\x00\x23":
                item["response_note"] = (
                    "UNSUPPORTED_VERSION reply of the librdkafka mock (its ApiVersions max is "
                    "v2). Not Kafka's encoding (Kafka answers in v0 format: int16 error, "
                    "int32-length array holding the ApiVersions range); do not use it as a "
                    "golden response. The client then retried with a lower version.")
        if key == 0:
            item["produce"] = produce_entry(e, back)
            produce_seen.add(sc["name"])
        entries.append(item)

    for sc in scs:
        if sc.get("produce") and sc["name"] not in produce_seen and not any(
                s["scenario"] == sc["name"] for s in skipped):
            skipped.append({"scenario": sc["name"],
                            "reason": "no Produce request with a new (version, variant)"})

    manifest = {
        "description": "Golden Kafka request frames captured from real clients talking to "
                       "a librdkafka mock cluster on loopback; see capture.py. Each "
                       ".request.bin/.response.bin is one frame without its 4-byte length "
                       "prefix. Requests are the clients' own bytes; responses come from the "
                       "librdkafka mock and are only what the client accepted, not "
                       "authoritative Kafka encodings. API versions are the highest both "
                       "the client and the mock support, so some are lower than against a "
                       "real Kafka 4.x broker. Record keys, values and header values are "
                       "UTF-8 strings (null = null on the wire). Timestamps are CreateTime "
                       "milliseconds.",
        "generated_by": "Interop/golden/capture.py",
        "mock_cluster": "librdkafka %s mock (test.mock.num.brokers=1)"
                        % versions["confluent-kafka"]["library"].split()[-1],
        "clients": versions,
        "files": entries,
        "not_captured": skipped,
    }
    (HERE / "manifest.json").write_text(to_json(manifest) + "\n")
    print("wrote %d request files for %s" % (len(entries), ", ".join(clients)))
    if not args.keep_pcaps:
        shutil.rmtree(pcapdir)
    del host


def to_json(o, indent=0):
    """JSON with short arrays and objects kept on one line."""
    flat = json.dumps(o, ensure_ascii=False)
    if len(flat) + indent <= 96 or not isinstance(o, (dict, list)) or not o:
        return flat
    pad = " " * (indent + 1)
    if isinstance(o, dict):
        items = ["%s%s: %s" % (pad, json.dumps(k), to_json(v, indent + 1))
                 for k, v in o.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    items = [pad + to_json(v, indent + 1) for v in o]
    return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"


def produce_score(hdr):
    parts = hdr["produce"]["partitions"]
    return (len(parts), -min(p["partition"] for p in parts))


def produce_entry(e, back):
    hdr, sc = e["hdr"], e["scenario"]
    req = hdr["produce"]
    expected = sc["produce"]["records"]
    resp = parse_produce_response(e["response"], hdr["api_version"]) if e["response"] else {}
    parts = []
    for p in req["partitions"]:
        tp = (p["topic"], p["partition"])
        if len(p["batches"]) != 1:
            sys.exit("%s: %d batches for %s" % (sc["name"], len(p["batches"]), tp))
        b = p["batches"][0]
        if not b["crc_ok"]:
            sys.exit("%s: bad CRC in %s" % (sc["name"], tp))
        err, base = resp.get(tp, (None, None))
        if err:
            sys.exit("%s: produce error %s for %s" % (sc["name"], err, tp))
        want = expected.get(tp)
        if want is None:
            sys.exit("%s: unexpected partition %s" % (sc["name"], tp))
        got_back = [back.get(tp, {}).get(base + i) for i in range(b["record_count"])]
        records = []
        for i, w in enumerate(want):
            rb = got_back[i] if i < len(got_back) else None
            if rb is None:
                sys.exit("%s: record %d of %s not read back" % (sc["name"], i, tp))
            for f in ("key", "value", "headers"):
                if rb[f] != w[f]:
                    sys.exit("%s: %s %s of record %d read back as %r, sent %r" % (
                        sc["name"], tp, f, i, rb[f], w[f]))
            if "timestamp" in w and rb["timestamp"] != w["timestamp"]:
                sys.exit("%s: timestamp mismatch" % sc["name"])
            records.append({"key": w["key"], "value": w["value"], "headers": w["headers"],
                            "timestamp": rb["timestamp"]})
        if len(want) != b["record_count"]:
            sys.exit("%s: %s batch has %d records, sent %d" % (
                sc["name"], tp, b["record_count"], len(want)))
        if "records" in b:  # decoded here too (none, gzip): must match exactly
            for w, d in zip(records, b["records"]):
                mine = {"key": d["key"], "value": d["value"], "headers": d["headers"],
                        "timestamp": b["base_timestamp"] + d["timestamp_delta"]}
                if mine != w:
                    sys.exit("%s: decoded %r, expected %r" % (sc["name"], mine, w))
        if b["base_timestamp"] != records[0]["timestamp"] or \
                b["max_timestamp"] != max(r["timestamp"] for r in records):
            sys.exit("%s: batch timestamps disagree with read-back" % sc["name"])
        parts.append({
            "topic": p["topic"], "partition": p["partition"],
            "compression": b["codec"],
            "batch": {k: b[k] for k in (
                "attributes", "base_offset", "last_offset_delta", "base_timestamp",
                "max_timestamp", "producer_id", "producer_epoch", "base_sequence",
                "record_count", "transactional", "partition_leader_epoch", "batch_length")},
            "records": records})
    return {"compression": sc["produce"]["codec"], "variant": sc["produce"]["variant"],
            "transactional_id": req["transactional_id"], "acks": req["acks"],
            "timeout_ms": req["timeout_ms"], "partitions": parts}


if __name__ == "__main__":
    main()
