//! AWS Signature Version 4, as pure functions of the request, the credentials and
//! the time: signed headers for S3 snapshots, a presigned URL for MSK IAM tokens.
//! Tested against AWS's published test suite (`aws-sig-v4-test-suite`) and the
//! S3 documentation's examples.

use ring::{digest, hmac};
use time::OffsetDateTime;

use super::Credentials;

/// The SHA-256 of an empty payload, hex.
pub const EMPTY_PAYLOAD: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// What a signature covers besides the request: where, for which service, when.
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    /// Like `us-east-1`.
    pub region: &'a str,
    /// The signing name: `s3`, `kafka-cluster`...
    pub service: &'a str,
    /// The signing time (UTC).
    pub time: OffsetDateTime,
}

/// A request to sign. `path` is already URI-encoded as it goes on the wire;
/// query names and values are raw (encoded here).
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// `GET`, `PUT`...
    pub method: &'a str,
    /// The encoded path, `/` at least.
    pub path: &'a str,
    /// Query parameters, raw.
    pub query: Vec<(String, String)>,
    /// Headers to sign (`host` among them), any case.
    pub headers: Vec<(String, String)>,
    /// The payload's SHA-256, hex (or `UNSIGNED-PAYLOAD`).
    pub payload_hash: String,
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of `bytes`, hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(digest::digest(&digest::SHA256, bytes).as_ref())
}

/// URI-encodes as SigV4 wants: every byte but `A-Za-z0-9-._~` as `%XX`
/// (upper-case hex), and `/` too unless `keep_slash`.
pub fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(byte as char)
            }
            b'/' if keep_slash => out.push('/'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// `20150830T123600Z`.
pub fn amz_date(time: OffsetDateTime) -> String {
    format!(
        "{}T{:02}{:02}{:02}Z",
        short_date(time),
        time.hour(),
        time.minute(),
        time.second()
    )
}

fn short_date(time: OffsetDateTime) -> String {
    format!(
        "{:04}{:02}{:02}",
        time.year(),
        u8::from(time.month()),
        time.day()
    )
}

/// `20150830/us-east-1/service/aws4_request`.
fn credential_scope(scope: &Scope<'_>) -> String {
    format!(
        "{}/{}/{}/aws4_request",
        short_date(scope.time),
        scope.region,
        scope.service
    )
}

fn canonical_query(query: &[(String, String)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .map(|(k, v)| (uri_encode(k, false), uri_encode(v, false)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// (canonical headers, signed header names): names lower-cased and sorted,
/// values trimmed with inner runs of spaces folded, repeated names joined by `,`.
fn canonical_headers(headers: &[(String, String)]) -> (String, String) {
    let mut sorted: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            let value = v.split_whitespace().collect::<Vec<_>>().join(" ");
            (k.to_ascii_lowercase(), value)
        })
        .collect();
    // Stable: repeated names keep their order.
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let mut joined: Vec<(String, String)> = Vec::new();
    for (name, value) in sorted {
        match joined.last_mut() {
            Some((last, values)) if *last == name => {
                values.push(',');
                values.push_str(&value);
            }
            _ => joined.push((name, value)),
        }
    }
    let canonical = joined.iter().map(|(k, v)| format!("{k}:{v}\n")).collect();
    let signed = joined
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    (canonical, signed)
}

/// The canonical request, and the signed header names.
pub fn canonical_request(request: &Request<'_>) -> (String, String) {
    let (headers, signed) = canonical_headers(&request.headers);
    let text = format!(
        "{}\n{}\n{}\n{headers}\n{signed}\n{}",
        request.method,
        request.path,
        canonical_query(&request.query),
        request.payload_hash
    );
    (text, signed)
}

/// The string to sign for a canonical request.
pub fn string_to_sign(canonical_request: &str, scope: &Scope<'_>) -> String {
    format!(
        "AWS4-HMAC-SHA256\n{}\n{}\n{}",
        amz_date(scope.time),
        credential_scope(scope),
        sha256_hex(canonical_request.as_bytes())
    )
}

/// The signature (hex) of `string_to_sign` with the key derived from `secret_key`.
pub fn signature(secret_key: &str, scope: &Scope<'_>, string_to_sign: &str) -> String {
    let sign = |key: &[u8], data: &str| {
        hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data.as_bytes())
    };
    let k_date = sign(
        format!("AWS4{secret_key}").as_bytes(),
        &short_date(scope.time),
    );
    let k_region = sign(k_date.as_ref(), scope.region);
    let k_service = sign(k_region.as_ref(), scope.service);
    let k_signing = sign(k_service.as_ref(), "aws4_request");
    hex(sign(k_signing.as_ref(), string_to_sign).as_ref())
}

/// The `Authorization` header for `request`, whose headers must already hold
/// everything signed (`host`, `x-amz-date`, the session token...).
pub fn authorization(
    credentials: &Credentials,
    request: &Request<'_>,
    scope: &Scope<'_>,
) -> String {
    let (canonical, signed) = canonical_request(request);
    let to_sign = string_to_sign(&canonical, scope);
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{}, SignedHeaders={signed}, Signature={}",
        credentials.access_key_id,
        credential_scope(scope),
        signature(&credentials.secret_access_key, scope, &to_sign)
    )
}

/// Presigns `request` (query authentication, as botocore's `SigV4QueryAuth`): the
/// query parameters to send, the signature last. Only `host` should be in its
/// headers; the payload is `UNSIGNED-PAYLOAD` for S3, empty for other services.
pub fn presign(
    credentials: &Credentials,
    request: &Request<'_>,
    scope: &Scope<'_>,
    expires_secs: u64,
) -> Vec<(String, String)> {
    let (_, signed) = canonical_headers(&request.headers);
    let mut query = request.query.clone();
    query.push(("X-Amz-Algorithm".into(), "AWS4-HMAC-SHA256".into()));
    query.push((
        "X-Amz-Credential".into(),
        format!("{}/{}", credentials.access_key_id, credential_scope(scope)),
    ));
    query.push(("X-Amz-Date".into(), amz_date(scope.time)));
    query.push(("X-Amz-Expires".into(), expires_secs.to_string()));
    query.push(("X-Amz-SignedHeaders".into(), signed));
    // After SignedHeaders, as botocore puts it (the order signed is sorted anyway).
    if let Some(token) = &credentials.session_token {
        query.push(("X-Amz-Security-Token".into(), token.clone()));
    }
    let signing = Request {
        query: query.clone(),
        ..request.clone()
    };
    let (canonical, _) = canonical_request(&signing);
    let to_sign = string_to_sign(&canonical, scope);
    query.push((
        "X-Amz-Signature".into(),
        signature(&credentials.secret_access_key, scope, &to_sign),
    ));
    query
}

/// `query` as a URL's query string, encoded as SigV4 encodes it, in this order.
pub fn query_string(query: &[(String, String)]) -> String {
    query
        .iter()
        .map(|(k, v)| format!("{}={}", uri_encode(k, false), uri_encode(v, false)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The test suite's credentials, time, region and service.
    fn suite() -> (Credentials, Scope<'static>) {
        let credentials = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
        );
        let time = time::macros::datetime!(2015-08-30 12:36:00 UTC);
        let scope = Scope {
            region: "us-east-1",
            service: "service",
            time,
        };
        (credentials, scope)
    }

    fn suite_request(path: &'static str, query: &[(&str, &str)]) -> Request<'static> {
        Request {
            method: "GET",
            path,
            query: query
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            headers: vec![
                ("Host".into(), "example.amazonaws.com".into()),
                ("X-Amz-Date".into(), "20150830T123600Z".into()),
            ],
            payload_hash: EMPTY_PAYLOAD.into(),
        }
    }

    fn signature_of(authorization: &str) -> &str {
        authorization
            .rsplit("Signature=")
            .next()
            .unwrap_or_default()
    }

    #[test]
    fn the_test_suites_get_vanilla_step_by_step() {
        let (credentials, scope) = suite();
        let request = suite_request("/", &[]);
        let (canonical, signed) = canonical_request(&request);
        assert_eq!(
            canonical,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(signed, "host;x-amz-date");
        assert_eq!(
            string_to_sign(&canonical, &scope),
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\nbb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63"
        );
        assert_eq!(
            authorization(&credentials, &request, &scope),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"
        );
    }

    #[test]
    fn the_test_suites_query_headers_and_payload_cases() {
        let (credentials, scope) = suite();
        let cases: [(&str, Request<'static>, &str); 5] = [
            (
                "get-vanilla-query-order-key-case",
                suite_request("/", &[("Param2", "value2"), ("Param1", "value1")]),
                "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
            ),
            (
                "get-vanilla-query-order-value",
                suite_request("/", &[("Param1", "value2"), ("Param1", "value1")]),
                "5772eed61e12b33fae39ee5e7012498b51d56abc0abb7c60486157bd471c4694",
            ),
            (
                "get-unreserved",
                suite_request(
                    "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                    &[],
                ),
                "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
            ),
            (
                "get-header-key-duplicate",
                {
                    let mut request = suite_request("/", &[]);
                    for value in ["value2", "value2", "value1"] {
                        request.headers.push(("My-Header1".into(), value.into()));
                    }
                    request
                },
                "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
            ),
            (
                "post-x-www-form-urlencoded",
                {
                    let mut request = suite_request("/", &[]);
                    request.method = "POST";
                    request.headers.push((
                        "Content-Type".into(),
                        "application/x-www-form-urlencoded".into(),
                    ));
                    request.payload_hash = sha256_hex(b"Param1=value1");
                    request
                },
                "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a",
            ),
        ];
        for (name, request, expected) in cases {
            let signed = authorization(&credentials, &request, &scope);
            assert_eq!(signature_of(&signed), expected, "{name}");
        }
    }

    /// The S3 documentation's examples (credentials AKIAIOSFODNN7EXAMPLE).
    fn s3_example() -> (Credentials, Scope<'static>) {
        let credentials = Credentials::new(
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            None,
        );
        let scope = Scope {
            region: "us-east-1",
            service: "s3",
            time: time::macros::datetime!(2013-05-24 00:00:00 UTC),
        };
        (credentials, scope)
    }

    #[test]
    fn s3s_documented_get_object_with_a_range() {
        let (credentials, scope) = s3_example();
        let request = Request {
            method: "GET",
            path: "/test.txt",
            query: Vec::new(),
            headers: vec![
                ("Host".into(), "examplebucket.s3.amazonaws.com".into()),
                ("Range".into(), "bytes=0-9".into()),
                ("x-amz-content-sha256".into(), EMPTY_PAYLOAD.into()),
                ("x-amz-date".into(), "20130524T000000Z".into()),
            ],
            payload_hash: EMPTY_PAYLOAD.into(),
        };
        assert_eq!(
            signature_of(&authorization(&credentials, &request, &scope)),
            "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
        );
    }

    #[test]
    fn s3s_documented_presigned_url() {
        let (credentials, scope) = s3_example();
        let request = Request {
            method: "GET",
            path: "/test.txt",
            query: Vec::new(),
            headers: vec![("Host".into(), "examplebucket.s3.amazonaws.com".into())],
            payload_hash: "UNSIGNED-PAYLOAD".into(),
        };
        let query = presign(&credentials, &request, &scope, 86400);
        assert_eq!(
            query_string(&query),
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
        );
    }

    #[test]
    fn uri_encoding_keeps_only_unreserved_bytes() {
        assert_eq!(uri_encode("a b/c+d~é", false), "a%20b%2Fc%2Bd~%C3%A9");
        assert_eq!(uri_encode("a b/c", true), "a%20b/c");
    }
}
