//! Test-only crate: its tests (`tests/argon2_rust_conformance.rs`) hold argon2-rust, which
//! computes every hash and verify of the service, to the RFC 9106 vectors and to the `argon2`
//! crate (RustCrypto), with the SIMD backend this CPU selects.
//!
//! It depends on nothing but the two argon2 crates, so `make test-neon` can build it for
//! aarch64 in seconds and run it under qemu-user: that is how the NEON backend Graviton runs is
//! tested on an x86_64 machine. (The service itself needs a C cross-compiler for aws-lc.)
