//! The checked-in OpenAPI document must be what the server serves.
//! `UPDATE_OPENAPI=1 cargo test --test api openapi` rewrites it from the server (and fails,
//! so a rewrite is never a pass).

use crate::helpers::{settings, spawn_app};
use analyzer::config::RouteSettings;
use rdkafka::mocking::MockCluster;
use std::path::Path;

#[tokio::test]
async fn served_spec_equals_the_checked_in_file() {
    let cluster = MockCluster::new(1).unwrap();
    let app = spawn_app(&settings(&cluster.bootstrap_servers(), &["events"])).await;
    let served: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/analyzer.yaml");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&file, serde_yaml_ng::to_string(&served).unwrap()).unwrap();
        // Never a pass: the rewritten file is for a person to review, and the next
        // run without the variable checks it.
        panic!(
            "rewrote {}; review the diff, then run again without UPDATE_OPENAPI",
            file.display()
        );
    }
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run UPDATE_OPENAPI=1 cargo test --test api openapi",
            file.display()
        )
    });
    let checked_in: serde_json::Value = serde_yaml_ng::from_str(&text).unwrap();
    assert!(
        served == checked_in,
        "{} differs from the served spec; run UPDATE_OPENAPI=1 cargo test --test api openapi and review the diff",
        file.display()
    );
}

#[tokio::test]
async fn spec_documents_every_status_and_alias_routes() {
    let cluster = MockCluster::new(1).unwrap();
    let mut config = settings(&cluster.bootstrap_servers(), &["events"]);
    config.routes.push(RouteSettings {
        path: "/blood_pressure".into(),
        event_type: "blood_pressure".into(),
        stats_key: Some("num_bp".into()),
    });
    let app = spawn_app(&config).await;
    let spec: serde_json::Value = app.get("/openapi.json").await.json().await.unwrap();
    for path in ["/events/{type}", "/blood_pressure"] {
        let responses = &spec["paths"][path]["get"]["responses"];
        for status in ["200", "400", "404", "410", "503"] {
            assert!(responses.get(status).is_some(), "{path} lacks {status}");
        }
        assert_eq!(
            responses["404"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorMessage"
        );
    }
    assert_eq!(
        spec["components"]["schemas"]["ErrorMessage"]["required"],
        serde_json::json!(["message", "code"])
    );
    // Every stable error code is in the body's schema, and a lookup documents the
    // meaning of each code it can answer, and of no other: its family's codes.
    let schema = serde_json::to_string(&spec["components"]["schemas"]["ErrorMessage"]).unwrap();
    let lookup = serde_json::to_string(&spec["paths"]["/events/{type}"]).unwrap();
    use analyzer::http::error::{Answers, ErrorCode};
    let answers = <analyzer::http::events::LookupFailures as Answers>::CODES;
    for code in ErrorCode::ALL {
        let name = serde_json::to_value(code).unwrap();
        assert!(
            schema.contains(name.as_str().unwrap()),
            "{name} not in {schema}"
        );
        let (_, description) = code.row();
        assert_eq!(
            lookup.contains(description),
            answers.contains(&code),
            "{name}: {description}"
        );
    }
    // An alias is documented from the lookup: the same answers, no `type` parameter.
    let alias = &spec["paths"]["/blood_pressure"]["get"];
    let event = &spec["paths"]["/events/{type}"]["get"];
    assert_eq!(alias["responses"], event["responses"]);
    let in_path = |operation: &serde_json::Value| {
        let parameters = operation["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        parameters.iter().filter(|p| p["in"] == "path").count()
    };
    assert_eq!((in_path(event), in_path(alias)), (1, 0));
    assert_ne!(alias["operationId"], event["operationId"]);
    assert!(spec["paths"]["/blood_pressure/range"]["get"].is_object());
    assert!(spec["paths"]["/stats"]["get"].is_object());
    // A declared stats key is a required property of the served Stats schema.
    let stats = &spec["components"]["schemas"]["Stats"];
    assert_eq!(stats["required"], serde_json::json!(["num_bp"]));
    assert_eq!(stats["properties"]["num_bp"]["type"], "integer");
    assert_eq!(stats["additionalProperties"]["type"], "integer");
    // Swagger UI, from the binary: the page, its script pointing at the document.
    let docs = app.get("/docs").await;
    assert_eq!(docs.status(), 200);
    assert!(
        docs.text()
            .await
            .unwrap()
            .contains("/docs/swagger-ui-bundle.js")
    );
    let init = app.get("/docs/init.js").await.text().await.unwrap();
    assert!(init.contains("/openapi.json") && init.contains("validatorUrl: null"));
    assert_eq!(app.get("/docs/nothing.js").await.status(), 404);
}
