"""Writes one record batch as it is given, with a Produce request of its own, so
that the tests can put into a topic what no client library would write: a batch
whose compression codec does not exist, or whose compressed data is garbage.

    python3 raw_batch.py HOST:PORT TOPIC PARTITION CODEC PAYLOAD_HEX

CODEC is the batch's attributes codec bits (0 none ... 4 zstd; 5-7 are no
codec). The records section is PAYLOAD_HEX as it is. The CRC is left 0: brokers
like tansu store batches as given, and consumers check CRCs only when asked
(librdkafka's check.crcs is off by default). Prints the broker's error code.
"""
import socket
import struct
import sys
import time


def string(s):
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    topic, partition, codec = sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    records = bytes.fromhex(sys.argv[5])
    now = int(time.time() * 1000)
    # RecordBatch v2, after baseOffset and batchLength.
    after_crc = struct.pack(">hiqqqhii", codec, 0, now, now, -1, -1, -1, 1) + records
    body = struct.pack(">ibI", 0, 2, 0) + after_crc
    batch = struct.pack(">qi", 0, len(body)) + body
    request = (
        struct.pack(">hhi", 0, 3, 1)  # Produce v3, correlation id 1
        + string("raw-batch")
        + struct.pack(">h", -1)  # no transactional id
        + struct.pack(">hi", -1, 10000)  # acks all, timeout
        + struct.pack(">i", 1)
        + string(topic)
        + struct.pack(">i", 1)
        + struct.pack(">i", partition)
        + struct.pack(">i", len(batch))
        + batch
    )
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(struct.pack(">i", len(request)) + request)
        size = struct.unpack(">i", s.recv(4))[0]
        reply = b""
        while len(reply) < size:
            reply += s.recv(size - len(reply))
    # correlation id, topics array (1), topic name, partitions array (1), partition, error code
    pos = 4 + 4
    name_len = struct.unpack(">h", reply[pos:pos + 2])[0]
    pos += 2 + name_len + 4 + 4
    print(struct.unpack(">h", reply[pos:pos + 2])[0])


if __name__ == "__main__":
    main()
