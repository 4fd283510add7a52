//! The probes: `GET /health/live` and `GET /health/ready`.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::web::{Data, Json};
use actix_web::{HttpResponse, ResponseError};
use apistos::paths::Response;
use apistos::reference_or::ReferenceOr;
use apistos::{
    ApiComponent, ApiErrorComponent, ApistosSchema, JsonSchema, OpenApiVersion, api_operation,
};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::openapi::{json_responses, json_schemas};
use super::status::ReadErrorStatus;

/// `/health/live` body.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct Liveness {
    /// `ok`, or `failed` once ingest has stopped on an unrecoverable error.
    pub status: String,
    /// Why ingest stopped, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A probe body that failed the probe: answered with 503 and the body as JSON.
pub trait ProbeBody: Serialize + ApiComponent + std::fmt::Debug + 'static {
    /// When the probe fails, for the OpenAPI document.
    const FAILS_WHEN: &'static str;
}

impl ProbeBody for Liveness {
    const FAILS_WHEN: &'static str =
        "Ingest stopped on an unrecoverable error (a fatal librdkafka error); restart the process";
}

impl ProbeBody for Readiness {
    const FAILS_WHEN: &'static str = "Still catching up: some partition has not been read to its end yet, or cannot be read (`reason` says why)";
}

/// A failed probe: 503 with its body.
#[derive(Debug, thiserror::Error)]
#[error("probe failed: {0:?}")]
pub struct ProbeFailed<T: ProbeBody>(T);

impl<T: ProbeBody> ProbeFailed<T> {
    fn statuses() -> [(StatusCode, String); 1] {
        [(StatusCode::SERVICE_UNAVAILABLE, T::FAILS_WHEN.to_owned())]
    }
}

impl<T: ProbeBody> ResponseError for ProbeFailed<T> {
    fn status_code(&self) -> StatusCode {
        StatusCode::SERVICE_UNAVAILABLE
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status_code()).json(&self.0)
    }
}

impl<T: ProbeBody> ApiErrorComponent for ProbeFailed<T> {
    fn schemas_by_status_code(
        oas_version: OpenApiVersion,
    ) -> BTreeMap<String, (String, ReferenceOr<ApistosSchema>)> {
        json_schemas::<T>(oas_version, &Self::statuses())
    }

    fn error_responses(oas_version: OpenApiVersion) -> Vec<(String, Response)> {
        json_responses::<T>(oas_version, &Self::statuses())
    }
}

/// Liveness probe.
#[api_operation(
    tag = "operations",
    operation_id = "get_live",
    summary = "Liveness probe",
    description = "200 while the process and its ingest thread run. A broker outage, a TLS or SASL failure or a partition that cannot be read does not make it fail (librdkafka retries; `/health/ready` and `/status` say why); only a fatal client error does, with 503.",
    error_code = 503
)]
pub async fn get_live(state: Data<AppState>) -> Result<Json<Liveness>, ProbeFailed<Liveness>> {
    if state.ingest.is_running() {
        Ok(Json(Liveness {
            status: "ok".into(),
            message: None,
        }))
    } else {
        Err(ProbeFailed(Liveness {
            status: "failed".into(),
            message: Some(
                state
                    .ingest
                    .fatal_error()
                    .unwrap_or_else(|| "ingest stopped".into()),
            ),
        }))
    }
}

/// Catch-up progress of one partition, in offsets from its log start.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct PartitionProgress {
    /// Topic name.
    pub topic: String,
    /// Partition number.
    pub partition: i32,
    /// Offsets read.
    pub indexed: u64,
    /// Offsets to read: up to the end of the log as last fetched.
    pub target: u64,
    /// indexed / target, from 0.0 to 1.0.
    pub progress: f64,
    /// Read to its end.
    pub caught_up: bool,
    /// Why it cannot be read, while it cannot: it is stuck there (see `/status`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ReadErrorStatus>,
}

/// `/health/ready` body: whether the index is complete, and how far catch-up is.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
pub struct Readiness {
    /// True once every partition has been read to the end seen at (or after) startup.
    pub ready: bool,
    /// Offsets read, over all partitions.
    pub indexed: u64,
    /// Offsets to read, over all partitions.
    pub target: u64,
    /// indexed / target, from 0.0 to 1.0.
    pub progress: f64,
    /// The same, per partition.
    pub partitions: Vec<PartitionProgress>,
    /// What ingest is waiting for, if it is paused (the Schema Registry cannot be read).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting_for: Option<String>,
    /// Why the index is not complete, when Kafka cannot be read: the stuck
    /// partitions and their errors, or the client's error. A pod that was ready
    /// stays ready (what it indexed is still right) and says so here.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

fn ratio(done: u64, target: u64, complete: bool) -> f64 {
    match target {
        0 if complete => 1.0,
        0 => 0.0,
        _ => (done as f64 / target as f64).min(1.0),
    }
}

/// Readiness probe.
#[api_operation(
    tag = "operations",
    operation_id = "get_ready",
    summary = "Readiness probe",
    description = "503 until every assigned partition has been read up to the end of the log seen at (or after) startup, then 200 for good. The body always reports catch-up progress, and `reason` names what cannot be read (a stuck partition and its error, or the client's: TLS, SASL, a topic); librdkafka retries, and a pod that was ready stays ready."
)]
pub async fn get_ready(state: Data<AppState>) -> Result<Json<Readiness>, ProbeFailed<Readiness>> {
    let ready = state.ingest.is_ready();
    let errors = state.ingest.read_errors();
    let partitions: Vec<PartitionProgress> = state
        .ingest
        .partitions()
        .into_iter()
        .map(|p| {
            let (indexed, target) = p.progress();
            PartitionProgress {
                progress: ratio(indexed, target, p.caught_up),
                error: errors
                    .partition(&p.topic, p.partition)
                    .map(ReadErrorStatus::from),
                topic: p.topic,
                partition: p.partition,
                indexed,
                target,
                caught_up: p.caught_up,
            }
        })
        .collect();
    let mut reasons: Vec<String> = errors
        .partitions()
        .into_iter()
        .map(|((topic, partition), e)| format!("{topic}/{partition} cannot be read: {}", e.message))
        .collect();
    if let Some(e) = errors.client() {
        reasons.push(format!("Kafka cannot be read: {}", e.message));
    }
    let indexed = partitions.iter().map(|p| p.indexed).sum();
    let target = partitions.iter().map(|p| p.target).sum();
    let readiness = Readiness {
        ready,
        indexed,
        target,
        progress: ratio(indexed, target, ready),
        partitions,
        waiting_for: state.ingest.waiting_for(),
        reason: (!reasons.is_empty()).then(|| reasons.join("; ")),
    };
    if ready {
        Ok(Json(readiness))
    } else {
        Err(ProbeFailed(readiness))
    }
}
