//! Outbound HTTPS that is not AWS: one client (rustls with the system's roots, the crypto the
//! SDK already builds), used for the issuer's JWKS and the breached-password range API.

pub mod hibp;
pub mod https;
