//! The real binary refuses a bad configuration at start-up, naming the variable.

mod support;

use std::process::Command;

fn start(vars: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_change-password"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (k, v) in vars {
        command.env(k, v);
    }
    let output = command.output().expect("the binary runs");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_missing_table_stops_the_cold_start_with_the_variable_named() {
    let (code, stderr) = start(&[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("USERS_TABLE"), "{stderr}");
}

#[test]
fn bad_values_are_named() {
    for (var, value) in [
        ("PASSWORD_MIN_SCORE", "9"),
        ("ARGON2_MEMORY_KIB", "lots"),
        ("LOCKOUT_THRESHOLD", "-3"),
        ("LOCKOUT_THRESHOLD", "101"),
        ("LOCKOUT_SECONDS", "86401"),
        ("PASSWORD_MIN_LENGTH", "7"),
        ("LOCKOUT_MAX_FAILURES", "101"),
        ("LOCKOUT_MAX_FAILURES", "0"),
        ("PASSWORD_IDENTIFIER_SUBSTRINGS", "yes"),
        ("JWT_JWKS_URL", "http://jwks.example.com/keys"),
    ] {
        let (code, stderr) = start(&[
            ("USERS_TABLE", "users"),
            ("JWT_ISSUER", "https://issuer.example"),
            (var, value),
        ]);
        assert_eq!(code, Some(2), "{var}: {stderr}");
        assert!(stderr.contains(var), "{var}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[tokio::test]
async fn the_lockout_turned_off_is_a_warning_at_start_up() {
    use support::runtime_api::{RuntimeApi, aws_vars, drain};
    let api = RuntimeApi::start().await;
    let mut on = api.spawn_function(&aws_vars("users", &[]));
    let mut off = api.spawn_function(&aws_vars("users", &[("LOCKOUT_THRESHOLD", "0")]));
    // Both start (a warning is not an error): each polls for its first event; their start-up
    // logs say it or not.
    assert!(api.polled(2, std::time::Duration::from_secs(60)).await);
    for child in [&mut on, &mut off] {
        assert!(child.try_wait().unwrap().is_none(), "the function started");
        child.start_kill().unwrap();
    }
    let off_log = drain(off.stdout.take().unwrap()).await;
    let on_log = drain(on.stdout.take().unwrap()).await;
    assert!(
        off_log.contains("LOCKOUT_THRESHOLD=0") && off_log.contains("\"WARN\""),
        "{off_log}"
    );
    assert!(!on_log.contains("LOCKOUT_THRESHOLD=0"), "{on_log}");
}
