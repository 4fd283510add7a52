//! Any query string through the extractor the lookup handlers use: a whole number
//! from 0 to u64::MAX, or an error (a 400), never a panic.
#![no_main]

use actix_web::web::Query;
use analyzer::http::IndexQuery;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(query) = std::str::from_utf8(data)
        && let Ok(parsed) = Query::<IndexQuery>::from_query(query)
    {
        // Accepted only if some `index=` pair holds exactly this number.
        assert!(query.contains("index"));
        let _ = parsed.index;
    }
});
