//! The test suite: one binary, one file per feature. Tests run the real
//! application (in process on port 0, or the built binary) against librdkafka's
//! in-process mock cluster or the tansu broker that `./scripts/test.sh` starts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod helpers;

mod architecture;
mod auth;
mod avro;
mod aws;
mod bounds;
mod browse;
mod browser;
mod cli;
mod conformance;
mod connect;
mod demo;
mod deploy;
mod docs;
mod dropin;
mod faults;
mod hostile;
mod keys;
mod lookups;
mod numbering;
mod openapi;
mod ops;
mod properties;
mod protobuf;
mod requests;
mod shutdown;
mod snapshots;
mod soak;
mod stalls;
mod stream;
mod timeline;
mod transactions;
mod wire;
