//! Signing: self-signed CA certificates and leaves signed by a CA, with kubeadm's serial numbers
//! and backdated validity windows.

use std::net::IpAddr;
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer,
    KeyUsagePurpose, SanType, SerialNumber,
};
use time::OffsetDateTime;

use super::PkiError;
use super::catalog::{CertSpec, Usage};
use super::keys::Key;
use crate::cluster::Authority;

/// Backdating of `notBefore`, as kubeadm (`CertificateBackdate`): tolerates clock skew.
const BACKDATE: Duration = Duration::from_secs(5 * 60);

/// A random serial number, as kubeadm makes them.
fn serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(PkiError::NoSerial)?;
    // Uniform in [1, 2^63), as kubeadm: positive and fits an int64.
    let value = (u64::from_be_bytes(bytes) & (u64::MAX >> 1)).max(1);
    Ok(SerialNumber::from(value))
}

/// Sets the validity window: from `now` less [`BACKDATE`] for `validity`.
fn validity_window(params: &mut CertificateParams, validity: Duration, now: OffsetDateTime) {
    // Validation bounds every validity (duration::MAX_DURATION), so the sums fit; saturate anyway.
    params.not_before = now
        .checked_sub(time::Duration::try_from(BACKDATE).unwrap_or_default())
        .unwrap_or(now);
    params.not_after = time::Duration::try_from(validity)
        .ok()
        .and_then(|validity| now.checked_add(validity))
        .unwrap_or(time::OffsetDateTime::new_utc(
            time::macros::date!(9999 - 12 - 31),
            time::Time::MIDNIGHT,
        ));
}

/// A self-signed CA certificate for `authority` (PEM).
pub(crate) fn self_signed_ca(
    authority: Authority,
    key: &Key,
    validity: Duration,
    now: OffsetDateTime,
) -> Result<String, PkiError> {
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, authority.common_name());
    params.subject_alt_names = vec![dns(authority.common_name())?];
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::KeyCertSign,
    ];
    params.serial_number = Some(serial()?);
    validity_window(&mut params, validity, now);
    let cert = params
        .self_signed(&key.pair)
        .map_err(|source| PkiError::SelfSign {
            authority: authority.file(),
            source,
        })?;
    Ok(cert.pem())
}

/// A leaf certificate for `leaf` with `key`, signed by the CA (PEM).
pub(super) fn sign_leaf(
    leaf: &CertSpec,
    key: &Key,
    ca_pem: &str,
    ca_key: &Key,
    now: OffsetDateTime,
) -> Result<String, PkiError> {
    let mut params = CertificateParams::default();
    params
        .distinguished_name
        .push(DnType::CommonName, leaf.common_name.as_str());
    for organization in &leaf.organizations {
        params
            .distinguished_name
            .push(DnType::OrganizationName, organization.as_str());
    }
    params.subject_alt_names = leaf
        .sans
        .iter()
        .map(|san| match san.split_once(':') {
            Some(("IP", ip)) => ip
                .parse::<IpAddr>()
                .map(SanType::IpAddress)
                .map_err(|_| PkiError::IpSan(ip.to_owned())),
            Some((_, name)) => dns(name),
            None => dns(san),
        })
        .collect::<Result<_, _>>()?;
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    params.extended_key_usages = match leaf.usage {
        Usage::Server => vec![ExtendedKeyUsagePurpose::ServerAuth],
        Usage::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
        Usage::ServerAndClient => vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
    };
    params.use_authority_key_identifier_extension = true;
    params.serial_number = Some(serial()?);
    validity_window(&mut params, Duration::from_secs(leaf.validity_seconds), now);
    let issuer =
        Issuer::from_ca_cert_pem(ca_pem, &ca_key.pair).map_err(|source| PkiError::Issuer {
            authority: leaf.issuer.file(),
            source,
        })?;
    let cert = params
        .signed_by(&key.pair, &issuer)
        .map_err(|source| PkiError::Sign {
            id: leaf.id.clone(),
            source,
        })?;
    Ok(cert.pem())
}

/// A DNS SAN, or the error naming a name that is not one.
fn dns(name: &str) -> Result<SanType, PkiError> {
    name.try_into()
        .map(SanType::DnsName)
        .map_err(|_| PkiError::DnsSan(name.to_owned()))
}
