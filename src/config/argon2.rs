//! `ARGON2_MEMORY_KIB`, `ARGON2_ITERATIONS`, `ARGON2_PARALLELISM`: the argon2id parameters of new
//! hashes (OWASP's 19 MiB, t=2, p=1 by default).

use super::{ConfigError, Env, bad};
use crate::domain::password_hashing::Argon2Settings;

pub fn read(env: &Env) -> Result<Argon2Settings, ConfigError> {
    let argon2 = Argon2Settings {
        memory_kib: env.number("ARGON2_MEMORY_KIB", 19_456)?,
        iterations: env.number("ARGON2_ITERATIONS", 2)?,
        parallelism: env.number("ARGON2_PARALLELISM", 1)?,
    };
    argon2.validate().map_err(|problem| ConfigError {
        variable: "ARGON2_MEMORY_KIB",
        problem: format!(
            "argon2 parameters m={} t={} p={} are invalid: {problem} (m must be at least 8*p)",
            argon2.memory_kib, argon2.iterations, argon2.parallelism
        ),
    })?;
    if argon2.iterations == 0 {
        return Err(bad("ARGON2_ITERATIONS", "must be at least 1"));
    }
    if argon2.parallelism == 0 {
        return Err(bad("ARGON2_PARALLELISM", "must be at least 1"));
    }
    Ok(argon2)
}
