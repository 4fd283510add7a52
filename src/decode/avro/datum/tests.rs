use super::*;

/// A zig-zag varint, as an Avro writer encodes a long.
fn long(v: i64) -> Vec<u8> {
    let mut out = Vec::new();
    crate::varint::put_long(&mut out, v);
    out
}

fn string(s: &str) -> Vec<u8> {
    let mut out = long(s.len() as i64);
    out.extend_from_slice(s.as_bytes());
    out
}

fn json(schema: &str, bytes: &[u8]) -> Result<serde_json::Value> {
    let (schemas, root) = Schemas::parse_one(schema).unwrap();
    decode(&schemas, root, bytes, None)?;
    let mut out = Vec::new();
    decode(&schemas, root, bytes, Some(&mut out))?;
    Ok(serde_json::from_slice(&out).expect("the decoder writes JSON"))
}

const EVERY_TYPE: &str = r#"{"type":"record","name":"Every","namespace":"t","fields":[
    {"name":"n","type":"null"},
    {"name":"b","type":"boolean"},
    {"name":"i","type":"int"},
    {"name":"l","type":"long"},
    {"name":"f","type":"float"},
    {"name":"d","type":"double"},
    {"name":"nan","type":"double"},
    {"name":"inf","type":"double"},
    {"name":"ninf","type":"float"},
    {"name":"bytes","type":"bytes"},
    {"name":"s","type":"string"},
    {"name":"e","type":{"type":"enum","name":"Color","symbols":["RED","GREEN"]}},
    {"name":"fx","type":{"type":"fixed","name":"Two","size":2}},
    {"name":"a","type":{"type":"array","items":"int"}},
    {"name":"m","type":{"type":"map","values":"string"}},
    {"name":"u1","type":["null","string"]},
    {"name":"u2","type":["null","string"]},
    {"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":6,"scale":2}},
    {"name":"decfx","type":{"type":"fixed","name":"Money","size":4,"logicalType":"decimal","precision":8,"scale":3}},
    {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
    {"name":"tsu","type":{"type":"long","logicalType":"timestamp-micros"}},
    {"name":"date","type":{"type":"int","logicalType":"date"}},
    {"name":"tm","type":{"type":"int","logicalType":"time-millis"}},
    {"name":"uuid","type":{"type":"string","logicalType":"uuid"}},
    {"name":"uuidfx","type":{"type":"fixed","name":"U","size":16,"logicalType":"uuid"}},
    {"name":"big","type":"long"}
]}"#;

#[test]
fn every_type_renders_as_the_readme_says() {
    let mut v = Vec::new();
    v.push(1); // b
    v.extend(long(-7)); // i
    v.extend(long(1 << 40)); // l
    v.extend(1.5f32.to_le_bytes());
    v.extend(0.1f64.to_le_bytes());
    v.extend(f64::NAN.to_le_bytes());
    v.extend(f64::INFINITY.to_le_bytes());
    v.extend(f32::NEG_INFINITY.to_le_bytes());
    v.extend(long(3));
    v.extend([0, 0xff, b'a']);
    v.extend(string("h\u{e9}\"<"));
    v.extend(long(1)); // GREEN
    v.extend([1, 2]);
    v.extend(long(-2)); // a block of 2 items, with its size
    v.extend(long(2));
    v.extend(long(5));
    v.extend(long(6));
    v.extend(long(0));
    v.extend(long(1));
    v.extend(string("k"));
    v.extend(string("v"));
    v.extend(long(0));
    v.extend(long(0)); // u1: null
    v.extend(long(1)); // u2: string
    v.extend(string("x"));
    v.extend(long(2)); // dec: 1250
    v.extend([0x04, 0xe2]);
    v.extend((-5i32).to_be_bytes()); // decfx: -0.005
    v.extend(long(1_795_428_000_123));
    v.extend(long(1_795_428_000_123_456));
    v.extend(long(20_780));
    v.extend(long(36_000_123));
    v.extend(string("0f8fad5b-d9cb-469f-a165-70867728950e"));
    v.extend([
        0x0f, 0x8f, 0xad, 0x5b, 0xd9, 0xcb, 0x46, 0x9f, 0xa1, 0x65, 0x70, 0x86, 0x77, 0x28, 0x95,
        0x0e,
    ]);
    v.extend(long(i64::MIN));
    let value = json(EVERY_TYPE, &v).unwrap();
    assert_eq!(
        value,
        serde_json::json!({
            "n": null, "b": true, "i": -7, "l": 1u64 << 40, "f": 1.5, "d": 0.1,
            "nan": "NaN", "inf": "Infinity", "ninf": "-Infinity",
            "bytes": "AP9h", "s": "h\u{e9}\"<", "e": "GREEN", "fx": "AQI=",
            "a": [5, 6], "m": {"k": "v"}, "u1": null, "u2": "x",
            "dec": "12.50", "decfx": "-0.005",
            "ts": "2026-11-23T10:00:00.123Z", "tsu": "2026-11-23T10:00:00.123456Z",
            "date": "2026-11-23", "tm": "10:00:00.123",
            "uuid": "0f8fad5b-d9cb-469f-a165-70867728950e",
            "uuidfx": "0f8fad5b-d9cb-469f-a165-70867728950e",
            "big": i64::MIN
        })
    );
}

#[test]
fn decimals_are_exact_strings() {
    for (raw, scale, text) in [
        (&[][..], 2, "0.00"),
        (&[0x00], 0, "0"),
        (&[0x04, 0xe2], 2, "12.50"),
        (&[0x05], 2, "0.05"),
        (&[0xff], 2, "-0.01"),
        (&[0x80], 0, "-128"),
        (
            &[0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
            4,
            "236118324143482260.6847",
        ),
        (&[0xfb, 0x2e], 1, "-123.4"),
    ] {
        assert_eq!(decimal_string(raw, scale).unwrap(), text, "{raw:?}");
    }
    // 38 digits, a SQL decimal(38, 10)'s largest.
    let max: u128 = 10u128.pow(38) - 1;
    let raw = max.to_be_bytes();
    assert_eq!(
        decimal_string(&raw, 10).unwrap(),
        "9999999999999999999999999999.9999999999"
    );
    assert!(decimal_string(&[1; 129], 0).is_err());
}

#[test]
fn times_outside_what_text_can_say_stay_numbers() {
    assert_eq!(render_time(0, Logical::Date).as_deref(), Some("1970-01-01"));
    assert_eq!(
        render_time(-1, Logical::Date).as_deref(),
        Some("1969-12-31")
    );
    assert_eq!(
        render_time(2_932_896, Logical::Date).as_deref(),
        Some("9999-12-31")
    );
    assert_eq!(render_time(2_932_897, Logical::Date), None);
    assert_eq!(
        render_time(-719_162, Logical::Date).as_deref(),
        Some("0001-01-01")
    );
    assert_eq!(
        render_time(-1, Logical::TimestampMillis).as_deref(),
        Some("1969-12-31T23:59:59.999Z")
    );
    assert_eq!(
        render_time(5, Logical::LocalTimestampMicros).as_deref(),
        Some("1970-01-01T00:00:00.000005")
    );
    assert_eq!(render_time(i64::MAX, Logical::TimestampMillis), None);
    assert!(render_time(i64::MIN, Logical::TimestampNanos).is_some());
    assert_eq!(render_time(86_400_000, Logical::TimeMillis), None);
}

const LINKED: &str = r#"{"type":"record","name":"Node","fields":[
    {"name":"next","type":["null","Node"]}]}"#;

#[test]
fn hostile_datums_are_errors_not_crashes() {
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        // apache-avro 0.22 overflows its stack on this (~500 bytes of 0x02).
        (LINKED, vec![0x02; 100_000], "deeper"),
        ("\"string\"", long(1 << 40), "length"),
        ("\"string\"", long(-1), "length"),
        ("\"bytes\"", [long(10), vec![1, 2]].concat(), "length"),
        ("\"string\"", [long(2), vec![0xff, 0xfe]].concat(), "UTF-8"),
        ("\"long\"", vec![0xff; 11], "varint"),
        ("\"int\"", long(1 << 40), "out of range"),
        ("\"boolean\"", vec![2], "boolean"),
        ("\"double\"", vec![0; 3], "truncated"),
        ("[\"null\",\"int\"]", long(2), "union index 2"),
        ("[\"null\",\"int\"]", long(-1), "union index -1"),
        (
            r#"{"type":"enum","name":"E","symbols":["A"]}"#,
            long(1),
            "no symbol 1",
        ),
        (
            r#"{"type":"array","items":"null"}"#,
            long(i64::MAX),
            "items",
        ),
        (
            r#"{"type":"array","items":"null"}"#,
            [long(i64::MIN), long(0)].concat(),
            "items",
        ),
        (
            r#"{"type":"map","values":"null"}"#,
            [long(1_000_000), vec![0]].concat(),
            "items",
        ),
        ("\"int\"", vec![2, 0], "left after"),
        ("\"int\"", vec![], "truncated"),
        (
            r#"{"type":"bytes","logicalType":"decimal","precision":4,"scale":0}"#,
            [long(200), vec![1; 200]].concat(),
            "decimal",
        ),
    ];
    // A small stack: the depth limit, not the thread's size, is what holds.
    let outcome = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || {
            for (schema, bytes, why) in cases {
                let error = json(schema, &bytes).unwrap_err().0;
                assert!(
                    error.contains(why),
                    "{schema} {:?}: {error}",
                    &bytes[..bytes.len().min(12)]
                );
            }
        })
        .unwrap()
        .join();
    assert!(outcome.is_ok());
}

#[test]
fn nesting_up_to_the_limit_decodes_on_a_small_stack() {
    // Each level of Node is a record and a union: MAX_DEPTH / 2 - 1 levels fit.
    let levels = MAX_DEPTH / 2 - 1;
    let mut bytes = vec![0x02; levels];
    bytes.push(0x00);
    let outcome = std::thread::Builder::new()
        .stack_size(256 << 10)
        .spawn(move || {
            let value = json(LINKED, &bytes).unwrap();
            let mut depth = 0;
            let mut at = &value;
            while let Some(next) = at.get("next") {
                depth += 1;
                at = next;
            }
            assert_eq!(depth, levels + 1);
            let mut one_more = vec![0x02; levels + 1];
            one_more.push(0);
            assert!(json(LINKED, &one_more).unwrap_err().0.contains("deeper"));
        })
        .unwrap()
        .join();
    assert!(outcome.is_ok());
}

#[test]
fn zero_byte_items_cannot_make_a_few_bytes_into_much_output() {
    // 4,096 nulls from 3 bytes is allowed, the output stays small; a million is not.
    let schema = r#"{"type":"array","items":"null"}"#;
    let value = json(schema, &[long(4096), long(0)].concat()).unwrap();
    assert_eq!(value.as_array().map(Vec::len), Some(4096));
    assert!(json(schema, &[long(1_000_000), long(0)].concat()).is_err());
}
