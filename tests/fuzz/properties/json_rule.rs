//! Any bytes, on the paths the JSON rules use: the fast path and serde_json alone
//! answer the same type or the same reason.

use analyzer::classify::{serde_string_at, string_at};

/// The property, for one input: panics when it does not hold.
pub fn check(data: &[u8]) {
    let paths: [&[&str]; 4] = [&["type"], &["meta", "type"], &["list", "0"], &["0", "1"]];
    for path in paths {
        let path: Vec<String> = path.iter().map(|s| s.to_string()).collect();
        assert_eq!(string_at(data, &path), serde_string_at(data, &path));
    }
}
