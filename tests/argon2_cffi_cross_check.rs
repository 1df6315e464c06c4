//! Cross-verification with argon2-cffi (the C reference implementation, from the venv that
//! `make test` creates): raw tags of argon2-rust (which computes the service's hashes, with the
//! SIMD backend this CPU selects) over random costs, variants and versions, and PHC strings both
//! ways through `Argon2Hasher`.

use argon2_rust::params::{Memory, TagLen};
use argon2_rust::{Algorithm, Version};
use change_password::domain::password_hashing::{
    Argon2Hasher, Argon2Settings, PasswordHashing, PepperKeys,
};
use std::io::Write;
use std::process::{Command, Stdio};

/// Runs `script` with the venv's Python, `input` on stdin; returns stdout's lines.
fn python(script: &str, input: &str) -> Vec<String> {
    let venv =
        std::env::var("VENV").unwrap_or_else(|_| format!("{}/.venv", env!("CARGO_MANIFEST_DIR")));
    let mut child = Command::new(format!("{venv}/bin/python"))
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the venv's python (make venv) with argon2-cffi");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "python failed");
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

const RAW: &str = r#"
import sys
from argon2.low_level import hash_secret_raw, Type
types = {"d": Type.D, "i": Type.I, "id": Type.ID}
for line in sys.stdin:
    kind, version, m, t, p, out_len, password, salt = line.split()
    tag = hash_secret_raw(bytes.fromhex(password), bytes.fromhex(salt), time_cost=int(t),
                          memory_cost=int(m), parallelism=int(p), hash_len=int(out_len),
                          type=types[kind], version=int(version))
    print(tag.hex())
"#;

#[test]
fn raw_tags_of_argon2_rust_match_argon2_cffi() {
    let mut rng = Rng(0xc0ff_ee00_1234_5678);
    let variants = [
        (Algorithm::Argon2d, "d"),
        (Algorithm::Argon2i, "i"),
        (Algorithm::Argon2id, "id"),
    ];
    let versions = [(Version::V0x10, 16), (Version::V0x13, 19)];
    let mut cases = Vec::new();
    let mut input = String::new();
    for _ in 0..60 {
        let (variant, kind) = variants[rng.below(3) as usize];
        let (version, v) = versions[rng.below(2) as usize];
        let lanes = 1 + rng.below(4) as u32;
        let (memory_kib, passes) = (8 * lanes + rng.below(300) as u32, 1 + rng.below(3) as u32);
        let out_len = [4, 16, 32, 64, 65, 128][rng.below(6) as usize];
        let password: Vec<u8> = (0..rng.below(64)).map(|_| rng.below(256) as u8).collect();
        let salt: Vec<u8> = (0..8 + rng.below(24))
            .map(|_| rng.below(256) as u8)
            .collect();
        // "-" stands for an empty password (a line needs a token there).
        let password_hex = if password.is_empty() {
            "-".to_string()
        } else {
            hex(&password)
        };
        input += &format!(
            "{kind} {v} {memory_kib} {passes} {lanes} {out_len} {password_hex} {}\n",
            hex(&salt)
        );
        let params = argon2_rust::Params::builder()
            .memory(Memory::kib(u64::from(memory_kib)))
            .passes(passes)
            .lanes(lanes)
            .threads(1)
            .tag_len(TagLen::bytes(out_len as u64))
            .build()
            .unwrap();
        cases.push((
            argon2_rust::Argon2::new(variant, version, params),
            password,
            salt,
        ));
    }
    let script = RAW.replace(
        "bytes.fromhex(password)",
        "(b'' if password == '-' else bytes.fromhex(password))",
    );
    let expected = python(&script, &input);
    assert_eq!(expected.len(), cases.len());
    // One hasher for all cases, its memory reused dirty, as the service's pool does.
    let mut hasher: Option<argon2_rust::Hasher> = None;
    for ((argon2, password, salt), want) in cases.iter().zip(expected.iter()) {
        let hasher = hasher.get_or_insert_with(|| argon2.hasher());
        hasher.set_argon2(*argon2);
        let mut out = vec![0u8; argon2.params().tag_len_bytes()];
        hasher.hash_into(password, salt, &mut out).unwrap();
        assert_eq!(&hex(&out), want, "{argon2:?}");
    }
}

const PHC: &str = r#"
import sys
from argon2.low_level import hash_secret, verify_secret, Type
from argon2.exceptions import VerifyMismatchError
types = {"argon2d": Type.D, "argon2i": Type.I, "argon2id": Type.ID}
for line in sys.stdin:
    op, a, b = line.split()
    if op == "verify":          # a: PHC string, b: password (hex)
        try:
            print(verify_secret(a.encode(), bytes.fromhex(b), types[a.split("$")[1]]))
        except VerifyMismatchError:
            print(False)
    else:                       # op: type, a: password (hex), b: salt (hex)
        print(hash_secret(bytes.fromhex(a), bytes.fromhex(b), time_cost=2, memory_cost=512,
                          parallelism=2, hash_len=32, type=types[op]).decode())
"#;

#[test]
fn phc_strings_verify_both_ways_with_argon2_cffi() {
    let hasher = Argon2Hasher::new(Argon2Settings {
        memory_kib: 256,
        iterations: 2,
        parallelism: 1,
    });
    let none = PepperKeys::none();
    let passwords = [
        "correct horse battery staple",
        "violet-Harbor-Lantern-42",
        "pässwörd ✓",
    ];
    // Ours, checked by argon2-cffi with the right and a wrong password.
    let mut input = String::new();
    for pw in passwords {
        let phc = hasher.hash(pw, &none).unwrap();
        input += &format!("verify {phc} {}\n", hex(pw.as_bytes()));
        input += &format!("verify {phc} {}\n", hex(format!("{pw}!").as_bytes()));
    }
    let answers = python(PHC, &input);
    assert_eq!(answers, ["True", "False"].repeat(passwords.len()));
    // argon2-cffi's, of every type, checked by ours.
    let mut input = String::new();
    for (i, pw) in passwords.iter().enumerate() {
        let kind = ["argon2d", "argon2i", "argon2id"][i % 3];
        input += &format!(
            "{kind} {} {}\n",
            hex(pw.as_bytes()),
            hex(format!("salt-{i}-salt").as_bytes())
        );
    }
    let strings = python(PHC, &input);
    assert_eq!(strings.len(), passwords.len());
    for (phc, pw) in strings.iter().zip(passwords) {
        assert!(phc.starts_with("$argon2"), "{phc}");
        assert!(hasher.verify(pw, phc, &none).unwrap(), "{phc}");
        assert!(
            !hasher.verify(&format!("{pw}!"), phc, &none).unwrap(),
            "{phc}"
        );
    }
}
