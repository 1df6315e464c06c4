//! Argon2's 1 KiB memory block and its compression function G (RFC 9106 §3.5–3.6), in portable
//! Rust and with SIMD: AVX2 (and AVX2 with AVX-512VL's rotations) on x86_64, detected at run
//! time, and NEON on aarch64 (always present there, so Graviton uses it).
//!
//! G(X, Y): R = X ⊕ Y; apply the permutation P to each of R's 8 rows of 16 words, then to each
//! of its 8 columns of word pairs, giving Z; the result is Z ⊕ R. Every implementation here
//! computes exactly that; the engine's tests compare them with each other, with the RFC 9106
//! vectors and with the `argon2` crate.

/// One argon2 memory block: 128 little-endian 64-bit words.
#[derive(Clone, Copy, PartialEq, Eq)]
#[repr(C, align(64))]
pub struct Block(pub [u64; 128]);

impl Block {
    pub const SIZE: usize = 1024;
    pub const ZERO: Block = Block([0; 128]);

    /// The block from 1024 little-endian bytes.
    pub fn from_le_bytes(bytes: &[u8; Block::SIZE]) -> Block {
        let mut block = Block::ZERO;
        for (word, chunk) in block.0.iter_mut().zip(bytes.chunks_exact(8)) {
            *word = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
        }
        block
    }

    /// The block as 1024 little-endian bytes.
    pub fn to_le_bytes(&self) -> [u8; Block::SIZE] {
        let mut bytes = [0u8; Block::SIZE];
        for (chunk, word) in bytes.chunks_exact_mut(8).zip(self.0.iter()) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        bytes
    }
}

impl Default for Block {
    fn default() -> Self {
        Block::ZERO
    }
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Blocks hold password-derived data: never print their contents.
        f.write_str("Block(..)")
    }
}

/// What [`Compression::calibrate`] measured and chose.
#[derive(Clone, Debug)]
pub struct Calibration {
    pub chosen: Compression,
    /// Every available implementation with its best time per block, in nanoseconds.
    pub ns_per_block: Vec<(Compression, f64)>,
}

impl Calibration {
    /// "portable=610 avx2=250 avx2+avx512vl=222": for the cold-start log line.
    pub fn summary(&self) -> String {
        self.ns_per_block
            .iter()
            .map(|(c, ns)| format!("{}={ns:.0}", c.name()))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Which implementation of G to run. Only constructible for what this CPU supports, so calling
/// [`Compression::compress`] is always safe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Compression(Kind);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
    #[cfg(target_arch = "x86_64")]
    Avx512Vl,
    #[cfg(target_arch = "aarch64")]
    Neon,
}

impl Compression {
    /// The portable implementation (no SIMD intrinsics).
    pub const PORTABLE: Compression = Compression(Kind::Portable);

    /// The widest SIMD implementation this CPU supports (the last of [`Compression::available`]).
    pub fn widest() -> Compression {
        *Compression::available()
            .last()
            .expect("the portable implementation is always available")
    }

    /// Times every available implementation on this CPU (after a warm-up of 64 compressions,
    /// the best of 7 rounds of 32; about 0.3 ms in all) and picks the fastest. A wider one is kept unless a narrower
    /// one is more than 5 % faster. Whatever is picked computes the same G; only speed is at
    /// stake, so a noisy measurement can cost time, never correctness.
    pub fn calibrate() -> Calibration {
        const WARM_UP: u32 = 64;
        const ROUNDS: usize = 7;
        const BLOCKS: u32 = 32;
        let x = Block(std::array::from_fn(|i| {
            (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        }));
        let y = Block(std::array::from_fn(|i| (i as u64) ^ 0xdead_beef_cafe_f00d));
        let candidates = Compression::available();
        let mut best = vec![std::time::Duration::MAX; candidates.len()];
        let mut out = Block::ZERO;
        for compression in &candidates {
            for _ in 0..WARM_UP {
                compression.compress(&x, std::hint::black_box(&y), &mut out, true);
            }
        }
        for _ in 0..ROUNDS {
            for (compression, best) in candidates.iter().zip(best.iter_mut()) {
                let began = std::time::Instant::now();
                for _ in 0..BLOCKS {
                    compression.compress(&x, std::hint::black_box(&y), &mut out, true);
                }
                *best = (*best).min(began.elapsed());
            }
        }
        std::hint::black_box(&out);
        let ns_per_block: Vec<(Compression, f64)> = candidates
            .iter()
            .zip(best.iter())
            .map(|(c, d)| (*c, d.as_nanos() as f64 / f64::from(BLOCKS)))
            .collect();
        let mut chosen = ns_per_block[ns_per_block.len() - 1];
        for &(compression, ns) in ns_per_block.iter().rev().skip(1) {
            if ns < chosen.1 * 0.95 {
                chosen = (compression, ns);
            }
        }
        Calibration {
            chosen: chosen.0,
            ns_per_block,
        }
    }

    /// Every implementation this CPU supports, slowest (portable) first.
    pub fn available() -> Vec<Compression> {
        #[allow(unused_mut)]
        let mut all = vec![Compression::PORTABLE];
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            all.push(Compression(Kind::Avx2));
            if std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512vl")
            {
                all.push(Compression(Kind::Avx512Vl));
            }
        }
        #[cfg(target_arch = "aarch64")]
        all.push(Compression(Kind::Neon));
        all
    }

    /// A short name for logs and benchmarks.
    pub fn name(self) -> &'static str {
        match self.0 {
            Kind::Portable => "portable",
            #[cfg(target_arch = "x86_64")]
            Kind::Avx2 => "avx2",
            #[cfg(target_arch = "x86_64")]
            Kind::Avx512Vl => "avx2+avx512vl",
            #[cfg(target_arch = "aarch64")]
            Kind::Neon => "neon",
        }
    }

    /// `out = G(x, y)`, or `out ^= G(x, y)` when `xor_into` (argon2 v1.3 after the first pass).
    #[inline]
    pub fn compress(self, x: &Block, y: &Block, out: &mut Block, xor_into: bool) {
        match self.0 {
            Kind::Portable => portable::compress(x, y, out, xor_into),
            // SAFETY: `Kind::Avx2` is only constructed after AVX2 was detected on this CPU.
            #[cfg(target_arch = "x86_64")]
            Kind::Avx2 => unsafe { avx2::compress(x, y, out, xor_into) },
            // SAFETY: `Kind::Avx512Vl` is only constructed after AVX2, AVX-512F and AVX-512VL
            // were detected.
            #[cfg(target_arch = "x86_64")]
            Kind::Avx512Vl => unsafe { avx2::compress_avx512vl(x, y, out, xor_into) },
            // SAFETY: NEON is part of the aarch64 baseline.
            #[cfg(target_arch = "aarch64")]
            Kind::Neon => unsafe { neon::compress(x, y, out, xor_into) },
        }
    }
}

mod portable {
    use super::Block;

    /// BlaMka's multiplication-hardened addition: a + b + 2·lo32(a)·lo32(b) (mod 2^64).
    #[inline(always)]
    fn bla(a: u64, b: u64) -> u64 {
        let product = (a & 0xffff_ffff) * (b & 0xffff_ffff);
        a.wrapping_add(b)
            .wrapping_add(product)
            .wrapping_add(product)
    }

    #[inline(always)]
    fn gb(v: &mut [u64; 16], a: usize, b: usize, c: usize, d: usize) {
        v[a] = bla(v[a], v[b]);
        v[d] = (v[d] ^ v[a]).rotate_right(32);
        v[c] = bla(v[c], v[d]);
        v[b] = (v[b] ^ v[c]).rotate_right(24);
        v[a] = bla(v[a], v[b]);
        v[d] = (v[d] ^ v[a]).rotate_right(16);
        v[c] = bla(v[c], v[d]);
        v[b] = (v[b] ^ v[c]).rotate_right(63);
    }

    /// The permutation P on 16 words seen as a 4×4 matrix: columns, then diagonals.
    #[inline(always)]
    fn permute(v: &mut [u64; 16]) {
        gb(v, 0, 4, 8, 12);
        gb(v, 1, 5, 9, 13);
        gb(v, 2, 6, 10, 14);
        gb(v, 3, 7, 11, 15);
        gb(v, 0, 5, 10, 15);
        gb(v, 1, 6, 11, 12);
        gb(v, 2, 7, 8, 13);
        gb(v, 3, 4, 9, 14);
    }

    /// The 16 word indices of column pair `i` (0..8): words 2i and 2i+1 of each row.
    #[inline(always)]
    fn column(i: usize) -> [usize; 16] {
        let mut idx = [0; 16];
        for (row, pair) in idx.chunks_exact_mut(2).enumerate() {
            pair[0] = 16 * row + 2 * i;
            pair[1] = 16 * row + 2 * i + 1;
        }
        idx
    }

    pub fn compress(x: &Block, y: &Block, out: &mut Block, xor_into: bool) {
        let mut r = [0u64; 128];
        for (ri, (a, b)) in r.iter_mut().zip(x.0.iter().zip(y.0.iter())) {
            *ri = a ^ b;
        }
        let mut q = r;
        for row in q.chunks_exact_mut(16) {
            let v: &mut [u64; 16] = row.try_into().expect("16 words");
            permute(v);
        }
        for i in 0..8 {
            let idx = column(i);
            let mut v = [0u64; 16];
            for (vj, &k) in v.iter_mut().zip(idx.iter()) {
                *vj = q[k];
            }
            permute(&mut v);
            for (vj, &k) in v.iter().zip(idx.iter()) {
                q[k] = *vj;
            }
        }
        for ((o, qi), ri) in out.0.iter_mut().zip(q.iter()).zip(r.iter()) {
            let z = qi ^ ri;
            *o = if xor_into { *o ^ z } else { z };
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    //! Four words per 256-bit register. The block is 32 registers `q[0..32]`; row i is
    //! `q[4i..4i+4]`, so the row pass runs P on (A, B, C, D) = four consecutive registers and
    //! turns the matrix for the diagonal step with `permute4x64`. A column pair takes two words
    //! from each row: columns 2k and 2k+1 are gathered from `q[k + 4j]` with `permute2x128`,
    //! run as two interleaved permutations, and scattered back the same way.
    //!
    //! The same code runs with two sets of rotations: AVX2's (byte shuffles, shifts) and
    //! AVX-512VL's `vprorq`, which frees the shuffle port the permutations also need.
    //! The helpers are `inline(always)` so that they take the entry point's target features.
    use super::Block;
    use std::arch::x86_64::*;

    /// The four rotations G needs.
    pub trait Rotate {
        /// # Safety
        /// The CPU has the instructions the implementation uses.
        unsafe fn rotr32(x: __m256i) -> __m256i;
        /// # Safety
        /// As `rotr32`.
        unsafe fn rotr24(x: __m256i) -> __m256i;
        /// # Safety
        /// As `rotr32`.
        unsafe fn rotr16(x: __m256i) -> __m256i;
        /// # Safety
        /// As `rotr32`.
        unsafe fn rotr63(x: __m256i) -> __m256i;
    }

    /// AVX2: 32 as a dword shuffle, 24 and 16 as byte shuffles, 63 as shift, add and xor.
    pub struct Shuffles;

    impl Rotate for Shuffles {
        #[inline(always)]
        unsafe fn rotr32(x: __m256i) -> __m256i {
            unsafe { _mm256_shuffle_epi32::<0b10_11_00_01>(x) }
        }

        #[inline(always)]
        unsafe fn rotr24(x: __m256i) -> __m256i {
            unsafe {
                let m = _mm256_setr_epi8(
                    3, 4, 5, 6, 7, 0, 1, 2, 11, 12, 13, 14, 15, 8, 9, 10, 3, 4, 5, 6, 7, 0, 1, 2,
                    11, 12, 13, 14, 15, 8, 9, 10,
                );
                _mm256_shuffle_epi8(x, m)
            }
        }

        #[inline(always)]
        unsafe fn rotr16(x: __m256i) -> __m256i {
            unsafe {
                let m = _mm256_setr_epi8(
                    2, 3, 4, 5, 6, 7, 0, 1, 10, 11, 12, 13, 14, 15, 8, 9, 2, 3, 4, 5, 6, 7, 0, 1,
                    10, 11, 12, 13, 14, 15, 8, 9,
                );
                _mm256_shuffle_epi8(x, m)
            }
        }

        #[inline(always)]
        unsafe fn rotr63(x: __m256i) -> __m256i {
            unsafe { _mm256_xor_si256(_mm256_srli_epi64::<63>(x), _mm256_add_epi64(x, x)) }
        }
    }

    /// AVX-512F + VL: one `vprorq` per rotation.
    pub struct Vpror;

    impl Rotate for Vpror {
        #[inline(always)]
        unsafe fn rotr32(x: __m256i) -> __m256i {
            unsafe { _mm256_ror_epi64::<32>(x) }
        }

        #[inline(always)]
        unsafe fn rotr24(x: __m256i) -> __m256i {
            unsafe { _mm256_ror_epi64::<24>(x) }
        }

        #[inline(always)]
        unsafe fn rotr16(x: __m256i) -> __m256i {
            unsafe { _mm256_ror_epi64::<16>(x) }
        }

        #[inline(always)]
        unsafe fn rotr63(x: __m256i) -> __m256i {
            unsafe { _mm256_ror_epi64::<63>(x) }
        }
    }

    #[inline(always)]
    unsafe fn bla(a: __m256i, b: __m256i) -> __m256i {
        unsafe {
            let product = _mm256_mul_epu32(a, b);
            _mm256_add_epi64(_mm256_add_epi64(a, b), _mm256_add_epi64(product, product))
        }
    }

    /// G on each of the four lanes of (a, b, c, d), for two independent sets at once.
    macro_rules! g2 {
        ($r:ty; $a0:ident, $b0:ident, $c0:ident, $d0:ident, $a1:ident, $b1:ident, $c1:ident, $d1:ident) => {
            $a0 = bla($a0, $b0);
            $a1 = bla($a1, $b1);
            $d0 = <$r>::rotr32(_mm256_xor_si256($d0, $a0));
            $d1 = <$r>::rotr32(_mm256_xor_si256($d1, $a1));
            $c0 = bla($c0, $d0);
            $c1 = bla($c1, $d1);
            $b0 = <$r>::rotr24(_mm256_xor_si256($b0, $c0));
            $b1 = <$r>::rotr24(_mm256_xor_si256($b1, $c1));
            $a0 = bla($a0, $b0);
            $a1 = bla($a1, $b1);
            $d0 = <$r>::rotr16(_mm256_xor_si256($d0, $a0));
            $d1 = <$r>::rotr16(_mm256_xor_si256($d1, $a1));
            $c0 = bla($c0, $d0);
            $c1 = bla($c1, $d1);
            $b0 = <$r>::rotr63(_mm256_xor_si256($b0, $c0));
            $b1 = <$r>::rotr63(_mm256_xor_si256($b1, $c1));
        };
    }

    /// Moves the diagonals (v0,v5,v10,v15), (v1,v6,v11,v12), ... into the lanes.
    macro_rules! diagonalize {
        ($b:ident, $c:ident, $d:ident) => {
            $b = _mm256_permute4x64_epi64::<0b00_11_10_01>($b);
            $c = _mm256_permute4x64_epi64::<0b01_00_11_10>($c);
            $d = _mm256_permute4x64_epi64::<0b10_01_00_11>($d);
        };
    }

    macro_rules! undiagonalize {
        ($b:ident, $c:ident, $d:ident) => {
            $b = _mm256_permute4x64_epi64::<0b10_01_00_11>($b);
            $c = _mm256_permute4x64_epi64::<0b01_00_11_10>($c);
            $d = _mm256_permute4x64_epi64::<0b00_11_10_01>($d);
        };
    }

    /// Two permutations P, each on 16 words held as (a, b, c, d).
    #[inline(always)]
    unsafe fn permute2<R: Rotate>(v: [__m256i; 8]) -> [__m256i; 8] {
        let [
            mut a0,
            mut b0,
            mut c0,
            mut d0,
            mut a1,
            mut b1,
            mut c1,
            mut d1,
        ] = v;
        unsafe {
            g2!(R; a0, b0, c0, d0, a1, b1, c1, d1);
            diagonalize!(b0, c0, d0);
            diagonalize!(b1, c1, d1);
            g2!(R; a0, b0, c0, d0, a1, b1, c1, d1);
            undiagonalize!(b0, c0, d0);
            undiagonalize!(b1, c1, d1);
        }
        [a0, b0, c0, d0, a1, b1, c1, d1]
    }

    #[inline(always)]
    unsafe fn compress_with<R: Rotate>(x: &Block, y: &Block, out: &mut Block, xor_into: bool) {
        let xp = x.0.as_ptr() as *const __m256i;
        let yp = y.0.as_ptr() as *const __m256i;
        let op = out.0.as_mut_ptr() as *mut __m256i;
        // SAFETY (whole body): the caller guarantees the instructions; a block is 32 × 32
        // bytes, loads and stores are unaligned ones, and `out` aliases neither `x` nor `y`.
        unsafe {
            let mut r = [_mm256_setzero_si256(); 32];
            for (i, ri) in r.iter_mut().enumerate() {
                *ri =
                    _mm256_xor_si256(_mm256_loadu_si256(xp.add(i)), _mm256_loadu_si256(yp.add(i)));
            }
            let mut q = r;
            // Rows, two at a time: rows 2p and 2p + 1 are q[8p..8p + 8].
            for pair in q.chunks_exact_mut(8) {
                let v: [__m256i; 8] = pair.try_into().expect("8 registers");
                pair.copy_from_slice(&permute2::<R>(v));
            }
            // Columns 2k and 2k+1 together. (a, b, c, d) of column 2k are the low halves of
            // q[k + 8j] and q[k + 8j + 4] for j = 0..4 (rows 2j and 2j + 1); those of column
            // 2k + 1 are the high halves.
            for k in 0..4 {
                let lo: [__m256i; 4] = std::array::from_fn(|j| q[k + 8 * j]);
                let hi: [__m256i; 4] = std::array::from_fn(|j| q[k + 8 * j + 4]);
                let v = permute2::<R>([
                    _mm256_permute2x128_si256::<0x20>(lo[0], hi[0]),
                    _mm256_permute2x128_si256::<0x20>(lo[1], hi[1]),
                    _mm256_permute2x128_si256::<0x20>(lo[2], hi[2]),
                    _mm256_permute2x128_si256::<0x20>(lo[3], hi[3]),
                    _mm256_permute2x128_si256::<0x31>(lo[0], hi[0]),
                    _mm256_permute2x128_si256::<0x31>(lo[1], hi[1]),
                    _mm256_permute2x128_si256::<0x31>(lo[2], hi[2]),
                    _mm256_permute2x128_si256::<0x31>(lo[3], hi[3]),
                ]);
                for j in 0..4 {
                    q[k + 8 * j] = _mm256_permute2x128_si256::<0x20>(v[j], v[j + 4]);
                    q[k + 8 * j + 4] = _mm256_permute2x128_si256::<0x31>(v[j], v[j + 4]);
                }
            }
            for i in 0..32 {
                let mut z = _mm256_xor_si256(q[i], r[i]);
                if xor_into {
                    z = _mm256_xor_si256(z, _mm256_loadu_si256(op.add(i)));
                }
                _mm256_storeu_si256(op.add(i), z);
            }
        }
    }

    /// G with AVX2. Safe to call only where AVX2 is present (hence `unsafe` outside an AVX2
    /// context).
    #[target_feature(enable = "avx2")]
    pub fn compress(x: &Block, y: &Block, out: &mut Block, xor_into: bool) {
        // SAFETY: this function's target features are AVX2.
        unsafe { compress_with::<Shuffles>(x, y, out, xor_into) }
    }

    /// G with AVX2 and AVX-512VL's rotations.
    #[target_feature(enable = "avx2,avx512f,avx512vl")]
    pub fn compress_avx512vl(x: &Block, y: &Block, out: &mut Block, xor_into: bool) {
        // SAFETY: this function's target features are AVX2, AVX-512F and AVX-512VL.
        unsafe { compress_with::<Vpror>(x, y, out, xor_into) }
    }
}

#[cfg(target_arch = "aarch64")]
mod neon {
    //! Two words per 128-bit register. P's 16 words are 8 registers: (a, a') = v0..v3,
    //! (b, b') = v4..v7, (c, c') = v8..v11, (d, d') = v12..v15. The diagonal step pairs them up
    //! again with `vextq_u64`. A column pair (words 2i, 2i+1 of each row) is one register per
    //! row, so the column pass needs no shuffling at all.
    use super::Block;
    use std::arch::aarch64::*;

    #[inline]
    #[target_feature(enable = "neon")]
    fn bla(a: uint64x2_t, b: uint64x2_t) -> uint64x2_t {
        let product = vmull_u32(vmovn_u64(a), vmovn_u64(b));
        vaddq_u64(vaddq_u64(a, b), vaddq_u64(product, product))
    }

    #[inline]
    #[target_feature(enable = "neon")]
    fn rotr32(x: uint64x2_t) -> uint64x2_t {
        vreinterpretq_u64_u32(vrev64q_u32(vreinterpretq_u32_u64(x)))
    }

    #[inline]
    #[target_feature(enable = "neon")]
    fn rotr24(x: uint64x2_t) -> uint64x2_t {
        vsriq_n_u64::<24>(vshlq_n_u64::<40>(x), x)
    }

    #[inline]
    #[target_feature(enable = "neon")]
    fn rotr16(x: uint64x2_t) -> uint64x2_t {
        vsriq_n_u64::<16>(vshlq_n_u64::<48>(x), x)
    }

    #[inline]
    #[target_feature(enable = "neon")]
    fn rotr63(x: uint64x2_t) -> uint64x2_t {
        vsriq_n_u64::<63>(vshlq_n_u64::<1>(x), x)
    }

    /// G on each of the two lanes of (a, b, c, d), for two independent sets at once.
    macro_rules! g2 {
        ($a0:ident, $b0:ident, $c0:ident, $d0:ident, $a1:ident, $b1:ident, $c1:ident, $d1:ident) => {
            $a0 = bla($a0, $b0);
            $a1 = bla($a1, $b1);
            $d0 = rotr32(veorq_u64($d0, $a0));
            $d1 = rotr32(veorq_u64($d1, $a1));
            $c0 = bla($c0, $d0);
            $c1 = bla($c1, $d1);
            $b0 = rotr24(veorq_u64($b0, $c0));
            $b1 = rotr24(veorq_u64($b1, $c1));
            $a0 = bla($a0, $b0);
            $a1 = bla($a1, $b1);
            $d0 = rotr16(veorq_u64($d0, $a0));
            $d1 = rotr16(veorq_u64($d1, $a1));
            $c0 = bla($c0, $d0);
            $c1 = bla($c1, $d1);
            $b0 = rotr63(veorq_u64($b0, $c0));
            $b1 = rotr63(veorq_u64($b1, $c1));
        };
    }

    /// P on 16 words held as [a, a', b, b', c, c', d, d'] (v0..v15 in order).
    #[inline]
    #[target_feature(enable = "neon")]
    fn permute(v: [uint64x2_t; 8]) -> [uint64x2_t; 8] {
        let [
            mut a0,
            mut a1,
            mut b0,
            mut b1,
            mut c0,
            mut c1,
            mut d0,
            mut d1,
        ] = v;
        // Columns: (v0,v4,v8,v12), (v1,v5,v9,v13) | (v2,v6,v10,v14), (v3,v7,v11,v15).
        g2!(a0, b0, c0, d0, a1, b1, c1, d1);
        // Diagonals: (v0,v5,v10,v15), (v1,v6,v11,v12) | (v2,v7,v8,v13), (v3,v4,v9,v14).
        let mut e0 = vextq_u64::<1>(b0, b1); // v5, v6
        let mut e1 = vextq_u64::<1>(b1, b0); // v7, v4
        let mut f0 = vextq_u64::<1>(d1, d0); // v15, v12
        let mut f1 = vextq_u64::<1>(d0, d1); // v13, v14
        g2!(a0, e0, c1, f0, a1, e1, c0, f1);
        b0 = vextq_u64::<1>(e1, e0); // v4, v5
        b1 = vextq_u64::<1>(e0, e1); // v6, v7
        d0 = vextq_u64::<1>(f0, f1); // v12, v13
        d1 = vextq_u64::<1>(f1, f0); // v14, v15
        [a0, a1, b0, b1, c0, c1, d0, d1]
    }

    /// Safe to call only where NEON is present (every aarch64 CPU; `unsafe` outside a NEON context).
    #[target_feature(enable = "neon")]
    pub fn compress(x: &Block, y: &Block, out: &mut Block, xor_into: bool) {
        let xp = x.0.as_ptr();
        let yp = y.0.as_ptr();
        let op = out.0.as_mut_ptr();
        let mut r = [vdupq_n_u64(0); 64];
        for (i, ri) in r.iter_mut().enumerate() {
            // SAFETY: a block is 64 × 16 bytes.
            *ri = unsafe { veorq_u64(vld1q_u64(xp.add(2 * i)), vld1q_u64(yp.add(2 * i))) };
        }
        let mut q = r;
        // Row i is registers 8i..8i+8.
        for row in q.chunks_exact_mut(8) {
            let v: [uint64x2_t; 8] = row.try_into().expect("8 registers");
            row.copy_from_slice(&permute(v));
        }
        // Column pair i is register i of each row.
        for i in 0..8 {
            let v: [uint64x2_t; 8] = std::array::from_fn(|row| q[8 * row + i]);
            let v = permute(v);
            for (row, vr) in v.into_iter().enumerate() {
                q[8 * row + i] = vr;
            }
        }
        for i in 0..64 {
            let mut z = veorq_u64(q[i], r[i]);
            // SAFETY: as for the loads; `out` does not alias `x` or `y` (it is `&mut`).
            unsafe {
                if xor_into {
                    z = veorq_u64(z, vld1q_u64(op.add(2 * i)));
                }
                vst1q_u64(op.add(2 * i), z);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! Self-contained (no other module of the crate), so that this file alone can be built as a
    //! test for another architecture and run under an emulator: `make test-neon`.
    use super::*;

    /// xorshift64*: deterministic test data without a dependency.
    fn words(seed: u64) -> impl FnMut() -> u64 {
        let mut s = seed | 1;
        move || {
            s ^= s >> 12;
            s ^= s << 25;
            s ^= s >> 27;
            s.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }
    }

    fn random_block(next: &mut impl FnMut() -> u64) -> Block {
        Block(std::array::from_fn(|_| next()))
    }

    #[test]
    fn a_simd_implementation_is_available_and_chosen() {
        let all = Compression::available();
        assert_eq!(all[0], Compression::PORTABLE);
        #[cfg(target_arch = "aarch64")]
        assert_eq!(Compression::widest().name(), "neon");
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            assert!(all.iter().any(|c| c.name() == "avx2"));
            assert_ne!(Compression::widest(), Compression::PORTABLE);
        }
    }

    #[test]
    fn calibration_times_every_available_compression_and_picks_one_of_them() {
        // Which one wins is a matter of speed, not asserted here; that each is timed is.
        let calibration = Compression::calibrate();
        let all = Compression::available();
        assert_eq!(calibration.ns_per_block.len(), all.len());
        for ((c, ns), expected) in calibration.ns_per_block.iter().zip(all.iter()) {
            assert_eq!(c, expected);
            assert!(ns.is_finite() && *ns > 0.0, "{} {ns}", c.name());
        }
        assert!(all.contains(&calibration.chosen));
        let summary = calibration.summary();
        for c in &all {
            assert!(summary.contains(&format!("{}=", c.name())), "{summary}");
        }
    }

    #[test]
    fn every_implementation_computes_the_same_g_on_random_and_edge_blocks() {
        let mut next = words(0x9e37_79b9_7f4a_7c15);
        let mut cases: Vec<(Block, Block)> = (0..500)
            .map(|_| (random_block(&mut next), random_block(&mut next)))
            .collect();
        // Edge cases: all-zero, all-ones, low words at 2^32 - 1 (the multiplication's widest).
        cases.push((Block::ZERO, Block::ZERO));
        cases.push((Block([u64::MAX; 128]), Block::ZERO));
        cases.push((
            Block([0xffff_ffff; 128]),
            Block([0xffff_ffff_0000_0000; 128]),
        ));
        let simd = Compression::available();
        for (x, y) in &cases {
            for xor_into in [false, true] {
                let prior = random_block(&mut next);
                let mut expected = prior;
                Compression::PORTABLE.compress(x, y, &mut expected, xor_into);
                for c in &simd {
                    let mut got = prior;
                    c.compress(x, y, &mut got, xor_into);
                    assert!(got == expected, "{} differs from portable", c.name());
                }
            }
        }
    }

    #[test]
    fn xor_into_is_plain_g_xored_with_the_prior_block() {
        let mut next = words(7);
        let (x, y, prior) = (
            random_block(&mut next),
            random_block(&mut next),
            random_block(&mut next),
        );
        for c in Compression::available() {
            let mut plain = Block::ZERO;
            c.compress(&x, &y, &mut plain, false);
            let mut xored = prior;
            c.compress(&x, &y, &mut xored, true);
            let expected: Vec<u64> = plain
                .0
                .iter()
                .zip(prior.0.iter())
                .map(|(a, b)| a ^ b)
                .collect();
            assert_eq!(xored.0.to_vec(), expected, "{}", c.name());
        }
    }

    #[test]
    fn g_of_zero_blocks_is_zero_and_g_is_not_the_identity() {
        // P(0) = 0, so G(0, 0) = 0: a fixed point every correct implementation shares.
        for c in Compression::available() {
            let mut out = Block([1; 128]);
            c.compress(&Block::ZERO, &Block::ZERO, &mut out, false);
            assert!(out == Block::ZERO, "{}", c.name());
            let mut one = Block::ZERO;
            one.0[0] = 1;
            c.compress(&one, &Block::ZERO, &mut out, false);
            assert!(out != one && out != Block::ZERO, "{}", c.name());
        }
    }

    #[test]
    fn bytes_round_trip_little_endian() {
        let mut bytes = [0u8; Block::SIZE];
        for (i, b) in bytes.iter_mut().enumerate() {
            *b = i as u8;
        }
        let block = Block::from_le_bytes(&bytes);
        assert_eq!(block.0[0], u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]));
        assert_eq!(block.to_le_bytes(), bytes);
    }
}
