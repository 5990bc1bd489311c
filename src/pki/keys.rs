//! Private keys: generated with rcgen (aws-lc-rs backend), written as kubeadm writes them
//! (`RSA PRIVATE KEY` PKCS#1, `EC PRIVATE KEY` SEC1 with its curve, `PUBLIC KEY` PKIX), read back
//! from any of those forms.

use pkcs8::der::{Decode, Encode};
use rcgen::{KeyPair, PKCS_ECDSA_P256_SHA256, PKCS_ECDSA_P384_SHA384, PKCS_RSA_SHA256, RsaKeySize};

use crate::cluster::KeyAlgorithm;

/// A private key and the algorithm it was made for.
pub struct Key {
    /// The key pair rcgen signs with.
    pub pair: KeyPair,
    /// The algorithm, as the spec names it.
    pub algorithm: KeyAlgorithm,
    /// The key as kubeadm writes it (see [`Key::to_pem`]).
    pem: String,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        write!(f, "Key({:?})", self.algorithm)
    }
}

/// Why a key cannot be made or read.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The crypto library failed to generate one.
    #[error("cannot generate a {algorithm:?} key: {source}")]
    Generate {
        /// The algorithm asked for.
        algorithm: KeyAlgorithm,
        /// Why.
        source: rcgen::Error,
    },
    /// The text is not a private key kcompile reads.
    #[error("not an RSA or ECDSA private key: {0}")]
    NotAKey(rcgen::Error),
    /// The text is not PEM.
    #[error("not PEM: {0}")]
    NotPem(#[from] pem::PemError),
    /// An algorithm kcompile does not use.
    #[error("unsupported key algorithm (kcompile uses RSA and ECDSA P-256/P-384)")]
    Unsupported,
}

impl Key {
    /// Generates a new key.
    pub fn generate(algorithm: KeyAlgorithm) -> Result<Key, KeyError> {
        let pair = match algorithm {
            KeyAlgorithm::Rsa2048 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048),
            KeyAlgorithm::Rsa3072 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_3072),
            KeyAlgorithm::Rsa4096 => KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_4096),
            KeyAlgorithm::EcdsaP256 => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256),
            KeyAlgorithm::EcdsaP384 => KeyPair::generate_for(&PKCS_ECDSA_P384_SHA384),
        }
        .map_err(|source| KeyError::Generate { algorithm, source })?;
        let pem =
            kubeadm_pem(&pair.serialize_der(), algorithm).unwrap_or_else(|| pair.serialize_pem());
        Ok(Key {
            pair,
            algorithm,
            pem,
        })
    }

    /// Reads a PEM key in PKCS#1, SEC1 or PKCS#8 form.
    pub fn from_pem(text: &str) -> Result<Key, KeyError> {
        let pair = KeyPair::from_pem(text).map_err(KeyError::NotAKey)?;
        let algorithm = algorithm_of(&pair)?;
        let block = pem::parse(text)?;
        // Keys already in kubeadm's form keep their bytes; PKCS#8 keys are converted.
        let pem = match block.tag() {
            "PRIVATE KEY" => {
                kubeadm_pem(block.contents(), algorithm).unwrap_or_else(|| text.to_owned())
            }
            tag => pem_block(tag, block.contents().to_vec()),
        };
        Ok(Key {
            pair,
            algorithm,
            pem,
        })
    }

    /// The key as kubeadm writes it: PKCS#1 for RSA, SEC1 (with the named curve) for ECDSA.
    pub fn to_pem(&self) -> String {
        self.pem.clone()
    }

    /// The public half as `PUBLIC KEY` (PKIX), as kubeadm writes `sa.pub`.
    pub fn public_pem(&self) -> String {
        self.pair.public_key_pem()
    }
}

/// A PKCS#8 key as PKCS#1 (RSA) or SEC1 with its named curve (ECDSA), in PEM.
fn kubeadm_pem(pkcs8: &[u8], algorithm: KeyAlgorithm) -> Option<String> {
    let info = pkcs8::PrivateKeyInfo::from_der(pkcs8).ok()?;
    match algorithm {
        KeyAlgorithm::EcdsaP256 | KeyAlgorithm::EcdsaP384 => {
            let curve = info.algorithm.parameters_oid().ok()?;
            let mut ec = sec1::EcPrivateKey::from_der(info.private_key).ok()?;
            ec.parameters = Some(sec1::EcParameters::NamedCurve(curve));
            Some(pem_block("EC PRIVATE KEY", ec.to_der().ok()?))
        }
        _ => Some(pem_block("RSA PRIVATE KEY", info.private_key.to_vec())),
    }
}

/// The spec's name for a key pair's algorithm. RSA sizes are told by the modulus length.
fn algorithm_of(pair: &KeyPair) -> Result<KeyAlgorithm, KeyError> {
    let alg = pair.algorithm();
    if alg == &PKCS_ECDSA_P256_SHA256 {
        Ok(KeyAlgorithm::EcdsaP256)
    } else if alg == &PKCS_ECDSA_P384_SHA384 {
        Ok(KeyAlgorithm::EcdsaP384)
    } else if alg == &PKCS_RSA_SHA256 {
        // The public key is a PKCS#1 RSAPublicKey: its length follows the modulus.
        match pair.public_key_raw().len() {
            0..=300 => Ok(KeyAlgorithm::Rsa2048),
            301..=430 => Ok(KeyAlgorithm::Rsa3072),
            _ => Ok(KeyAlgorithm::Rsa4096),
        }
    } else {
        Err(KeyError::Unsupported)
    }
}

/// A PEM block with 64-character lines and a trailing newline, as Go's encoding/pem writes it.
pub fn pem_block(tag: &str, der: Vec<u8>) -> String {
    pem::encode_config(
        &pem::Pem::new(tag, der),
        pem::EncodeConfig::new().set_line_ending(pem::LineEnding::LF),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecdsa_keys_round_trip_as_sec1_with_their_curve() {
        for algorithm in [KeyAlgorithm::EcdsaP256, KeyAlgorithm::EcdsaP384] {
            let key = Key::generate(algorithm).unwrap();
            let pem = key.to_pem();
            assert!(pem.starts_with("-----BEGIN EC PRIVATE KEY-----\n"), "{pem}");
            let back = Key::from_pem(&pem).unwrap();
            assert_eq!(back.algorithm, algorithm);
            assert_eq!(back.to_pem(), pem, "a loaded key writes the same bytes");
            let pkcs8 = Key::from_pem(&key.pair.serialize_pem()).unwrap();
            assert_eq!(
                pkcs8.to_pem(),
                pem,
                "a PKCS#8 key is converted to kubeadm's form"
            );
            assert_eq!(back.pair.public_key_raw(), key.pair.public_key_raw());
            assert!(key.public_pem().starts_with("-----BEGIN PUBLIC KEY-----\n"));
        }
    }

    #[test]
    fn rsa_keys_round_trip_as_pkcs1() {
        let key = Key::generate(KeyAlgorithm::Rsa2048).unwrap();
        let pem = key.to_pem();
        assert!(pem.starts_with("-----BEGIN RSA PRIVATE KEY-----\n"));
        let back = Key::from_pem(&pem).unwrap();
        assert_eq!(back.algorithm, KeyAlgorithm::Rsa2048);
        assert_eq!(back.to_pem(), pem);
        assert_eq!(back.pair.public_key_raw(), key.pair.public_key_raw());
    }
}
