//! The module rules ARCHITECTURE.md states, checked on the source: no two modules
//! import each other, directly or in a loop (a module and its own children aside),
//! `config` is a leaf, and no source file grows past what a reader takes in at once.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Source files under `dir`, recursively.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// Top-level module -> the top-level modules its non-test code names as `crate::x`.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for file in rust_files(&src) {
        let relative = file.strip_prefix(&src).unwrap();
        let module = relative.iter().next().unwrap().to_string_lossy();
        let module = module.trim_end_matches(".rs").to_owned();
        let is_test = relative.ends_with("tests.rs") || relative.iter().any(|p| p == "tests");
        if module == "lib" || module == "main" || is_test {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        // Unit tests at the end of a file may use anything.
        let code = text.split("#[cfg(test)]\nmod tests {").next().unwrap();
        let names = graph.entry(module.clone()).or_default();
        for (at, _) in code.match_indices("crate::") {
            let name: String = code[at + 7..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && name != module {
                names.insert(name);
            }
        }
    }
    graph
}

/// Every module `from` reaches through imports.
fn reachable(graph: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_owned()];
    while let Some(module) = stack.pop() {
        for next in graph.get(&module).into_iter().flatten() {
            if seen.insert(next.clone()) {
                stack.push(next.clone());
            }
        }
    }
    seen
}

#[test]
fn no_two_modules_import_each_other_and_config_is_a_leaf() {
    let graph = imports();
    assert!(graph.len() > 10, "found the modules: {graph:?}");
    let loops: Vec<&String> = graph
        .keys()
        .filter(|module| reachable(&graph, module).contains(*module))
        .collect();
    assert!(
        loops.is_empty(),
        "modules in an import loop: {loops:?}\n{graph:#?}"
    );
    assert_eq!(graph["config"], BTreeSet::new(), "config imports nothing");
    assert_eq!(
        graph["view"],
        BTreeSet::new(),
        "the index knows nothing else"
    );
    for owner in ["fetch", "ingest"] {
        assert!(!graph["metrics"].contains(owner), "metrics imports {owner}");
    }
}

/// ARCHITECTURE.md's module table: module -> what it may import (None: any).
fn allowed_imports() -> BTreeMap<String, Option<BTreeSet<String>>> {
    let doc = include_str!("../../ARCHITECTURE.md");
    let table = doc.split("\n## Modules\n").nth(1).unwrap();
    let mut allowed = BTreeMap::new();
    for row in table.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.split(" | ").collect();
        let module = cells[0]
            .trim_start_matches("| ")
            .trim_matches('`')
            .to_owned();
        let last = cells.last().unwrap().trim_end_matches(" |").trim();
        let names = last
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect();
        allowed.insert(module, (last != "any").then_some(names));
    }
    allowed
}

#[test]
fn every_module_imports_only_what_architecture_md_allows_it() {
    let graph = imports();
    let allowed = allowed_imports();
    for (module, names) in &graph {
        let rule = allowed
            .get(module)
            .unwrap_or_else(|| panic!("ARCHITECTURE.md's module table lacks {module}"));
        if let Some(rule) = rule {
            let extra: Vec<&String> = names.difference(rule).collect();
            assert!(
                extra.is_empty(),
                "{module} imports {extra:?}, which ARCHITECTURE.md does not allow"
            );
        }
    }
}

#[test]
fn no_source_file_is_past_800_lines() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut long = Vec::new();
    for file in rust_files(&root.join("src")) {
        let lines = std::fs::read_to_string(&file).unwrap().lines().count();
        if lines > 800 {
            long.push(format!("{} ({lines} lines)", file.display()));
        }
    }
    assert!(long.is_empty(), "split these by concern: {long:?}");
}
