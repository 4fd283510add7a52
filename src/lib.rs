//! analyzer: a Kafka indexing sidecar.
//!
//! A long-lived consumer reads the configured topics from offset 0, classifies each
//! event by type and appends its Kafka position to a per-type index; HTTP handlers
//! answer "the Nth event of type T" and per-type counts in O(1) from that index.
//!
//! Modules, one concern each: [`config`] (settings), [`classify`] (event type rules),
//! [`view`] (the pure index), [`ingest`] (the Kafka consumer), [`fetch`] (positions
//! to payloads), [`decode`] (what values are and how they render), [`http`] (the
//! API), [`kafka`] (client properties and contexts), [`metrics`] (Prometheus),
//! [`startup`] (wiring), [`demo`] (the self-contained demo), [`snapshot`] (the
//! index on disk or in object storage), [`varint`] (the varints Avro and snapshots
//! write), [`aws`] (SigV4, the credential chain, MSK IAM tokens).

pub mod aws;
pub mod classify;
pub mod config;
pub mod decode;
pub mod demo;
pub mod fetch;
pub mod http;
pub mod ingest;
pub mod kafka;
pub mod metrics;
pub mod snapshot;
pub mod startup;
pub mod varint;
pub mod view;
