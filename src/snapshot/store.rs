//! Snapshots on a local directory (a PVC or an emptyDir): immutable segment files
//! and `manifest.json`, which names the newest. Writing: the segment to a temporary
//! name, fsync, rename; then the manifest the same way and the directory fsync'd; then
//! older segments are deleted. A crash at any instant leaves the previous manifest and
//! its segment whole. Reading checks the manifest's size and checksum of the segment
//! before decoding it.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::{FORMAT_VERSION, OLDEST_READ, Snapshot, SnapshotError};

/// The manifest's file name in the directory.
pub const MANIFEST: &str = "manifest.json";
const SEGMENT_PREFIX: &str = "snapshot-";
const SEGMENT_SUFFIX: &str = ".bin";

/// What `manifest.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The segment's format version.
    pub format: u32,
    /// The segment's file name, in the same directory.
    pub segment: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its CRC-32.
    pub crc32: u32,
    /// The topics it indexes.
    pub topics: Vec<String>,
    /// Events it indexes.
    pub events: u64,
    /// When it was written, ms since the epoch.
    pub written_at_ms: u64,
}

/// What a write produced.
#[derive(Debug, Clone)]
pub struct Written {
    /// The manifest now in place.
    pub manifest: Manifest,
}

fn io(what: &str, path: &Path, e: std::io::Error) -> SnapshotError {
    SnapshotError(format!("{what} {}: {e}", path.display()))
}

/// Writes `snapshot` into `dir` and makes it the newest.
pub fn write(dir: &Path, snapshot: &Snapshot) -> Result<Written, SnapshotError> {
    write_encoded(dir, &snapshot.encode(), &snapshot.topics, snapshot.events())
}

/// Writes an encoded snapshot (of `topics`, holding `events`) into `dir` and makes
/// it the newest.
pub fn write_encoded(
    dir: &Path,
    bytes: &[u8],
    topics: &[String],
    events: u64,
) -> Result<Written, SnapshotError> {
    fs::create_dir_all(dir).map_err(|e| io("cannot create", dir, e))?;
    let manifest = manifest_of(bytes, topics, events);
    let name = manifest.segment.clone();
    write_atomically(dir, &name, bytes)?;
    let json = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| SnapshotError(format!("cannot write the manifest: {e}")))?;
    write_atomically(dir, MANIFEST, &json)?;
    // Only now is the previous segment unreferenced: delete it and any leftover.
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            let stale_segment = file.starts_with(SEGMENT_PREFIX) && file != name;
            if stale_segment || file.ends_with(".tmp") {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    Ok(Written { manifest })
}

/// The manifest of an encoded snapshot about to be written, its segment named by
/// the time and this process.
pub fn manifest_of(bytes: &[u8], topics: &[String], events: u64) -> Manifest {
    let written_at_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    Manifest {
        format: FORMAT_VERSION,
        segment: format!(
            "{SEGMENT_PREFIX}{written_at_ms:016}-{}{SEGMENT_SUFFIX}",
            std::process::id()
        ),
        bytes: bytes.len() as u64,
        crc32: crc32fast::hash(bytes),
        topics: topics.to_vec(),
        events,
        written_at_ms,
    }
}

/// The format a manifest names, if this build reads it.
fn check_format(format: u32) -> Result<(), SnapshotError> {
    if !(OLDEST_READ..=FORMAT_VERSION).contains(&format) {
        return Err(SnapshotError(format!(
            "format version {format}, this build reads {OLDEST_READ} to {FORMAT_VERSION}"
        )));
    }
    Ok(())
}

/// Checks that a segment's bytes are what its manifest says (`name` for the error).
pub fn check_segment(manifest: &Manifest, bytes: &[u8], name: &str) -> Result<(), SnapshotError> {
    check_format(manifest.format)?;
    if bytes.len() as u64 != manifest.bytes || crc32fast::hash(bytes) != manifest.crc32 {
        return Err(SnapshotError(format!(
            "{name} is not what the manifest says ({} bytes, expected {}; corrupt or truncated)",
            bytes.len(),
            manifest.bytes
        )));
    }
    Ok(())
}

/// Writes `name` in `dir` so that it is whole or absent: a temporary file, fsync,
/// rename, directory fsync.
fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), SnapshotError> {
    let path = dir.join(name);
    let temporary = dir.join(format!("{name}.tmp"));
    let mut file = File::create(&temporary).map_err(|e| io("cannot create", &temporary, e))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| io("cannot write", &temporary, e))?;
    fs::rename(&temporary, &path).map_err(|e| io("cannot rename", &temporary, e))?;
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io("cannot sync", dir, e))
}

/// The newest snapshot in `dir`: None when there is none, an error saying why when
/// the one there cannot be used.
pub fn read(dir: &Path) -> Result<Option<(Manifest, Snapshot)>, SnapshotError> {
    let manifest_path = dir.join(MANIFEST);
    let json = match fs::read(&manifest_path) {
        Ok(json) => json,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("cannot read", &manifest_path, e)),
    };
    let manifest: Manifest = serde_json::from_slice(&json)
        .map_err(|e| SnapshotError(format!("{}: {e}", manifest_path.display())))?;
    check_format(manifest.format)?;
    let segment: PathBuf = dir.join(&manifest.segment);
    if manifest.segment.contains('/') || manifest.segment.contains("..") {
        return Err(SnapshotError(format!(
            "the manifest names {:?}, not a file of this directory",
            manifest.segment
        )));
    }
    let bytes = fs::read(&segment).map_err(|e| io("cannot read", &segment, e))?;
    check_segment(&manifest, &bytes, &segment.display().to_string())?;
    let snapshot = Snapshot::decode(&bytes)?;
    Ok(Some((manifest, snapshot)))
}
