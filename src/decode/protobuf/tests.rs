use std::collections::BTreeMap;
use std::path::PathBuf;

use proptest::prelude::*;
use prost_reflect::prost::Message as _;
use prost_reflect::prost_types::FileDescriptorSet;
use prost_reflect::{DynamicMessage, ReflectMessage as _, Value};

use super::*;

/// examples/protobuf/shop.desc: shop/money.proto and shop/orders.proto with their
/// imports (made by tests/protobuf/shop.py).
fn shop_desc() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/protobuf/shop.desc")
}

fn local() -> Protobuf {
    let types = BTreeMap::from([("order_placed".to_owned(), "shop.OrderPlaced".to_owned())]);
    Protobuf::load(&[shop_desc()], &types).unwrap()
}

/// The schema of shop/orders.proto as the registry serves it: money.proto as a
/// reference, the well-known types left out.
fn registry_file() -> ProtoFile {
    let set = FileDescriptorSet::decode(std::fs::read(shop_desc()).unwrap().as_slice()).unwrap();
    let encoded = |name: &str| {
        let file = set.file.iter().find(|f| f.name() == name).unwrap();
        BASE64.encode(file.encode_to_vec())
    };
    ProtoFile::from_serialized(&[
        ("shop/money.proto".to_owned(), encoded("shop/money.proto")),
        (String::new(), encoded("shop/orders.proto")),
    ])
    .unwrap()
}

fn json(message: &MessageDescriptor, bytes: &[u8]) -> Result<serde_json::Value, String> {
    let mut out = Vec::new();
    decode(message, bytes, Some(&mut out))?;
    decode(message, bytes, None)?;
    Ok(serde_json::from_slice(&out).unwrap())
}

fn order_placed(protobuf: &Protobuf) -> DynamicMessage {
    let descriptor = protobuf.message_of("order_placed").unwrap().clone();
    let mut message = DynamicMessage::new(descriptor.clone());
    message.set_field_by_name("order_id", Value::String("o-1".into()));
    message.set_field_by_name("sequence", Value::I64(-9_007_199_254_740_993));
    message.set_field_by_name("big", Value::U64(u64::MAX));
    message.set_field_by_name("status", Value::EnumNumber(2));
    message.set_field_by_name("signature", Value::Bytes(vec![0, 255, 60].into()));
    message.set_field_by_name("voucher_code", Value::String("<b>x</b>".into()));
    message.set_field_by_name("weights", Value::List(vec![Value::I32(-1), Value::I32(7)]));
    let mut at = DynamicMessage::new(
        descriptor
            .parent_pool()
            .get_message_by_name("google.protobuf.Timestamp")
            .unwrap(),
    );
    at.set_field_by_name("seconds", Value::I64(1_767_225_600));
    at.set_field_by_name("nanos", Value::I32(5_000_000));
    message.set_field_by_name("placed_at", Value::Message(at));
    message
}

#[test]
fn a_message_renders_as_proto3_canonical_json() {
    let protobuf = local();
    let message = order_placed(&protobuf);
    let rendered = json(&message.descriptor(), &message.encode_to_vec()).unwrap();
    assert_eq!(
        rendered,
        serde_json::json!({
            "orderId": "o-1",
            "sequence": "-9007199254740993",
            "big": "18446744073709551615",
            "status": "PAID",
            "signature": "AP88",
            "voucherCode": "<b>x</b>",
            "weights": [-1, 7],
            "placedAt": "2026-01-01T00:00:00.005Z",
        })
    );
    // Defaults are left out: an empty message is `{}`.
    assert_eq!(
        json(&message.descriptor(), b"").unwrap(),
        serde_json::json!({})
    );
    // A full name is a type too, with no mapping.
    assert!(protobuf.message_of("shop.OrderShipped.Parcel").is_some());
    assert!(protobuf.message_of("google.protobuf.Timestamp").is_none());
}

#[test]
fn a_message_index_path_names_nested_and_later_messages() {
    let file = registry_file();
    assert_eq!(file.message(&[0]).unwrap().full_name(), "shop.OrderPlaced");
    assert_eq!(file.message(&[1]).unwrap().full_name(), "shop.OrderShipped");
    assert_eq!(
        file.message(&[1, 0]).unwrap().full_name(),
        "shop.OrderShipped.Parcel"
    );
    assert_eq!(
        file.message(&[0, 0]).unwrap().full_name(),
        "shop.OrderPlaced.Line"
    );
    for bad in [&[3][..], &[1, 1], &[1, 0, 0], &[9, 9, 9]] {
        assert!(file.message(bad).is_err(), "{bad:?}");
    }
    // The single byte 0 is the path [0]; else a zig-zag count, then the indexes.
    assert_eq!(read_path(&[0, 42]).unwrap(), (vec![0], &[42][..]));
    assert_eq!(read_path(&[4, 2, 0, 9]).unwrap(), (vec![1, 0], &[9][..]));
    assert_eq!(read_path(&[2, 2]).unwrap(), (vec![1], &[][..]));
    for hostile in [
        &[][..],
        &[1],                // a count of -1
        &[4, 2],             // two indexes announced, one given
        &[2, 1],             // index -1
        &[0x80, 0x80, 0x80], // a varint cut short
        &[0xfe, 0xff, 0x03], // 32767 indexes announced
        &[0xff; 11],         // a varint past 10 bytes
    ] {
        assert!(read_path(hostile).is_err(), "{hostile:?}");
    }
}

#[test]
fn a_schema_whose_reference_is_missing_or_garbled_is_refused_with_the_reason() {
    let set = FileDescriptorSet::decode(std::fs::read(shop_desc()).unwrap().as_slice()).unwrap();
    let orders = set
        .file
        .iter()
        .find(|f| f.name() == "shop/orders.proto")
        .unwrap();
    let orders = BASE64.encode(orders.encode_to_vec());
    let why = ProtoFile::from_serialized(&[(String::new(), orders.clone())]).unwrap_err();
    assert!(why.contains("do not resolve"), "{why}");
    let why =
        ProtoFile::from_serialized(&[(String::new(), "syntax = \"proto3\";".into())]).unwrap_err();
    assert!(why.contains("not base64"), "{why}");
    let why =
        ProtoFile::from_serialized(&[(String::new(), BASE64.encode([0xff, 0xff]))]).unwrap_err();
    assert!(why.contains("not a FileDescriptorProto"), "{why}");
}

#[test]
fn hostile_bytes_fail_with_a_reason_never_a_crash() {
    let protobuf = local();
    let node = protobuf.message_of("shop.Node").unwrap().clone();
    // 10,000 levels of nesting: refused at prost's limit (100), no stack overflow.
    let mut deep = Vec::new();
    for _ in 0..10_000 {
        let mut outer = vec![0x0a];
        prost_reflect::prost::encoding::encode_varint(deep.len() as u64, &mut outer);
        outer.extend_from_slice(&deep);
        deep = outer;
    }
    assert!(json(&node, &deep).is_err());
    let placed = protobuf.message_of("order_placed").unwrap().clone();
    for hostile in [
        &[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f][..], // a string of 4 GiB announced
        &[0x62, 0xff, 0xff, 0xff, 0x7f],           // packed weights of 256 MiB announced
        &[0x0a, 0x05, b'a'],                       // a length past the end
        &[0x08, 0x01],                             // field 1 (a string) as a varint
        &[0x0a, 0x02, 0xff, 0xfe],                 // a string that is not UTF-8
        &[0x28],                                   // a tag and no value
        &[0x00],                                   // field number 0
    ] {
        let error = json(&placed, hostile).unwrap_err();
        assert!(error.contains("shop.OrderPlaced"), "{hostile:?}: {error}");
    }
    // Well-formed bytes with no JSON form (a Timestamp past year 9999, a Duration
    // past 10,000 years): the check refuses them as rendering does; the same
    // number in a field of no well-known type has one.
    let mut far = Vec::new();
    prost_reflect::prost::encoding::encode_varint(1 << 40, &mut far);
    let length = far.len() as u8 + 1;
    let shipped = protobuf.message_of("shop.OrderShipped").unwrap().clone();
    let line = protobuf
        .message_of("shop.OrderPlaced.Line")
        .unwrap()
        .clone();
    for (message, field, inner, has_json) in [
        (&placed, 0x4a, 0x08, false),  // placed_at.seconds
        (&shipped, 0x1a, 0x08, false), // transit.seconds
        (&line, 0x1a, 0x10, true),     // price.units
    ] {
        let bytes = [&[field, length, inner][..], &far].concat();
        let check = decode(message, &bytes, None);
        let render = decode(message, &bytes, Some(&mut Vec::new()));
        assert_eq!(
            check.is_ok(),
            has_json,
            "{}: {check:?}",
            message.full_name()
        );
        assert_eq!(
            render.is_ok(),
            has_json,
            "{}: {render:?}",
            message.full_name()
        );
        if let Err(why) = check {
            assert!(why.contains("no JSON form"), "{why}");
        }
    }
    // An enum number the schema lacks is kept as a number, as proto3 says.
    assert_eq!(
        json(&placed, &[0x28, 0x09]).unwrap(),
        serde_json::json!({"status": 9})
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    /// Any bytes, as any message of the set: decoded to JSON that parses, or an
    /// error; the check agrees with the rendering.
    #[test]
    fn any_bytes_decode_to_json_or_fail(bytes in proptest::collection::vec(any::<u8>(), 0..200), which in 0usize..4) {
        let protobuf = local();
        let name = ["shop.OrderPlaced", "shop.OrderShipped", "shop.Node", "shop.OrderPlaced.Line"][which];
        let message = protobuf.message_of(name).unwrap();
        let mut out = Vec::new();
        let rendered = decode(message, &bytes, Some(&mut out));
        prop_assert_eq!(rendered.is_ok(), decode(message, &bytes, None).is_ok());
        if rendered.is_ok() {
            prop_assert!(serde_json::from_slice::<serde_json::Value>(&out).is_ok());
        }
    }

    /// Messages made of arbitrary field values render as prost-reflect's own
    /// JSON of the message, after a trip through their bytes.
    #[test]
    fn encoded_messages_decode_to_their_json(
        order_id in ".{0,12}",
        sequence in any::<i64>(),
        big in any::<u64>(),
        status in 0i32..6,
        weights in proptest::collection::vec(any::<i32>(), 0..5),
        labels in proptest::collection::btree_map("[a-z]{1,4}", ".{0,6}", 0..4),
        discount in any::<f64>(),
    ) {
        let protobuf = local();
        let descriptor = protobuf.message_of("order_placed").unwrap().clone();
        let mut message = DynamicMessage::new(descriptor.clone());
        message.set_field_by_name("order_id", Value::String(order_id));
        message.set_field_by_name("sequence", Value::I64(sequence));
        message.set_field_by_name("big", Value::U64(big));
        message.set_field_by_name("status", Value::EnumNumber(status));
        message.set_field_by_name("weights", Value::List(weights.into_iter().map(Value::I32).collect()));
        message.set_field_by_name("discount", Value::F64(discount));
        let map = labels
            .into_iter()
            .map(|(k, v)| (prost_reflect::MapKey::String(k), Value::String(v)))
            .collect();
        message.set_field_by_name("labels", Value::Map(map));
        // Both through text: serde_json parses floats to the nearest double but one.
        let expected: serde_json::Value =
            serde_json::from_str(&serde_json::to_string(&message).unwrap()).unwrap();
        let rendered = json(&descriptor, &message.encode_to_vec()).unwrap();
        prop_assert_eq!(rendered, expected);
    }
}
