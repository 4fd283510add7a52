//! What ships beside the binary: the Dockerfile (hadolint), the Kubernetes base
//! (kubernetes-validate against the official schemas, offline), all YAML
//! (yamllint), the compose file's references, and the configuration files (loaded
//! with analyzer's own loader). ./scripts/test.sh installs the linters from PyPI.

use analyzer::config::{self, ConfigFile};
use serde_yaml_ng::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(repo(path)).unwrap();
    serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Runs a linter that ./scripts/test.sh installs; its output is the failure message.
fn passes(program: &str, args: &[&str]) {
    let output = Command::new(program)
        .args(args)
        .current_dir(repo("."))
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}; run ./scripts/test.sh, which installs it"));
    assert!(
        output.status.success(),
        "{program} {args:?}:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn dockerfile_has_no_hadolint_findings() {
    passes("hadolint", &["Dockerfile"]);
}

#[test]
fn the_image_ships_the_allocator_setting_the_memory_tests_run_with() {
    let dockerfile = std::fs::read_to_string(repo("Dockerfile")).unwrap();
    let setting = format!(
        "ENV MALLOC_MMAP_THRESHOLD_={}",
        crate::helpers::IMAGE_MMAP_THRESHOLD
    );
    assert!(dockerfile.contains(&setting), "{setting}");
}

#[test]
fn yaml_is_clean() {
    passes("yamllint", &["-s", "-c", "deploy/.yamllint", "deploy/"]);
}

#[test]
fn kubernetes_manifests_validate_against_the_schemas() {
    let kustomization = yaml("deploy/kubernetes/kustomization.yaml");
    let resources: Vec<String> = kustomization["resources"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| format!("deploy/kubernetes/{}", r.as_str().unwrap()))
        .collect();
    assert!(!resources.is_empty());
    let mut args = vec!["--strict", "--quiet"];
    args.extend(resources.iter().map(String::as_str));
    passes("kubernetes-validate", &args);
    for generator in kustomization["configMapGenerator"].as_sequence().unwrap() {
        for file in generator["files"].as_sequence().unwrap() {
            let path = repo(&format!("deploy/kubernetes/{}", file.as_str().unwrap()));
            assert!(path.is_file(), "{}", path.display());
        }
    }
}

#[test]
fn sidecar_probes_security_and_secrets_are_as_documented() {
    let deployment = yaml("deploy/kubernetes/deployment.yaml");
    let pod = &deployment["spec"]["template"]["spec"];
    let analyzer = pod["containers"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "analyzer")
        .expect("an analyzer container");
    assert_eq!(analyzer["livenessProbe"]["httpGet"]["path"], "/health/live");
    assert_eq!(
        analyzer["readinessProbe"]["httpGet"]["path"],
        "/health/ready"
    );
    assert!(
        analyzer["startupProbe"]["failureThreshold"]
            .as_u64()
            .unwrap()
            >= 60
    );
    let security = &analyzer["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"][0], "ALL");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert!(analyzer["resources"]["limits"]["memory"].is_string());
    // The password comes from a Secret through the environment, never the ConfigMap.
    let env = analyzer["env"].as_sequence().unwrap();
    let password = env
        .iter()
        .find(|e| e["name"] == "KAFKA_SASL_PASSWORD")
        .unwrap();
    assert!(password["valueFrom"]["secretKeyRef"]["name"].is_string());
    let config = std::fs::read_to_string(repo("deploy/kubernetes/analyzer.toml")).unwrap();
    assert!(config.contains("${KAFKA_SASL_PASSWORD}"));
}

#[test]
fn shipped_configurations_load() {
    for file in [
        "analyzer.toml",
        "deploy/kubernetes/analyzer.toml",
        "examples/seed-dropin.toml",
    ] {
        let settings = config::load(&ConfigFile::Explicit(repo(file)))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        analyzer::startup::prepare(&settings).unwrap_or_else(|e| panic!("{file}: {e}"));
    }
}

#[test]
fn compose_services_reference_services_that_exist() {
    let compose = yaml("deploy/compose/docker-compose.yml");
    let services = compose["services"].as_mapping().unwrap();
    for name in ["kafka", "create-topic", "producer", "analyzer"] {
        assert!(services.contains_key(name), "no service {name}");
    }
    for (name, service) in services {
        if let Some(depends) = service["depends_on"].as_mapping() {
            for dependency in depends.keys() {
                assert!(
                    services.contains_key(dependency),
                    "{name:?} depends on unknown {dependency:?}"
                );
            }
        }
    }
    let context = compose["services"]["analyzer"]["build"]["context"]
        .as_str()
        .unwrap();
    assert!(
        repo("deploy/compose")
            .join(context)
            .join("Dockerfile")
            .is_file(),
        "analyzer's build context has no Dockerfile"
    );
}

#[test]
fn the_alerting_rules_check_and_pass_their_unit_tests() {
    passes(
        "promtool",
        &["check", "rules", "deploy/prometheus/alerts.yaml"],
    );
    passes(
        "promtool",
        &["test", "rules", "deploy/prometheus/alerts-test.yaml"],
    );
}

#[test]
fn the_binary_needs_no_shared_library_but_glibcs() {
    // OpenSSL, libcurl, zstd and zlib are linked in: the image adds nothing but CA
    // certificates (see the Dockerfile).
    let output = Command::new("ldd")
        .arg(env!("CARGO_BIN_EXE_analyzer"))
        .output()
        .unwrap();
    let libraries = String::from_utf8_lossy(&output.stdout);
    for line in libraries.lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        let glibc = [
            "linux-vdso",
            "libc.so",
            "libm.so",
            "libgcc_s.so",
            "ld-linux",
            "libdl.so",
            "libpthread.so",
            "librt.so",
        ]
        .iter()
        .any(|ok| name.contains(ok));
        assert!(glibc, "{name} is linked dynamically:\n{libraries}");
    }
}
