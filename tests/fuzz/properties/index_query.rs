//! Any query string through the extractor the lookup handlers use: it accepts
//! exactly the queries with one `index` pair holding a whole number from 0 to
//! u64::MAX and no `time`, or one `time` pair holding epoch milliseconds or an
//! RFC 3339 date-time and no `index`, and yields that; anything else is an error (a
//! 400) that names a parameter, never a panic.
//!
//! The oracle is written apart from the code under test: its own form decoding,
//! whole-number parsing and RFC 3339 calendar arithmetic. Where RFC 3339 leaves
//! room (a leap second, more than nine fractional digits) it only asks for no panic.

use actix_web::web::Query;
use analyzer::http::query::{EventQuery, Target};

/// The property, for one input: panics when it does not hold.
pub fn check(data: &[u8]) {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    let pairs = form_pairs(query);
    let named = |name: &str| -> Vec<&str> {
        let found = pairs.iter().filter(|(k, _)| k == name);
        found.map(|(_, v)| v.as_str()).collect()
    };
    // `format`, if given once, is `json` or `raw`.
    let format_ok = matches!(named("format").as_slice(), [] | ["json" | "raw"]);
    // None: refused; Some(None): the oracle does not judge; Some(Some(t)): t.
    let expected: Option<Option<Target>> = if !format_ok {
        None
    } else {
        match (named("index").as_slice(), named("time").as_slice()) {
            ([one], []) => whole_number(one).map(|n| Some(Target::Index(n))),
            ([], [one]) => match epoch_ms(one) {
                Judged::Is(ms) => Some(Some(Target::Time(ms))),
                Judged::Unsure => Some(None),
                Judged::Not => None,
            },
            _ => None,
        }
    };
    let parsed = Query::<EventQuery>::from_query(query)
        .map_err(|e| e.to_string())
        .and_then(|q| q.target().map_err(|e| e.to_string()));
    match (parsed, expected) {
        (_, Some(None)) => {}
        (Ok(target), Some(Some(expected))) => assert_eq!(target, expected, "{query:?}"),
        (Ok(target), None) => panic!("{query:?} accepted as {target:?}"),
        (Err(error), Some(Some(expected))) => {
            panic!("{query:?} refused ({error}), is {expected:?}")
        }
        (Err(error), None) => {
            let names = ["index", "time", "format", "variant"];
            assert!(names.iter().any(|n| error.contains(n)), "{error}");
        }
    }
}

/// `application/x-www-form-urlencoded` pairs: `&`-separated, split at the first
/// `=`, `+` a space, `%XX` a byte; bytes that are not UTF-8 become U+FFFD.
fn form_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decoded(name), percent_decoded(value))
        })
        .collect()
}

fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push((high * 16 + low) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Digits only (one optional `+`), at most u64::MAX.
fn whole_number(text: &str) -> Option<u64> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.bytes().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

enum Judged {
    Is(i64),
    Not,
    Unsure,
}

/// Epoch milliseconds: a whole number with an optional sign within i64, or an
/// RFC 3339 date-time `YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM)`.
fn epoch_ms(text: &str) -> Judged {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        let magnitude: Option<i128> = digits.bytes().try_fold(0i128, |n, d| {
            n.checked_mul(10)?.checked_add(i128::from(d - b'0'))
        });
        let value = magnitude.map(|m| if negative { -m } else { m });
        return match value.and_then(|v| i64::try_from(v).ok()) {
            Some(ms) => Judged::Is(ms),
            None => Judged::Not,
        };
    }
    rfc3339(text)
}

fn rfc3339(text: &str) -> Judged {
    let b = text.as_bytes();
    let number = |from: usize, len: usize| -> Option<i64> {
        let part = b.get(from..from + len)?;
        part.iter()
            .all(u8::is_ascii_digit)
            .then(|| part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let at = |i: usize| b.get(i).copied();
    let (Some(year), Some(month), Some(day), Some(hour), Some(minute), Some(second)) = (
        number(0, 4),
        number(5, 2),
        number(8, 2),
        number(11, 2),
        number(14, 2),
        number(17, 2),
    ) else {
        return Judged::Not;
    };
    let separators = at(4) == Some(b'-')
        && at(7) == Some(b'-')
        && matches!(at(10), Some(b'T' | b't' | b' ')) // RFC 3339 5.6 allows a space
        && at(13) == Some(b':')
        && at(16) == Some(b':');
    if !separators {
        return Judged::Not;
    }
    let mut i = 19;
    let mut nanos = 0i64;
    if at(i) == Some(b'.') {
        let start = i + 1;
        i = start;
        while at(i).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
        }
        match i - start {
            0 => return Judged::Not,
            1..=9 => {
                let digits = number(start, i - start).unwrap_or(0);
                nanos = digits * 10i64.pow(9 - (i - start) as u32);
            }
            _ => return Judged::Unsure,
        }
    }
    let offset_minutes = match at(i) {
        Some(b'Z' | b'z') if b.len() == i + 1 => 0,
        Some(sign @ (b'+' | b'-')) if b.len() == i + 6 && at(i + 3) == Some(b':') => {
            let (Some(h), Some(m)) = (number(i + 1, 2), number(i + 4, 2)) else {
                return Judged::Not;
            };
            if h > 23 || m > 59 {
                return Judged::Not;
            }
            if sign == b'+' {
                h * 60 + m
            } else {
                -(h * 60 + m)
            }
        }
        _ => return Judged::Not,
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&month) || day < 1 || day > month_days[(month - 1) as usize] {
        return Judged::Not;
    }
    if second == 60 {
        return Judged::Unsure; // a leap second: parsers differ
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Judged::Not;
    }
    // Days since 1970-01-01 of a proleptic Gregorian date (civil-from-days, inverted).
    let (y, m) = if month <= 2 {
        (year - 1, month + 9)
    } else {
        (year, month - 3)
    };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * m + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    // "At or after" an instant inside a millisecond: the next whole millisecond.
    let nanos = i128::from(seconds) * 1_000_000_000 + i128::from(nanos);
    let ms = nanos.div_euclid(1_000_000) + i128::from(nanos.rem_euclid(1_000_000) != 0);
    match i64::try_from(ms) {
        Ok(ms) => Judged::Is(ms),
        Err(_) => Judged::Not,
    }
}
