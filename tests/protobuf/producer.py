"""Produces Protobuf and JSON Schema events the way confluent-kafka's serializers
write them, for the end-to-end tests (tests/api/protobuf.rs), and prints one JSON
line per event: what analyzer must make of it.

  schema_name: ProtobufSerializer (RecordNameStrategy) values of shop.OrderPlaced
          (the file's first message), shop.OrderShipped (the second) and
          shop.OrderShipped.Parcel (nested: path [1, 0]), whose schema references
          shop/money.proto under its own subject; JSONSerializer values of a schema
          titled shop.RefundIssued; then hostile values, each with its reason.
  header: unframed OrderPlaced messages typed by an `item_type_name` header
          (`[protobuf.types]` maps it), hostile ones among them, and JSON Schema
          framed values typed by the header too.
  json_field: the same JSON objects, each framed by JSONSerializer and plain: a
          framed value classifies as the JSON without its prefix.

Usage: producer.py MODE BROKER TOPIC REGISTRY_URL REGISTRY_USER:PASSWORD COUNT
Each line: {"type", "value_hex", "json" (MessageToDict of the message, or the
JSON; null when it is not decoded), "schema_type", "schema" (name or title),
"schema_id", "reason"}.
"""
import json
import os
import random
import sys

from google.protobuf.json_format import MessageToDict
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient, record_subject_name_strategy
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shop  # noqa: E402

MODE, BROKER, TOPIC, REGISTRY, CREDENTIALS, COUNT = sys.argv[1:7]
COUNT = int(COUNT)
rng = random.Random(30)

REFUND_SCHEMA = json.dumps({
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "shop.RefundIssued",
    "type": "object",
    "properties": {
        "type": {"type": "string"},
        "order_id": {"type": "string"},
        "amount": {"type": "number"},
        "reason": {"type": ["string", "null"]},
        "lines": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["order_id"],
})

user, password = CREDENTIALS.split(":", 1)
registry = SchemaRegistryClient({"url": REGISTRY, "basic.auth.user.info": f"{user}:{password}"})
strategy = {"subject.name.strategy": record_subject_name_strategy}
protobuf = {
    cls.DESCRIPTOR.full_name: ProtobufSerializer(cls, registry, conf=dict(strategy))
    for cls in (shop.OrderPlaced, shop.OrderShipped, shop.Parcel)
}
refund_serializer = JSONSerializer(REFUND_SCHEMA, registry, conf=dict(strategy))
context = SerializationContext(TOPIC, MessageField.VALUE)
producer = Producer({"bootstrap.servers": BROKER, "linger.ms": 5})
lines = []


def send(value, event_type, expected=None, schema_type=None, schema=None, schema_id=None,
         reason=None, header=None):
    headers = [("item_type_name", header.encode())] if header is not None else None
    producer.produce(TOPIC, value=value, headers=headers)
    lines.append({"type": event_type, "value_hex": value.hex(), "json": expected,
                  "schema_type": schema_type, "schema": schema, "schema_id": schema_id,
                  "reason": reason})


def money():
    return shop.Money(currency=rng.choice(["EUR", "USD", "JP\u00a5"]), units=rng.randrange(-2**62, 2**62),
                      nanos=rng.randrange(0, 10**9))


def order_placed(i):
    m = shop.OrderPlaced(order_id=f"o-{i}", sequence=rng.randrange(-2**63, 2**63),
                         big=rng.randrange(0, 2**64), status=rng.randrange(0, 4),
                         signature=rng.randbytes(rng.randrange(0, 12)),
                         discount=rng.choice([0.0, 0.5, -1e-7, 1e300, float("inf"), float("nan")]))
    m.total.CopyFrom(money())
    for _ in range(rng.randrange(0, 3)):
        line = m.lines.add(sku=f"SKU-{rng.randrange(100)}", quantity=rng.randrange(-3, 9))
        line.price.CopyFrom(money())
    for j in range(rng.randrange(0, 3)):
        m.labels[f"k{j}<\"&>"] = rng.choice(["", "x", "d\u00e9j\u00e0", "</script>"])
    m.weights.extend(rng.randrange(-2**31, 2**31) for _ in range(rng.randrange(0, 4)))
    m.placed_at.seconds = rng.randrange(0, 4_000_000_000)
    m.placed_at.nanos = rng.choice([0, 5_000_000, 123_456_000, 1])
    if i % 3 == 0:
        m.card_token = f"tok-{i}"
    elif i % 3 == 1:
        m.voucher_code = ""  # set to its default: oneof members are written all the same
    return m


def order_shipped(i):
    m = shop.OrderShipped(order_id=f"o-{i}")
    m.parcel.tracking = f"T{i}"
    m.parcel.grams.extend(rng.randrange(0, 2**64) for _ in range(rng.randrange(0, 3)))
    m.transit.seconds = rng.randrange(-10**6, 10**6)
    m.transit.nanos = (1 if m.transit.seconds >= 0 else -1) * rng.choice([0, 500_000_000, 1_000])
    if i % 2:
        m.attempts.value = rng.randrange(-2**63, 2**63)
        m.note.value = rng.choice(["", "left at door"])
        m.signed.value = False
    return m


def parcel(i):
    return shop.Parcel(tracking=f"P{i}", grams=[rng.randrange(0, 2**64) for _ in range(2)])


def refund(i):
    return {"type": "refund_issued", "order_id": f"o-{i}", "amount": rng.randrange(0, 10**6) / 100,
            "reason": rng.choice([None, "late", "<img src=x onerror=alert(1)>"]),
            "lines": [{"sku": "S", "n": j} for j in range(rng.randrange(0, 2))]}


def framed_message(m):
    value = protobuf[m.DESCRIPTOR.full_name](m, context)
    return value, int.from_bytes(value[1:5], "big")


def expected_dict(m):
    return MessageToDict(m)


if MODE == "schema_name":
    ids = {}
    for i in range(COUNT):
        m = [order_placed, order_shipped, parcel][i % 3](i)
        value, schema_id = framed_message(m)
        ids[m.DESCRIPTOR.full_name] = schema_id
        send(value, m.DESCRIPTOR.full_name, expected_dict(m), "PROTOBUF", m.DESCRIPTOR.full_name, schema_id)
        if i % 4 == 0:
            r = refund(i)
            value = refund_serializer(r, context)
            send(value, "shop.RefundIssued", r, "JSON", "shop.RefundIssued", int.from_bytes(value[1:5], "big"))
    placed_id = ids["shop.OrderPlaced"]
    json_id = int.from_bytes(refund_serializer(refund(0), context)[1:5], "big")
    head = bytes([0]) + placed_id.to_bytes(4, "big")
    hostile = [
        (head + b"\x00\x0a\xff\xff\xff\xff\x0f", "invalid_protobuf"),     # a 4 GiB string announced
        (head + b"\x00\x0a\x05ab", "invalid_protobuf"),                   # a length past the end
        (head + b"\x02\x0a" + b"\x00", "invalid_protobuf"),               # path [5]: no such message
        (head + b"\xfe\xff\x03", "invalid_protobuf"),                     # 32767 indexes announced
        (head + b"\x00" + b"\x0a\x02\xff\xfe", "invalid_protobuf"),       # order_id not UTF-8
        (head, "invalid_protobuf"),                                       # no path at all
        (bytes([0, 0x7f, 0xff, 0xff, 0x01]) + b"\x00", "unknown_schema"),  # an id nobody registered
        (bytes([0]) + json_id.to_bytes(4, "big") + b"{not json", "invalid_json"),
    ]
    nested = b""
    for _ in range(200):  # 200 levels of Node: past prost's limit of 100
        nested = b"\x0a" + len(nested).to_bytes(1, "big") + nested if len(nested) < 128 else \
            b"\x0a" + bytes([len(nested) & 0x7f | 0x80, len(nested) >> 7]) + nested
    node_path = b"\x02\x04"  # path [2]: shop.Node
    hostile.append((head + node_path + nested, "invalid_protobuf"))
    for value, reason in hostile:
        send(value, "unclassified", reason=reason)
elif MODE == "header":
    for i in range(COUNT):
        m = order_placed(i)
        send(m.SerializeToString(), "order_placed", expected_dict(m), "PROTOBUF", "shop.OrderPlaced",
             header="order_placed")
        if i % 5 == 0:
            r = refund(i)
            value = refund_serializer(r, context)
            send(value, "refund_issued", r, "JSON", "shop.RefundIssued", int.from_bytes(value[1:5], "big"),
                 header="refund_issued")
    for value in [b"\x0a\x05ab", b"\x08\x01", b"\x28"]:
        send(value, "unclassified", reason="invalid_protobuf", header="order_placed")
elif MODE == "json_field":
    for i in range(COUNT):
        r = refund(i)
        if i % 2:
            r["type"] = "refund_reversed"
        value = refund_serializer(r, context)
        send(value, r["type"], r, "JSON", "shop.RefundIssued", int.from_bytes(value[1:5], "big"))
        send(json.dumps(r).encode(), r["type"], r)
    # Framed JSON without the field: unclassified, and still served as its JSON.
    send(value[:5] + b'{"no_type": 1}', "unclassified", {"no_type": 1}, "JSON", "shop.RefundIssued",
         int.from_bytes(value[1:5], "big"), reason="missing_field")
else:
    sys.exit(f"unknown mode {MODE}")

producer.flush(30)
for line in lines:
    print(json.dumps(line))
