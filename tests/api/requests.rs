//! Bad and hostile requests: JSON errors with stable codes, never a server error.

use crate::helpers::{Event, MOCK_WAIT, mock_cluster, produce, settings, spawn_app};

#[tokio::test]
async fn bad_requests_get_json_errors() {
    let cluster = mock_cluster("events", 1);
    let brokers = cluster.bootstrap_servers();
    produce(&brokers, "events", &[Event::json("A", 0)]).await;
    let app = spawn_app(&settings(&brokers, &["events"])).await;
    app.wait_for_total(1, MOCK_WAIT).await;

    for query in [
        "",
        "?index=",
        "?index=abc",
        "?index=-1",
        "?index=1.5",
        "?index=1e3",
        "?index=18446744073709551616",
        "?index=0&index=1",
        "?idx=0",
    ] {
        let message = app.error_message(&format!("/events/A{query}"), 400).await;
        assert!(message.contains("index"), "{query}: {message}");
    }
    // Each error carries its stable code beside the message.
    for (path, status, code) in [
        ("/events/A?index=x", 400, "invalid_query"),
        ("/events/A?index=5", 404, "no_such_index"),
        ("/events/nope?index=0", 404, "unknown_type"),
        ("/nope", 404, "no_such_path"),
    ] {
        let (answered, body) = app.json(path).await;
        assert_eq!(
            (answered, body["code"].as_str()),
            (status, Some(code)),
            "{path}: {body}"
        );
    }
    let refused = app
        .client
        .post(format!("{}/stats", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 405);
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "method_not_allowed");

    let message = app.error_message("/events/nope?index=0", 404).await;
    assert!(message.contains("nope"), "{message}");
    let message = app
        .error_message("/events/A?index=18446744073709551615", 404)
        .await;
    assert!(
        message.contains("No message at index 18446744073709551615!"),
        "{message}"
    );
}

#[tokio::test]
async fn hostile_requests_get_json_answers_and_never_a_server_error() {
    let cluster = mock_cluster("events", 1);
    let brokers = cluster.bootstrap_servers();
    produce(&brokers, "events", &[Event::json("A", 0)]).await;
    let app = spawn_app(&settings(&brokers, &["events"])).await;
    app.wait_for_total(1, MOCK_WAIT).await;

    // Odd type names: percent-encoded slash, NUL, quotes, unicode, 8 KB.
    let long = "t".repeat(8192);
    for (path, named) in [
        ("/events/a%2Fb?index=0", "a/b"),
        ("/events/%00?index=0", "\u{0}"),
        ("/events/%22%27%3C%3E?index=0", "\"'<>"),
        ("/events/%E2%9C%93?index=0", "\u{2713}"),
        (&format!("/events/{long}?index=0") as &str, &long as &str),
    ] {
        let message = app.error_message(path, 404).await;
        assert!(message.contains(named), "{path}: {message}");
    }
    // Unknown paths, and methods the API does not serve.
    let message = app.error_message("/no/such/path", 404).await;
    assert!(message.contains("/no/such/path"), "{message}");
    for method in ["POST", "PUT", "DELETE", "PATCH", "HEAD"] {
        for path in ["/stats", "/events/A?index=0", "/health/live"] {
            let response = app
                .client
                .request(method.parse().unwrap(), format!("{}{path}", app.base))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 405, "{method} {path}");
            assert_eq!(response.headers()["allow"], "GET", "{method} {path}");
            assert_eq!(
                response.headers()["content-type"],
                "application/json",
                "{method} {path}"
            );
            if method != "HEAD" {
                let body: serde_json::Value = response.json().await.unwrap();
                assert!(body["message"].as_str().unwrap().contains(method));
            }
        }
    }
    // A body on a GET is ignored.
    let with_body = app
        .client
        .get(format!("{}/events/A?index=0", app.base))
        .body(r#"{"index": 5}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(with_body.status(), 200);
}
