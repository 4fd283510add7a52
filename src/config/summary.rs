//! The settings as one printable line for the start-up log, secrets masked.

use super::Settings;

impl Settings {
    /// The settings as printable lines, with secret-looking properties masked.
    pub fn masked_summary(&self) -> String {
        let properties: Vec<String> = self
            .kafka
            .properties
            .iter()
            .map(|(k, v)| {
                let lower = k.to_lowercase();
                let secret = ["password", "secret", "token", "key"]
                    .iter()
                    .any(|s| lower.contains(s));
                format!("{k}={}", if secret { "****" } else { v })
            })
            .collect();
        let routes: Vec<String> = self
            .routes
            .iter()
            .map(|r| format!("{} -> {}", r.path, r.event_type))
            .collect();
        format!(
            "brokers={} topics={:?} properties=[{}] metadata_refresh_secs={} auth={:?} aws_region={:?} bind={} shutdown_timeout_secs={} auth_token={} protect_metrics={} cors_origins={:?} classify={:?}:{:?} classify.max_types={} cache.max_bytes={} cache.headers={} order.max_lateness_ms={} metrics.max_type_series={} avro.schemas_dir={:?} registry.url={:?} avro.types={} protobuf.descriptor_sets={:?} protobuf.types={} snapshot.dir={:?} snapshot.interval_secs={} snapshot.write={} keys={:?}:{:?} keys.max_keys={} routes=[{}]",
            self.kafka.brokers,
            self.kafka.topics,
            properties.join(", "),
            self.kafka.metadata_refresh_secs,
            self.kafka.auth,
            self.kafka.aws_region,
            self.http.bind,
            self.http.shutdown_timeout_secs,
            if self.http.auth_token.is_some() {
                "set"
            } else {
                "none"
            },
            self.http.protect_metrics,
            self.http.cors_origins,
            self.classify.by,
            self.classify.name,
            self.classify.max_types,
            self.cache.max_bytes,
            self.cache.headers,
            self.order.max_lateness_ms,
            self.metrics.max_type_series,
            self.avro.schemas_dir,
            self.registry_url().map(|(url, _)| url),
            self.avro.types.len(),
            self.protobuf.descriptor_sets,
            self.protobuf.types.len(),
            self.snapshot.dir,
            self.snapshot.interval_secs,
            self.snapshot.write,
            self.keys.by,
            self.keys.name,
            self.keys.max_keys,
            routes.join(", "),
        )
    }
}
