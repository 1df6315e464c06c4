//! The `CommonPasswords` blocklist (SPEC §4): the most common passwords of public breach
//! frequency lists, shipped inside the binary (no network). `data/common-passwords.txt` names
//! its source and licence in `data/README.md`; it holds entries that a new password could be
//! (every one of 15 code points or more, then the most common of 8 or more: shorter ones are
//! refused by length first), NFC and case-folded, sorted, one per line. A lookup is a binary
//! search over the lines.

use std::sync::OnceLock;

const LIST: &str = include_str!("../../data/common-passwords.txt");

fn entries() -> &'static [&'static str] {
    static ENTRIES: OnceLock<Vec<&'static str>> = OnceLock::new();
    ENTRIES.get_or_init(|| LIST.lines().filter(|l| !l.is_empty()).collect())
}

/// Whether `folded` (NFC, then lower-cased) is on the list.
pub fn contains(folded: &str) -> bool {
    entries().binary_search(&folded).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_is_sorted_unique_and_folded() {
        let entries = entries();
        assert_eq!(entries.len(), 100_000);
        assert!(entries.windows(2).all(|w| w[0] < w[1]), "sorted, unique");
        for e in entries {
            assert_eq!(*e, crate::domain::password_policy::fold(e), "{e}");
            assert!(e.chars().count() >= 8, "{e}");
        }
    }
}
