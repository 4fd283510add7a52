//! Snapshots in S3-compatible object storage (`[snapshot] url = "s3://bucket/prefix"`):
//! the same segment and manifest as on disk, as objects. The manifest is replaced
//! by a conditional PUT (`If-Match` the ETag this writer last saw, `If-None-Match: *`
//! for the first), so a second writer fails with 412 instead of overwriting, and a
//! reader only ever sees a whole manifest (an object PUT is atomic).
//!
//! Credentials come from the standard AWS chain (environment variables, web
//! identity, container credentials, instance metadata: [`crate::aws::credentials`]);
//! region and endpoint from the AWS environment (`AWS_REGION` or
//! `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL` for a non-AWS
//! endpoint, addressed path-style). Requests are signed with SigV4
//! ([`crate::aws::sigv4`], shared with MSK IAM).

use std::sync::Mutex;
use std::time::Duration;

use super::store::{Manifest, Written, manifest_of};
use super::{Snapshot, SnapshotError};
use crate::aws::credentials::{CredentialChain, Source};
use crate::aws::sigv4::{self, Request, Scope, sha256_hex, uri_encode};

const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const MAX_OBJECT_BYTES: u64 = 16 << 30;

/// Where snapshots go in object storage, and how to sign for it.
pub struct S3Store {
    bucket: String,
    prefix: String,
    endpoint: Option<String>,
    region: String,
    credentials: CredentialChain,
    agent: ureq::Agent,
    /// The manifest's ETag as this writer last saw or wrote it.
    manifest_etag: Mutex<Option<String>>,
}

fn fail<T>(message: impl Into<String>) -> Result<T, SnapshotError> {
    Err(SnapshotError(message.into()))
}

/// `s3://bucket/prefix` as (bucket, prefix without slashes at its ends).
pub fn parse_url(url: &str) -> Result<(String, String), String> {
    let rest = url
        .strip_prefix("s3://")
        .ok_or_else(|| format!("{url:?} is not an s3://bucket/prefix URL"))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    let valid_bucket = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    if !valid_bucket {
        return Err(format!("{url:?}: {bucket:?} is not an S3 bucket name"));
    }
    Ok((bucket.to_owned(), prefix.trim_matches('/').to_owned()))
}

impl S3Store {
    /// A store at `url`, its credentials from the environment (`lookup`).
    pub fn from_env(url: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<S3Store, String> {
        let (bucket, prefix) = parse_url(url)?;
        let region = crate::aws::env_region(&lookup).unwrap_or_else(|| "us-east-1".into());
        let source = Source::from_env(&lookup, &region).ok_or(
            "snapshot.url needs AWS credentials, and the environment names none (AWS_EC2_METADATA_DISABLED is set)",
        )?;
        let endpoint = lookup("AWS_ENDPOINT_URL_S3")
            .or_else(|| lookup("AWS_ENDPOINT_URL"))
            .map(|e| e.trim_end_matches('/').to_owned());
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(REQUEST_TIMEOUT))
            .http_status_as_error(false)
            .build()
            .into();
        Ok(S3Store {
            bucket,
            prefix,
            endpoint,
            region,
            credentials: CredentialChain::new(source),
            agent,
            manifest_etag: Mutex::new(None),
        })
    }

    /// The URL this store is named by, for logs.
    pub fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }

    fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.prefix)
        }
    }

    /// (URL, host, canonical path) of an object: path-style at a configured
    /// endpoint, virtual-hosted at AWS.
    fn locate(&self, key: &str) -> (String, String, String) {
        let encoded = uri_encode(key, true);
        match &self.endpoint {
            Some(endpoint) => {
                let host = endpoint
                    .split_once("://")
                    .map_or(endpoint.as_str(), |(_, h)| h)
                    .to_owned();
                let path = format!("/{}/{encoded}", self.bucket);
                (format!("{endpoint}{path}"), host, path)
            }
            None => {
                let host = format!("{}.s3.{}.amazonaws.com", self.bucket, self.region);
                let path = format!("/{encoded}");
                (format!("https://{host}{path}"), host, path)
            }
        }
    }

    /// One signed request: (status, ETag, body).
    fn request(
        &self,
        method: &str,
        name: &str,
        body: &[u8],
        extra: &[(&str, String)],
    ) -> Result<(u16, Option<String>, Vec<u8>), SnapshotError> {
        let (url, host, path) = self.locate(&self.key(name));
        let credentials = self.credentials.credentials().map_err(SnapshotError)?;
        let scope = Scope {
            region: &self.region,
            service: "s3",
            time: time::OffsetDateTime::now_utc(),
        };
        let payload_hash = sha256_hex(body);
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), host),
            ("x-amz-content-sha256".into(), payload_hash.clone()),
            ("x-amz-date".into(), sigv4::amz_date(scope.time)),
        ];
        if let Some(token) = &credentials.session_token {
            headers.push(("x-amz-security-token".into(), token.clone()));
        }
        for (name, value) in extra {
            headers.push((name.to_ascii_lowercase(), value.clone()));
        }
        let request = Request {
            method,
            path: &path,
            query: Vec::new(),
            headers,
            payload_hash,
        };
        let authorization = sigv4::authorization(&credentials, &request, &scope);
        let headers = request.headers;
        let unreachable = |e: ureq::Error| SnapshotError(format!("{method} {url}: {e}"));
        let mut response = match method {
            "PUT" => with_headers(self.agent.put(&url), &headers, &authorization)
                .send(body)
                .map_err(unreachable)?,
            "GET" => with_headers(self.agent.get(&url), &headers, &authorization)
                .call()
                .map_err(unreachable)?,
            "DELETE" => with_headers(self.agent.delete(&url), &headers, &authorization)
                .call()
                .map_err(unreachable)?,
            other => return fail(format!("unsupported method {other}")),
        };
        let status = response.status().as_u16();
        let etag = response
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_OBJECT_BYTES)
            .read_to_vec()
            .map_err(|e| SnapshotError(format!("{method} {url}: reading the answer: {e}")))?;
        Ok((status, etag, body))
    }

    /// Writes an encoded snapshot and makes it the newest: the segment, then the
    /// manifest by a conditional PUT; then the segment it replaced is deleted.
    pub fn write_encoded(
        &self,
        bytes: &[u8],
        topics: &[String],
        events: u64,
    ) -> Result<Written, SnapshotError> {
        let manifest = manifest_of(bytes, topics, events);
        let (status, _, answer) = self.request("PUT", &manifest.segment, bytes, &[])?;
        if status != 200 {
            return fail(format!(
                "PUT {}: HTTP {status}: {}",
                self.key(&manifest.segment),
                String::from_utf8_lossy(&answer)
                    .chars()
                    .take(300)
                    .collect::<String>()
            ));
        }
        let previous = self.read_manifest()?.map(|(m, _)| m);
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| SnapshotError(format!("cannot write the manifest: {e}")))?;
        let condition = match self.etag() {
            Some(etag) => ("If-Match", etag),
            None => ("If-None-Match", "*".to_owned()),
        };
        let (status, etag, answer) =
            self.request("PUT", super::store::MANIFEST, &json, &[condition])?;
        match status {
            200 => {}
            412 => {
                return fail(format!(
                    "{} was replaced by another writer since this one last wrote it: one writer per location ([snapshot] write = false on the others)",
                    self.key(super::store::MANIFEST)
                ));
            }
            _ => {
                return fail(format!(
                    "PUT {}: HTTP {status}: {}",
                    self.key(super::store::MANIFEST),
                    String::from_utf8_lossy(&answer)
                        .chars()
                        .take(300)
                        .collect::<String>()
                ));
            }
        }
        *self
            .manifest_etag
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = etag;
        if let Some(previous) = previous.filter(|p| p.segment != manifest.segment) {
            let _ = self.request("DELETE", &previous.segment, &[], &[]);
        }
        Ok(Written { manifest })
    }

    fn etag(&self) -> Option<String> {
        self.manifest_etag
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    fn read_manifest(&self) -> Result<Option<(Manifest, Option<String>)>, SnapshotError> {
        let (status, etag, body) = self.request("GET", super::store::MANIFEST, &[], &[])?;
        match status {
            200 => {
                let manifest: Manifest = serde_json::from_slice(&body).map_err(|e| {
                    SnapshotError(format!("{}: {e}", self.key(super::store::MANIFEST)))
                })?;
                Ok(Some((manifest, etag)))
            }
            // No manifest yet; but a bucket that does not exist is a misconfiguration,
            // not a first start.
            404 if !String::from_utf8_lossy(&body).contains("<Code>NoSuchBucket</Code>") => {
                Ok(None)
            }
            _ => fail(format!(
                "GET {}: HTTP {status}: {}",
                self.key(super::store::MANIFEST),
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(300)
                    .collect::<String>()
            )),
        }
    }

    /// The newest snapshot: None when there is none, an error saying why when the
    /// one there cannot be used.
    pub fn read(&self) -> Result<Option<(Manifest, Snapshot)>, SnapshotError> {
        let Some((manifest, etag)) = self.read_manifest()? else {
            return Ok(None);
        };
        *self
            .manifest_etag
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = etag;
        let (status, _, bytes) = self.request("GET", &manifest.segment, &[], &[])?;
        if status != 200 {
            return fail(format!(
                "GET {}: HTTP {status} (the manifest names a segment that cannot be read)",
                self.key(&manifest.segment)
            ));
        }
        super::store::check_segment(&manifest, &bytes, &self.key(&manifest.segment))?;
        let snapshot = Snapshot::decode(&bytes)?;
        Ok(Some((manifest, snapshot)))
    }
}

/// The signed headers (ureq sets `host` itself) and the signature on a request.
fn with_headers<B>(
    mut request: ureq::RequestBuilder<B>,
    headers: &[(String, String)],
    authorization: &str,
) -> ureq::RequestBuilder<B> {
    for (k, v) in headers.iter().filter(|(k, _)| k != "host") {
        request = request.header(k, v);
    }
    request.header("Authorization", authorization)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_a_bucket_and_a_prefix() {
        assert_eq!(
            parse_url("s3://audit-snapshots/analyzer/prod/"),
            Ok(("audit-snapshots".into(), "analyzer/prod".into()))
        );
        assert_eq!(parse_url("s3://bkt"), Ok(("bkt".into(), String::new())));
        for bad in ["http://b/p", "s3://", "s3://B_ad/p", "s3://ab"] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn credentials_come_from_the_chain_and_keys_are_encoded_once() {
        let lookup = |name: &str| match name {
            "AWS_CONTAINER_CREDENTIALS_FULL_URI" => Some("http://127.0.0.1:9/creds".to_owned()),
            _ => None,
        };
        let store = S3Store::from_env("s3://bucket-name/p", lookup).unwrap();
        assert!(matches!(
            store.credentials.source(),
            Source::Container { .. }
        ));
        let (url, host, path) = store.locate("p/a b+c");
        assert_eq!(path, "/p/a%20b%2Bc");
        assert_eq!(host, "bucket-name.s3.us-east-1.amazonaws.com");
        assert_eq!(url, format!("https://{host}{path}"));
    }
}
