//! Differential tests: this engine, with every compression this CPU supports, against the
//! `argon2` crate (RustCrypto), over random costs, lengths, variants and versions, and once at
//! the service's default costs.

use argon2_simd::{Block, Compression, Cost, Inputs, Variant, Version, block_count, hash_into};

/// xorshift64*: deterministic cases without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn reference(
    variant: Variant,
    version: Version,
    cost: &Cost,
    inputs: &Inputs<'_>,
    out_len: usize,
) -> Vec<u8> {
    let algorithm = match variant {
        Variant::Argon2d => argon2::Algorithm::Argon2d,
        Variant::Argon2i => argon2::Algorithm::Argon2i,
        Variant::Argon2id => argon2::Algorithm::Argon2id,
    };
    let version = match version {
        Version::V0x10 => argon2::Version::V0x10,
        Version::V0x13 => argon2::Version::V0x13,
    };
    let mut builder = argon2::ParamsBuilder::new();
    builder
        .m_cost(cost.memory_kib)
        .t_cost(cost.iterations)
        .p_cost(cost.lanes)
        .output_len(out_len);
    if !inputs.associated_data.is_empty() {
        builder.data(argon2::AssociatedData::new(inputs.associated_data).unwrap());
    }
    let params = builder.build().unwrap();
    let context = if inputs.secret.is_empty() {
        argon2::Argon2::new(algorithm, version, params)
    } else {
        argon2::Argon2::new_with_secret(inputs.secret, algorithm, version, params).unwrap()
    };
    let mut out = vec![0u8; out_len];
    context
        .hash_password_into(inputs.password, inputs.salt, &mut out)
        .unwrap();
    out
}

fn ours(
    compression: Compression,
    variant: Variant,
    version: Version,
    cost: &Cost,
    inputs: &Inputs<'_>,
    memory: &mut Vec<Block>,
    out_len: usize,
) -> Vec<u8> {
    let needed = block_count(cost);
    if memory.len() < needed {
        memory.resize(needed, Block::ZERO);
    }
    let mut out = vec![0u8; out_len];
    hash_into(
        compression,
        variant,
        version,
        cost,
        inputs,
        memory,
        &mut out,
    )
    .unwrap();
    out
}

#[test]
fn random_cases_agree_with_the_argon2_crate_for_every_compression() {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let variants = [Variant::Argon2d, Variant::Argon2i, Variant::Argon2id];
    let versions = [Version::V0x10, Version::V0x13];
    let out_lens = [4usize, 16, 31, 32, 33, 64, 65, 96, 97, 128, 1024, 1500];
    // One memory per compression, reused dirty across cases as the service does.
    let compressions = Compression::available();
    let mut memories: Vec<Vec<Block>> = compressions.iter().map(|_| Vec::new()).collect();
    for case in 0..150 {
        let lanes = 1 + rng.below(5) as u32;
        let cost = Cost {
            lanes,
            memory_kib: 8 * lanes + rng.below(200) as u32,
            iterations: 1 + rng.below(4) as u32,
        };
        let lens = [
            rng.below(80) as usize,
            8 + rng.below(40) as usize,
            (rng.below(2) * (1 + rng.below(64))) as usize,
            (rng.below(2) * (1 + rng.below(32))) as usize,
        ];
        let [password, salt, secret, data] = lens.map(|len| rng.bytes(len));
        let inputs = Inputs {
            password: &password,
            salt: &salt,
            secret: &secret,
            associated_data: &data,
        };
        let variant = variants[rng.below(3) as usize];
        let version = versions[rng.below(2) as usize];
        let out_len = out_lens[rng.below(out_lens.len() as u64) as usize];
        let expected = reference(variant, version, &cost, &inputs, out_len);
        for (compression, memory) in compressions.iter().zip(memories.iter_mut()) {
            let got = ours(
                *compression,
                variant,
                version,
                &cost,
                &inputs,
                memory,
                out_len,
            );
            assert!(
                got == expected,
                "case {case}: {variant:?} {version:?} {cost:?} {inputs:?} T={out_len} with {}",
                compression.name()
            );
        }
    }
}

#[test]
fn the_services_default_costs_agree_with_the_argon2_crate() {
    // argon2id m=19456 t=2 p=1 with a pepper, and argon2i m=65536 t=2 p=1 as stored elsewhere.
    let cases = [
        (
            Variant::Argon2id,
            Cost {
                memory_kib: 19_456,
                iterations: 2,
                lanes: 1,
            },
            &b"pepper-key"[..],
        ),
        (
            Variant::Argon2i,
            Cost {
                memory_kib: 65_536,
                iterations: 2,
                lanes: 1,
            },
            &b""[..],
        ),
    ];
    for (variant, cost, secret) in cases {
        let inputs = Inputs {
            password: b"correct horse battery staple",
            salt: b"0123456789abcdef",
            secret,
            associated_data: b"",
        };
        let expected = reference(variant, Version::V0x13, &cost, &inputs, 32);
        for compression in Compression::available() {
            let mut memory = Vec::new();
            let got = ours(
                compression,
                variant,
                Version::V0x13,
                &cost,
                &inputs,
                &mut memory,
                32,
            );
            assert_eq!(got, expected, "{variant:?} with {}", compression.name());
        }
    }
}
