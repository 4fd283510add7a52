//! `GET /stats`: exact event counts per type.

use std::collections::BTreeMap;

use actix_web::web::{Data, Json};
use apistos::{ApiComponent, JsonSchema, api_operation};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::BearerAuth;
use super::error::ApiError;

/// Per-type event counts: `{"blood_pressure": 22, "heart_rate": 33}`.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
#[serde(transparent)]
pub struct Stats(pub BTreeMap<String, u64>);

/// Exact event counts per type.
#[api_operation(
    tag = "stats",
    operation_id = "get_stats",
    summary = "Count events per type",
    description = "Exact number of indexed events of each type, including types declared in routes that have none yet. Unclassified events are not counted here.",
    error_code = 401
)]
pub async fn get_stats(_auth: BearerAuth, state: Data<AppState>) -> Result<Json<Stats>, ApiError> {
    Ok(Json(Stats(state.view.counts())))
}
