//! Amazon MSK's IAM authentication over SASL OAUTHBEARER: the token is a
//! SigV4-presigned `GET https://kafka.{region}.amazonaws.com/?Action=kafka-cluster:Connect`
//! (signing name `kafka-cluster`, valid 900 s), with a `User-Agent` parameter
//! added after signing, base64url-encoded without padding: what AWS's
//! `aws-msk-iam-sasl-signer` libraries make (the tests compare with the Python
//! one). librdkafka asks for a new one at 80% of its lifetime.

use std::sync::Mutex;

use base64::Engine as _;
use time::OffsetDateTime;

use super::Credentials;
use super::credentials::CredentialChain;
use super::sigv4::{self, EMPTY_PAYLOAD, Request, Scope};

/// How long a token is valid, as the AWS signers make it.
pub const TOKEN_LIFETIME_SECS: i64 = 900;
/// The signer's name in the token, as AWS's libraries put theirs.
pub const USER_AGENT: &str = concat!("analyzer/", env!("CARGO_PKG_VERSION"));

/// The token for `region` signed with `credentials` at `time`, and when it
/// expires (ms since the epoch; sooner if the credentials expire sooner).
pub fn token(credentials: &Credentials, region: &str, time: OffsetDateTime) -> (String, i64) {
    let host = format!("kafka.{region}.amazonaws.com");
    let request = Request {
        method: "GET",
        path: "/",
        query: vec![("Action".into(), "kafka-cluster:Connect".into())],
        headers: vec![("host".into(), host.clone())],
        payload_hash: EMPTY_PAYLOAD.into(),
    };
    let scope = Scope {
        region,
        service: "kafka-cluster",
        time,
    };
    let mut query = sigv4::presign(credentials, &request, &scope, TOKEN_LIFETIME_SECS as u64);
    query.push(("User-Agent".into(), USER_AGENT.into()));
    let url = format!("https://{host}/?{}", sigv4::query_string(&query));
    let mut expires = time + time::Duration::seconds(TOKEN_LIFETIME_SECS);
    if let Some(at) = credentials.expires_at {
        expires = expires.min(at);
    }
    let expires_ms = (expires.unix_timestamp_nanos() / 1_000_000) as i64;
    (
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(url),
        expires_ms,
    )
}

/// The last token made, for `/status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenReport {
    /// When it was made, ms since the epoch.
    pub made_at_ms: i64,
    /// When it expires, ms since the epoch.
    pub expires_at_ms: i64,
    /// Why the latest attempt failed, if it did.
    pub error: Option<String>,
}

/// Makes MSK tokens for one region from one credential chain.
#[derive(Debug)]
pub struct MskTokens {
    region: String,
    chain: CredentialChain,
    last: Mutex<Option<TokenReport>>,
}

impl MskTokens {
    /// Tokens for `region`, signed with what `chain` gives.
    pub fn new(region: &str, chain: CredentialChain) -> Self {
        MskTokens {
            region: region.to_owned(),
            chain,
            last: Mutex::new(None),
        }
    }

    /// A fresh token and its expiry (ms since the epoch), with the principal
    /// name librdkafka wants (the access key id).
    pub fn make(&self) -> Result<(String, i64, String), String> {
        let now = OffsetDateTime::now_utc();
        let made = self.chain.credentials().map(|credentials| {
            let (token, expires) = token(&credentials, &self.region, now);
            (token, expires, credentials.access_key_id)
        });
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let made_at_ms = (now.unix_timestamp_nanos() / 1_000_000) as i64;
        match &made {
            Ok((_, expires, _)) => {
                *last = Some(TokenReport {
                    made_at_ms,
                    expires_at_ms: *expires,
                    error: None,
                })
            }
            Err(e) => {
                let report = last.get_or_insert(TokenReport {
                    made_at_ms: 0,
                    expires_at_ms: 0,
                    error: None,
                });
                report.error = Some(e.clone());
            }
        }
        made
    }

    /// The region and credential source, for `/status`.
    pub fn describe(&self) -> (String, String) {
        (self.region.clone(), self.chain.source().describe())
    }

    /// The last token made, if any.
    pub fn last(&self) -> Option<TokenReport> {
        self.last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_the_presigned_connect_url_base64url_encoded() {
        let credentials = Credentials::new("AKIDEXAMPLE", "secret", Some("session"));
        let time = time::macros::datetime!(2026-12-03 10:00:00 UTC);
        let (token, expires) = token(&credentials, "eu-west-1", time);
        let url = String::from_utf8(
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(&token)
                .unwrap(),
        )
        .unwrap();
        assert!(url.starts_with("https://kafka.eu-west-1.amazonaws.com/?Action=kafka-cluster%3AConnect&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDEXAMPLE%2F20261203%2Feu-west-1%2Fkafka-cluster%2Faws4_request&X-Amz-Date=20261203T100000Z&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Security-Token=session&X-Amz-Signature="), "{url}");
        assert!(url.ends_with(&format!(
            "&User-Agent=analyzer%2F{}",
            env!("CARGO_PKG_VERSION")
        )));
        assert!(!token.contains('='));
        assert_eq!(expires, (time.unix_timestamp() + 900) * 1000);
        // Credentials that expire sooner bound the token.
        let mut short = credentials;
        short.expires_at = Some(time + time::Duration::seconds(60));
        assert_eq!(
            token_expiry(&short, time),
            (time.unix_timestamp() + 60) * 1000
        );
    }

    fn token_expiry(credentials: &Credentials, time: OffsetDateTime) -> i64 {
        token(credentials, "eu-west-1", time).1
    }
}
