//! The docs, openapi.yaml and template.yaml state the contract the code implements, and the
//! docs' relative links lead somewhere.

use change_password::config::VARIABLES;
use change_password::domain::issue::codes;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(name: &str) -> String {
    let path = root().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_code_is_documented() {
    let (api, openapi) = (read("docs/api.md"), read("openapi.yaml"));
    for code in codes::ALL {
        assert!(api.contains(code), "docs/api.md does not mention {code}");
        assert!(
            openapi.contains(code),
            "openapi.yaml does not mention {code}"
        );
    }
}

#[test]
fn every_variable_is_documented_and_the_template_sets_the_required_ones() {
    let (configuration, template) = (read("docs/configuration.md"), read("template.yaml"));
    for var in VARIABLES {
        assert!(
            configuration.contains(var),
            "docs/configuration.md does not document {var}"
        );
    }
    for var in [
        "USERS_TABLE",
        "ARGON2_MEMORY_KIB",
        "ARGON2_ITERATIONS",
        "ARGON2_PARALLELISM",
        "PASSWORD_HISTORY",
        "LOCKOUT_THRESHOLD",
    ] {
        assert!(
            template.contains(&format!("{var}:")),
            "template.yaml does not set {var}"
        );
    }
}

#[test]
fn openapi_describes_every_status() {
    let openapi = read("openapi.yaml");
    for status in [
        "'200'", "'400'", "'401'", "'403'", "'404'", "'405'", "'409'", "'413'", "'415'", "'429'",
        "'500'", "'503'",
    ] {
        assert!(
            openapi.contains(status),
            "openapi.yaml has no response {status}"
        );
    }
    for text in [
        "access_token",
        "application/problem+json",
        "Retry-After",
        "WWW-Authenticate",
        "Allow",
    ] {
        assert!(
            openapi.contains(text),
            "openapi.yaml does not mention {text}"
        );
    }
}

/// `line` without its inline code spans (text between backticks), where `](` is not a link.
fn without_code_spans(line: &str) -> String {
    let mut kept = String::new();
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
        } else if !in_code {
            kept.push(c);
        }
    }
    kept
}

/// The targets of the inline links and images (`[text](target)`) of a Markdown text, outside
/// fenced code blocks and code spans. A title after the target (`(target "title")`) is dropped.
fn link_targets(markdown: &str) -> Vec<String> {
    let mut targets = Vec::new();
    let mut in_fence = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        let line = without_code_spans(line);
        let mut rest = line.as_str();
        while let Some(start) = rest.find("](") {
            let after = &rest[start + 2..];
            let Some(end) = after.find(')') else {
                break;
            };
            let target = after[..end].split_whitespace().next().unwrap_or("");
            let target = target.trim_start_matches('<').trim_end_matches('>');
            targets.push(target.to_string());
            rest = &after[end + 1..];
        }
    }
    targets
}

/// Where a relative link of `file` points, or `None` for a web link or an anchor in `file`.
fn link_path(file: &Path, target: &str) -> Option<PathBuf> {
    let lower = target.to_ascii_lowercase();
    if lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("mailto:")
    {
        return None;
    }
    let path = target.split('#').next().unwrap_or("");
    if path.is_empty() {
        return None;
    }
    Some(match path.strip_prefix('/') {
        Some(from_root) => root().join(from_root),
        None => file.parent().unwrap_or(Path::new("")).join(path),
    })
}

#[test]
fn every_relative_link_in_the_docs_points_to_a_file() {
    let mut files = vec![root().join("README.md"), root().join("events/README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .expect("docs/ exists")
        .map(|entry| entry.expect("docs/ is readable").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    docs.sort();
    assert!(!docs.is_empty(), "docs/ holds no Markdown file");
    files.extend(docs);
    let mut checked = 0;
    let mut broken = Vec::new();
    for file in &files {
        let text =
            std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        for target in link_targets(&text) {
            let Some(path) = link_path(file, &target) else {
                continue;
            };
            checked += 1;
            if !path.exists() {
                broken.push(format!("{}: ({target})", file.display()));
            }
        }
    }
    assert!(checked > 0, "no relative link found in {files:?}");
    assert!(
        broken.is_empty(),
        "links to nothing:\n{}",
        broken.join("\n")
    );
}

#[test]
fn link_targets_skip_code_and_titles() {
    let text = "See [a](docs/a.md \"A\") and [b](<b.md#x>), `[c](c.md)`.\n```\n[d](d.md)\n```\n";
    assert_eq!(link_targets(text), vec!["docs/a.md", "b.md#x"]);
    let file = root().join("docs/api.md");
    assert_eq!(link_path(&file, "https://example.com/x.md"), None);
    assert_eq!(link_path(&file, "#order-of-checks"), None);
    assert_eq!(
        link_path(&file, "../README.md#prerequisites"),
        Some(root().join("docs/../README.md"))
    );
}
