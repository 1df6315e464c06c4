//! The README, openapi.yaml and template.yaml state the contract the code implements.

use change_password::config::VARIABLES;
use change_password::domain::issue::codes;

fn read(name: &str) -> String {
    std::fs::read_to_string(format!("{}/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn every_code_is_documented() {
    let (readme, openapi) = (read("README.md"), read("openapi.yaml"));
    for code in codes::ALL {
        assert!(readme.contains(code), "README.md does not mention {code}");
        assert!(
            openapi.contains(code),
            "openapi.yaml does not mention {code}"
        );
    }
}

#[test]
fn every_variable_is_documented_and_the_template_sets_the_required_ones() {
    let (readme, template) = (read("README.md"), read("template.yaml"));
    for var in VARIABLES {
        assert!(readme.contains(var), "README.md does not document {var}");
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
