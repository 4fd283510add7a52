use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::*;
use crate::decode::DecodeError;

const SCHEMALESS: &[u8] = include_bytes!("testdata/schemaless.bin");
const CONTAINER_NULL: &[u8] = include_bytes!("testdata/container-null.avro");
const CONTAINER_DEFLATE: &[u8] = include_bytes!("testdata/container-deflate.avro");
const CONTAINER_SNAPPY: &[u8] = include_bytes!("testdata/container-snappy.avro");
const CONTAINER_ZSTANDARD: &[u8] = include_bytes!("testdata/container-zstandard.avro");
const FIXTURE_TYPE: &str = "fixture.events.DeliveryOnHoldV1";

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src/decode/avro/testdata/schemas")
}

fn fixture_json() -> serde_json::Value {
    serde_json::json!({
        "delivery_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "amount": "12.50",
        "at": "2026-11-23T10:00:00.123Z",
        "on": "2026-11-23",
        "reason": "address",
        "status": "HELD",
        "tags": ["a", "b"],
        "raw": "AP8=",
        "score": "NaN"
    })
}

fn local(types: &BTreeMap<String, String>) -> Avro {
    let dir = testdata();
    Avro::load(&AvroSource {
        schemas_dir: Some(&dir),
        types: Some(types),
    })
    .unwrap()
}

fn decoded(avro: &Avro, event_type: Option<&str>, value: &[u8]) -> (serde_json::Value, Decoded) {
    let decoded = avro.to_json(event_type, value).unwrap().unwrap();
    (serde_json::from_slice(&decoded.json).unwrap(), decoded)
}

#[test]
fn fastavro_values_decode_to_the_documented_json() {
    let types = BTreeMap::from([("on_hold".to_owned(), FIXTURE_TYPE.to_owned())]);
    let avro = local(&types);
    // Schemaless, chosen by the type's full name or by the mapping.
    for event_type in [FIXTURE_TYPE, "on_hold"] {
        let (json, decoded) = decoded(&avro, Some(event_type), SCHEMALESS);
        assert_eq!(json, fixture_json());
        assert_eq!(&*decoded.schema, FIXTURE_TYPE);
        assert_eq!(decoded.schema_id, None);
        assert_eq!(
            avro.check(Some(event_type), SCHEMALESS).unwrap().as_deref(),
            Some(FIXTURE_TYPE)
        );
    }
    // Container files, whatever the type: the first record, the embedded schema.
    for file in [
        CONTAINER_NULL,
        CONTAINER_DEFLATE,
        CONTAINER_SNAPPY,
        CONTAINER_ZSTANDARD,
    ] {
        for event_type in [None, Some("any"), Some(FIXTURE_TYPE)] {
            let (json, decoded) = decoded(&avro, event_type, file);
            assert_eq!(json, fixture_json());
            assert_eq!(&*decoded.schema, FIXTURE_TYPE);
        }
    }
    // Not Avro: no local schema, no container, no registry.
    assert!(avro.to_json(Some("other"), SCHEMALESS).unwrap().is_none());
    assert!(avro.check(None, b"{\"a\":1}").unwrap().is_none());
}

#[test]
fn broken_values_are_invalid_avro_with_a_reason() {
    let avro = local(&BTreeMap::new());
    let mut trailing = SCHEMALESS.to_vec();
    trailing.push(0);
    let mut bad_codec = CONTAINER_NULL.to_vec();
    let at = bad_codec.windows(4).position(|w| w == b"null").unwrap();
    bad_codec[at..at + 4].copy_from_slice(b"xz\0\0");
    for (value, why) in [
        (&SCHEMALESS[..30], "length 36 with 29 bytes left"),
        (&trailing[..], "left after"),
        (&CONTAINER_NULL[..200], "container file: length"),
        (
            &CONTAINER_DEFLATE[..CONTAINER_DEFLATE.len() - 40],
            "container file: length",
        ),
        (
            &bad_codec[..],
            "container file: codec \"xz\\0\\0\" is not supported",
        ),
        (b"Obj\x01\x00", "container file: no schema"),
    ] {
        let error = avro.check(Some(FIXTURE_TYPE), value).unwrap_err();
        assert!(
            matches!(&error, DecodeError::Invalid(_, m) if m.contains(why)),
            "{why}: {error}"
        );
    }
}

/// A container file of `bytes` records with `codec`, one block of `block`.
fn container_file(codec: &[u8], block: &[u8]) -> Vec<u8> {
    let schema = br#""bytes""#;
    let long = |v: i64| -> Vec<u8> {
        let mut out = Vec::new();
        crate::varint::put_long(&mut out, v);
        out
    };
    let mut file = b"Obj\x01".to_vec();
    file.extend(long(2));
    for (key, value) in [(&b"avro.schema"[..], &schema[..]), (b"avro.codec", codec)] {
        file.extend(long(key.len() as i64));
        file.extend(key);
        file.extend(long(value.len() as i64));
        file.extend(value);
    }
    file.extend(long(0));
    file.extend([7; 16]);
    file.extend(long(1));
    file.extend(long(block.len() as i64));
    file.extend(block);
    file
}

#[test]
fn a_deflate_bomb_inflates_at_most_64_times_its_size() {
    use std::io::Write as _;
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&vec![0u8; 64 << 20]).unwrap();
    let compressed = encoder.finish().unwrap();
    let file = container_file(b"deflate", &compressed);
    let inflated = container::read(&file).unwrap().records.len();
    assert_eq!(inflated, compressed.len() * 64 + (64 << 10));
    assert!(
        inflated < 8 << 20,
        "{inflated} bytes from {}",
        compressed.len()
    );
}

#[test]
fn a_zstandard_bomb_inflates_at_most_64_times_its_size() {
    let compressed = zstd::bulk::compress(&vec![0u8; 64 << 20], 19).unwrap();
    let file = container_file(b"zstandard", &compressed);
    let inflated = container::read(&file).unwrap().records.len();
    assert_eq!(inflated, compressed.len() * 64 + (64 << 10));
}

/// Why reading `file` failed ("" if it did not; the records are not printed).
fn refusal(file: &[u8]) -> String {
    container::read(file).err().map(|e| e.0).unwrap_or_default()
}

#[test]
fn a_snappy_block_that_claims_too_much_or_fails_its_checksum_is_refused() {
    // Snappy inflates at most ~21 times, but a block's header claims its length,
    // which a decoder allocates first: 1 GiB from 8 bytes is refused unread.
    let mut claim = Vec::new();
    crate::varint::put_long(&mut claim, 1 << 29); // zig-zag: the varint 1 << 30
    claim.extend([0, 0, 0, 0, 0, 0, 0, 0]);
    let refused = refusal(&container_file(b"snappy", &claim));
    assert!(refused.contains("more than 64 times its size"), "{refused}");

    let records = b"\x04\x00\xff".repeat(100);
    let mut block = snap::raw::Encoder::new().compress_vec(&records).unwrap();
    block.extend(crc32fast::hash(&records).to_be_bytes());
    let file = container_file(b"snappy", &block);
    assert_eq!(&*container::read(&file).unwrap().records, &records[..]);
    let last = block.len() - 1;
    block[last] ^= 1;
    let refused = refusal(&container_file(b"snappy", &block));
    assert!(refused.contains("checksum does not match"), "{refused}");
    let refused = refusal(&container_file(b"snappy", &[1, 2]));
    assert!(refused.contains("shorter than its checksum"), "{refused}");
}

#[test]
fn configuration_problems_name_the_key_and_the_file() {
    let dir = std::env::temp_dir().join(format!("analyzer-avro-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let load = |types: &BTreeMap<String, String>| {
        Avro::load(&AvroSource {
            schemas_dir: Some(&dir),
            types: Some(types),
        })
    };
    let none = BTreeMap::new();
    let problems = load(&none).err().unwrap();
    assert!(problems[0].1.contains("no *.avsc"), "{problems:?}");
    std::fs::write(
        dir.join("a.avsc"),
        r#"{"type":"record","name":"A","fields":[{"name":"b","type":"B"}]}"#,
    )
    .unwrap();
    let problems = load(&none).err().unwrap();
    assert_eq!(problems[0].0, "avro.schemas_dir");
    assert!(
        problems[0].1.contains("a.avsc") && problems[0].1.contains("unknown type \"B\""),
        "{problems:?}"
    );
    // Defined in another file: resolves.
    std::fs::write(
        dir.join("b.avsc"),
        r#"{"type":"enum","name":"B","symbols":["X"]}"#,
    )
    .unwrap();
    assert!(load(&none).is_ok());
    std::fs::write(dir.join("c.avsc"), "{not json").unwrap();
    let problems = load(&none).err().unwrap();
    assert!(
        problems[0].1.contains("c.avsc") && problems[0].1.contains("not JSON"),
        "{problems:?}"
    );
    std::fs::remove_file(dir.join("c.avsc")).unwrap();
    let types = BTreeMap::from([("t".to_owned(), "Nope".to_owned())]);
    let problems = load(&types).err().unwrap();
    let keys: Vec<&str> = problems.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(keys, ["avro.types"]);
    assert!(
        problems[0].1.contains("\"Nope\"") && problems[0].1.contains("A, B"),
        "{problems:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_shipped_example_schemas_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/schemas");
    let avro = Avro::load(&AvroSource {
        schemas_dir: Some(&dir),
        ..AvroSource::default()
    })
    .unwrap();
    for name in [
        "delivery.common.Address",
        "delivery.events.DeliveryCreatedV2",
        "delivery.events.DeliveryOnHoldV6",
        "delivery.events.Item",
        "delivery.events.Priority",
    ] {
        assert!(avro.by_type.contains_key(name), "{name}");
    }
}

proptest::proptest! {
    /// The fuzz target's property on a budget (tests/fuzz/fuzz_targets/avro.rs runs
    /// it for hours): any bytes under a recursive schema, a schema of every type,
    /// or as a container file decode or fail, and check and render agree.
    #[test]
    fn any_bytes_decode_or_fail_and_check_agrees_with_render(
        data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
        prefix in proptest::sample::select(vec![&b""[..], b"Obj\x01", b"\x02\x02\x02\x02"]),
    ) {
        let types = BTreeMap::from([
            ("node".to_owned(), "fixture.Node".to_owned()),
            ("every".to_owned(), FIXTURE_TYPE.to_owned()),
        ]);
        let avro = local_with(&types, &[r#"{"type":"record","name":"fixture.Node","fields":[{"name":"next","type":["null","fixture.Node"]},{"name":"kids","type":{"type":"array","items":"fixture.Node"}}]}"#]);
        let value = [prefix, &data[..]].concat();
        for event_type in [Some("node"), Some("every"), None] {
            let checked = avro.check(event_type, &value);
            let rendered = avro.to_json(event_type, &value);
            proptest::prop_assert_eq!(checked.is_ok(), rendered.is_ok());
            if let Ok(Some(decoded)) = rendered {
                proptest::prop_assert!(serde_json::from_slice::<serde_json::Value>(&decoded.json).is_ok());
            }
        }
    }
}

/// The fixture schemas plus `extra` schema texts, in a directory of their own.
fn local_with(types: &BTreeMap<String, String>, extra: &[&str]) -> Avro {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    let dir = DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("analyzer-avro-prop-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(testdata().join("on_hold.avsc"), dir.join("on_hold.avsc")).unwrap();
        for (i, text) in extra.iter().enumerate() {
            std::fs::write(dir.join(format!("extra{i}.avsc")), text).unwrap();
        }
        dir
    });
    Avro::load(&AvroSource {
        schemas_dir: Some(dir),
        types: Some(types),
    })
    .unwrap()
}
