//! Criterion benchmarks: one block compression G with each implementation, and one argon2id
//! hash at the service's default costs (m=19456 KiB, t=2, p=1, memory reused) with each
//! compression, against the `argon2` crate's own (generic) code on the same reused memory.
//!
//!     cargo bench --bench argon2_compression      (`make bench` runs it with the others)

use argon2_simd::{Block, Compression, Cost, Inputs, Variant, Version, block_count, hash_into};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn compression(c: &mut Criterion) {
    let mut g = c.benchmark_group("compress_1KiB_block");
    let x = Block(std::array::from_fn(|i| {
        (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
    }));
    let y = Block(std::array::from_fn(|i| (i as u64) ^ 0xdead_beef_cafe_f00d));
    for comp in Compression::available() {
        let mut out = Block::ZERO;
        g.bench_function(comp.name(), |b| {
            b.iter(|| comp.compress(black_box(&x), black_box(&y), &mut out, true))
        });
    }
    g.finish();
}

fn hashing(c: &mut Criterion) {
    let mut g = c.benchmark_group("argon2id_m19456_t2_p1_hash");
    g.sample_size(30);
    let cost = Cost {
        memory_kib: 19_456,
        iterations: 2,
        lanes: 1,
    };
    let inputs = Inputs {
        password: b"violet-Harbor-Lantern-42",
        salt: b"0123456789abcdef",
        ..Inputs::default()
    };
    let mut memory = vec![Block::ZERO; block_count(&cost)];
    for comp in Compression::available() {
        g.bench_function(format!("engine_{}", comp.name()), |b| {
            b.iter(|| {
                let mut out = [0u8; 32];
                hash_into(
                    comp,
                    Variant::Argon2id,
                    Version::V0x13,
                    &cost,
                    &inputs,
                    &mut memory,
                    &mut out,
                )
                .unwrap();
                out
            })
        });
    }
    let params = argon2::Params::new(19_456, 2, 1, Some(32)).unwrap();
    let context = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut blocks = vec![argon2::Block::new(); 19_456];
    g.bench_function("argon2_crate", |b| {
        b.iter(|| {
            let mut out = [0u8; 32];
            context
                .hash_password_into_with_memory(
                    inputs.password,
                    inputs.salt,
                    &mut out,
                    &mut blocks[..],
                )
                .unwrap();
            out
        })
    });
    g.finish();
}

criterion_group!(benches, compression, hashing);
criterion_main!(benches);
