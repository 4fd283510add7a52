//! Connecting as to a managed cluster: TLS with a private CA and hostname
//! verification, mutual TLS, bad certificates and the recovery from them, SASL
//! that fails, and OIDC token fetches. tansu 0.6 has no usable TLS listener, so
//! Debian's socat terminates TLS in front of it (installed by ./scripts/test.sh),
//! and tansu advertises the terminator's address.

use std::net::TcpStream;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use analyzer::config::Settings;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SanType};
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use serde_json::Value;

use crate::helpers::{
    Event, Storage, TANSU_WAIT, Tansu, TestApp, free_port, get_json, produce_with, settings,
    spawn_app, stand_in,
};

/// A private CA and the files it signs, in a directory of their own.
struct Pki {
    dir: PathBuf,
    ca: CertifiedIssuer<'static, KeyPair>,
}

/// How a broker certificate is wrong, if it is.
#[derive(Clone, Copy)]
enum Broker {
    /// For `localhost`, valid, from the private CA.
    Good,
    /// For another name.
    OtherName,
    /// Expired yesterday.
    Expired,
    /// From a CA that nobody trusts.
    Untrusted,
}

fn issuer(name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

impl Pki {
    fn new(name: &str) -> Pki {
        let dir = std::env::temp_dir().join(format!("analyzer-pki-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca = issuer("analyzer test CA");
        std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
        Pki { dir, ca }
    }

    fn ca_file(&self) -> String {
        self.dir.join("ca.pem").display().to_string()
    }

    /// Writes a certificate and its key; returns (certificate, key) paths.
    fn sign(
        &self,
        file: &str,
        names: &[&str],
        expired: bool,
        by: &CertifiedIssuer<'static, KeyPair>,
    ) -> (PathBuf, PathBuf) {
        let mut params =
            CertificateParams::new(names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>())
                .unwrap();
        params
            .subject_alt_names
            .push(SanType::IpAddress([127, 0, 0, 1].into()));
        params.distinguished_name.push(DnType::CommonName, names[0]);
        if expired {
            let now = time::OffsetDateTime::now_utc();
            params.not_before = now - time::Duration::days(30);
            params.not_after = now - time::Duration::days(1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, by).unwrap();
        let (cert_file, key_file) = (
            self.dir.join(format!("{file}.crt")),
            self.dir.join(format!("{file}.key")),
        );
        std::fs::write(&cert_file, cert.pem()).unwrap();
        std::fs::write(&key_file, key.serialize_pem()).unwrap();
        (cert_file, key_file)
    }

    /// A broker certificate and its key in one PEM file, as socat takes them.
    fn broker(&self, kind: Broker) -> PathBuf {
        let untrusted = issuer("nobody's CA");
        let (file, names, expired, by) = match kind {
            Broker::Good => ("good", ["localhost"], false, &self.ca),
            Broker::OtherName => ("other", ["kafka.other.example"], false, &self.ca),
            Broker::Expired => ("expired", ["localhost"], true, &self.ca),
            Broker::Untrusted => ("untrusted", ["localhost"], false, &untrusted),
        };
        let (cert, key) = self.sign(file, &names, expired, by);
        let both = self.dir.join(format!("{file}.pem"));
        let pem = std::fs::read_to_string(cert).unwrap() + &std::fs::read_to_string(key).unwrap();
        std::fs::write(&both, pem).unwrap();
        both
    }

    /// A client certificate from the private CA: (certificate, key).
    fn client(&self) -> (String, String) {
        let (cert, key) = self.sign("client", &["analyzer"], false, &self.ca);
        (cert.display().to_string(), key.display().to_string())
    }
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// socat terminating TLS on `port` in front of a plaintext broker; its process
/// group (one child per connection) is killed on drop.
struct Terminator {
    child: Child,
}

impl Terminator {
    fn start(port: u16, cert_and_key: &Path, client_ca: Option<&str>, upstream: u16) -> Terminator {
        let verify = match client_ca {
            Some(ca) => format!("verify=1,cafile={ca}"),
            None => "verify=0".to_owned(),
        };
        let listen = format!(
            "openssl-listen:{port},reuseaddr,fork,cert={},{verify}",
            cert_and_key.display()
        );
        let child = Command::new("socat")
            .args([listen, format!("tcp:127.0.0.1:{upstream}")])
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("socat (./scripts/test.sh installs it)");
        let start = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "socat not listening"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Terminator { child }
    }
}

impl Drop for Terminator {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.wait();
    }
}

/// A tansu broker reached only through a TLS terminator at `localhost:tls_port`.
struct TlsBroker {
    tansu: Tansu,
    plain_port: u16,
    tls_port: u16,
}

impl TlsBroker {
    fn start() -> TlsBroker {
        let (plain_port, tls_port) = (free_port(), free_port());
        let advertised = format!("tcp://localhost:{tls_port}");
        let tansu = Tansu::start_advertising(plain_port, &Storage::Memory, &advertised, &[]);
        TlsBroker {
            tansu,
            plain_port,
            tls_port,
        }
    }

    fn terminate(&self, cert_and_key: &Path, client_ca: Option<&str>) -> Terminator {
        Terminator::start(self.tls_port, cert_and_key, client_ca, self.plain_port)
    }

    fn brokers(&self) -> String {
        format!("localhost:{}", self.tls_port)
    }
}

/// The client properties for TLS with `pki`'s CA (and a client certificate).
fn tls_properties(pki: &Pki, client: Option<&(String, String)>) -> Vec<(String, String)> {
    let mut properties = vec![
        ("security.protocol".to_owned(), "SSL".to_owned()),
        ("ssl.ca.location".to_owned(), pki.ca_file()),
        // socat listens on IPv4; `localhost` may resolve to ::1 first.
        ("broker.address.family".to_owned(), "v4".to_owned()),
    ];
    if let Some((cert, key)) = client {
        properties.push(("ssl.certificate.location".to_owned(), cert.clone()));
        properties.push(("ssl.key.location".to_owned(), key.clone()));
    }
    properties
}

fn app_settings(brokers: &str, topic: &str, properties: &[(String, String)]) -> Settings {
    let mut settings = settings(brokers, &[topic]);
    settings.kafka.properties.extend(properties.iter().cloned());
    settings
}

/// Creates `topic` and writes `n` events of type A to it, over TLS.
async fn fill(brokers: &str, topic: &str, n: usize, properties: &[(String, String)]) {
    let mut config = ClientConfig::new();
    config.set("bootstrap.servers", brokers);
    for (key, value) in properties {
        config.set(key, value);
    }
    let admin: AdminClient<DefaultClientContext> = config.create().unwrap();
    let new = NewTopic::new(topic, 1, TopicReplication::Fixed(1));
    for result in admin
        .create_topics(&[new], &AdminOptions::new())
        .await
        .unwrap()
    {
        result.expect("topic created");
    }
    let events: Vec<Event> = (0..n).map(|i| Event::json("A", i)).collect();
    let properties: Vec<(&str, &str)> = properties
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    produce_with(brokers, topic, &events, &properties).await;
}

/// Waits until the app reports a client error of `reason`, not ready; its /status.
async fn wait_client_error(app: &TestApp, reason: &str) -> Value {
    let status = app
        .wait_status(TANSU_WAIT, |s| s["kafka"]["error"]["reason"] == reason)
        .await;
    let (code, ready) = app.json("/health/ready").await;
    assert_eq!(code, 503, "{ready}");
    let said = ready["reason"].as_str().unwrap_or_default();
    assert!(said.starts_with("Kafka cannot be read: "), "{ready}");
    status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_tls_with_a_private_ca_it_indexes_and_refuses_a_certificate_for_another_name() {
    let pki = Pki::new("ca");
    let broker = TlsBroker::start();
    let _tls = broker.terminate(&pki.broker(Broker::Good), None);
    let properties = tls_properties(&pki, None);
    fill(&broker.brokers(), "secure", 30, &properties).await;

    let app = spawn_app(&app_settings(&broker.brokers(), "secure", &properties)).await;
    app.wait_ready(TANSU_WAIT).await;
    assert_eq!(app.json("/stats").await.1["A"], 30);
    let (_, event) = app.json("/events/A?index=29").await;
    assert_eq!(event["seq"], 29, "{event}");

    // The same broker behind a certificate for another name: refused.
    let other_port = free_port();
    let _other = Terminator::start(
        other_port,
        &pki.broker(Broker::OtherName),
        None,
        broker.plain_port,
    );
    let brokers = format!("localhost:{other_port}");
    let wrong = spawn_app(&app_settings(&brokers, "secure", &properties)).await;
    let status = wait_client_error(&wrong, "tls").await;
    let message = status["kafka"]["error"]["message"].as_str().unwrap();
    assert!(message.contains("SSL handshake failed"), "{status}");
    assert!(status["kafka"]["error"]["since"].is_string(), "{status}");
    drop(broker.tansu);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_indexes_with_a_client_certificate_and_says_why_without_one() {
    let pki = Pki::new("mtls");
    let broker = TlsBroker::start();
    let _tls = broker.terminate(&pki.broker(Broker::Good), Some(&pki.ca_file()));
    let client = pki.client();
    let with_cert = tls_properties(&pki, Some(&client));
    fill(&broker.brokers(), "mtls", 20, &with_cert).await;

    let app = spawn_app(&app_settings(&broker.brokers(), "mtls", &with_cert)).await;
    app.wait_ready(TANSU_WAIT).await;
    assert_eq!(app.json("/stats").await.1["A"], 20);

    let without = tls_properties(&pki, None);
    let refused = spawn_app(&app_settings(&broker.brokers(), "mtls", &without)).await;
    let status = wait_client_error(&refused, "tls").await;
    assert_eq!(status["ready"], false, "{status}");
}

/// `analyzer_kafka_errors_total{reason="tls"}`.
async fn tls_errors(app: &TestApp) -> f64 {
    let text = app.get("/metrics").await.text().await.unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("analyzer_kafka_errors_total{reason=\"tls\"} "))
        .map_or(0.0, |v| v.parse().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_and_expired_broker_certificates_are_shown_until_a_good_one_is_served() {
    let pki = Pki::new("expiry");
    let broker = TlsBroker::start();
    let properties = tls_properties(&pki, None);
    {
        let _good = broker.terminate(&pki.broker(Broker::Good), None);
        fill(&broker.brokers(), "rotated", 25, &properties).await;
    }
    let untrusted = broker.terminate(&pki.broker(Broker::Untrusted), None);
    let app = spawn_app(&app_settings(&broker.brokers(), "rotated", &properties)).await;
    let status = wait_client_error(&app, "tls").await;
    assert!(
        status["kafka"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("certificate verify failed"),
        "{status}"
    );
    drop(untrusted);

    // librdkafka's text is the same for an expired certificate ("certificate
    // verify failed"); the count shows that these handshakes fail too.
    let before = tls_errors(&app).await;
    let expired = broker.terminate(&pki.broker(Broker::Expired), None);
    let start = Instant::now();
    while tls_errors(&app).await <= before {
        assert!(start.elapsed() < TANSU_WAIT, "no handshake failed");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let status = wait_client_error(&app, "tls").await;
    assert_eq!(status["ready"], false, "{status}");
    drop(expired);

    // A good certificate again: it connects and indexes, with no restart.
    let _good = broker.terminate(&pki.broker(Broker::Good), None);
    app.wait_ready(TANSU_WAIT).await;
    assert_eq!(app.json("/stats").await.1["A"], 25);
    let status = app
        .wait_status(TANSU_WAIT, |s| s["kafka"]["error"].is_null())
        .await;
    assert_eq!(status["caught_up"], true, "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sasl_scram_failure_is_shown_and_not_ready() {
    // tansu's --authentication runs the SCRAM-SHA-512 exchange; it knows no user
    // (see docs/connecting.md: its `user create` did not give it one that it knows).
    let port = free_port();
    let url = format!("tcp://127.0.0.1:{port}");
    let _tansu = Tansu::start_advertising(port, &Storage::Memory, &url, &["--authentication"]);
    let brokers = format!("127.0.0.1:{port}");
    let properties: Vec<(String, String)> = [
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "SCRAM-SHA-512"),
        ("sasl.username", "analyzer"),
        ("sasl.password", "not-the-password"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let app = spawn_app(&app_settings(&brokers, "events", &properties)).await;
    let status = wait_client_error(&app, "authentication").await;
    assert!(
        status["kafka"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("SCRAM"),
        "{status}"
    );
    // Retried, not fatal: the process stays live.
    assert_eq!(app.json("/health/live").await.0, 200);
}

/// An unsigned JWT for `sub`, valid `lifetime_secs` from now (librdkafka reads
/// `sub` and `exp` from the tokens it is given).
fn jwt(lifetime_secs: i64) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    format!(
        "{}.{}.",
        base64url(br#"{"alg":"none","typ":"JWT"}"#),
        base64url(
            format!(
                r#"{{"sub":"analyzer","iat":{now},"exp":{}}}"#,
                now + lifetime_secs
            )
            .as_bytes()
        )
    )
}

fn base64url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_fetches_a_token_with_client_credentials_and_refreshes_it() {
    // An OAuth token endpoint stand-in: client-credentials in, a JWT valid 4 s out.
    let (base, requests) = stand_in(|_| {
        let body = format!(
            r#"{{"access_token":"{}","token_type":"Bearer","expires_in":4}}"#,
            jwt(4)
        );
        (200, "application/json", body)
    })
    .await;
    let url = format!("{base}/oauth2/token");
    let port = free_port();
    let address = format!("tcp://127.0.0.1:{port}");
    let _tansu = Tansu::start_advertising(port, &Storage::Memory, &address, &[]);
    let properties: Vec<(String, String)> = [
        ("security.protocol", "SASL_PLAINTEXT"),
        ("sasl.mechanism", "OAUTHBEARER"),
        ("sasl.oauthbearer.method", "oidc"),
        ("sasl.oauthbearer.client.id", "analyzer-client"),
        ("sasl.oauthbearer.client.secret", "client-secret"),
        ("sasl.oauthbearer.token.endpoint.url", url.as_str()),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let _app = spawn_app(&app_settings(
        &format!("127.0.0.1:{port}"),
        "events",
        &properties,
    ))
    .await;
    // librdkafka fetches a token at start and again before it expires (80% of
    // its lifetime): two fetches within a few seconds.
    let start = Instant::now();
    while requests.lock().unwrap().len() < 2 {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{} token fetches",
            requests.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let first = requests.lock().unwrap()[0].clone();
    assert_eq!(
        (first.method.as_str(), first.target.as_str()),
        ("POST", "/oauth2/token")
    );
    assert!(
        first.body.contains("grant_type=client_credentials"),
        "{first:?}"
    );
    // HTTP basic with the client id and secret.
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        "analyzer-client:client-secret",
    );
    assert_eq!(
        first.header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msk_iam_signs_a_token_for_librdkafka_with_container_credentials() {
    // No MSK here: a TLS broker that refuses SASL shows that librdkafka asked for
    // a token and analyzer signed one with credentials from the chain.
    let expires = {
        let at = time::OffsetDateTime::now_utc() + time::Duration::hours(1);
        at.format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    };
    let (credentials, requests) = stand_in(move |_| {
        let body = format!(
            r#"{{"AccessKeyId":"ASIAMSK","SecretAccessKey":"msk-secret","Token":"msk-session","Expiration":"{expires}"}}"#
        );
        (200, "application/json", body)
    })
    .await;
    let pki = Pki::new("msk");
    let broker = TlsBroker::start();
    let _tls = broker.terminate(&pki.broker(Broker::Good), None);
    let toml = format!(
        "[kafka]\nbrokers = {:?}\ntopics = [\"events\"]\nauth = \"aws_msk_iam\"\naws_region = \"eu-west-1\"\n[kafka.properties]\n\"ssl.ca.location\" = {:?}\n\"broker.address.family\" = \"v4\"\n",
        broker.brokers(),
        pki.ca_file()
    );
    let (dir, file) = crate::helpers::config_file("msk", &toml);
    let binary = crate::helpers::Binary::start(
        &[std::ffi::OsStr::new("--config"), file.as_os_str()],
        &[
            (
                "AWS_CONTAINER_CREDENTIALS_FULL_URI",
                format!("{credentials}/creds"),
            ),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "pod-token".to_owned()),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let start = Instant::now();
    let status = loop {
        let status = get_json(&client, &format!("{}/status", binary.base)).await;
        if status["kafka"]["aws_msk_iam"]["token_expires_at_ms"].is_i64()
            && status["kafka"]["error"]["reason"] == "authentication"
        {
            break status;
        }
        assert!(start.elapsed() < TANSU_WAIT, "{status}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let msk = &status["kafka"]["aws_msk_iam"];
    assert_eq!(msk["region"], "eu-west-1", "{status}");
    assert!(
        msk["credentials"]
            .as_str()
            .unwrap()
            .starts_with("container credentials at")
    );
    let lifetime =
        msk["token_expires_at_ms"].as_i64().unwrap() - msk["token_made_at_ms"].as_i64().unwrap();
    assert_eq!(lifetime, 900_000, "{status}");
    assert_eq!(
        requests.lock().unwrap()[0].header("authorization"),
        Some("pod-token")
    );
    // The broker refused the mechanism: shown as what it is.
    assert!(
        status["kafka"]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("OAUTHBEARER"),
        "{status}"
    );
    let _ = std::fs::remove_dir_all(dir);
}
