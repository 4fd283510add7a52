use super::store;
use super::*;

fn sample() -> Snapshot {
    Snapshot {
        topics: vec!["b".into(), "a".into()],
        partitions: vec![
            PartitionMark {
                topic: 0,
                partition: 0,
                next_offset: 5,
                clock: 1_795_435_200_123,
                last_timestamp: Some(1_795_435_200_100),
                last_checksum: Some(0xdead_beef),
            },
            PartitionMark {
                topic: 1,
                partition: 2,
                next_offset: 0,
                clock: 0,
                last_timestamp: None,
                last_checksum: None,
            },
        ],
        types: vec![
            TypeRows {
                name: Some("heart_rate".into()),
                streams: vec![StreamRows {
                    topic: 0,
                    partition: 0,
                    value_bytes: 600,
                    rows: vec![
                        (0, 1_795_435_200_000),
                        (3, 1_795_435_200_000),
                        (4, 1_795_435_200_123),
                    ],
                }],
            },
            TypeRows {
                name: Some("declared_only".into()),
                streams: vec![],
            },
            TypeRows {
                name: None,
                streams: vec![StreamRows {
                    topic: 0,
                    partition: 0,
                    value_bytes: 7,
                    rows: vec![(1, 1_795_435_200_000)],
                }],
            },
        ],
        unclassified: vec![vec![("invalid_json".into(), 1)], vec![]],
        keys: Some(KeySection {
            rule: "kafka_key".into(),
            keys: vec![
                KeyRows {
                    key: b"p-0017".to_vec(),
                    events: vec![
                        KeyRow {
                            type_ref: 0,
                            topic: 0,
                            partition: 0,
                            row: 0,
                        },
                        KeyRow {
                            type_ref: 2,
                            topic: 0,
                            partition: 0,
                            row: 0,
                        },
                    ],
                },
                KeyRows {
                    key: vec![0xff, 0xfe],
                    events: vec![KeyRow {
                        type_ref: 0,
                        topic: 0,
                        partition: 0,
                        row: 2,
                    }],
                },
            ],
        }),
        typing: "json_field \"type\", max_types 10000; no value formats".into(),
    }
}

#[test]
fn a_snapshot_reads_back_as_written() {
    let snapshot = sample();
    let bytes = snapshot.encode();
    assert_eq!(Snapshot::decode(&bytes).unwrap(), snapshot);
    assert_eq!(snapshot.events(), 4);
    // Without the key index, and as format 2 wrote it (no key section, no typing:
    // that reads as unknown).
    let without = Snapshot {
        keys: None,
        typing: String::new(),
        ..sample()
    };
    let bytes = without.encode();
    assert_eq!(Snapshot::decode(&bytes).unwrap(), without);
    // No "no keys" flag, no empty typing, no CRC.
    let mut version_2 = bytes[..bytes.len() - 6].to_vec();
    version_2[8..12].copy_from_slice(&2u32.to_le_bytes());
    let crc = crc32fast::hash(&version_2);
    version_2.extend_from_slice(&crc.to_le_bytes());
    assert_eq!(Snapshot::decode(&version_2).unwrap(), without);
}

#[test]
fn any_damage_is_an_error_never_another_snapshot() {
    let bytes = sample().encode();
    for cut in 0..bytes.len() {
        assert!(
            Snapshot::decode(&bytes[..cut]).is_err(),
            "truncated at {cut}"
        );
    }
    for at in 0..bytes.len() {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x10;
        assert!(Snapshot::decode(&damaged).is_err(), "flipped at {at}");
    }
    let mut other_version = bytes.clone();
    other_version[8] = 1;
    let error = Snapshot::decode(&other_version).unwrap_err().0;
    assert!(error.contains("format version 1"), "{error}");
}

#[test]
fn a_well_formed_but_hostile_snapshot_is_refused_with_its_reason() {
    // Each is encoded whole, with a valid checksum: only its values are hostile.
    type MakeHostile = fn(&mut Snapshot);
    let hostile: [(&str, MakeHostile); 11] = [
        ("which the snapshot does not hold", |s| {
            s.keys.as_mut().unwrap().keys[1].events[0].row = 3
        }),
        ("which the snapshot does not hold", |s| {
            s.keys.as_mut().unwrap().keys[0].events[0].type_ref = 1
        }),
        ("which the snapshot does not hold", |s| {
            s.keys.as_mut().unwrap().keys[0].events[0].partition = 2
        }),
        ("next offset -9223372036854775808", |s| {
            s.partitions[0].next_offset = i64::MIN
        }),
        ("a last record in a partition with none read", |s| {
            s.partitions[1].last_checksum = Some(1)
        }),
        ("partition -1", |s| s.partitions[1].partition = -1),
        ("in a stream", |s| {
            s.types[0].streams[0].rows[2].0 = u64::MAX
        }),
        ("in a stream", |s| s.types[0].streams[0].rows[1].0 = 0),
        ("which is not marked there", |s| {
            s.types[0].streams[0].rows[2].0 = 5
        }),
        ("which is not marked there", |s| {
            s.types[2].streams[0].topic = 7
        }),
        ("marked twice", |s| {
            let mark = s.partitions[0];
            s.partitions.push(mark)
        }),
    ];
    for (reason, make_hostile) in hostile {
        let mut snapshot = sample();
        make_hostile(&mut snapshot);
        let error = Snapshot::decode(&snapshot.encode()).unwrap_err().0;
        assert!(error.contains(reason), "{reason:?} not in {error:?}");
    }
}

#[test]
fn the_store_keeps_the_newest_whole_and_says_why_it_cannot_read_one() {
    let dir = std::env::temp_dir().join(format!("analyzer-snapshot-store-{}", std::process::id()));
    let _ = fs_remove(&dir);
    assert_eq!(store::read(&dir).unwrap(), None);
    let first = store::write(&dir, &sample()).unwrap();
    let mut second = sample();
    second.partitions[0].next_offset = 6;
    std::thread::sleep(std::time::Duration::from_millis(2));
    let written = store::write(&dir, &second).unwrap();
    assert_ne!(first.manifest.segment, written.manifest.segment);
    let (manifest, read) = store::read(&dir).unwrap().unwrap();
    assert_eq!(read, second);
    assert_eq!(manifest, written.manifest);
    // One segment left: the older one is deleted once unreferenced.
    let segments: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("snapshot-"))
        .collect();
    assert_eq!(segments.len(), 1);
    // A leftover temporary file from a crash mid-write changes nothing.
    std::fs::write(dir.join("snapshot-9.bin.tmp"), b"half").unwrap();
    assert_eq!(store::read(&dir).unwrap().unwrap().1, second);
    // A segment that is not what the manifest says is refused, not decoded.
    let segment = dir.join(&manifest.segment);
    let bytes = std::fs::read(&segment).unwrap();
    std::fs::write(&segment, &bytes[..bytes.len() - 1]).unwrap();
    let error = store::read(&dir).unwrap_err().0;
    assert!(error.contains("corrupt or truncated"), "{error}");
    std::fs::write(dir.join(store::MANIFEST), b"{").unwrap();
    assert!(store::read(&dir).is_err());
    let _ = fs_remove(&dir);
}

fn fs_remove(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::remove_dir_all(dir)
}

#[test]
fn a_records_checksum_covers_key_and_value_apart() {
    let checksum = record_checksum(Some(b"k"), Some(b"value"));
    assert_eq!(checksum, record_checksum(Some(b"k"), Some(b"value")));
    assert_ne!(checksum, record_checksum(Some(b"kv"), Some(b"alue")));
    assert_ne!(checksum, record_checksum(None, Some(b"kvalue")));
    assert_ne!(checksum, record_checksum(Some(b"k"), Some(b"valuf")));
    // Null and empty are one (the cache keeps a null value as empty bytes).
    assert_eq!(
        record_checksum(None, None),
        record_checksum(Some(b""), Some(b""))
    );
}
