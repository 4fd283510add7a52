//! The standard AWS credential chain, in the SDKs' order: environment variables,
//! a web identity token (EKS IRSA: STS `AssumeRoleWithWebIdentity`), container
//! credentials (EKS Pod Identity, ECS), then instance metadata (IMDSv2). Each
//! source is chosen by the environment the SDKs read, endpoints included
//! (`AWS_ENDPOINT_URL_STS`, `AWS_EC2_METADATA_SERVICE_ENDPOINT`), which is also
//! how the tests point them at stand-ins on loopback. Temporary credentials are
//! cached until five minutes before they expire.

use std::sync::Mutex;
use std::time::Duration;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Credentials;

/// How long one credential request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Credentials this close to their expiry are fetched anew.
const REFRESH_BEFORE: time::Duration = time::Duration::minutes(5);
/// EKS Pod Identity and ECS serve container credentials here.
const CONTAINER_HOST: &str = "http://169.254.170.2";
const IMDS_ENDPOINT: &str = "http://169.254.169.254";
/// The largest answer a credential source may send.
const MAX_ANSWER: u64 = 64 << 10;

/// Where credentials come from, resolved from the environment once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`.
    Environment(Credentials),
    /// `AWS_WEB_IDENTITY_TOKEN_FILE` and `AWS_ROLE_ARN`: STS trades the token
    /// (re-read each time: it rotates) for the role's credentials.
    WebIdentity {
        /// The token file.
        token_file: String,
        /// The role to assume.
        role_arn: String,
        /// `AWS_ROLE_SESSION_NAME`, or `analyzer`.
        session_name: String,
        /// STS's URL.
        sts_endpoint: String,
    },
    /// `AWS_CONTAINER_CREDENTIALS_FULL_URI` or `..._RELATIVE_URI`, with the
    /// authorization token from `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (EKS Pod
    /// Identity) or `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
    Container {
        /// The credentials URL.
        url: String,
        /// The token file, re-read each time.
        token_file: Option<String>,
        /// Or the token itself.
        token: Option<String>,
    },
    /// The EC2 instance metadata service, IMDSv2.
    InstanceMetadata {
        /// `AWS_EC2_METADATA_SERVICE_ENDPOINT`, or the link-local address.
        endpoint: String,
    },
}

impl Source {
    /// The first source the environment (`lookup`) names, as the SDKs choose;
    /// None if none does (IMDS switched off by `AWS_EC2_METADATA_DISABLED`).
    pub fn from_env(lookup: &impl Fn(&str) -> Option<String>, region: &str) -> Option<Source> {
        let set = |name: &str| lookup(name).filter(|v| !v.is_empty());
        if let (Some(id), Some(secret)) = (set("AWS_ACCESS_KEY_ID"), set("AWS_SECRET_ACCESS_KEY")) {
            let token = set("AWS_SESSION_TOKEN");
            return Some(Source::Environment(Credentials::new(
                &id,
                &secret,
                token.as_deref(),
            )));
        }
        if let (Some(token_file), Some(role_arn)) =
            (set("AWS_WEB_IDENTITY_TOKEN_FILE"), set("AWS_ROLE_ARN"))
        {
            let sts_endpoint = set("AWS_ENDPOINT_URL_STS")
                .or_else(|| set("AWS_ENDPOINT_URL"))
                .unwrap_or_else(|| format!("https://sts.{region}.amazonaws.com"));
            return Some(Source::WebIdentity {
                token_file,
                role_arn,
                session_name: set("AWS_ROLE_SESSION_NAME").unwrap_or_else(|| "analyzer".into()),
                sts_endpoint: sts_endpoint.trim_end_matches('/').to_owned(),
            });
        }
        let container = set("AWS_CONTAINER_CREDENTIALS_FULL_URI").or_else(|| {
            set("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
                .map(|path| format!("{CONTAINER_HOST}{path}"))
        });
        if let Some(url) = container {
            return Some(Source::Container {
                url,
                token_file: set("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"),
                token: set("AWS_CONTAINER_AUTHORIZATION_TOKEN"),
            });
        }
        if set("AWS_EC2_METADATA_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
            return None;
        }
        let endpoint =
            set("AWS_EC2_METADATA_SERVICE_ENDPOINT").unwrap_or_else(|| IMDS_ENDPOINT.into());
        Some(Source::InstanceMetadata {
            endpoint: endpoint.trim_end_matches('/').to_owned(),
        })
    }

    /// What this source is, for logs and errors (no secrets).
    pub fn describe(&self) -> String {
        match self {
            Source::Environment(_) => "environment variables".into(),
            Source::WebIdentity { role_arn, .. } => format!("web identity for role {role_arn}"),
            Source::Container { url, .. } => format!("container credentials at {url}"),
            Source::InstanceMetadata { endpoint } => format!("instance metadata at {endpoint}"),
        }
    }
}

/// A credential source and what it last gave, refreshed before it expires.
pub struct CredentialChain {
    source: Source,
    agent: ureq::Agent,
    cached: Mutex<Option<Credentials>>,
}

impl std::fmt::Debug for CredentialChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CredentialChain({})", self.source.describe())
    }
}

impl CredentialChain {
    /// A chain that reads `source`.
    pub fn new(source: Source) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(REQUEST_TIMEOUT))
            .http_status_as_error(false)
            .build()
            .into();
        CredentialChain {
            source,
            agent,
            cached: Mutex::new(None),
        }
    }

    /// The source it reads.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// Credentials valid for at least five more minutes (fetched if needed).
    pub fn credentials(&self) -> Result<Credentials, String> {
        let now = OffsetDateTime::now_utc();
        let mut cached = self
            .cached
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(credentials) = cached.as_ref()
            && credentials
                .expires_at
                .is_none_or(|at| at - REFRESH_BEFORE > now)
        {
            return Ok(credentials.clone());
        }
        let fresh = self
            .fetch()
            .map_err(|e| format!("AWS credentials from {}: {e}", self.source.describe()))?;
        *cached = Some(fresh.clone());
        Ok(fresh)
    }

    fn fetch(&self) -> Result<Credentials, String> {
        match &self.source {
            Source::Environment(credentials) => Ok(credentials.clone()),
            Source::WebIdentity {
                token_file,
                role_arn,
                session_name,
                sts_endpoint,
            } => {
                let token = std::fs::read_to_string(token_file)
                    .map_err(|e| format!("cannot read {token_file}: {e}"))?;
                let query = super::sigv4::query_string(&[
                    ("Action".into(), "AssumeRoleWithWebIdentity".into()),
                    ("RoleArn".into(), role_arn.clone()),
                    ("RoleSessionName".into(), session_name.clone()),
                    ("Version".into(), "2011-06-15".into()),
                    ("WebIdentityToken".into(), token.trim().to_owned()),
                ]);
                let (status, body) = self.call("POST", sts_endpoint, &[], Some(&query))?;
                if status != 200 {
                    return Err(format!("STS answered HTTP {status}: {}", snippet(&body)));
                }
                assumed_role_credentials(&body)
            }
            Source::Container {
                url,
                token_file,
                token,
            } => {
                let authorization = match (token_file, token) {
                    (Some(file), _) => Some(
                        std::fs::read_to_string(file)
                            .map_err(|e| format!("cannot read {file}: {e}"))?
                            .trim()
                            .to_owned(),
                    ),
                    (None, token) => token.clone(),
                };
                let headers: Vec<(&str, String)> = authorization
                    .map(|a| ("Authorization", a))
                    .into_iter()
                    .collect();
                let (status, body) = self.call("GET", url, &headers, None)?;
                if status != 200 {
                    return Err(format!("HTTP {status}: {}", snippet(&body)));
                }
                json_credentials(&body)
            }
            Source::InstanceMetadata { endpoint } => {
                let (status, token) = self.call(
                    "PUT",
                    &format!("{endpoint}/latest/api/token"),
                    &[("X-aws-ec2-metadata-token-ttl-seconds", "21600".into())],
                    Some(""),
                )?;
                if status != 200 {
                    return Err(format!("IMDSv2 token: HTTP {status}"));
                }
                let headers = [("X-aws-ec2-metadata-token", token.trim().to_owned())];
                let roles = format!("{endpoint}/latest/meta-data/iam/security-credentials/");
                let (status, role) = self.call("GET", &roles, &headers, None)?;
                let role = role.lines().next().unwrap_or_default().trim().to_owned();
                if status != 200 || role.is_empty() {
                    return Err(format!("no instance role (HTTP {status})"));
                }
                let (status, body) = self.call("GET", &format!("{roles}{role}"), &headers, None)?;
                if status != 200 {
                    return Err(format!("role {role}: HTTP {status}"));
                }
                json_credentials(&body)
            }
        }
    }

    /// One request: (status, body).
    fn call(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, String)],
        form: Option<&str>,
    ) -> Result<(u16, String), String> {
        let failed = |e: ureq::Error| format!("{method} {url}: {e}");
        let mut response = match (method, form) {
            ("GET", _) => {
                let mut request = self.agent.get(url);
                for (name, value) in headers {
                    request = request.header(*name, value.as_str());
                }
                request.call().map_err(failed)?
            }
            (_, body) => {
                let mut request = if method == "PUT" {
                    self.agent.put(url)
                } else {
                    self.agent.post(url)
                };
                for (name, value) in headers {
                    request = request.header(*name, value.as_str());
                }
                if method == "POST" {
                    request = request.header("Content-Type", "application/x-www-form-urlencoded");
                }
                request.send(body.unwrap_or_default()).map_err(failed)?
            }
        };
        let status = response.status().as_u16();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER)
            .read_to_string()
            .map_err(|e| format!("{method} {url}: reading the answer: {e}"))?;
        Ok((status, body))
    }
}

fn snippet(body: &str) -> String {
    body.chars().take(300).collect()
}

fn expiry(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| format!("expiry {text:?}: {e}"))
}

/// Container and instance credentials: `{"AccessKeyId", "SecretAccessKey",
/// "Token", "Expiration"}`.
pub fn json_credentials(body: &str) -> Result<Credentials, String> {
    #[derive(serde::Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Answer {
        access_key_id: String,
        secret_access_key: String,
        token: Option<String>,
        expiration: Option<String>,
    }
    let answer: Answer = serde_json::from_str(body)
        .map_err(|e| format!("not credentials: {e}: {}", snippet(body)))?;
    Ok(Credentials {
        access_key_id: answer.access_key_id,
        secret_access_key: answer.secret_access_key,
        session_token: answer.token,
        expires_at: answer.expiration.as_deref().map(expiry).transpose()?,
    })
}

/// The text of the first `<tag>...</tag>` in `xml`, entities decoded.
fn xml_text<'a>(xml: &'a str, tag: &str) -> Option<std::borrow::Cow<'a, str>> {
    let open = format!("<{tag}>");
    let start = xml.find(&open)? + open.len();
    let end = start + xml[start..].find(&format!("</{tag}>"))?;
    let text = xml[start..end].trim();
    if !text.contains('&') {
        return Some(std::borrow::Cow::Borrowed(text));
    }
    Some(std::borrow::Cow::Owned(
        text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    ))
}

/// STS's `AssumeRoleWithWebIdentity` answer (XML).
pub fn assumed_role_credentials(xml: &str) -> Result<Credentials, String> {
    let field = |tag: &str| {
        xml_text(xml, tag)
            .map(|t| t.into_owned())
            .ok_or_else(|| format!("STS answer without {tag}: {}", snippet(xml)))
    };
    Ok(Credentials {
        access_key_id: field("AccessKeyId")?,
        secret_access_key: field("SecretAccessKey")?,
        session_token: Some(field("SessionToken")?),
        expires_at: Some(expiry(&field("Expiration")?)?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn sources_are_chosen_in_the_sdks_order() {
        let all = [
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_WEB_IDENTITY_TOKEN_FILE", "/var/run/token"),
            ("AWS_ROLE_ARN", "arn:aws:iam::1:role/r"),
            (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                "http://127.0.0.1:9/creds",
            ),
        ];
        let source = |pairs: &[(&str, &str)]| Source::from_env(&env(pairs), "eu-west-1");
        assert!(matches!(source(&all), Some(Source::Environment(_))));
        assert!(matches!(
            source(&all[2..]),
            Some(Source::WebIdentity { sts_endpoint, .. }) if sts_endpoint == "https://sts.eu-west-1.amazonaws.com"
        ));
        assert!(matches!(source(&all[4..]), Some(Source::Container { .. })));
        assert!(matches!(
            source(&[("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "/v2/credentials/x")]),
            Some(Source::Container { url, .. }) if url == "http://169.254.170.2/v2/credentials/x"
        ));
        assert!(matches!(
            source(&[]),
            Some(Source::InstanceMetadata { endpoint }) if endpoint == "http://169.254.169.254"
        ));
        assert_eq!(source(&[("AWS_EC2_METADATA_DISABLED", "true")]), None);
    }

    #[test]
    fn sts_and_json_answers_parse_and_secrets_stay_out_of_debug() {
        let xml = "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials><AccessKeyId>ASIAX</AccessKeyId><SecretAccessKey>s/e+c&amp;r</SecretAccessKey><SessionToken>tok</SessionToken><Expiration>2026-12-03T12:00:00Z</Expiration></Credentials></AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";
        let credentials = assumed_role_credentials(xml).unwrap();
        assert_eq!(credentials.secret_access_key, "s/e+c&r");
        assert_eq!(credentials.session_token.as_deref(), Some("tok"));
        assert!(!format!("{credentials:?}").contains("s/e+c"));
        assert!(assumed_role_credentials("<Error/>").is_err());
        let json = r#"{"Code":"Success","AccessKeyId":"ASIAY","SecretAccessKey":"k","Token":"t","Expiration":"2026-12-03T12:00:00Z"}"#;
        assert_eq!(json_credentials(json).unwrap().access_key_id, "ASIAY");
        assert!(json_credentials("{}").is_err());
    }
}
