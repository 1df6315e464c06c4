//! argon2-rust, which computes every hash and verify of the service, with the SIMD backend
//! this CPU selects (AVX-512 / AVX2 on x86_64, NEON on aarch64): the RFC 9106 vectors, random
//! cases against the `argon2` crate (RustCrypto), and the service's default costs. One
//! `Hasher` is reused, dirty, across cases, as the service reuses its pooled hashers.

use argon2_rust::params::{Memory, TagLen};

#[derive(Clone, Copy, Debug)]
enum Variant {
    D,
    I,
    Id,
}

#[derive(Clone, Copy, Debug)]
struct Case<'a> {
    variant: Variant,
    v0x13: bool,
    memory_kib: u32,
    passes: u32,
    lanes: u32,
    tag_len: usize,
    password: &'a [u8],
    salt: &'a [u8],
    secret: &'a [u8],
    data: &'a [u8],
}

/// The tag as the service computes it: argon2-rust, one thread, a reused hasher.
fn service_tag(hasher: &mut Option<argon2_rust::Hasher>, case: &Case<'_>) -> Vec<u8> {
    let params = argon2_rust::Params::builder()
        .memory(Memory::kib(u64::from(case.memory_kib)))
        .passes(case.passes)
        .lanes(case.lanes)
        .threads(1)
        .tag_len(TagLen::bytes(case.tag_len as u64))
        .build()
        .unwrap();
    let algorithm = match case.variant {
        Variant::D => argon2_rust::Algorithm::Argon2d,
        Variant::I => argon2_rust::Algorithm::Argon2i,
        Variant::Id => argon2_rust::Algorithm::Argon2id,
    };
    let version = if case.v0x13 {
        argon2_rust::Version::V0x13
    } else {
        argon2_rust::Version::V0x10
    };
    let argon2 = argon2_rust::Argon2::new(algorithm, version, params);
    let hasher = hasher.get_or_insert_with(|| argon2.hasher());
    hasher.set_argon2(argon2);
    let mut out = vec![0u8; case.tag_len];
    hasher
        .hash_into_with_ad(case.password, case.salt, case.secret, case.data, &mut out)
        .unwrap();
    out
}

/// The same tag by the `argon2` crate.
fn reference(case: &Case<'_>) -> Vec<u8> {
    let algorithm = match case.variant {
        Variant::D => argon2::Algorithm::Argon2d,
        Variant::I => argon2::Algorithm::Argon2i,
        Variant::Id => argon2::Algorithm::Argon2id,
    };
    let version = if case.v0x13 {
        argon2::Version::V0x13
    } else {
        argon2::Version::V0x10
    };
    let mut builder = argon2::ParamsBuilder::new();
    builder
        .m_cost(case.memory_kib)
        .t_cost(case.passes)
        .p_cost(case.lanes)
        .output_len(case.tag_len);
    if !case.data.is_empty() {
        builder.data(argon2::AssociatedData::new(case.data).unwrap());
    }
    let params = builder.build().unwrap();
    let context = if case.secret.is_empty() {
        argon2::Argon2::new(algorithm, version, params)
    } else {
        argon2::Argon2::new_with_secret(case.secret, algorithm, version, params).unwrap()
    };
    let mut out = vec![0u8; case.tag_len];
    context
        .hash_password_into(case.password, case.salt, &mut out)
        .unwrap();
    out
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn the_simd_backend_is_the_one_under_test() {
    let backend = argon2_rust::detected_backend();
    #[cfg(target_arch = "aarch64")]
    assert_eq!(backend, argon2_rust::Backend::Neon);
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        assert!(
            matches!(
                backend,
                argon2_rust::Backend::Avx2 | argon2_rust::Backend::Avx512
            ),
            "{backend:?}"
        );
    }
}

#[test]
fn rfc9106_vectors() {
    // RFC 9106 §5: password 32 × 0x01, salt 16 × 0x02, secret 8 × 0x03, associated data
    // 12 × 0x04, m = 32, t = 3, p = 4, 32-byte tag, version 0x13.
    let mut hasher = None;
    for (variant, tag) in [
        (
            Variant::D,
            "512b391b6f1162975371d30919734294f868e3be3984f3c1a13a4db9fabe4acb",
        ),
        (
            Variant::I,
            "c814d9d1dc7f37aa13f0d77f2494bda1c8de6b016dd388d29952a4c4672b6ce8",
        ),
        (
            Variant::Id,
            "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659",
        ),
    ] {
        let case = Case {
            variant,
            v0x13: true,
            memory_kib: 32,
            passes: 3,
            lanes: 4,
            tag_len: 32,
            password: &[1; 32],
            salt: &[2; 16],
            secret: &[3; 8],
            data: &[4; 12],
        };
        assert_eq!(service_tag(&mut hasher, &case), hex(tag), "{variant:?}");
    }
}

/// xorshift64*: deterministic cases without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
    fn bytes(&mut self, len: u64) -> Vec<u8> {
        (0..len).map(|_| self.below(256) as u8).collect()
    }
}

#[test]
fn random_cases_agree_with_the_argon2_crate() {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let tag_lens = [4usize, 16, 31, 32, 33, 64, 65, 96, 97, 128, 1024, 1500];
    let mut hasher = None;
    for n in 0..150 {
        let lanes = 1 + rng.below(5) as u32;
        let lens = [
            rng.below(80),
            8 + rng.below(40),
            rng.below(2) * (1 + rng.below(64)),
            rng.below(2) * (1 + rng.below(32)),
        ];
        let [password, salt, secret, data] = lens.map(|len| rng.bytes(len));
        let case = Case {
            variant: [Variant::D, Variant::I, Variant::Id][rng.below(3) as usize],
            v0x13: rng.below(2) == 1,
            memory_kib: 8 * lanes + rng.below(200) as u32,
            passes: 1 + rng.below(4) as u32,
            lanes,
            tag_len: tag_lens[rng.below(tag_lens.len() as u64) as usize],
            password: &password,
            salt: &salt,
            secret: &secret,
            data: &data,
        };
        assert!(
            service_tag(&mut hasher, &case) == reference(&case),
            "case {n}: {:?} v0x13={} m={} t={} p={} T={} (lengths {lens:?})",
            case.variant,
            case.v0x13,
            case.memory_kib,
            case.passes,
            case.lanes,
            case.tag_len
        );
    }
}

#[test]
fn the_services_default_costs_agree_with_the_argon2_crate() {
    // argon2id m=19456 t=2 p=1 with a pepper, and argon2i m=65536 t=2 p=1 as stored elsewhere.
    let mut hasher = None;
    for (variant, memory_kib, secret) in [
        (Variant::Id, 19_456, &b"pepper-key"[..]),
        (Variant::I, 65_536, &b""[..]),
    ] {
        let case = Case {
            variant,
            v0x13: true,
            memory_kib,
            passes: 2,
            lanes: 1,
            tag_len: 32,
            password: b"correct horse battery staple",
            salt: b"0123456789abcdef",
            secret,
            data: b"",
        };
        assert_eq!(
            service_tag(&mut hasher, &case),
            reference(&case),
            "{variant:?}"
        );
    }
}
