//! AWS without AWS: MSK IAM tokens against AWS's own signer (the Python
//! `aws-msk-iam-sasl-signer`, installed by ./scripts/test.sh) for the same
//! credentials and time, and the credential chain against stand-ins of STS,
//! container credentials and instance metadata on loopback.

use analyzer::aws::Credentials;
use analyzer::aws::credentials::{CredentialChain, Source};
use analyzer::aws::msk;
use base64::Engine as _;

use crate::helpers::{Received, stand_in};

/// The URL a token encodes, without its `User-Agent` (each signer names itself).
fn signed_url(token: &str) -> String {
    let url = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .unwrap();
    let url = String::from_utf8(url).unwrap();
    let (signed, agent) = url.rsplit_once("&User-Agent=").unwrap();
    assert!(!agent.is_empty());
    signed.to_owned()
}

#[test]
fn msk_tokens_are_those_of_aws_own_signer() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/aws/msk_token.py");
    let cases = [
        (
            "us-east-1",
            "AKIAIOSFODNN7EXAMPLE",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            None,
            1_796_292_000,
        ),
        (
            "eu-west-1",
            "ASIAEXAMPLE",
            "s3cr3t+/=",
            Some("FwoGZXIvYXdzE//token+with/slashes="),
            1_700_000_123,
        ),
        ("ap-southeast-2", "AKID", "k", Some("t"), 1_767_225_599),
    ];
    for (region, key, secret, token, epoch) in cases {
        let output = std::process::Command::new("python3")
            .args([
                script,
                region,
                key,
                secret,
                token.unwrap_or("-"),
                &epoch.to_string(),
            ])
            .output()
            .expect("python3");
        assert!(
            output.status.success(),
            "the AWS signer (./scripts/test.sh installs it): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = String::from_utf8(output.stdout).unwrap();
        let mut lines = text.lines();
        let (theirs, their_expiry) = (lines.next().unwrap(), lines.next().unwrap());
        let credentials = Credentials::new(key, secret, token);
        let time = time::OffsetDateTime::from_unix_timestamp(epoch).unwrap();
        let (ours, our_expiry) = msk::token(&credentials, region, time);
        assert_eq!(signed_url(&ours), signed_url(theirs), "{region}");
        assert_eq!(our_expiry.to_string(), their_expiry, "{region}");
    }
}

/// Credentials from `source`, read off the async runtime (the chain blocks).
async fn fetch(chain: std::sync::Arc<CredentialChain>) -> Result<Credentials, String> {
    tokio::task::spawn_blocking(move || chain.credentials())
        .await
        .unwrap()
}

fn lookup(pairs: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.clone())
    }
}

fn later(minutes: i64) -> String {
    let at = time::OffsetDateTime::now_utc() + time::Duration::minutes(minutes);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

#[tokio::test]
async fn web_identity_trades_the_token_file_for_the_roles_credentials_at_sts() {
    let dir = std::env::temp_dir().join(format!("analyzer-irsa-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("token");
    std::fs::write(&token_file, "eyJ.web-identity.jwt\n").unwrap();
    let expires = later(60);
    let (sts, requests) = stand_in(move |request: &Received| {
        let body = format!(
            "<AssumeRoleWithWebIdentityResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIAIRSA</AccessKeyId><SecretAccessKey>irsa/secret</SecretAccessKey><SessionToken>irsa-session</SessionToken><Expiration>{expires}</Expiration></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>"
        );
        if request.body.contains("WebIdentityToken=eyJ.web-identity.jwt&") || request.body.ends_with("WebIdentityToken=eyJ.web-identity.jwt") {
            (200, "text/xml", body)
        } else {
            (400, "text/xml", "<Error/>".into())
        }
    })
    .await;
    let env = lookup(vec![
        (
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            token_file.display().to_string(),
        ),
        (
            "AWS_ROLE_ARN",
            "arn:aws:iam::123456789012:role/analyzer".into(),
        ),
        ("AWS_ENDPOINT_URL_STS", sts),
    ]);
    let chain = std::sync::Arc::new(CredentialChain::new(
        Source::from_env(&env, "eu-west-1").unwrap(),
    ));
    let credentials = fetch(chain.clone()).await.unwrap();
    assert_eq!(credentials.access_key_id, "ASIAIRSA");
    assert_eq!(credentials.secret_access_key, "irsa/secret");
    assert_eq!(credentials.session_token.as_deref(), Some("irsa-session"));
    let sent = requests.lock().unwrap()[0].clone();
    assert_eq!(sent.method, "POST");
    for part in [
        "Action=AssumeRoleWithWebIdentity",
        "RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fanalyzer",
        "RoleSessionName=analyzer",
        "Version=2011-06-15",
    ] {
        assert!(sent.body.contains(part), "{part}: {}", sent.body);
    }
    // Cached while valid: no second call.
    fetch(chain).await.unwrap();
    assert_eq!(requests.lock().unwrap().len(), 1);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn container_credentials_send_the_pod_identity_token_and_refresh_before_expiry() {
    let dir = std::env::temp_dir().join(format!("analyzer-pod-identity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let token_file = dir.join("eks-pod-identity-token");
    std::fs::write(&token_file, "pod-identity-token").unwrap();
    // Valid four more minutes only: inside the five-minute margin, so every call
    // fetches anew.
    let expires = later(4);
    let (base, requests) = stand_in(move |request: &Received| {
        if request.header("authorization") == Some("pod-identity-token") {
            let body = format!(
                r#"{{"AccessKeyId":"ASIAPOD","SecretAccessKey":"pod-secret","Token":"pod-session","AccountId":"123456789012","Expiration":"{expires}"}}"#
            );
            (200, "application/json", body)
        } else {
            (401, "application/json", "{}".into())
        }
    })
    .await;
    let env = lookup(vec![
        (
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
            format!("{base}/v1/credentials"),
        ),
        (
            "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
            token_file.display().to_string(),
        ),
    ]);
    let chain = std::sync::Arc::new(CredentialChain::new(
        Source::from_env(&env, "eu-west-1").unwrap(),
    ));
    let credentials = fetch(chain.clone()).await.unwrap();
    assert_eq!(credentials.access_key_id, "ASIAPOD");
    assert_eq!(credentials.session_token.as_deref(), Some("pod-session"));
    fetch(chain).await.unwrap();
    let requests = requests.lock().unwrap();
    assert_eq!(
        requests.len(),
        2,
        "credentials about to expire are fetched again"
    );
    assert_eq!(requests[0].target, "/v1/credentials");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn instance_metadata_is_read_with_an_imdsv2_session_token() {
    let expires = later(60);
    let (base, requests) = stand_in(move |request: &Received| {
        let token = request.header("x-aws-ec2-metadata-token");
        match (request.method.as_str(), request.target.as_str(), token) {
            ("PUT", "/latest/api/token", _)
                if request.header("x-aws-ec2-metadata-token-ttl-seconds").is_some() =>
            {
                (200, "text/plain", "imds-session".into())
            }
            ("GET", "/latest/meta-data/iam/security-credentials/", Some("imds-session")) => {
                (200, "text/plain", "analyzer-node-role".into())
            }
            ("GET", "/latest/meta-data/iam/security-credentials/analyzer-node-role", Some("imds-session")) => (
                200,
                "application/json",
                format!(r#"{{"Code":"Success","Type":"AWS-HMAC","AccessKeyId":"ASIANODE","SecretAccessKey":"node-secret","Token":"node-session","Expiration":"{expires}"}}"#),
            ),
            _ => (401, "text/plain", String::new()),
        }
    })
    .await;
    let env = lookup(vec![("AWS_EC2_METADATA_SERVICE_ENDPOINT", base)]);
    let chain = std::sync::Arc::new(CredentialChain::new(
        Source::from_env(&env, "eu-west-1").unwrap(),
    ));
    let credentials = fetch(chain).await.unwrap();
    assert_eq!(credentials.access_key_id, "ASIANODE");
    assert_eq!(requests.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn a_failing_source_says_which_and_why() {
    let (base, _) = stand_in(|_| (500, "text/plain", "boom".into())).await;
    let env = lookup(vec![(
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        format!("{base}/creds"),
    )]);
    let chain = std::sync::Arc::new(CredentialChain::new(
        Source::from_env(&env, "eu-west-1").unwrap(),
    ));
    let error = fetch(chain).await.unwrap_err();
    assert!(
        error.contains("container credentials at http://127.0.0.1:"),
        "{error}"
    );
    assert!(error.contains("HTTP 500: boom"), "{error}");
}
