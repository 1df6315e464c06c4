//! The layout's one rule, checked: dependencies point inward. `domain/` names nothing of the
//! other folders, nor Lambda, HTTP or AWS; `auth/` stands on `domain/` and on `web/`'s one HTTPS
//! client (for the JWKS); `web/` on `domain/` only; `aws/` implements `domain/`'s ports without
//! knowing the edge; `edge/` reaches AWS only through the ports, never `aws/` itself. Imports
//! name one path each (no `crate::{..}` groups), so that a text check sees every one.

use std::path::Path;

fn sources(folder: &str) -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src")
        .join(folder);
    let mut out = Vec::new();
    let mut stack = vec![dir];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                out.push((path.display().to_string(), text));
            }
        }
    }
    assert!(!out.is_empty(), "no sources in src/{folder}");
    out
}

fn assert_never_names(folder: &str, forbidden: &[&str]) {
    for (path, text) in sources(folder) {
        for line in text.lines().filter(|l| !l.trim_start().starts_with("//")) {
            for name in forbidden {
                assert!(
                    !line.contains(name),
                    "{path} names {name}, against the layout: {line}"
                );
            }
        }
    }
}

#[test]
fn domain_depends_on_nothing_of_the_edges() {
    assert_never_names(
        "domain",
        &[
            "crate::edge",
            "crate::auth",
            "crate::aws",
            "crate::web",
            "crate::app",
            "crate::config",
            "lambda_http",
            "lambda_runtime",
            "aws_sdk_",
            "aws_smithy",
            "aws_config",
            "hyper",
            "http::",
        ],
    );
}

#[test]
fn auth_and_the_adapters_point_inward() {
    assert_never_names(
        "auth",
        &["crate::edge", "crate::aws", "crate::app", "lambda_http"],
    );
    assert_never_names(
        "edge",
        &["crate::aws", "crate::app", "crate::config", "aws_sdk_"],
    );
    assert_never_names(
        "aws",
        &["crate::edge", "crate::auth", "crate::web", "crate::app"],
    );
    assert_never_names(
        "web",
        &["crate::edge", "crate::auth", "crate::aws", "crate::app"],
    );
}

#[test]
fn every_import_names_its_folder() {
    for folder in ["domain", "auth", "edge", "aws", "web"] {
        assert_never_names(folder, &["crate::{", "super::super"]);
    }
}
