//! Access: the bearer token and the CORS allow-list.

use crate::helpers::{Event, MOCK_WAIT, TestApp, mock_cluster, produce, settings, spawn_app};
use analyzer::config::{RouteSettings, Settings};
use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

/// An app with a bearer token and an alias `/a` for type A, over one event of A.
async fn app_with_token(
    cluster: &MockCluster<'static, DefaultProducerContext>,
) -> (Settings, TestApp) {
    let brokers = cluster.bootstrap_servers();
    produce(&brokers, "events", &[Event::json("A", 0)]).await;
    let mut config = settings(&brokers, &["events"]);
    config.http.auth_token = Some("s3cret-token".into());
    config.routes.push(RouteSettings {
        path: "/a".into(),
        event_type: "A".into(),
        stats_key: None,
    });
    let app = spawn_app(&config).await;
    app.wait_for_total(1, MOCK_WAIT).await;
    (config, app)
}

#[tokio::test]
async fn a_bearer_token_guards_the_data_endpoints_and_nothing_else() {
    let cluster = mock_cluster("events", 1);
    let (config, app) = app_with_token(&cluster).await;
    let with = |path: &str, authorization: Option<&str>| {
        let mut request = app.client.get(format!("{}{path}", app.base));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.send()
    };

    for path in ["/stats", "/status", "/events/A?index=0", "/a?index=0"] {
        for authorization in [
            None,
            Some("Bearer wrong"),
            Some("s3cret-token"),
            Some("Basic s3cret-token"),
        ] {
            let response = with(path, authorization).await.unwrap();
            assert_eq!(response.status(), 401, "{path} {authorization:?}");
            assert_eq!(
                response.headers()["www-authenticate"],
                r#"Bearer realm="analyzer""#
            );
            let body: serde_json::Value = response.json().await.unwrap();
            let message = body["message"].as_str().unwrap().to_lowercase();
            assert!(message.contains("bearer"), "{body}");
        }
        let response = with(path, Some("Bearer s3cret-token")).await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
    }
    // Probes, scrapes and the API description stay open.
    for path in [
        "/health/live",
        "/health/ready",
        "/metrics",
        "/openapi.json",
        "/docs",
    ] {
        let response = with(path, None).await.unwrap();
        assert_ne!(response.status(), 401, "{path}");
    }

    let mut protected = config.clone();
    protected.http.protect_metrics = true;
    let app = spawn_app(&protected).await;
    let metrics = |authorization: Option<&'static str>| {
        let mut request = app.client.get(format!("{}/metrics", app.base));
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.send()
    };
    assert_eq!(metrics(None).await.unwrap().status(), 401);
    assert_eq!(
        metrics(Some("Bearer s3cret-token")).await.unwrap().status(),
        200
    );
}

#[tokio::test]
async fn cors_allows_the_configured_origins_only() {
    let cluster = mock_cluster("events", 1);
    let brokers = cluster.bootstrap_servers();
    produce(&brokers, "events", &[Event::json("A", 0)]).await;
    let mut config = settings(&brokers, &["events"]);
    config.http.cors_origins = vec!["https://audit.example.com".into()];
    let app = spawn_app(&config).await;
    app.wait_for_total(1, MOCK_WAIT).await;

    let response = app
        .client
        .get(format!("{}/events/A?index=0", app.base))
        .header("origin", "https://audit.example.com")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://audit.example.com"
    );
    let exposed = headers["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(exposed.contains("x-kafka-offset"), "{exposed}");

    let preflight = app
        .client
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/events/A?index=0", app.base),
        )
        .header("origin", "https://audit.example.com")
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://audit.example.com"
    );

    let other = app
        .client
        .get(format!("{}/stats", app.base))
        .header("origin", "https://elsewhere.example.com")
        .send()
        .await
        .unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    // Without CORS configured, no CORS headers at all.
    let plain = spawn_app(&settings(&brokers, &["events"])).await;
    let response = plain
        .client
        .get(format!("{}/stats", plain.base))
        .header("origin", "https://audit.example.com")
        .send()
        .await
        .unwrap();
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn every_documented_operation_but_the_open_ones_needs_the_token_and_says_so() {
    let cluster = mock_cluster("events", 1);
    let (_, app) = app_with_token(&cluster).await;
    let (status, spec) = app.json("/openapi.json").await;
    assert_eq!(status, 200);
    let paths = spec["paths"].as_object().unwrap();
    assert!(paths.len() >= 6, "{paths:?}");
    for (path, item) in paths {
        let open = analyzer::http::auth::OPEN_ROUTES.contains(&path.as_str());
        for (method, operation) in item.as_object().unwrap() {
            let documented = operation["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|r| r.get("bearer_auth").is_some()));
            assert_eq!(documented, !open, "{method} {path}: security {operation}");
        }
        // What the document says is what the server does.
        let url = path.replace("{type}", "A");
        let (status, body) = app.json(&format!("{url}?index=0")).await;
        if open {
            assert_ne!(status, 401, "{path}: {body}");
        } else {
            assert_eq!(status, 401, "{path}: {body}");
            assert_eq!(body["code"], "unauthorized");
        }
    }
    // A path no route serves is refused too: nothing is open by omission.
    assert_eq!(app.json("/not-a-route").await.0, 401);
}
