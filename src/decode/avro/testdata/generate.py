"""Writes the fastavro-made fixtures the avro unit tests decode (run from this
directory: python3 generate.py). fastavro is what the event-sourcing services use."""
import datetime, decimal, io, json, uuid

import fastavro

SCHEMA = {"type": "record", "name": "DeliveryOnHoldV1", "namespace": "fixture.events", "fields": [
    {"name": "delivery_id", "type": {"type": "string", "logicalType": "uuid"}},
    {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "on", "type": {"type": "int", "logicalType": "date"}},
    {"name": "reason", "type": ["null", "string"]},
    {"name": "status", "type": {"type": "enum", "name": "Status", "symbols": ["HELD", "RELEASED"]}},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
    {"name": "raw", "type": "bytes"},
    {"name": "score", "type": "double"}]}
RECORD = {"delivery_id": uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e"),
          "amount": decimal.Decimal("12.50"),
          "at": datetime.datetime(2026, 11, 23, 10, 0, 0, 123000, tzinfo=datetime.timezone.utc),
          "on": datetime.date(2026, 11, 23), "reason": "address", "status": "HELD",
          "tags": ["a", "b"], "raw": b"\x00\xff", "score": float("nan")}

parsed = fastavro.parse_schema(SCHEMA)
with open("schemas/on_hold.avsc", "w") as f:
    json.dump(SCHEMA, f, indent=1)
with open("schemaless.bin", "wb") as f:
    fastavro.schemaless_writer(f, parsed, RECORD)
for codec in ["null", "deflate", "snappy", "zstandard"]:
    with open(f"container-{codec}.avro", "wb") as f:
        fastavro.writer(f, parsed, [RECORD, RECORD], codec=codec)
