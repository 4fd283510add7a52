//! Any query string through the extractor the lookup handlers use: it accepts
//! exactly the queries with one `index` pair holding a whole number from 0 to
//! u64::MAX and no `time`, or one `time` pair holding epoch milliseconds or an
//! RFC 3339 date-time and no `index`, and yields that; anything else is an error (a
//! 400) that names a parameter, never a panic.
#![no_main]

use actix_web::web::Query;
use analyzer::http::query::{EventQuery, Target, parse_time};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    // The oracle: decode the pairs, keep those named `index` and `time`.
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let named = |name: &str| -> Vec<&String> {
        pairs.iter().filter(|(k, _)| k == name).map(|(_, v)| v).collect()
    };
    let expected = match (named("index").as_slice(), named("time").as_slice()) {
        ([one], []) => one.parse::<u64>().ok().map(Target::Index),
        ([], [one]) => parse_time(one).map(Target::Time),
        _ => None,
    };
    let parsed = Query::<EventQuery>::from_query(query)
        .map_err(|e| e.to_string())
        .and_then(|q| q.target().map_err(|e| e.to_string()));
    match parsed {
        Ok(target) => assert_eq!(Some(target), expected, "{query:?}"),
        Err(error) => {
            assert_eq!(expected, None, "{query:?} refused: {error}");
            assert!(error.contains("index") || error.contains("time"), "{error}");
        }
    }
});
