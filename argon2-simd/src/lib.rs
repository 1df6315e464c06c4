//! Argon2 (RFC 9106): the initial hash H0, the memory fill and the tag, over the compression
//! function chosen for this CPU ([`Compression`], in `compression.rs`).
//!
//! The `argon2` crate computes the same function with generic code for G; here G with AVX2 is
//! about twice as fast as portable code, and a whole hash takes 28 % less time than with the
//! crate (BENCHMARKS.md). The `argon2` crate still parses and writes PHC strings and remains the
//! reference the tests compare this engine with, beside the RFC 9106 vectors and argon2-cffi.
//!
//! Lanes are filled one after another (no threads): the function's only parallelism is the
//! request concurrency around it, and the service's default is one lane.

mod compression;

pub use compression::{Block, Compression};

/// Argon2's variants (the `y` of H0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Argon2d = 0,
    Argon2i = 1,
    Argon2id = 2,
}

/// Argon2's versions: 0x10 overwrites blocks on later passes, 0x13 XORs into them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V0x10 = 0x10,
    V0x13 = 0x13,
}

/// Costs: memory in KiB (= blocks), passes, lanes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cost {
    pub memory_kib: u32,
    pub iterations: u32,
    pub lanes: u32,
}

/// What goes into H0 besides the costs.
#[derive(Clone, Copy, Default)]
pub struct Inputs<'a> {
    pub password: &'a [u8],
    pub salt: &'a [u8],
    /// The secret K (the pepper), possibly empty.
    pub secret: &'a [u8],
    /// The associated data X, possibly empty.
    pub associated_data: &'a [u8],
}

impl std::fmt::Debug for Inputs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Lengths only: the password and the secret never reach a log line.
        f.debug_struct("Inputs")
            .field("password_len", &self.password.len())
            .field("salt_len", &self.salt.len())
            .field("secret_len", &self.secret.len())
            .field("associated_data_len", &self.associated_data.len())
            .finish()
    }
}

/// Inputs argon2 does not accept (RFC 9106 §3.1, with the reference implementation's minimum
/// salt length of 8 bytes).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Argon2Error {
    #[error("lanes must be 1 to 2^24 - 1")]
    Lanes,
    #[error("iterations must be at least 1")]
    Iterations,
    #[error("memory must be at least 8 KiB per lane")]
    Memory,
    #[error("the tag must be at least 4 bytes")]
    OutputLength,
    #[error("the salt must be at least 8 bytes")]
    SaltLength,
    #[error("an input is longer than 2^32 - 1 bytes")]
    InputLength,
    #[error("the memory given holds {given} blocks, {needed} are needed")]
    MemoryTooSmall { needed: usize, given: usize },
}

const SYNC_POINTS: usize = 4;
const ADDRESSES_PER_BLOCK: usize = 128;
const MIN_SALT_LEN: usize = 8;

/// m' of RFC 9106: the number of blocks the memory holds for these costs.
pub fn block_count(cost: &Cost) -> usize {
    let lanes = cost.lanes.max(1) as usize;
    let m = (cost.memory_kib as usize).max(2 * SYNC_POINTS * lanes);
    m / (SYNC_POINTS * lanes) * (SYNC_POINTS * lanes)
}

/// Checks what RFC 9106 requires of the costs, inputs and tag length.
pub fn check(cost: &Cost, inputs: &Inputs<'_>, out_len: usize) -> Result<(), Argon2Error> {
    if cost.lanes == 0 || cost.lanes >= 1 << 24 {
        return Err(Argon2Error::Lanes);
    }
    if cost.iterations == 0 {
        return Err(Argon2Error::Iterations);
    }
    if (cost.memory_kib as u64) < 8 * cost.lanes as u64 {
        return Err(Argon2Error::Memory);
    }
    if out_len < 4 || u32::try_from(out_len).is_err() {
        return Err(Argon2Error::OutputLength);
    }
    if inputs.salt.len() < MIN_SALT_LEN {
        return Err(Argon2Error::SaltLength);
    }
    let too_long = |b: &[u8]| u32::try_from(b.len()).is_err();
    if too_long(inputs.password)
        || too_long(inputs.salt)
        || too_long(inputs.secret)
        || too_long(inputs.associated_data)
    {
        return Err(Argon2Error::InputLength);
    }
    Ok(())
}

/// Computes the argon2 tag into `out` (its length is the tag length), filling `memory`, which
/// must hold at least [`block_count`] blocks. What `memory` held before does not matter, so it
/// can be reused across hashes.
pub fn hash_into(
    compression: Compression,
    variant: Variant,
    version: Version,
    cost: &Cost,
    inputs: &Inputs<'_>,
    memory: &mut [Block],
    out: &mut [u8],
) -> Result<(), Argon2Error> {
    check(cost, inputs, out.len())?;
    let blocks = block_count(cost);
    if memory.len() < blocks {
        return Err(Argon2Error::MemoryTooSmall {
            needed: blocks,
            given: memory.len(),
        });
    }
    let memory = &mut memory[..blocks];
    let lanes = cost.lanes as usize;
    let lane_length = blocks / lanes;

    // H0, then the first two blocks of every lane: H'(1024, H0 || LE32(j) || LE32(lane)).
    let h0 = initial_hash(variant, version, cost, inputs, out.len());
    let mut bytes = [0u8; Block::SIZE];
    for lane in 0..lanes {
        for j in 0..2u32 {
            blake2b_long(
                &mut bytes,
                &[&h0, &j.to_le_bytes(), &(lane as u32).to_le_bytes()],
            );
            memory[lane * lane_length + j as usize] = Block::from_le_bytes(&bytes);
        }
    }

    let fill = Fill {
        compression,
        variant,
        version,
        lanes,
        lane_length,
        segment_length: lane_length / SYNC_POINTS,
        total_blocks: blocks,
        iterations: cost.iterations as usize,
    };
    for pass in 0..fill.iterations {
        for slice in 0..SYNC_POINTS {
            for lane in 0..lanes {
                fill.segment(memory, pass, slice, lane);
            }
        }
    }

    // The tag: H'(T, the XOR of every lane's last block).
    let mut last = memory[lane_length - 1];
    for lane in 1..lanes {
        let other = &memory[lane * lane_length + lane_length - 1];
        for (a, b) in last.0.iter_mut().zip(other.0.iter()) {
            *a ^= b;
        }
    }
    blake2b_long(out, &[&last.to_le_bytes()]);
    Ok(())
}

/// H0 = BLAKE2b-512(LE32(p) || LE32(T) || LE32(m) || LE32(t) || LE32(v) || LE32(y) || the
/// length-prefixed password, salt, secret and associated data).
fn initial_hash(
    variant: Variant,
    version: Version,
    cost: &Cost,
    inputs: &Inputs<'_>,
    out_len: usize,
) -> [u8; 64] {
    let mut state = blake2b_simd::Params::new().hash_length(64).to_state();
    for word in [
        cost.lanes,
        out_len as u32,
        cost.memory_kib,
        cost.iterations,
        version as u32,
        variant as u32,
    ] {
        state.update(&word.to_le_bytes());
    }
    for input in [
        inputs.password,
        inputs.salt,
        inputs.secret,
        inputs.associated_data,
    ] {
        state.update(&(input.len() as u32).to_le_bytes());
        state.update(input);
    }
    let mut h0 = [0u8; 64];
    h0.copy_from_slice(state.finalize().as_bytes());
    h0
}

/// H' (RFC 9106 §3.3): BLAKE2b of LE32(T) || input for T ≤ 64; for longer outputs, a chain of
/// BLAKE2b-512 whose first 32 bytes each contribute, ending with one BLAKE2b of the rest.
fn blake2b_long(out: &mut [u8], input: &[&[u8]]) {
    let hash = |len: usize| blake2b_simd::Params::new().hash_length(len).to_state();
    let mut state = hash(out.len().min(64));
    state.update(&(out.len() as u32).to_le_bytes());
    for part in input {
        state.update(part);
    }
    let mut v = state.finalize();
    if out.len() <= 64 {
        out.copy_from_slice(v.as_bytes());
        return;
    }
    out[..32].copy_from_slice(&v.as_bytes()[..32]);
    let mut at = 32;
    while out.len() - at > 64 {
        v = hash(64).update(v.as_bytes()).finalize();
        out[at..at + 32].copy_from_slice(&v.as_bytes()[..32]);
        at += 32;
    }
    let rest = out.len() - at;
    v = hash(rest).update(v.as_bytes()).finalize();
    out[at..].copy_from_slice(v.as_bytes());
}

/// The shape of one fill; `segment` computes one segment of one lane.
struct Fill {
    compression: Compression,
    variant: Variant,
    version: Version,
    lanes: usize,
    lane_length: usize,
    segment_length: usize,
    total_blocks: usize,
    iterations: usize,
}

impl Fill {
    fn segment(&self, memory: &mut [Block], pass: usize, slice: usize, lane: usize) {
        let data_independent = match self.variant {
            Variant::Argon2i => true,
            Variant::Argon2d => false,
            Variant::Argon2id => pass == 0 && slice < SYNC_POINTS / 2,
        };
        // Data-independent addressing: address blocks G(0, G(0, input)), input's counter
        // incremented before each.
        let mut input = Block::ZERO;
        let mut addresses = Block::ZERO;
        if data_independent {
            input.0[..6].copy_from_slice(&[
                pass as u64,
                lane as u64,
                slice as u64,
                self.total_blocks as u64,
                self.iterations as u64,
                self.variant as u64,
            ]);
        }
        let first = if pass == 0 && slice == 0 { 2 } else { 0 };
        if data_independent && first != 0 {
            self.next_addresses(&mut input, &mut addresses);
        }
        let xor_into = self.version == Version::V0x13 && pass > 0;
        let lane_start = lane * self.lane_length;
        for index in first..self.segment_length {
            let position = slice * self.segment_length + index;
            let current = lane_start + position;
            let previous = if position == 0 {
                lane_start + self.lane_length - 1
            } else {
                current - 1
            };
            let pseudo_random = if data_independent {
                if index % ADDRESSES_PER_BLOCK == 0 {
                    self.next_addresses(&mut input, &mut addresses);
                }
                addresses.0[index % ADDRESSES_PER_BLOCK]
            } else {
                memory[previous].0[0]
            };
            let reference = self.reference(pseudo_random, pass, slice, lane, index);
            debug_assert!(reference != current && previous != current);
            // `current` is neither `previous` nor `reference`: split around it to borrow all three.
            let (before, rest) = memory.split_at_mut(current);
            let (out, after) = rest.split_first_mut().expect("current is in range");
            let block = |i: usize| -> &Block {
                if i < current {
                    &before[i]
                } else {
                    &after[i - current - 1]
                }
            };
            self.compression
                .compress(block(previous), block(reference), out, xor_into);
        }
    }

    /// The index of the reference block (RFC 9106 §3.4.1.2), from J1 (low 32 bits) and J2.
    fn reference(
        &self,
        pseudo_random: u64,
        pass: usize,
        slice: usize,
        lane: usize,
        index: usize,
    ) -> usize {
        let reference_lane = if pass == 0 && slice == 0 {
            lane
        } else {
            ((pseudo_random >> 32) % self.lanes as u64) as usize
        };
        let same_lane = reference_lane == lane;
        // Blocks it may reference: every finished one (of the last three segments after the
        // first pass), this segment's so far if in the same lane, never the previous block.
        let area = if pass == 0 {
            if same_lane {
                slice * self.segment_length + index - 1
            } else {
                slice * self.segment_length - usize::from(index == 0)
            }
        } else if same_lane {
            self.lane_length - self.segment_length + index - 1
        } else {
            self.lane_length - self.segment_length - usize::from(index == 0)
        };
        let j1 = pseudo_random & 0xffff_ffff;
        let x = (j1 * j1) >> 32;
        let y = (area as u64 * x) >> 32;
        let relative = area - 1 - y as usize;
        let start = if pass == 0 || slice == SYNC_POINTS - 1 {
            0
        } else {
            (slice + 1) * self.segment_length
        };
        reference_lane * self.lane_length + (start + relative) % self.lane_length
    }

    fn next_addresses(&self, input: &mut Block, addresses: &mut Block) {
        input.0[6] += 1;
        let mut once = Block::ZERO;
        self.compression
            .compress(&Block::ZERO, input, &mut once, false);
        self.compression
            .compress(&Block::ZERO, &once, addresses, false);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// RFC 9106 §5: password 32 × 0x01, salt 16 × 0x02, secret 8 × 0x03, associated data
    /// 12 × 0x04, m = 32, t = 3, p = 4, tag 32 bytes, version 0x13.
    fn rfc_vector(variant: Variant, compression: Compression) -> Vec<u8> {
        let cost = Cost {
            memory_kib: 32,
            iterations: 3,
            lanes: 4,
        };
        let inputs = Inputs {
            password: &[1; 32],
            salt: &[2; 16],
            secret: &[3; 8],
            associated_data: &[4; 12],
        };
        let mut memory = vec![Block::ZERO; block_count(&cost)];
        let mut out = [0u8; 32];
        hash_into(
            compression,
            variant,
            Version::V0x13,
            &cost,
            &inputs,
            &mut memory,
            &mut out,
        )
        .unwrap();
        out.to_vec()
    }

    #[test]
    fn rfc9106_vectors_with_every_compression() {
        let expected = [
            (
                Variant::Argon2d,
                "512b391b6f1162975371d30919734294f868e3be3984f3c1a13a4db9fabe4acb",
            ),
            (
                Variant::Argon2i,
                "c814d9d1dc7f37aa13f0d77f2494bda1c8de6b016dd388d29952a4c4672b6ce8",
            ),
            (
                Variant::Argon2id,
                "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659",
            ),
        ];
        let all = Compression::available();
        assert!(!all.is_empty());
        for compression in all {
            for (variant, tag) in expected {
                assert_eq!(
                    rfc_vector(variant, compression),
                    hex(tag),
                    "{variant:?} with {}",
                    compression.name()
                );
            }
        }
    }

    #[test]
    fn block_count_rounds_down_to_whole_segments_with_a_floor_of_two_per_segment() {
        let c = |m, p| Cost {
            memory_kib: m,
            iterations: 1,
            lanes: p,
        };
        assert_eq!(block_count(&c(19_456, 1)), 19_456);
        assert_eq!(block_count(&c(33, 4)), 32);
        assert_eq!(block_count(&c(47, 4)), 32);
        assert_eq!(block_count(&c(8, 1)), 8);
        assert_eq!(block_count(&c(9, 1)), 8);
    }

    #[test]
    fn bad_inputs_are_refused_before_any_work() {
        let inputs = Inputs {
            password: b"pw",
            salt: b"saltsalt",
            ..Inputs::default()
        };
        let run = |cost: Cost, inputs: Inputs<'_>, out_len: usize, blocks: usize| {
            let mut memory = vec![Block::ZERO; blocks];
            let mut out = vec![0u8; out_len];
            hash_into(
                Compression::PORTABLE,
                Variant::Argon2id,
                Version::V0x13,
                &cost,
                &inputs,
                &mut memory,
                &mut out,
            )
        };
        let ok = Cost {
            memory_kib: 8,
            iterations: 1,
            lanes: 1,
        };
        assert_eq!(run(ok, inputs, 32, 8), Ok(()));
        assert_eq!(
            run(Cost { lanes: 0, ..ok }, inputs, 32, 8),
            Err(Argon2Error::Lanes)
        );
        assert_eq!(
            run(
                Cost {
                    iterations: 0,
                    ..ok
                },
                inputs,
                32,
                8
            ),
            Err(Argon2Error::Iterations)
        );
        assert_eq!(
            run(Cost { lanes: 2, ..ok }, inputs, 32, 16),
            Err(Argon2Error::Memory)
        );
        assert_eq!(run(ok, inputs, 3, 8), Err(Argon2Error::OutputLength));
        let short_salt = Inputs {
            salt: b"1234567",
            ..inputs
        };
        assert_eq!(run(ok, short_salt, 32, 8), Err(Argon2Error::SaltLength));
        assert_eq!(
            run(ok, inputs, 32, 7),
            Err(Argon2Error::MemoryTooSmall {
                needed: 8,
                given: 7
            })
        );
    }

    #[test]
    fn debug_output_shows_no_input_bytes() {
        let inputs = Inputs {
            password: b"hunter2-secret",
            salt: b"saltsalt",
            secret: b"pepper-key",
            associated_data: b"",
        };
        let shown = format!("{inputs:?} {:?}", Block([0x4142_4344; 128]));
        assert!(
            !shown.contains("hunter2") && !shown.contains("pepper"),
            "{shown}"
        );
        assert!(!shown.contains("1094861636"), "{shown}");
    }
}
