//! The docs tell the truth: a figure they quote is the one BENCHMARKS.md holds (a
//! figure lives in one place), their links lead somewhere, and the README stays a
//! README (a table of contents, under 25 KB).

use std::path::{Path, PathBuf};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// README.md, ARCHITECTURE.md and docs/*.md: (path, text).
fn docs() -> Vec<(PathBuf, String)> {
    let mut paths = vec![repo("README.md"), repo("ARCHITECTURE.md")];
    for entry in std::fs::read_dir(repo("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            paths.push(path);
        }
    }
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            (path, text)
        })
        .collect()
}

/// The figures in `text` that BENCHMARKS.md must hold: ratios (`1.35x`,
/// `4,000-6,000x`) and index sizes (`3.34 bytes an event`).
fn figures(text: &str) -> Vec<String> {
    let words: Vec<&str> = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || ".,-/".contains(c)))
        .filter(|w| !w.is_empty())
        .collect();
    let mut found = Vec::new();
    for (i, word) in words.iter().enumerate() {
        let word = word.trim_end_matches(['.', ',']);
        let ratio = word.len() > 1
            && word.starts_with(|c: char| c.is_ascii_digit())
            && word.ends_with('x')
            && word[..word.len() - 1]
                .chars()
                .all(|c| c.is_ascii_digit() || ".,-".contains(c));
        let per_event = words.get(i + 1) == Some(&"bytes")
            && matches!(words.get(i + 2), Some(&"an" | &"per" | &"a"))
            && words.get(i + 3).is_some_and(|w| w.starts_with("event"))
            && word.starts_with(|c: char| c.is_ascii_digit());
        if ratio || per_event {
            found.push(word.to_owned());
        }
    }
    found
}

#[test]
fn every_figure_the_docs_quote_is_the_one_benchmarks_md_holds() {
    let benchmarks = std::fs::read_to_string(repo("BENCHMARKS.md")).unwrap();
    let mut checked = 0;
    for (path, text) in docs() {
        for figure in figures(&text) {
            assert!(
                benchmarks.contains(&figure),
                "{} quotes {figure}, which BENCHMARKS.md does not hold",
                path.display()
            );
            checked += 1;
        }
    }
    assert!(
        checked >= 5,
        "the README's performance figures are found ({checked})"
    );
}

/// A heading's GitHub anchor: lower case, spaces as dashes, punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

fn anchors(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| l.starts_with('#'))
        .map(|l| anchor(l.trim_start_matches('#')))
        .collect()
}

#[test]
fn every_link_between_the_docs_leads_somewhere() {
    for (path, text) in docs().into_iter().chain([(
        repo("BENCHMARKS.md"),
        std::fs::read_to_string(repo("BENCHMARKS.md")).unwrap(),
    )]) {
        let dir = path.parent().unwrap();
        for link in text
            .split("](")
            .skip(1)
            .filter_map(|rest| rest.split(')').next())
        {
            if link.starts_with("http") || link.contains(' ') {
                continue;
            }
            let (file, fragment) = link.split_once('#').unwrap_or((link, ""));
            let target = if file.is_empty() {
                path.clone()
            } else {
                dir.join(file)
            };
            assert!(target.exists(), "{}: {link} leads nowhere", path.display());
            if !fragment.is_empty() && target.extension().is_some_and(|e| e == "md") {
                let text = std::fs::read_to_string(&target).unwrap();
                assert!(
                    anchors(&text).contains(&fragment.to_owned()),
                    "{}: no heading for #{fragment} in {}",
                    path.display(),
                    target.display()
                );
            }
        }
    }
}

#[test]
fn the_readme_has_contents_and_stays_under_25_kb() {
    let readme = std::fs::read_to_string(repo("README.md")).unwrap();
    assert!(readme.len() < 25_000, "README.md is {} bytes", readme.len());
    let contents = readme.split("\n## Contents\n").nth(1).unwrap();
    let contents = contents.split("\n## ").next().unwrap();
    let listed: Vec<&str> = contents
        .split("](#")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .collect();
    let sections: Vec<String> = readme
        .lines()
        .filter(|l| l.starts_with("## ") && *l != "## Contents")
        .map(|l| anchor(&l[3..]))
        .collect();
    assert_eq!(
        listed, sections,
        "the contents list every section, in order"
    );
}
