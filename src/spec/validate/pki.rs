//! `pki`: key algorithm, validities and the extra SANs of the apiserver and etcd certificates.

use super::Checker;
use crate::cluster::PkiSettings;
use crate::duration::parse_duration;
use crate::spec::names::parse_san;
use crate::spec::source::element;
use crate::spec::types::Spec;

impl Checker<'_> {
    pub(super) fn pki(&mut self, spec: &Spec) -> Option<PkiSettings> {
        let pki = spec.pki.clone().unwrap_or_default();
        let key_algorithm = self
            .required(pki.key_algorithm.as_ref(), "pki.keyAlgorithm")
            .copied();
        let ca_validity = self.duration(pki.ca_validity.as_ref(), "pki.caValidity");
        let certificate_validity =
            self.duration(pki.certificate_validity.as_ref(), "pki.certificateValidity");
        if let (Some(ca), Some(leaf)) = (ca_validity, certificate_validity)
            && leaf > ca
        {
            self.error(
                "pki.certificateValidity",
                "leaf certificates would outlive their CA",
                "a certificate is useless once its CA expires; make caValidity longer than certificateValidity",
            );
        }
        let api_server_sans = self.sans(pki.api_server_cert_sans.as_ref(), "pki.apiServerCertSANs");
        let etcd_sans = self.sans(pki.etcd_cert_sans.as_ref(), "pki.etcdCertSANs");
        Some(PkiSettings {
            key_algorithm: key_algorithm?,
            ca_validity: ca_validity?,
            certificate_validity: certificate_validity?,
            api_server_sans: api_server_sans?,
            etcd_sans: etcd_sans?,
        })
    }

    pub(super) fn duration(
        &mut self,
        text: Option<&String>,
        path: &str,
    ) -> Option<std::time::Duration> {
        let text = self.required(text, path)?;
        match parse_duration(text) {
            Some(duration) if duration > crate::duration::MAX_DURATION => {
                self.error(
                    path,
                    format!("`{text}` is longer than kcompile allows (100 years, `36500d`)"),
                    "kubeadm uses 10 years (`87600h`) for CAs and 1 year (`8760h`) for certificates",
                );
                None
            }
            Some(duration) if !duration.is_zero() => Some(duration),
            Some(_) => {
                self.error(path, "a validity of zero", "e.g. `8760h` (one year)");
                None
            }
            None => {
                self.error(
                    path,
                    format!("`{text}` is not a duration"),
                    "write hours, minutes, seconds or days: `8760h`, `8760h0m0s`, `365d`",
                );
                None
            }
        }
    }

    pub(super) fn sans(
        &mut self,
        list: Option<&Vec<String>>,
        path: &str,
    ) -> Option<Vec<crate::cluster::San>> {
        let mut sans = Vec::new();
        let mut ok = true;
        for (index, text) in list.into_iter().flatten().enumerate() {
            let at = element(path, index);
            match parse_san(text) {
                Ok(san) if sans.contains(&san) => {
                    self.warn(
                        &at,
                        format!("SAN `{text}` is listed twice"),
                        "remove the duplicate",
                    );
                }
                Ok(san) => sans.push(san),
                Err((message, hint)) => {
                    self.error(&at, message, hint);
                    ok = false;
                }
            }
        }
        ok.then_some(sans)
    }
}
