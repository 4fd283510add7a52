"""Produces Avro events the way the services analyzer sits beside do, for the
end-to-end tests (tests/api/avro.rs), and prints one JSON line per event: what
analyzer must make of it.

  header: schemaless datums (fastavro.schemaless_writer) typed by an
          `item_type_name` header, some as object container files (the fallback
          the services' readers try), Confluent-framed values (confluent-kafka's
          AvroSerializer, RecordNameStrategy) with the header too, binary values
          that are not Avro, and then hostile values, each with its reason.
  record: Confluent-framed values of two record types in one topic and container
          files, with no header: the type is the writer schema's full name.

Usage: producer.py MODE BROKER TOPIC REGISTRY_URL REGISTRY_USER:PASSWORD COUNT SCHEMAS_DIR
Each line: {"type", "value_hex", "json" (expected decoded JSON or null),
"schema" (writer schema full name or null), "schema_id" (or null), "reason"}.
"""
import base64
import datetime
import decimal
import io
import json
import math
import os
import random
import sys
import uuid

import fastavro
from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient, record_subject_name_strategy
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

MODE, BROKER, TOPIC, REGISTRY, CREDENTIALS, COUNT, SCHEMAS_DIR = sys.argv[1:8]
COUNT = int(COUNT)
rng = random.Random(14)
UTC = datetime.timezone.utc


def load(name):
    with open(os.path.join(SCHEMAS_DIR, name)) as f:
        return json.load(f)


named = {}
fastavro.parse_schema(load("address.avsc"), named_schemas=named)
CREATED = fastavro.parse_schema(load("delivery_created.avsc"), named_schemas=named)
ON_HOLD = fastavro.parse_schema(load("on_hold_v6.avsc"))

PAYMENT = {"type": "record", "name": "PaymentCaptured", "namespace": "payments", "fields": [
    {"name": "payment_id", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}},
    {"name": "captured_at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "method", "type": {"type": "enum", "name": "Method", "symbols": ["CARD", "TRANSFER"]}}]}
REFUND = {"type": "record", "name": "RefundIssued", "namespace": "payments", "fields": [
    {"name": "payment_id", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "reason", "type": ["null", "string"]},
    {"name": "on", "type": {"type": "int", "logicalType": "date"}}]}


def ts_text(dt, digits):
    fraction = f"{dt.microsecond:06d}"[:digits]
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + fraction + "Z"


def money(cents, scale):
    return (decimal.Decimal(cents) / (10 ** scale)).quantize(decimal.Decimal(1).scaleb(-scale))


def moment():
    return datetime.datetime(2026, 1, 1, tzinfo=UTC) + datetime.timedelta(
        microseconds=rng.randrange(0, 10**13))


def on_hold(i):
    held = moment()
    at = held.replace(microsecond=held.microsecond // 1000 * 1000)
    temperature = [float("nan"), float("inf"), float("-inf")][i % 3] if i % 7 == 0 else rng.uniform(-40, 40)
    record = {
        "delivery_id": uuid.UUID(int=rng.getrandbits(128)),
        "held_at": held,
        "at_ms": at,
        "release_on": None if i % 4 == 0 else held.date() + datetime.timedelta(days=3),
        "reason": None if i % 5 == 0 else rng.choice(["address", "weather", "customs <b>\"x\"</b>", "d\u00e9j\u00e0"]),
        "fee": money(rng.randrange(-99999, 999999), 2),
        "total": money(rng.randrange(-10**12, 10**12), 3),
        "temperature_c": temperature,
        "ratio": rng.randrange(-4096, 4096) / 4,  # exact as a float: its JSON is the same number
        "status": rng.choice(["HELD", "RELEASED", "RETURNED"]),
        "signature": None if i % 3 == 0 else rng.randbytes(rng.randrange(0, 40)),
        "tags": [rng.choice(["a", "b", "fragile"]) for _ in range(rng.randrange(0, 4))],
        "attrs": {f"k{j}": rng.randrange(-2**62, 2**62) for j in range(rng.randrange(0, 3))},
        "crc": rng.randbytes(4),
    }
    t = record["temperature_c"]
    expected = dict(record)
    expected.update({
        "delivery_id": str(record["delivery_id"]),
        "held_at": ts_text(held, 6),
        "at_ms": ts_text(at, 3),
        "release_on": None if record["release_on"] is None else record["release_on"].isoformat(),
        "fee": str(record["fee"]),
        "total": str(record["total"]),
        "temperature_c": "NaN" if math.isnan(t) else ("Infinity" if t == math.inf else ("-Infinity" if t == -math.inf else t)),
        "signature": None if record["signature"] is None else base64.b64encode(record["signature"]).decode(),
        "crc": base64.b64encode(record["crc"]).decode(),
    })
    return record, expected


def created(i):
    at = moment()
    at = at.replace(microsecond=at.microsecond // 1000 * 1000)
    items = [{"sku": f"SKU-{rng.randrange(1000)}", "quantity": rng.randrange(1, 5),
              "price": money(rng.randrange(0, 100000), 2)} for _ in range(rng.randrange(1, 4))]
    record = {"delivery_id": uuid.UUID(int=rng.getrandbits(128)), "created_at": at,
              "deliver_to": {"street": f"{i} Main St", "city": "Lyon", "postcode": None if i % 2 else "69001"},
              "items": items, "priority": rng.choice(["STANDARD", "EXPRESS"])}
    expected = dict(record, delivery_id=str(record["delivery_id"]), created_at=ts_text(at, 3),
                    items=[dict(it, price=str(it["price"])) for it in items])
    return record, expected


def payment(i):
    at = moment()
    at = at.replace(microsecond=at.microsecond // 1000 * 1000)
    record = {"payment_id": uuid.UUID(int=rng.getrandbits(128)), "amount": money(rng.randrange(0, 10**9), 2),
              "captured_at": at, "method": rng.choice(["CARD", "TRANSFER"])}
    return record, dict(record, payment_id=str(record["payment_id"]), amount=str(record["amount"]),
                        captured_at=ts_text(at, 3))


def refund(i):
    on = datetime.date(2026, 1, 1) + datetime.timedelta(days=rng.randrange(0, 3000))
    record = {"payment_id": uuid.UUID(int=rng.getrandbits(128)), "reason": None if i % 2 else "late", "on": on}
    return record, dict(record, payment_id=str(record["payment_id"]), on=on.isoformat())


def schemaless(schema, record):
    out = io.BytesIO()
    fastavro.schemaless_writer(out, schema, record)
    return out.getvalue()


def container(schema, record, codec):
    out = io.BytesIO()
    fastavro.writer(out, schema, [record], codec=codec)
    return out.getvalue()


user, password = CREDENTIALS.split(":", 1)
registry = SchemaRegistryClient({"url": REGISTRY, "basic.auth.user.info": f"{user}:{password}"})
serializers = {
    name: AvroSerializer(registry, json.dumps(schema), conf={"subject.name.strategy": record_subject_name_strategy})
    for name, schema in [("payments.PaymentCaptured", PAYMENT), ("payments.RefundIssued", REFUND)]
}
producer = Producer({"bootstrap.servers": BROKER, "linger.ms": 5})
lines = []


def framed(name, record):
    value = serializers[name](record, SerializationContext(TOPIC, MessageField.VALUE))
    return value, int.from_bytes(value[1:5], "big")


def send(value, header, event_type, expected=None, schema=None, schema_id=None, reason=None):
    headers = [("item_type_name", header.encode())] if header is not None else None
    producer.produce(TOPIC, value=value, headers=headers)
    lines.append({"type": event_type, "value_hex": value.hex(), "json": expected, "schema": schema,
                  "schema_id": schema_id, "reason": reason})


def long(v):
    z = (v << 1) ^ (v >> 63)
    out = bytearray()
    while z >= 0x80:
        out.append((z & 0x7F) | 0x80)
        z >>= 7
    out.append(z)
    return bytes(out)


HOLD_TYPE = "delivery.events.DeliveryOnHoldV6"
CREATED_TYPE = "delivery.events.DeliveryCreatedV2"
if MODE == "header":
    for i in range(COUNT):
        kind = i % 5
        if kind == 0:
            record, expected = on_hold(i)
            send(schemaless(ON_HOLD, record), HOLD_TYPE, HOLD_TYPE, expected, "DeliveryOnHoldV6")
        elif kind == 1:
            record, expected = created(i)
            send(schemaless(CREATED, record), CREATED_TYPE, CREATED_TYPE, expected, CREATED_TYPE)
        elif kind == 2:
            record, expected = on_hold(i)
            value = container(ON_HOLD, record, ["null", "deflate"][i % 2])
            send(value, HOLD_TYPE, HOLD_TYPE, expected, "DeliveryOnHoldV6")
        elif kind == 3:
            record, expected = payment(i)
            value, schema_id = framed("payments.PaymentCaptured", record)
            send(value, "payments.PaymentCaptured", "payments.PaymentCaptured", expected,
                 "payments.PaymentCaptured", schema_id)
        else:
            send(b"\xff" + rng.randbytes(rng.randrange(0, 64)), "blob", "blob")
    good_hold = schemaless(ON_HOLD, on_hold(1)[0])
    good_container = container(ON_HOLD, on_hold(2)[0], "null")
    hostile = [
        (good_hold[:len(good_hold) // 2], HOLD_TYPE, "invalid_avro"),  # truncated
        (good_hold + b"\x00", HOLD_TYPE, "invalid_avro"),  # trailing bytes
        (b"\x02" * 100_000, "fixture.Node", "invalid_avro"),  # deep recursion
        (long(1 << 40), CREATED_TYPE, "invalid_avro"),  # a huge declared length
        (b"\x08", "fixture.Choice", "invalid_avro"),  # union index 4 of 2
        (long(10**9) + b"\x00", "fixture.Nulls", "invalid_avro"),  # a billion nulls
        (good_container[:-30], HOLD_TYPE, "invalid_avro"),  # truncated container
        (b"\x00\x00\x0f\x42\x3f\x02", "payments.Unknown", "unknown_schema"),  # id 999999
    ]
    for value, header, reason in hostile:
        send(value, header, "unclassified", reason=reason)
elif MODE == "record":
    for i in range(COUNT):
        kind = i % 3
        if kind == 0:
            record, expected = payment(i)
            value, schema_id = framed("payments.PaymentCaptured", record)
            send(value, None, "payments.PaymentCaptured", expected, "payments.PaymentCaptured", schema_id)
        elif kind == 1:
            record, expected = refund(i)
            value, schema_id = framed("payments.RefundIssued", record)
            send(value, None, "payments.RefundIssued", expected, "payments.RefundIssued", schema_id)
        else:
            # A container's embedded schema must stand alone: on_hold_v6 does.
            record, expected = on_hold(i)
            value = container(ON_HOLD, record, "deflate")
            send(value, None, "DeliveryOnHoldV6", expected, "DeliveryOnHoldV6")
else:
    sys.exit(f"unknown mode {MODE}")

if producer.flush(60) != 0:
    sys.exit("some messages were not delivered")
for line in lines:
    print(json.dumps(line))
