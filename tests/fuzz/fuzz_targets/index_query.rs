//! Any query string through the extractor the lookup handlers use: it accepts
//! exactly the queries with one `index` pair holding a whole number from 0 to
//! u64::MAX, and then yields that number; anything else is an error (a 400) that
//! names the parameter, never a panic.
#![no_main]

use actix_web::web::Query;
use analyzer::http::query::IndexQuery;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    // The oracle: decode the pairs, keep those named `index`.
    let values: Vec<String> = form_urlencoded::parse(query.as_bytes())
        .filter(|(key, _)| key == "index")
        .map(|(_, value)| value.into_owned())
        .collect();
    let expected = match values.as_slice() {
        [one] => one.parse::<u64>().ok(),
        _ => None,
    };
    match Query::<IndexQuery>::from_query(query) {
        Ok(parsed) => assert_eq!(Some(parsed.index), expected, "{query:?}"),
        Err(error) => {
            assert_eq!(expected, None, "{query:?} refused: {error}");
            assert!(error.to_string().contains("index"), "{error}");
        }
    }
});
