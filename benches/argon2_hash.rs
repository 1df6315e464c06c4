//! Criterion benchmarks: one argon2id hash at the service's default costs (m=19456 KiB, t=2,
//! p=1), memory reused, by argon2-rust (what the service runs, with the SIMD backend this CPU
//! selects) and by the `argon2` crate (RustCrypto, generic code), in the same run.
//!
//!     cargo bench --bench argon2_hash      (`make bench` runs it with the others)

use argon2_rust::params::{Memory, TagLen};
use criterion::{Criterion, criterion_group, criterion_main};

const PASSWORD: &[u8] = b"violet-Harbor-Lantern-42";
const SALT: &[u8] = b"0123456789abcdef";

fn hashing(c: &mut Criterion) {
    let mut g = c.benchmark_group("argon2id_m19456_t2_p1_hash");
    g.sample_size(30);

    let params = argon2_rust::Params::builder()
        .memory(Memory::kib(19_456))
        .passes(2)
        .lanes(1)
        .threads(1)
        .tag_len(TagLen::bytes(32))
        .build()
        .unwrap();
    let mut hasher = argon2_rust::Argon2::new(
        argon2_rust::Algorithm::Argon2id,
        argon2_rust::Version::V0x13,
        params,
    )
    .hasher();
    let backend = format!("{:?}", argon2_rust::detected_backend()).to_lowercase();
    g.bench_function(format!("argon2_rust_{backend}"), |b| {
        b.iter(|| {
            let mut out = [0u8; 32];
            hasher.hash_into(PASSWORD, SALT, &mut out).unwrap();
            out
        })
    });

    let params = argon2::Params::new(19_456, 2, 1, Some(32)).unwrap();
    let context = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut blocks = vec![argon2::Block::new(); 19_456];
    g.bench_function("argon2_crate", |b| {
        b.iter(|| {
            let mut out = [0u8; 32];
            context
                .hash_password_into_with_memory(PASSWORD, SALT, &mut out, &mut blocks[..])
                .unwrap();
            out
        })
    });
    g.finish();
}

criterion_group!(benches, hashing);
criterion_main!(benches);
