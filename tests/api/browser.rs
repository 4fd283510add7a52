//! In a real browser: Debian's chromium over WebDriver (chromedriver), headless, with
//! every host but 127.0.0.1 unresolvable, as in an air-gapped cluster.
//! `./scripts/test.sh` installs both; a test that cannot start them fails, it does not
//! skip. Screenshots go to `target/screenshots/` for people to look at.

use crate::helpers::{free_port, mock_cluster, settings, spawn_app};
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A chromedriver process and a browser session on it; both end with the test.
pub struct Browser {
    pub client: Client,
    driver: Child,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Starts chromedriver and a headless chromium session at 1280×800.
pub async fn browser() -> Browser {
    let port = free_port();
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start chromedriver ({e}): ./scripts/test.sh installs chromium and chromium-driver")
        });
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver did not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({"args": [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--window-size=1280,800",
            // Any request outside this machine fails, as in an air-gapped cluster.
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        ]}),
    );
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .unwrap_or_else(|e| panic!("cannot start a chromium session: {e}"));
    Browser { client, driver }
}

impl Browser {
    /// Saves a screenshot as `target/screenshots/{name}.png`.
    pub async fn screenshot(&self, name: &str) {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    /// Every URL the page loaded (the document and its resources, Performance API).
    pub async fn loaded_urls(&self) -> Vec<String> {
        let script = "return [location.href].concat(performance.getEntriesByType('resource').map(e => e.name));";
        let urls = self.client.execute(script, vec![]).await.unwrap();
        serde_json::from_value(urls).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn docs_render_from_the_binary_with_no_outside_request() {
    let cluster = mock_cluster("events", 1);
    let mut config = settings(&cluster.bootstrap_servers(), &["events"]);
    config.http.auth_token = Some("docs-token".into());
    let app = spawn_app(&config).await;
    let browser = browser().await;
    browser
        .client
        .goto(&format!("{}/docs", app.base))
        .await
        .unwrap();
    // Swagger UI rendered the document: one block per operation.
    browser
        .client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(".opblock-summary-path"))
        .await
        .unwrap();
    let paths: Vec<String> = {
        let mut paths = Vec::new();
        for element in browser
            .client
            .find_all(Locator::Css(".opblock-summary-path"))
            .await
            .unwrap()
        {
            paths.push(element.text().await.unwrap());
        }
        paths
    };
    for expected in [
        "/events/{type}",
        "/positions/{topic}/{partition}/{offset}",
        "/stats",
        "/status",
    ] {
        assert!(
            paths.iter().any(|p| p.replace('\u{200b}', "") == expected),
            "{expected} not rendered: {paths:?}"
        );
    }
    browser.screenshot("docs").await;
    let urls = browser.loaded_urls().await;
    assert!(urls.len() >= 4, "{urls:?}");
    for url in &urls {
        assert!(
            url.starts_with(&app.base),
            "a request left the machine: {url}"
        );
    }
    browser.client.clone().close().await.unwrap();
}
