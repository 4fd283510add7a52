//! `GET /stats`: exact event counts per type, under the keys routes declare.

use std::collections::BTreeMap;

use actix_web::web::{Data, Json};
use apistos::{ApiComponent, JsonSchema, api_operation};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::auth::BearerAuth;
use super::error::{Answers, ErrorCode, Failure};
use crate::config::RouteSettings;

/// Per-type event counts: `{"blood_pressure": 22, "heart_rate": 33}`.
#[derive(Debug, Serialize, Deserialize, JsonSchema, ApiComponent)]
#[schemars(crate = "apistos")]
#[serde(transparent)]
pub struct Stats(pub BTreeMap<String, u64>);

/// The keys `/stats` reports types under: a type's `stats_key` from `[[routes]]`
/// (what the original audit service's contract names `num_bp`), else its name.
#[derive(Debug, Clone, Default)]
pub struct StatsKeys(BTreeMap<String, String>);

impl StatsKeys {
    /// The `stats_key` of every route that declares one, by type.
    pub fn from_routes(routes: &[RouteSettings]) -> StatsKeys {
        StatsKeys(
            routes
                .iter()
                .filter_map(|r| Some((r.event_type.clone(), r.stats_key.clone()?)))
                .collect(),
        )
    }

    /// The declared keys, which every `/stats` answer holds.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.0.values().map(String::as_str)
    }

    /// Counts by type, renamed to their keys. A type seen in the data whose name is
    /// also a declared key is left out: the key belongs to its route's type, which
    /// the configuration check cannot protect against types it has not seen.
    pub fn apply(&self, counts: BTreeMap<String, u64>) -> Stats {
        if self.0.is_empty() {
            return Stats(counts);
        }
        let mut stats = BTreeMap::new();
        for (event_type, count) in counts {
            match self.0.get(&event_type) {
                Some(key) => {
                    stats.insert(key.clone(), count);
                }
                None if self.keys().any(|key| key == event_type) => {}
                None => {
                    stats.insert(event_type, count);
                }
            }
        }
        Stats(stats)
    }
}

/// What `/stats` can answer besides the counts.
pub struct StatsFailures;

impl Answers for StatsFailures {
    const CODES: &'static [ErrorCode] = &[ErrorCode::Unauthorized];
}

/// Exact event counts per type.
#[api_operation(
    tag = "stats",
    operation_id = "get_stats",
    summary = "Count events per type",
    description = "Exact number of indexed events of each type, including types declared in routes that have none yet; a route's `stats_key`, when set, replaces its type's name. Unclassified events are not counted here."
)]
pub async fn get_stats(
    _auth: BearerAuth,
    state: Data<AppState>,
) -> Result<Json<Stats>, Failure<StatsFailures>> {
    Ok(Json(state.stats_keys.apply(state.view.counts())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(event_type: &str, stats_key: Option<&str>) -> RouteSettings {
        RouteSettings {
            path: format!("/{event_type}"),
            event_type: event_type.into(),
            stats_key: stats_key.map(str::to_owned),
        }
    }

    #[test]
    fn declared_keys_replace_type_names_and_win_over_a_same_named_type() {
        let keys = StatsKeys::from_routes(&[
            route("blood_pressure", Some("num_bp")),
            route("heart_rate", Some("num_hr")),
            route("glucose", None),
        ]);
        let counts = BTreeMap::from([
            ("blood_pressure".to_owned(), 3),
            ("heart_rate".to_owned(), 2),
            ("glucose".to_owned(), 1),
            ("num_bp".to_owned(), 9),
        ]);
        let Stats(stats) = keys.apply(counts.clone());
        let expected = BTreeMap::from([
            ("num_bp".to_owned(), 3),
            ("num_hr".to_owned(), 2),
            ("glucose".to_owned(), 1),
        ]);
        assert_eq!(stats, expected);
        assert_eq!(StatsKeys::default().apply(counts.clone()).0, counts);
    }
}
