//! Who is calling (SPEC §3): the principal from an authorizer context, bearer tokens verified
//! by the function itself, and the issuer's signing keys. Shared by every binary.

pub mod clock;
pub mod jwks;
pub mod principal;
pub mod revocation;
pub mod token_verifier;
