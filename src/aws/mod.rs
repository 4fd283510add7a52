//! AWS: Signature Version 4 (S3 snapshots, MSK IAM tokens), the standard
//! credential chain, and MSK's IAM authentication token. By hand over ureq and
//! ring, already in the tree: an AWS SDK would bring a second HTTP stack and an
//! async runtime's worth of crates for a handful of requests.

pub mod credentials;
pub mod msk;
pub mod sigv4;

use time::OffsetDateTime;

/// The region the AWS environment names: `AWS_REGION`, then `AWS_DEFAULT_REGION`.
pub fn env_region(lookup: impl Fn(&str) -> Option<String>) -> Option<String> {
    lookup("AWS_REGION")
        .or_else(|| lookup("AWS_DEFAULT_REGION"))
        .filter(|region| !region.is_empty())
}

/// AWS credentials, and when they expire (None: long-term keys).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `AKIA...` or `ASIA...`.
    pub access_key_id: String,
    /// The secret key.
    pub secret_access_key: String,
    /// The session token of temporary credentials.
    pub session_token: Option<String>,
    /// When temporary credentials stop working.
    pub expires_at: Option<OffsetDateTime>,
}

impl Credentials {
    /// Long-term (or not yet dated) credentials.
    pub fn new(access_key_id: &str, secret_access_key: &str, session_token: Option<&str>) -> Self {
        Credentials {
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
            session_token: session_token.map(str::to_owned),
            expires_at: None,
        }
    }
}

impl std::fmt::Debug for Credentials {
    /// The key id and expiry only: secrets stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}
