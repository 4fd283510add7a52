//! Bytes on the wire: responses compressed as the client asks (gzip, br, zstd,
//! negotiated from `Accept-Encoding`), NDJSON exports included, nothing when it does
//! not ask; static files with an ETag, 304 when unchanged.

use std::io::Read;

use crate::helpers::{MOCK_WAIT, mixed, mock_cluster, produce, settings, spawn_app};

/// `body` decoded from `encoding`.
fn decoded(encoding: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match encoding {
        "gzip" => {
            flate2::read::GzDecoder::new(body)
                .read_to_end(&mut out)
                .unwrap();
        }
        "br" => {
            brotli::Decompressor::new(body, 4096)
                .read_to_end(&mut out)
                .unwrap();
        }
        "zstd" => out = zstd::decode_all(body).unwrap(),
        other => panic!("{other}"),
    }
    out
}

#[tokio::test]
async fn responses_are_compressed_as_the_client_asks_and_files_revalidate() {
    let cluster = mock_cluster("events", 1);
    let brokers = cluster.bootstrap_servers();
    produce(&brokers, "events", &mixed(500, 1)).await;
    let app = spawn_app(&settings(&brokers, &["events"])).await;
    app.wait_for_total(500, MOCK_WAIT).await;
    let get = |path: &str, accept: Option<&str>| {
        let mut request = app.client.get(format!("{}{path}", app.base));
        if let Some(accept) = accept {
            request = request.header("Accept-Encoding", accept);
        }
        request.send()
    };
    for path in [
        "/events/A/range?limit=100",
        "/events/B/export",
        "/docs/swagger-ui-bundle.js",
        "/stats",
    ] {
        let plain = get(path, None).await.unwrap();
        assert_eq!(plain.status(), 200, "{path}");
        assert!(plain.headers().get("content-encoding").is_none(), "{path}");
        let plain = plain.bytes().await.unwrap();
        for encoding in ["gzip", "br", "zstd"] {
            let response = get(path, Some(encoding)).await.unwrap();
            assert_eq!(response.status(), 200, "{path}");
            assert_eq!(response.headers()["content-encoding"], encoding, "{path}");
            let body = response.bytes().await.unwrap();
            assert_eq!(decoded(encoding, &body), plain, "{path} in {encoding}");
            if plain.len() > 10_000 {
                // Minified JavaScript at actix's fast levels: about a third.
                assert!(
                    body.len() * 2 < plain.len(),
                    "{path} in {encoding}: {} of {}",
                    body.len(),
                    plain.len()
                );
            }
        }
    }
    // Static files: an ETag, and 304 without a body while it matches.
    for path in ["/", "/ui/app.js", "/docs/swagger-ui-bundle.js"] {
        let first = get(path, Some("gzip")).await.unwrap();
        assert_eq!(first.status(), 200);
        let etag = first.headers()["etag"].to_str().unwrap().to_owned();
        assert_eq!(first.headers()["cache-control"], "no-cache");
        let again = app
            .client
            .get(format!("{}{path}", app.base))
            .header("If-None-Match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{path}");
        assert_eq!(again.headers()["etag"], etag.as_str());
        assert!(again.bytes().await.unwrap().is_empty());
        let changed = app
            .client
            .get(format!("{}{path}", app.base))
            .header("If-None-Match", "W/\"00000000-0\"")
            .send()
            .await
            .unwrap();
        assert_eq!(changed.status(), 200, "{path}");
    }
}
