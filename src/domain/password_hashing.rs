//! argon2 hashing and verification of PHC strings, with an optional pepper.
//!
//! New hashes are argon2id with the configured parameters. Stored argon2i / argon2d / argon2id
//! hashes of any (bounded) parameters verify. A peppered hash records its key id in the PHC
//! `keyid` parameter, so old keys keep verifying after a rotation and unpeppered hashes verify
//! without one. The memory block argon2 fills is pooled and reused across hashes and requests.
//!
//! The `argon2` crate (RustCrypto) parses and writes the PHC strings and checks parameters;
//! the hash itself is computed by `argon2-rust` (the same function with SIMD chosen at run
//! time: AVX-512 / AVX2 / NEON; 7.6 ms here against 18.5 ms for the `argon2` crate,
//! BENCHMARKS.md).

use argon2::password_hash::phc::{Ident, Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, KeyId, Params, ParamsBuilder, Version};
use std::collections::HashMap;
use std::sync::Mutex;
use subtle::ConstantTimeEq;

/// argon2id parameters for new hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Settings {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Settings {
    /// OWASP's argon2id recommendation (m=19 MiB, t=2, p=1).
    fn default() -> Self {
        Argon2Settings {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Upper bounds on the parameters of a stored hash this service will verify (and of the
/// configured ones): a hash written elsewhere with absurd costs must not exhaust the function's
/// memory or time. 256 MiB and t = 10 verify in about 1.5 s at 1769 MB; above, the answer is
/// 500 with no argon2 run.
pub const MAX_MEMORY_KIB: u32 = 256 * 1024;
pub const MAX_ITERATIONS: u32 = 10;
pub const MAX_PARALLELISM: u32 = 64;

impl Argon2Settings {
    /// Checks the parameters the way argon2 will, so that a bad configuration fails at start-up.
    pub fn validate(&self) -> Result<(), String> {
        if self.memory_kib > MAX_MEMORY_KIB {
            return Err(format!("must be at most {MAX_MEMORY_KIB} KiB"));
        }
        if self.iterations > MAX_ITERATIONS || self.parallelism > MAX_PARALLELISM {
            return Err(format!(
                "iterations must be at most {MAX_ITERATIONS}, parallelism at most {MAX_PARALLELISM}"
            ));
        }
        Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// The pepper keys (SPEC §6): new hashes use the current one; any known one verifies.
#[derive(Clone, Default)]
pub struct PepperKeys {
    current: Option<String>,
    keys: HashMap<String, Vec<u8>>,
}

impl std::fmt::Debug for PepperKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Key ids only: the key material never reaches a log line.
        let mut ids: Vec<_> = self.keys.keys().collect();
        ids.sort();
        f.debug_struct("PepperKeys")
            .field("current", &self.current)
            .field("key_ids", &ids)
            .finish()
    }
}

impl PepperKeys {
    /// No pepper at all.
    pub fn none() -> Self {
        PepperKeys::default()
    }

    /// Keys by id, and the id new hashes use. Ids must be 1 to 8 bytes (argon2's `keyid`).
    pub fn new(current: &str, keys: HashMap<String, Vec<u8>>) -> Result<Self, String> {
        for (id, key) in &keys {
            if id.is_empty() || id.len() > Params::MAX_KEYID_LEN {
                return Err(format!(
                    "key id {id:?} must have 1 to {} bytes",
                    Params::MAX_KEYID_LEN
                ));
            }
            if key.is_empty() {
                return Err(format!("key {id:?} is empty"));
            }
        }
        if !keys.contains_key(current) {
            return Err(format!("CurrentKeyId {current:?} is not among Keys"));
        }
        Ok(PepperKeys {
            current: Some(current.to_string()),
            keys,
        })
    }

    pub fn current_key_id(&self) -> Option<&str> {
        self.current.as_deref()
    }
}

/// Why a stored hash could not be checked, or a new one made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HashingError {
    #[error("the stored password hash is not an argon2 PHC string this service can verify: {0}")]
    UnsupportedHash(String),
    #[error("the stored password hash uses pepper key id {0:?}, which is not configured")]
    UnknownPepperKey(String),
    #[error("argon2 failed: {0}")]
    Argon2(String),
}

/// The hashing operations the change use case needs. A trait so that tests can count calls.
pub trait PasswordHashing: Send + Sync {
    /// A new argon2id PHC string for `password`.
    fn hash(&self, password: &str, pepper: &PepperKeys) -> Result<String, HashingError>;
    /// Whether `password` matches the stored PHC string.
    fn verify(&self, password: &str, phc: &str, pepper: &PepperKeys) -> Result<bool, HashingError>;
}

/// The argon2 implementation, with a pool of argon2-rust hashers, each keeping its memory.
pub struct Argon2Hasher {
    settings: Argon2Settings,
    pool: Mutex<Vec<argon2_rust::Hasher>>,
}

/// One argon2 computation: which function, its costs, and its secret (pepper) if any.
struct Computation<'a> {
    algorithm: Algorithm,
    version: Version,
    params: &'a Params,
    secret: Option<&'a [u8]>,
}

/// How many idle memory blocks the pool keeps (one per concurrent hash is the most useful).
const POOL_LIMIT: usize = 4;
const SALT_LEN: usize = 16;
const OUTPUT_LEN: usize = 32;

impl Argon2Hasher {
    pub fn new(settings: Argon2Settings) -> Self {
        Argon2Hasher {
            settings,
            pool: Mutex::new(Vec::new()),
        }
    }

    pub fn settings(&self) -> Argon2Settings {
        self.settings
    }

    /// The SIMD argon2-rust runs on this CPU ("Avx512", "Avx2", "Neon", ...), for the logs.
    pub fn backend() -> String {
        format!("{:?}", argon2_rust::detected_backend())
    }

    /// Runs argon2 into `out` with a pooled hasher, whose memory is reused across hashes.
    fn compute(
        &self,
        computation: &Computation<'_>,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), HashingError> {
        let failed = |e: argon2_rust::Error| HashingError::Argon2(e.to_string());
        let params = computation.params;
        let costs = argon2_rust::Params::builder()
            .memory(argon2_rust::params::Memory::kib(u64::from(params.m_cost())))
            .passes(params.t_cost())
            .lanes(params.p_cost())
            // Lanes are filled on this thread: the function's parallelism is its requests.
            .threads(1)
            .tag_len(argon2_rust::params::TagLen::bytes(out.len() as u64))
            .build()
            .map_err(failed)?;
        let algorithm = match computation.algorithm {
            Algorithm::Argon2d => argon2_rust::Algorithm::Argon2d,
            Algorithm::Argon2i => argon2_rust::Algorithm::Argon2i,
            Algorithm::Argon2id => argon2_rust::Algorithm::Argon2id,
        };
        let version = match computation.version {
            Version::V0x10 => argon2_rust::Version::V0x10,
            Version::V0x13 => argon2_rust::Version::V0x13,
        };
        let argon2 = argon2_rust::Argon2::new(algorithm, version, costs);
        let mut hasher = self.take_hasher(costs.memory_blocks() as usize, || argon2.hasher());
        hasher.set_argon2(argon2);
        let result = hasher
            .hash_into_with_ad(
                password,
                salt,
                computation.secret.unwrap_or_default(),
                params.data(),
                out,
            )
            .map_err(failed);
        self.give_back(hasher);
        result
    }

    /// A pooled hasher whose memory holds `needed` blocks if there is one, else any pooled one
    /// (it grows), else a new one.
    fn take_hasher(
        &self,
        needed: usize,
        new: impl FnOnce() -> argon2_rust::Hasher,
    ) -> argon2_rust::Hasher {
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        match pool.iter().position(|h| h.reserved_blocks() >= needed) {
            Some(i) => pool.swap_remove(i),
            None => pool.pop().unwrap_or_else(new),
        }
    }

    /// Keeps `hasher` for the next hash, unless [`POOL_LIMIT`] are idle already or its memory
    /// grew past the configured costs (for a larger stored hash): then it is freed.
    fn give_back(&self, hasher: argon2_rust::Hasher) {
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < POOL_LIMIT && hasher.reserved_blocks() <= self.settings.memory_kib as usize
        {
            pool.push(hasher);
        }
    }
}

fn pepper_for<'k>(pepper: &'k PepperKeys, key_id: &str) -> Result<&'k [u8], HashingError> {
    pepper
        .keys
        .get(key_id)
        .map(Vec::as_slice)
        .ok_or_else(|| HashingError::UnknownPepperKey(key_id.to_string()))
}

impl PasswordHashing for Argon2Hasher {
    fn hash(&self, password: &str, pepper: &PepperKeys) -> Result<String, HashingError> {
        let mut builder = ParamsBuilder::new();
        builder
            .m_cost(self.settings.memory_kib)
            .t_cost(self.settings.iterations)
            .p_cost(self.settings.parallelism)
            .output_len(OUTPUT_LEN);
        let secret = match pepper.current_key_id() {
            Some(id) => {
                let key_id =
                    KeyId::new(id.as_bytes()).map_err(|e| HashingError::Argon2(e.to_string()))?;
                builder.keyid(key_id);
                Some(pepper_for(pepper, id)?)
            }
            None => None,
        };
        let params = builder
            .build()
            .map_err(|e| HashingError::Argon2(e.to_string()))?;
        let computation = Computation {
            algorithm: Algorithm::Argon2id,
            version: Version::V0x13,
            params: &params,
            secret,
        };
        let mut salt = [0u8; SALT_LEN];
        getrandom::fill(&mut salt).map_err(|e| HashingError::Argon2(e.to_string()))?;
        let mut out = [0u8; OUTPUT_LEN];
        self.compute(&computation, password.as_bytes(), &salt, &mut out)?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params)
                .map_err(|e| HashingError::Argon2(e.to_string()))?,
            salt: Some(Salt::new(&salt).map_err(|e| HashingError::Argon2(e.to_string()))?),
            hash: Some(Output::new(&out).map_err(|e| HashingError::Argon2(e.to_string()))?),
        };
        Ok(phc.to_string())
    }

    fn verify(&self, password: &str, phc: &str, pepper: &PepperKeys) -> Result<bool, HashingError> {
        let unsupported = |why: &str| HashingError::UnsupportedHash(why.to_string());
        let parsed = PasswordHash::new(phc).map_err(|_| unsupported("not a PHC string"))?;
        let algorithm = Algorithm::try_from(parsed.algorithm.as_str())
            .map_err(|_| unsupported("not argon2"))?;
        let version = match parsed.version {
            Some(v) => Version::try_from(v).map_err(|_| unsupported("unknown argon2 version"))?,
            None => Version::V0x10,
        };
        let params = Params::try_from(&parsed).map_err(|_| unsupported("bad argon2 parameters"))?;
        if params.m_cost() > MAX_MEMORY_KIB
            || params.t_cost() > MAX_ITERATIONS
            || params.p_cost() > MAX_PARALLELISM
        {
            return Err(unsupported("argon2 parameters above this service's bounds"));
        }
        let salt = parsed.salt.ok_or_else(|| unsupported("no salt"))?;
        let expected = parsed.hash.ok_or_else(|| unsupported("no hash"))?;
        let key_id = params.keyid();
        let secret = if key_id.is_empty() {
            None
        } else {
            let id = std::str::from_utf8(key_id).map_err(|_| unsupported("key id is not UTF-8"))?;
            Some(pepper_for(pepper, id)?)
        };
        let computation = Computation {
            algorithm,
            version,
            params: &params,
            secret,
        };
        let mut out = vec![0u8; expected.len()];
        self.compute(&computation, password.as_bytes(), salt.as_ref(), &mut out)?;
        Ok(bool::from(out.as_slice().ct_eq(expected.as_bytes())))
    }
}

/// Whether a stored hash was made with other parameters than the configured ones (it is
/// replaced on the next change in any case; this is for metrics and logs).
pub fn is_outdated(phc: &str, settings: &Argon2Settings) -> bool {
    let Ok(parsed) = PasswordHash::new(phc) else {
        return true;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    parsed.algorithm != Ident::from(Algorithm::Argon2id)
        || params.m_cost() != settings.memory_kib
        || params.t_cost() != settings.iterations
        || params.p_cost() != settings.parallelism
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_costs_are_bounded_each_on_its_own() {
        let settings = |memory_kib, iterations, parallelism| Argon2Settings {
            memory_kib,
            iterations,
            parallelism,
        };
        assert!(
            settings(MAX_MEMORY_KIB, MAX_ITERATIONS, 1)
                .validate()
                .is_ok()
        );
        assert!(settings(MAX_MEMORY_KIB + 1, 1, 1).validate().is_err());
        assert!(settings(65_536, MAX_ITERATIONS + 1, 1).validate().is_err());
        assert!(settings(65_536, 1, MAX_PARALLELISM).validate().is_ok());
        assert!(settings(65_536, 1, MAX_PARALLELISM + 1).validate().is_err());
        assert_eq!(
            (MAX_MEMORY_KIB, MAX_ITERATIONS, MAX_PARALLELISM),
            (262_144, 10, 64)
        );
    }

    #[test]
    fn the_backend_is_named_as_argon2_rust_names_its_kinds() {
        let named = ["Scalar", "Neon", "Sse2", "Avx2", "Avx512"];
        assert!(
            named.contains(&Argon2Hasher::backend().as_str()),
            "{}",
            Argon2Hasher::backend()
        );
    }

    fn fast() -> Argon2Hasher {
        Argon2Hasher::new(Argon2Settings {
            memory_kib: 64,
            iterations: 1,
            parallelism: 1,
        })
    }

    #[test]
    fn hash_is_argon2id_phc_with_configured_parameters_and_verifies() {
        let h = fast();
        let phc = h.hash("correct horse", &PepperKeys::none()).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{phc}");
        assert!(
            h.verify("correct horse", &phc, &PepperKeys::none())
                .unwrap()
        );
        assert!(
            !h.verify("correct horsf", &phc, &PepperKeys::none())
                .unwrap()
        );
        assert!(!is_outdated(&phc, &h.settings()));
    }

    #[test]
    fn salts_differ() {
        let h = fast();
        let a = h.hash("same", &PepperKeys::none()).unwrap();
        let b = h.hash("same", &PepperKeys::none()).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn rfc9106_argon2id_vector_through_the_pooled_path() {
        // RFC 9106 §5.3, argon2id: m=32, t=3, p=4, with secret and associated data.
        let params = ParamsBuilder::new()
            .m_cost(32)
            .t_cost(3)
            .p_cost(4)
            .data(argon2::AssociatedData::new(&[0x04; 12]).unwrap())
            .output_len(32)
            .build()
            .unwrap();
        let computation = Computation {
            algorithm: Algorithm::Argon2id,
            version: Version::V0x13,
            params: &params,
            secret: Some(&[0x03; 8]),
        };
        let mut out = [0u8; 32];
        let h = fast();
        // Run twice: the second run reuses the pooled (dirty) block and must agree.
        for _ in 0..2 {
            h.compute(&computation, &[0x01; 32], &[0x02; 16], &mut out)
                .unwrap();
            assert_eq!(
                out.to_vec(),
                hex("0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659")
            );
        }
    }

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn argon2i_and_argon2d_strings_from_elsewhere_verify() {
        // The argon2i vector of the reference implementation's README (m=64 MiB, t=2, p=1) and
        // strings made by argon2-cffi (the C reference): `argon2.low_level.hash_secret(b"password",
        // b"somesalt", time_cost=2, memory_cost=256, parallelism=2, hash_len=32, type=...)`.
        let i =
            "$argon2i$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$wWKIMhR9lyDFvRz9YTZweHKfbftvj+qf+YFY4NeBbtA";
        let i2 =
            "$argon2i$v=19$m=256,t=2,p=2$c29tZXNhbHQ$T/XOJ2mh1/TIpJHfCdQan76Q5esCFVoT5MAeIM1Oq2E";
        let d =
            "$argon2d$v=19$m=256,t=2,p=2$c29tZXNhbHQ$e2nJLXw4iarRKB28i678Esw3yA8cdeM+8sLUDCjrxXM";
        let id =
            "$argon2id$v=19$m=256,t=2,p=2$c29tZXNhbHQ$bQk8UB/VmZZF4Oo79iDXuL5/0ttZwg2f/5U52iv1cDc";
        let h = fast();
        for phc in [i, i2, d, id] {
            assert!(
                h.verify("password", phc, &PepperKeys::none()).unwrap(),
                "{phc}"
            );
            assert!(
                !h.verify("passwore", phc, &PepperKeys::none()).unwrap(),
                "{phc}"
            );
            assert!(is_outdated(phc, &h.settings()));
        }
    }

    #[test]
    fn pepper_key_id_is_recorded_and_rotation_keeps_old_hashes_valid() {
        let h = fast();
        let k1 = PepperKeys::new(
            "k1",
            HashMap::from([("k1".into(), b"first-pepper".to_vec())]),
        )
        .unwrap();
        let phc1 = h.hash("pw-one", &k1).unwrap();
        assert!(phc1.contains(",keyid="), "{phc1}");
        // Without the pepper the hash does not verify: the key is really mixed in.
        assert_eq!(
            h.verify("pw-one", &phc1, &PepperKeys::none()),
            Err(HashingError::UnknownPepperKey("k1".into()))
        );
        let k2 = PepperKeys::new(
            "k2",
            HashMap::from([
                ("k1".into(), b"first-pepper".to_vec()),
                ("k2".into(), b"second".to_vec()),
            ]),
        )
        .unwrap();
        assert!(h.verify("pw-one", &phc1, &k2).unwrap());
        let phc2 = h.hash("pw-two", &k2).unwrap();
        assert!(h.verify("pw-two", &phc2, &k2).unwrap());
        // A tampered key with the same id fails.
        let wrong =
            PepperKeys::new("k1", HashMap::from([("k1".into(), b"other".to_vec())])).unwrap();
        assert!(!h.verify("pw-one", &phc1, &wrong).unwrap());
        // An unpeppered hash verifies under a peppered configuration.
        let plain = h.hash("pw-three", &PepperKeys::none()).unwrap();
        assert!(h.verify("pw-three", &plain, &k2).unwrap());
    }

    #[test]
    fn a_hash_differing_in_any_one_cost_or_the_variant_is_outdated() {
        let settings = Argon2Settings {
            memory_kib: 64,
            iterations: 2,
            parallelism: 1,
        };
        let tail = "c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
        let phc = |variant: &str, params: &str| format!("${variant}$v=19${params}${tail}");
        assert!(!is_outdated(&phc("argon2id", "m=64,t=2,p=1"), &settings));
        for (variant, params) in [
            ("argon2i", "m=64,t=2,p=1"),
            ("argon2id", "m=128,t=2,p=1"),
            ("argon2id", "m=64,t=3,p=1"),
            ("argon2id", "m=64,t=2,p=2"),
        ] {
            assert!(
                is_outdated(&phc(variant, params), &settings),
                "{variant} {params}"
            );
        }
    }

    #[test]
    fn a_stored_hash_at_the_bounds_is_verified() {
        let h = fast();
        let tail = "c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
        for params in [
            format!("m={MAX_MEMORY_KIB},t=1,p=1"),
            format!("m=64,t={MAX_ITERATIONS},p=1"),
            format!("m=512,t=1,p={MAX_PARALLELISM}"),
        ] {
            let phc = format!("$argon2id$v=19${params}${tail}");
            // Run, and not equal: the tag is another password's.
            assert_eq!(
                h.verify("pw", &phc, &PepperKeys::none()),
                Ok(false),
                "{params}"
            );
        }
    }

    fn pooled_blocks(h: &Argon2Hasher) -> Vec<usize> {
        let pool = h.pool.lock().unwrap();
        pool.iter().map(|h| h.reserved_blocks()).collect()
    }

    /// A hasher whose memory holds `kib` blocks (1 KiB each).
    fn hasher_of(kib: u32) -> argon2_rust::Hasher {
        let costs = argon2_rust::Params::builder()
            .memory(argon2_rust::params::Memory::kib(u64::from(kib)))
            .passes(1)
            .lanes(1)
            .threads(1)
            .build()
            .unwrap();
        let mut hasher = argon2_rust::Argon2::new(
            argon2_rust::Algorithm::Argon2id,
            argon2_rust::Version::V0x13,
            costs,
        )
        .hasher();
        // Its memory is reserved by its first hash.
        hasher
            .hash_into_with_ad(b"pw", b"somesalt", &[], &[], &mut [0u8; 32])
            .unwrap();
        hasher
    }

    #[test]
    fn at_most_pool_limit_idle_hashers_are_kept() {
        let h = fast();
        // As many hashes at once as the limit and one more: each takes its own hasher.
        let taken: Vec<_> = (0..=POOL_LIMIT)
            .map(|_| h.take_hasher(64, || hasher_of(64)))
            .collect();
        for hasher in taken {
            h.give_back(hasher);
        }
        assert_eq!(pooled_blocks(&h), vec![64; POOL_LIMIT]);
    }

    #[test]
    fn a_hash_takes_a_pooled_hasher_that_fits_before_one_that_must_grow() {
        let h = fast();
        h.give_back(hasher_of(64));
        h.give_back(hasher_of(32));
        let fitting = h.take_hasher(64, || hasher_of(8));
        assert_eq!(fitting.reserved_blocks(), 64);
        assert_eq!(pooled_blocks(&h), vec![32]);
        // None fits: a pooled one is taken (to grow) rather than a new one made.
        let grown = h.take_hasher(64, || hasher_of(8));
        assert_eq!(grown.reserved_blocks(), 32);
        assert!(pooled_blocks(&h).is_empty());
        assert_eq!(h.take_hasher(64, || hasher_of(8)).reserved_blocks(), 8);
    }

    #[test]
    fn no_block_larger_than_the_configured_size_stays_in_the_pool() {
        let h = fast();
        let own = h.hash("pw", &PepperKeys::none()).unwrap();
        assert!(h.verify("pw", &own, &PepperKeys::none()).unwrap());
        assert!(
            !pooled_blocks(&h).is_empty(),
            "the configured size is pooled"
        );
        // A stored hash with 4x the configured memory verifies, and its block is freed.
        let big = Argon2Hasher::new(Argon2Settings {
            memory_kib: 256,
            iterations: 1,
            parallelism: 1,
        })
        .hash("pw", &PepperKeys::none())
        .unwrap();
        assert!(h.verify("pw", &big, &PepperKeys::none()).unwrap());
        let blocks = pooled_blocks(&h);
        assert!(blocks.iter().all(|b| *b <= 64), "{blocks:?}");
    }

    #[test]
    fn stored_hashes_above_256_mib_or_10_passes_are_refused_without_running_argon2() {
        let salt = "c29tZXNhbHQ";
        let tag = "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc";
        for params in ["m=262145,t=1,p=1", "m=64,t=11,p=1"] {
            let h = fast();
            let phc = format!("$argon2id$v=19${params}${salt}${tag}");
            assert!(
                matches!(
                    h.verify("x", &phc, &PepperKeys::none()),
                    Err(HashingError::UnsupportedHash(_))
                ),
                "{phc}"
            );
            assert!(pooled_blocks(&h).is_empty(), "argon2 ran for {phc}");
        }
        // At the bounds, they verify: t = 10, and m = 256 MiB.
        for (memory_kib, iterations) in [(64, MAX_ITERATIONS), (MAX_MEMORY_KIB, 1)] {
            let h = fast();
            let at_bound = Argon2Hasher::new(Argon2Settings {
                memory_kib,
                iterations,
                parallelism: 1,
            })
            .hash("pw", &PepperKeys::none())
            .unwrap();
            assert!(h.verify("pw", &at_bound, &PepperKeys::none()).unwrap());
        }
    }

    #[test]
    fn malformed_or_oversized_stored_hashes_are_errors_not_panics() {
        let h = fast();
        for bad in [
            "",
            "plain",
            "$bcrypt$xx",
            "$argon2id$v=19$m=64,t=1,p=1$c29tZXNhbHQ",
            "$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
        ] {
            assert!(
                matches!(
                    h.verify("x", bad, &PepperKeys::none()),
                    Err(HashingError::UnsupportedHash(_))
                ),
                "{bad}"
            );
        }
        assert!(
            Argon2Settings {
                memory_kib: 1,
                iterations: 1,
                parallelism: 1
            }
            .validate()
            .is_err()
        );
        assert!(Argon2Settings::default().validate().is_ok());
    }
}
