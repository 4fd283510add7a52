//! Fuzz target: the property in `properties/protobuf.rs` (which `cargo test` also
//! runs, as a proptest and over the corpus).
#![no_main]

#[path = "../properties/protobuf.rs"]
mod property;

libfuzzer_sys::fuzz_target!(|data: &[u8]| property::check(data));
