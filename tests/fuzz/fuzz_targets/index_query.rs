//! Fuzz target: the property in `properties/index_query.rs` (which `cargo test`
//! also runs, as a proptest and over the corpus).
#![no_main]

#[path = "../properties/index_query.rs"]
mod property;

libfuzzer_sys::fuzz_target!(|data: &[u8]| property::check(data));
