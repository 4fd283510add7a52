"""The test schemas, built as FileDescriptorProtos in code (no protoc here):

  shop/money.proto   package shop; message Money (a file of its own, so
                     orders.proto's schema has a reference to another subject)
  shop/orders.proto  package shop; imports money.proto and the well-known
                     Timestamp, Duration and wrappers:
                       OrderPlaced   (the file's first message: path [0]) with a
                                     nested Line, an enum, a map, repeated,
                                     bytes, 64-bit integers, a Timestamp, a oneof
                       OrderShipped  (the second: path [1]) with a nested
                                     Parcel (path [1, 0]), a Duration, wrappers
                       Node          (recursive, for hostile depth)

`python3 shop.py OUT.desc` writes them as a FileDescriptorSet with their imports,
as `protoc --descriptor_set_out=OUT.desc --include_imports` would: the set the
local-descriptor tests load (examples/protobuf/shop.desc, committed).
"""
import sys

from google.protobuf import descriptor_pb2, descriptor_pool, duration_pb2, message_factory
from google.protobuf import timestamp_pb2, wrappers_pb2

F = descriptor_pb2.FieldDescriptorProto


def field(message, name, number, kind, type_name=None, label=F.LABEL_OPTIONAL, oneof=None):
    f = message.field.add(name=name, number=number, type=kind, label=label)
    if type_name:
        f.type_name = type_name
    if oneof is not None:
        f.oneof_index = oneof
    return f


def money_file():
    fd = descriptor_pb2.FileDescriptorProto(name="shop/money.proto", package="shop", syntax="proto3")
    money = fd.message_type.add(name="Money")
    field(money, "currency", 1, F.TYPE_STRING)
    field(money, "units", 2, F.TYPE_INT64)
    field(money, "nanos", 3, F.TYPE_INT32)
    return fd


def orders_file():
    fd = descriptor_pb2.FileDescriptorProto(name="shop/orders.proto", package="shop", syntax="proto3")
    fd.dependency.extend(["shop/money.proto", "google/protobuf/timestamp.proto",
                          "google/protobuf/duration.proto", "google/protobuf/wrappers.proto"])
    placed = fd.message_type.add(name="OrderPlaced")
    line = placed.nested_type.add(name="Line")
    field(line, "sku", 1, F.TYPE_STRING)
    field(line, "quantity", 2, F.TYPE_INT32)
    field(line, "price", 3, F.TYPE_MESSAGE, ".shop.Money")
    labels = placed.nested_type.add(name="LabelsEntry")
    labels.options.map_entry = True
    field(labels, "key", 1, F.TYPE_STRING)
    field(labels, "value", 2, F.TYPE_STRING)
    status = placed.enum_type.add(name="Status")
    for number, name in enumerate(["STATUS_UNSPECIFIED", "PLACED", "PAID", "CANCELLED"]):
        status.value.add(name=name, number=number)
    placed.oneof_decl.add(name="payment")
    field(placed, "order_id", 1, F.TYPE_STRING)
    field(placed, "total", 2, F.TYPE_MESSAGE, ".shop.Money")
    field(placed, "lines", 3, F.TYPE_MESSAGE, ".shop.OrderPlaced.Line", label=F.LABEL_REPEATED)
    field(placed, "labels", 4, F.TYPE_MESSAGE, ".shop.OrderPlaced.LabelsEntry", label=F.LABEL_REPEATED)
    field(placed, "status", 5, F.TYPE_ENUM, ".shop.OrderPlaced.Status")
    field(placed, "signature", 6, F.TYPE_BYTES)
    field(placed, "sequence", 7, F.TYPE_INT64)
    field(placed, "big", 8, F.TYPE_UINT64)
    field(placed, "placed_at", 9, F.TYPE_MESSAGE, ".google.protobuf.Timestamp")
    field(placed, "card_token", 10, F.TYPE_STRING, oneof=0)
    field(placed, "voucher_code", 11, F.TYPE_STRING, oneof=0)
    field(placed, "weights", 12, F.TYPE_SINT32, label=F.LABEL_REPEATED)
    field(placed, "discount", 13, F.TYPE_DOUBLE)

    shipped = fd.message_type.add(name="OrderShipped")
    parcel = shipped.nested_type.add(name="Parcel")
    field(parcel, "tracking", 1, F.TYPE_STRING)
    field(parcel, "grams", 2, F.TYPE_FIXED64, label=F.LABEL_REPEATED)
    field(shipped, "order_id", 1, F.TYPE_STRING)
    field(shipped, "parcel", 2, F.TYPE_MESSAGE, ".shop.OrderShipped.Parcel")
    field(shipped, "transit", 3, F.TYPE_MESSAGE, ".google.protobuf.Duration")
    field(shipped, "attempts", 4, F.TYPE_MESSAGE, ".google.protobuf.Int64Value")
    field(shipped, "note", 5, F.TYPE_MESSAGE, ".google.protobuf.StringValue")
    field(shipped, "signed", 6, F.TYPE_MESSAGE, ".google.protobuf.BoolValue")

    node = fd.message_type.add(name="Node")
    field(node, "child", 1, F.TYPE_MESSAGE, ".shop.Node")
    field(node, "label", 2, F.TYPE_STRING)
    return fd


MONEY_FILE = money_file()
ORDERS_FILE = orders_file()
_pool = descriptor_pool.Default()
_pool.Add(MONEY_FILE)
_pool.Add(ORDERS_FILE)


def message_class(name):
    return message_factory.GetMessageClass(_pool.FindMessageTypeByName(name))


Money = message_class("shop.Money")
OrderPlaced = message_class("shop.OrderPlaced")
OrderShipped = message_class("shop.OrderShipped")
Parcel = message_class("shop.OrderShipped.Parcel")
Node = message_class("shop.Node")


def descriptor_set():
    files = descriptor_pb2.FileDescriptorSet()
    for module in (timestamp_pb2, duration_pb2, wrappers_pb2):
        files.file.add().ParseFromString(module.DESCRIPTOR.serialized_pb)
    files.file.extend([MONEY_FILE, ORDERS_FILE])
    return files


if __name__ == "__main__":
    with open(sys.argv[1], "wb") as out:
        out.write(descriptor_set().SerializeToString())
