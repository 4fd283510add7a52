//! In a real browser: Debian's chromium over WebDriver (chromedriver), headless, with
//! every host but 127.0.0.1 unresolvable, as in an air-gapped cluster.
//! `./scripts/test.sh` installs both; a test that cannot start them fails, it does not
//! skip. Screenshots go to `target/screenshots/` for people to look at.

use crate::helpers::{free_port, mock_cluster, settings, spawn_app};
use fantoccini::actions::{InputSource, MOUSE_BUTTON_LEFT, MouseActions, PointerAction};
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

/// Waits for `css` to be on the page.
pub async fn wait_for(browser: &Browser, css: &str) -> fantoccini::elements::Element {
    browser
        .client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css} never appeared: {e}"))
}

/// Reads with `read` every 100 ms until `done` holds of what it read; panics with
/// `what` and the last value read after 20 s. What it read last.
async fn eventually<T: std::fmt::Debug>(
    what: &str,
    mut read: impl AsyncFnMut() -> T,
    done: impl Fn(&T) -> bool,
) -> T {
    let started = Instant::now();
    loop {
        let value = read().await;
        if done(&value) {
            return value;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "{what}: {value:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the page's heading reads `text` (a view is rendered).
pub async fn wait_for_heading(browser: &Browser, text: &str) {
    let script = "const h = document.querySelector('h1'); return h ? h.textContent : '';";
    let read = async || browser.client.execute(script, vec![]).await.unwrap();
    eventually(&format!("heading, not {text}"), read, |h| *h == text).await;
}

/// Clicks the element `locator` finds.
async fn click(browser: &Browser, locator: Locator<'_>) {
    browser
        .client
        .find(locator)
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
}

/// Clicks the button whose text is `text`.
async fn click_button(browser: &Browser, text: &str) {
    click(
        browser,
        Locator::XPath(&format!("//button[text()='{text}']")),
    )
    .await;
}

/// Checks that no hostile value ran (`window.pwned` unset) or was parsed as markup
/// (no `img` or `script` in the page's main part); `what` names the values.
async fn assert_nothing_ran(browser: &Browser, what: &str) {
    let ran = browser
        .client
        .execute(
            "return [window.pwned === undefined, document.querySelectorAll('main img, main script').length];",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(
        ran,
        serde_json::json!([true, 0]),
        "{what} ran or was parsed"
    );
}

/// The text of every cell of `css` rows, row by row, read in one script: the page
/// may replace the rows (live counts) between two WebDriver calls.
/// The timeline's bars once their counts are `wanted` (within 20 s).
async fn drawn_bars(browser: &Browser, wanted: &[String]) -> Vec<fantoccini::elements::Element> {
    let read = async || {
        let bars = browser
            .client
            .find_all(Locator::Css("#timeline g.bar"))
            .await
            .unwrap();
        let mut drawn = Vec::new();
        for bar in &bars {
            drawn.push(bar.attr("data-count").await.unwrap().unwrap_or_default());
        }
        (drawn, bars)
    };
    let what = format!("bars, not /histogram {wanted:?}");
    eventually(&what, read, |(drawn, _)| drawn == wanted)
        .await
        .1
}

async fn table(browser: &Browser, css: &str) -> Vec<Vec<String>> {
    let script = "return Array.from(document.querySelectorAll(arguments[0])).map(row => Array.from(row.querySelectorAll('td')).map(cell => cell.textContent));";
    let rows = browser
        .client
        .execute(script, vec![serde_json::json!(css)])
        .await
        .unwrap();
    serde_json::from_value(rows).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_audit_page_pages_links_and_shows_hostile_values_as_text() {
    const TOKEN: &str = "page-token";
    let brokers = crate::helpers::broker();
    let topic = crate::helpers::new_topic(&brokers, "page", 3).await;
    let hostile = r#"{"type":"A","note":"<img src=x onerror=\"window.pwned=1\"><script>window.pwned=2</script>"}"#;
    // A second apart, ending a minute ago: the timeline has a shape to draw.
    let now_ms = crate::helpers::now_ms();
    let mut events: Vec<crate::helpers::Event> = (0..240)
        .map(|i| {
            crate::helpers::Event::json(if i % 3 == 0 { "B" } else { "A" }, i)
                .on(i as i32 % 3)
                .at_time(now_ms - 300_000 + i as i64 * 1_000)
        })
        .collect();
    events.push(
        crate::helpers::Event::raw(hostile)
            .on(1)
            .with_key(b"<b>key</b>")
            .header("x-note", Some(b"<script>window.pwned=3</script>")),
    );
    events.push(crate::helpers::Event::raw(*b"<script>window.pwned=4</script>\xff").on(2));
    let positions = crate::helpers::produce(&brokers, &topic, &events).await;
    let binary = crate::helpers::Binary::start(
        &[],
        &[
            ("ANALYZER_KAFKA__BROKERS", brokers.clone()),
            ("ANALYZER_KAFKA__TOPICS", topic.clone()),
            ("ANALYZER_HTTP__AUTH_TOKEN", TOKEN.to_owned()),
        ],
    )
    .await;
    let base = binary.base.clone();
    let client = reqwest::Client::new();
    let get = |path: String| {
        let client = client.clone();
        async move {
            let response = client.get(path).bearer_auth(TOKEN).send().await.unwrap();
            response.json::<serde_json::Value>().await.unwrap()
        }
    };
    let started = Instant::now();
    while get(format!("{base}/status")).await["unclassified"]["count"] != 1
        || get(format!("{base}/stats")).await["A"] != 161
    {
        assert!(
            started.elapsed() < crate::helpers::TANSU_WAIT,
            "not indexed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let browser = browser().await;
    // The token, asked once, kept for the tab.
    browser.client.goto(&format!("{base}/")).await.unwrap();
    let input = wait_for(&browser, "#token").await;
    browser.screenshot("page-token").await;
    input.send_keys(TOKEN).await.unwrap();
    click(&browser, Locator::Css("form button")).await;
    wait_for(&browser, "#types tr").await;
    let stats = get(format!("{base}/stats")).await;
    let listed = table(&browser, "#types tr").await;
    for (name, count) in stats.as_object().unwrap() {
        let row = listed
            .iter()
            .find(|r| r[0] == *name)
            .unwrap_or_else(|| panic!("{name} not listed"));
        assert_eq!(row[1].replace(',', ""), count.to_string(), "{name}");
    }
    assert!(listed.iter().any(|r| r[0] == "unclassified" && r[1] == "1"));
    // Each type's sparkline: /histogram's counts over the span all types share
    // (the first clock of any to just past the last), so rows compare.
    let status = get(format!("{base}/status?types=all")).await;
    let mut clocks = Vec::new();
    for t in status["types"]
        .as_object()
        .unwrap()
        .values()
        .chain([&status["unclassified"]])
    {
        clocks.push(t["first"]["clock_ms"].as_u64().unwrap());
        clocks.push(t["last"]["clock_ms"].as_u64().unwrap());
    }
    let (from, to) = (
        clocks.iter().min().unwrap(),
        clocks.iter().max().unwrap() + 1,
    );
    for (row, name) in [(0, "A"), (1, "B"), (2, "unclassified")] {
        let histogram = get(format!(
            "{base}/events/{name}/histogram?buckets=24&from={from}&to={to}"
        ))
        .await;
        let wanted: Vec<String> = histogram["counts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.to_string())
            .collect();
        let script = "return Array.from(document.querySelectorAll('#types tr')[arguments[0]].querySelectorAll('svg.spark rect')).map(r => r.getAttribute('data-count'));";
        let read = async || {
            let drawn = browser
                .client
                .execute(script, vec![serde_json::json!(row)])
                .await
                .unwrap();
            serde_json::from_value::<Vec<String>>(drawn).unwrap()
        };
        let what = format!("{name}'s sparkline, not /histogram {wanted:?}");
        eventually(&what, read, |drawn| *drawn == wanted).await;
    }
    browser.screenshot("page-types").await;

    // Live counts: new events show up on the page without a reload.
    let more: Vec<crate::helpers::Event> = (0..5)
        .map(|i| crate::helpers::Event::json("A", 1_000 + i))
        .collect();
    crate::helpers::produce(&brokers, &topic, &more).await;
    let read = async || table(&browser, "#types tr").await;
    let refreshed = |rows: &Vec<Vec<String>>| rows.iter().any(|r| r[0] == "A" && r[1] == "166");
    eventually("counts not refreshed", read, refreshed).await;

    // Paging shows what the API gives, in order.
    browser
        .client
        .goto(&format!("{base}/#/events/A"))
        .await
        .unwrap();
    for from in [0, 50] {
        if from > 0 {
            let next = browser
                .client
                .find(Locator::XPath("//button[text()='Next']"))
                .await
                .unwrap();
            next.click().await.unwrap();
        }
        let expected = get(format!("{base}/events/A/range?from={from}&limit=50")).await;
        let wanted: Vec<String> = expected["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["index"].to_string())
            .collect();
        let read = async || {
            let rows = table(&browser, "#events tr").await;
            rows.iter().map(|r| r[0].clone()).collect::<Vec<String>>()
        };
        eventually(&format!("page from {from}"), read, |shown| *shown == wanted).await;
        let url = browser.client.current_url().await.unwrap();
        if from > 0 {
            assert!(
                url.as_str().ends_with(&format!("#/events/A?from={from}")),
                "{url}"
            );
        }
    }
    browser.screenshot("page-list").await;

    // The timeline: its bars are /histogram's counts, and a bar opens the list at
    // the first event of its span.
    let histogram = get(format!("{base}/events/A/histogram?buckets=60")).await;
    let wanted: Vec<String> = histogram["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let bars = drawn_bars(&browser, &wanted).await;
    let last_full = wanted.iter().rposition(|c| c != "0").unwrap();
    let start = bars[last_full].attr("data-from").await.unwrap().unwrap();
    let first_of_span = client
        .get(format!("{base}/events/A?time={start}"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    let index = first_of_span.headers()["x-index"]
        .to_str()
        .unwrap()
        .to_owned();
    bars[last_full].click().await.unwrap();
    let read = async || browser.client.current_url().await.unwrap().to_string();
    let listed = |url: &String| url.ends_with(&format!("#/events/A?from={index}"));
    eventually("the bar's list", read, listed).await;
    browser.screenshot("page-timeline").await;

    // Dragging over bars zooms in: the chart is then /histogram of the span of the
    // bars dragged over, and "Whole span" goes back.
    let (from, bucket_ms, to) = (
        histogram["from"].as_u64().unwrap(),
        histogram["bucket_ms"].as_u64().unwrap(),
        histogram["to"].as_u64().unwrap(),
    );
    let (a, b) = (10, 19);
    let zoomed = get(format!(
        "{base}/events/A/histogram?buckets=60&from={}&to={}",
        from + a * bucket_ms,
        to.min(from + (b + 1) * bucket_ms)
    ))
    .await;
    let zoomed: Vec<String> = zoomed["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.to_string())
        .collect();
    let bars = drawn_bars(&browser, &wanted).await;
    let drag = MouseActions::new("mouse".into())
        .then(PointerAction::MoveToElement {
            element: bars[a as usize].clone(),
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Down {
            button: MOUSE_BUTTON_LEFT,
        })
        .then(PointerAction::MoveToElement {
            element: bars[b as usize].clone(),
            duration: None,
            x: 0.0,
            y: 0.0,
        })
        .then(PointerAction::Up {
            button: MOUSE_BUTTON_LEFT,
        });
    browser.client.perform_actions(drag).await.unwrap();
    browser.client.release_actions().await.unwrap();
    let bars = drawn_bars(&browser, &zoomed).await;
    assert_eq!(
        bars[0].attr("data-from").await.unwrap(),
        Some((from + a * bucket_ms).to_string())
    );
    browser.screenshot("page-timeline-zoomed").await;
    click_button(&browser, "Whole span").await;
    drawn_bars(&browser, &wanted).await;

    // Go to a time: the first event at or after it, by the rule (here, A#0).
    let first = get(format!("{base}/events/A/range?limit=1")).await;
    let time = first["events"][0]["timestamp"].as_i64().unwrap();
    let field = browser.client.find(Locator::Css("#go-time")).await.unwrap();
    field.send_keys(&time.to_string()).await.unwrap();
    click_button(&browser, "Go to time").await;
    wait_for(&browser, "#provenance").await;
    let url = browser.client.current_url().await.unwrap();
    assert!(url.as_str().ends_with("#/events/A/0"), "{url}");

    // A deep link opens the event; its hostile value, key and header are text.
    let (partition, offset) = positions[240];
    let located = get(format!("{base}/positions/{topic}/{partition}/{offset}")).await;
    let index = located["index"].as_u64().unwrap();
    browser
        .client
        .goto(&format!("{base}/#/events/A/{index}"))
        .await
        .unwrap();
    // The page before was an event too (go to time): wait for this one's heading, so
    // as not to read the previous view's elements as they are replaced.
    wait_for_heading(&browser, &format!("A #{index}")).await;
    let provenance = wait_for(&browser, "#provenance").await;
    let facts = provenance.text().await.unwrap();
    assert!(
        facts.contains(&format!("{offset}")) && facts.contains("<b>key</b>"),
        "{facts}"
    );
    let value = wait_for(&browser, "#value").await.text().await.unwrap();
    assert!(value.contains("<img src=x onerror="), "{value}");
    let body = browser
        .client
        .find(Locator::Css("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains("<script>window.pwned=3</script>"),
        "header shown as text"
    );
    assert_nothing_ran(&browser, "hostile markup").await;
    browser.screenshot("page-event").await;

    // The unclassified event, not text: shown in hex, nothing run either.
    browser
        .client
        .goto(&format!("{base}/#/events/unclassified/0"))
        .await
        .unwrap();
    wait_for_heading(&browser, "unclassified #0").await;
    let hex = wait_for(&browser, "#value").await.text().await.unwrap();
    assert!(hex.contains("3c 73 63 72 69 70 74"), "{hex}");

    // At phone width the list still reads.
    browser.client.set_window_size(390, 844).await.unwrap();
    browser
        .client
        .goto(&format!("{base}/#/events/B"))
        .await
        .unwrap();
    wait_for(&browser, "#events tr").await;
    browser.screenshot("page-phone").await;

    let urls = browser.loaded_urls().await;
    for url in &urls {
        assert!(url.starts_with(&base), "a request left the machine: {url}");
    }
    browser.client.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_keys_history_is_searched_followed_from_an_event_and_paged() {
    let brokers = crate::helpers::broker();
    let topic = crate::helpers::new_topic(&brokers, "page-keys", 3).await;
    let hostile_key = r#"<img src=x onerror="window.pwned=5">"#;
    // 120 events of the hostile key (three pages), and a few keys beside it.
    let events: Vec<crate::helpers::Event> = (0..200)
        .map(|i| {
            let key = if i % 5 < 3 {
                hostile_key.to_owned()
            } else {
                format!("p-{}", i % 7)
            };
            crate::helpers::Event::json(["visit", "lab"][i % 2], i)
                .on(i as i32 % 3)
                .with_key(key.as_bytes())
        })
        .collect();
    crate::helpers::produce(&brokers, &topic, &events).await;
    let binary = crate::helpers::Binary::start(
        &[],
        &[
            ("ANALYZER_KAFKA__BROKERS", brokers.clone()),
            ("ANALYZER_KAFKA__TOPICS", topic.clone()),
            ("ANALYZER_KEYS__BY", "kafka_key".to_owned()),
        ],
    )
    .await;
    let base = binary.base.clone();
    let client = reqwest::Client::new();
    let get = |path: String| {
        let client = client.clone();
        async move {
            client
                .get(path)
                .send()
                .await
                .unwrap()
                .json::<serde_json::Value>()
                .await
                .unwrap()
        }
    };
    let started = Instant::now();
    while get(format!("{base}/status")).await["keys"]["events"] != 200 {
        assert!(
            started.elapsed() < crate::helpers::TANSU_WAIT,
            "not indexed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let encoded: String = hostile_key
        .bytes()
        .map(|b| match b {
            b'a'..=b'z'
            | b'A'..=b'Z'
            | b'0'..=b'9'
            | b'-'
            | b'_'
            | b'.'
            | b'!'
            | b'~'
            | b'*'
            | b'\''
            | b'('
            | b')' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    // The rows a page must show: (#, type, index).
    let expected = |from: u64| {
        let url = format!("{base}/keys/{encoded}/events?from={from}&limit=50");
        async move {
            let page = get(url).await;
            page["events"]
                .as_array()
                .unwrap()
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    vec![
                        (from + i as u64).to_string(),
                        e["type"].as_str().unwrap().to_owned(),
                        e["index"].to_string(),
                    ]
                })
                .collect::<Vec<_>>()
        }
    };
    let shown = |browser: &Browser| {
        let browser = browser.client.clone();
        async move {
            let script = "return Array.from(document.querySelectorAll('#key-events tr')).map(row => Array.from(row.querySelectorAll('td')).slice(0, 3).map(cell => cell.textContent));";
            let rows = browser.execute(script, vec![]).await.unwrap();
            serde_json::from_value::<Vec<Vec<String>>>(rows).unwrap()
        }
    };

    let browser = browser().await;
    // Searched from the overview: the key typed as it is.
    browser.client.goto(&format!("{base}/")).await.unwrap();
    let search = wait_for(&browser, "#key-search").await;
    search.send_keys(hostile_key).await.unwrap();
    click_button(&browser, "Show").await;
    wait_for_heading(&browser, &format!("Key {hostile_key} — 120 events")).await;
    for from in [0u64, 50, 100] {
        if from > 0 {
            click_button(&browser, "Next").await;
        }
        let wanted = expected(from).await;
        let read = async || shown(&browser).await;
        eventually(&format!("page from {from}"), read, |rows| *rows == wanted).await;
        let url = browser.client.current_url().await.unwrap();
        if from > 0 {
            assert!(url.as_str().ends_with(&format!("?from={from}")), "{url}");
        }
    }
    browser.screenshot("page-key").await;

    // Followed from an event: its key links to the key's history, with its count.
    let p3 = get(format!("{base}/keys/p-3")).await;
    let (first_type, first_index) = (
        p3["first"]["type"].as_str().unwrap().to_owned(),
        p3["first"]["index"].as_u64().unwrap(),
    );
    browser
        .client
        .goto(&format!("{base}/#/events/{first_type}/{first_index}"))
        .await
        .unwrap();
    wait_for_heading(&browser, &format!("{first_type} #{first_index}")).await;
    let link = wait_for(&browser, "#key a").await;
    let facts = wait_for(&browser, "#key").await.text().await.unwrap();
    assert!(
        facts.contains(&format!("({} events with this key)", p3["total"])),
        "{facts}"
    );
    link.click().await.unwrap();
    wait_for_heading(&browser, &format!("Key p-3 — {} events", p3["total"])).await;

    // A deep link into a page of it.
    browser
        .client
        .goto(&format!("{base}/#/keys/{encoded}?from=100"))
        .await
        .unwrap();
    wait_for_heading(&browser, &format!("Key {hostile_key} — 120 events")).await;
    let wanted = expected(100).await;
    let read = async || shown(&browser).await;
    eventually("deep link", read, |rows| *rows == wanted).await;
    assert_nothing_ran(&browser, "a hostile key").await;
    browser.client.clone().close().await.unwrap();
}

/// The indexes the Follow table shows, newest first.
async fn followed(browser: &Browser) -> Vec<String> {
    let script = "return Array.from(document.querySelectorAll('#followed tr')).map(r => r.querySelector('td').textContent);";
    serde_json::from_value(browser.client.execute(script, vec![]).await.unwrap()).unwrap()
}

/// Waits until the Follow table shows `wanted`.
async fn wait_followed(browser: &Browser, wanted: &[&str]) {
    let what = format!("followed, not {wanted:?}");
    eventually(
        &what,
        async || followed(browser).await,
        |shown| *shown == wanted,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn following_a_type_shows_new_events_and_pausing_keeps_them() {
    let brokers = crate::helpers::broker();
    let topic = crate::helpers::new_topic(&brokers, "page-follow", 1).await;
    // A minute apart: the timeline of 10 events (a screenshot to look at).
    let now_ms = crate::helpers::now_ms();
    let events: Vec<crate::helpers::Event> = (0..10)
        .map(|i| crate::helpers::Event::json("A", i).at_time(now_ms - 900_000 + i as i64 * 60_000))
        .collect();
    crate::helpers::produce(&brokers, &topic, &events).await;
    let binary = crate::helpers::Binary::start(
        &[],
        &[
            ("ANALYZER_KAFKA__BROKERS", brokers.clone()),
            ("ANALYZER_KAFKA__TOPICS", topic.clone()),
        ],
    )
    .await;
    let base = binary.base.clone();
    let client = reqwest::Client::new();
    let started = Instant::now();
    while crate::helpers::get_json(&client, &format!("{base}/stats")).await["A"] != 10 {
        assert!(
            started.elapsed() < crate::helpers::TANSU_WAIT,
            "not indexed"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let browser = browser().await;
    browser
        .client
        .goto(&format!("{base}/#/events/A"))
        .await
        .unwrap();
    wait_for(&browser, "#events tr").await;
    wait_for(&browser, "#timeline g.bar").await;
    browser.screenshot("page-timeline-10").await;
    click(&browser, Locator::Css("#follow")).await;
    // Following: what comes next shows, newest first; what was there does not.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(followed(&browser).await.is_empty());
    crate::helpers::produce(&brokers, &topic, &[crate::helpers::Event::json("A", 10)]).await;
    wait_followed(&browser, &["10"]).await;
    // Paused: new events wait, counted; resumed, they show.
    click(&browser, Locator::Css("#follow-pause")).await;
    crate::helpers::produce(&brokers, &topic, &[crate::helpers::Event::json("A", 11)]).await;
    let note = wait_for(&browser, "#follow-note").await;
    let read = async || note.text().await.unwrap();
    eventually("not counted while paused", read, |text| {
        text == "1 new, paused"
    })
    .await;
    assert_eq!(followed(&browser).await, ["10"]);
    click(&browser, Locator::Css("#follow-pause")).await;
    wait_followed(&browser, &["11", "10"]).await;
    browser.screenshot("page-follow").await;
    browser.client.clone().close().await.unwrap();
}
