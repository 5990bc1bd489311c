//! Digests and their text form, below every stage: the spec's fingerprint, MANIFEST lines, the
//! state inventory and certificate fingerprints all print bytes the same way.

use sha2::{Digest, Sha256};

/// sha256 of `bytes`, as lower-case hex.
pub fn sha256(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    base16ct::lower::encode_string(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_is_the_lower_case_hex_of_the_digest() {
        assert_eq!(
            sha256(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(hex(&[0x00, 0xab, 0x0f]), "00ab0f");
    }
}
