//! Reading certificates back: validity, CA flag, subject, SANs, whether a key is theirs, whether a
//! CA signed them. Used for reuse decisions, external-CA mode and `kcompile certs`.

use time::OffsetDateTime;
use x509_parser::extensions::GeneralName;
use x509_parser::nom::Parser as _;
use x509_parser::prelude::{FromDer, X509Certificate, X509CertificateParser};

use super::catalog::CertSpec;
use super::keys::Key;

/// What kcompile needs to know of a certificate.
#[derive(Debug, Clone)]
pub struct Inspected {
    /// DER bytes.
    pub der: Vec<u8>,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// Expiry.
    pub not_after: OffsetDateTime,
    /// The subject, `CN=…, O=…`.
    pub subject: String,
    /// The issuer, `CN=…`.
    pub issuer: String,
    /// Whether it is a CA.
    pub is_ca: bool,
    /// Subject CN.
    pub common_name: String,
    /// Issuer CN.
    pub issuer_common_name: String,
    /// SANs as `DNS:x` / `IP:y`.
    pub sans: Vec<String>,
    /// The public key bits (PKCS#1 for RSA, the point for ECDSA).
    pub public_key: Vec<u8>,
}

/// Why bytes are not a certificate.
#[derive(Debug, thiserror::Error)]
pub enum CertificateError {
    /// Not PEM at all.
    #[error("not a PEM certificate: {0}")]
    NotPem(#[from] pem::PemError),
    /// A PEM block of another kind.
    #[error("a `{0}` block, not a CERTIFICATE")]
    NotACertificate(String),
    /// DER that is not X.509.
    #[error("not an X.509 certificate: {0}")]
    NotX509(x509_parser::nom::Err<x509_parser::error::X509Error>),
}

/// Why a certificate signed outside kcompile (external-CA mode) cannot be used as it is.
#[derive(Debug, thiserror::Error)]
pub enum ExternalMismatch {
    /// Its public key is not its key's.
    #[error("the certificate does not match its key")]
    Key,
    /// Its CA did not sign it.
    #[error("not signed by {0}")]
    Issuer(&'static str),
    /// It lacks SANs the catalog asks for.
    #[error("lacks SANs {}: reissue it with your CA", .0.join(", "))]
    Sans(Vec<String>),
}

impl Inspected {
    /// Parses the first certificate of a PEM text.
    pub fn parse(pem: &str) -> Result<Inspected, CertificateError> {
        let block = pem::parse(pem)?;
        if block.tag() != "CERTIFICATE" {
            return Err(CertificateError::NotACertificate(block.tag().to_owned()));
        }
        Inspected::from_der(block.contents())
    }

    /// The expiry of a PEM certificate, read without parsing its extensions: the renewal check of
    /// a warm build ([`super::reuse`]), which needs nothing else. `None` when `pem` is not one
    /// certificate (a full plan then says why).
    pub fn not_after(pem: &str) -> Option<OffsetDateTime> {
        let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes()).ok()?;
        if block.label != "CERTIFICATE" {
            return None;
        }
        let (_, cert) = X509CertificateParser::new()
            .with_deep_parse_extensions(false)
            .parse(&block.contents)
            .ok()?;
        Some(cert.validity().not_after.to_datetime())
    }

    /// Parses a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Inspected, CertificateError> {
        let (_, cert) = X509Certificate::from_der(der).map_err(CertificateError::NotX509)?;
        let name = |n: &x509_parser::x509::X509Name| {
            n.iter_common_name()
                .next()
                .and_then(|cn| cn.as_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let mut sans = Vec::new();
        if let Ok(Some(extension)) = cert.subject_alternative_name() {
            for general in &extension.value.general_names {
                match general {
                    GeneralName::DNSName(dns) => sans.push(format!("DNS:{dns}")),
                    GeneralName::IPAddress(bytes) => {
                        let ip = match bytes.len() {
                            4 => <[u8; 4]>::try_from(*bytes).map(std::net::IpAddr::from).ok(),
                            16 => <[u8; 16]>::try_from(*bytes)
                                .map(std::net::IpAddr::from)
                                .ok(),
                            _ => None,
                        };
                        if let Some(ip) = ip {
                            sans.push(format!("IP:{ip}"));
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(Inspected {
            der: der.to_vec(),
            not_before: cert.validity().not_before.to_datetime(),
            not_after: cert.validity().not_after.to_datetime(),
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            is_ca: cert.is_ca(),
            common_name: name(cert.subject()),
            issuer_common_name: name(cert.issuer()),
            sans,
            public_key: cert.public_key().subject_public_key.data.to_vec(),
        })
    }

    /// Whether `key` is the private half of this certificate's public key.
    pub fn matches_key(&self, key: &Key) -> bool {
        self.public_key == key.pair.public_key_raw()
    }

    /// Whether a CA of `ca_pem` (one certificate, or a bundle during a CA rotation) signed this
    /// certificate.
    pub fn signed_by(&self, ca_pem: &str) -> bool {
        pem::parse_many(ca_pem)
            .unwrap_or_default()
            .iter()
            .filter_map(|block| Inspected::from_der(block.contents()).ok())
            .any(|ca| self.issued_by(&ca))
    }

    /// Whether the CA certificate `ca` signed this certificate: the one signature check, for the
    /// PKI stage and for `verify`.
    pub fn issued_by(&self, ca: &Inspected) -> bool {
        let (Ok((_, cert)), Ok((_, ca))) = (
            X509Certificate::from_der(&self.der),
            X509Certificate::from_der(&ca.der),
        ) else {
            return false;
        };
        cert.verify_signature(Some(ca.public_key())).is_ok()
    }

    /// For external-CA mode: the leaf is signed by its CA, has its key, and covers every SAN the
    /// catalog asks for (extra names are fine, as kubeadm).
    pub fn check_external(
        &self,
        spec: &CertSpec,
        ca_pem: &str,
        key: &Key,
    ) -> Result<(), ExternalMismatch> {
        if !self.matches_key(key) {
            return Err(ExternalMismatch::Key);
        }
        if !self.signed_by(ca_pem) {
            return Err(ExternalMismatch::Issuer(spec.issuer.file()));
        }
        let missing: Vec<&String> = spec
            .sans
            .iter()
            .filter(|san| !self.sans.contains(san))
            .collect();
        if !missing.is_empty() {
            return Err(ExternalMismatch::Sans(
                missing.into_iter().cloned().collect(),
            ));
        }
        Ok(())
    }
}

/// The sha256 of a PEM certificate's DER, hex; the PEM text's own hash if it does not parse.
pub fn fingerprint(pem: &str) -> String {
    let bytes = pem::parse(pem).map_or_else(|_| pem.as_bytes().to_vec(), |p| p.contents().to_vec());
    crate::digest::sha256(&bytes)
}

/// `Jan 02, 2027 15:04 UTC`, as kubeadm's expiration table prints dates.
pub fn date(when: OffsetDateTime) -> String {
    let format =
        time::macros::format_description!("[month repr:short] [day], [year] [hour]:[minute] UTC");
    when.format(&format).unwrap_or_else(|_| when.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::KeyAlgorithm;

    #[test]
    fn not_after_reads_the_expiry_a_full_parse_reads_and_nothing_else() {
        let key = Key::generate(KeyAlgorithm::EcdsaP256).unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["example.test".to_owned()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2031, 5, 17);
        let pem = params.self_signed(&key.pair).unwrap().pem();
        let expected = Inspected::parse(&pem).unwrap().not_after;
        assert_eq!(expected.date(), time::macros::date!(2031 - 05 - 17));
        assert_eq!(Inspected::not_after(&pem), Some(expected));
        // Not one certificate: a key, no PEM, a body cut short.
        assert_eq!(Inspected::not_after(&key.to_pem()), None);
        assert_eq!(Inspected::not_after("not pem"), None);
        let cut = pem.replacen('\n', "\nAAAA", 2);
        assert_eq!(Inspected::not_after(&cut), None);
    }
}
