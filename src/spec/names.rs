//! Syntax checks for the names Kubernetes and X.509 accept: DNS-1123 labels and subdomains,
//! qualified label keys, certificate SANs, resource quantities (durations are [`crate::duration`]).

use std::net::IpAddr;

use crate::cluster::San;

/// A DNS-1123 label: 1-63 lowercase alphanumerics or `-`, starting and ending alphanumeric.
pub fn is_dns_label(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// A DNS-1123 subdomain: dot-separated labels, at most 253 characters.
pub fn is_dns_subdomain(text: &str) -> bool {
    text.len() <= 253 && text.split('.').all(is_dns_label)
}

/// Why `text` is not a DNS-1123 subdomain, in words a user can act on; `None` if it is one.
pub fn dns_subdomain_problem(text: &str) -> Option<String> {
    if text.is_empty() {
        return Some("is empty".into());
    }
    if text.ends_with('.') {
        return Some("ends with a dot".into());
    }
    if text.bytes().any(|b| b.is_ascii_uppercase()) {
        return Some("has upper-case letters (names are lower case)".into());
    }
    if text.len() > 253 {
        return Some("is longer than 253 characters".into());
    }
    if let Some(label) = text.split('.').find(|label| !is_dns_label(label)) {
        return Some(if label.is_empty() {
            "has an empty label (two dots in a row)".into()
        } else if label.len() > 63 {
            format!("has a label longer than 63 characters (`{label}`)")
        } else {
            format!(
                "has a label `{label}` that is not lower-case letters, digits and `-`, starting and ending with a letter or digit"
            )
        });
    }
    None
}

/// A subject alternative name as X.509 and Go's `crypto/x509` accept it.
pub fn parse_san(text: &str) -> Result<San, (String, String)> {
    if text.trim().is_empty() {
        return Err((
            "empty SAN".into(),
            "remove the empty entry; an empty name matches nothing".into(),
        ));
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(San::Ip(ip));
    }
    if text.ends_with('.') {
        return Err((
            format!("SAN `{text}` ends with a dot"),
            format!(
                "write `{}`; Go's x509 rejects names with a trailing dot, so every client would fail TLS",
                text.trim_end_matches('.')
            ),
        ));
    }
    let (wildcard, rest) = match text.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    if rest.contains('*') {
        return Err((
            format!("SAN `{text}` has a wildcard that is not the whole leftmost label"),
            "only `*.example.com` is allowed: one `*` as the leftmost label".into(),
        ));
    }
    if wildcard && !rest.contains('.') {
        return Err((
            format!("SAN `{text}` wildcards a top-level domain"),
            "a wildcard needs at least two labels after it, e.g. `*.example.com`".into(),
        ));
    }
    if let Some(problem) = dns_subdomain_problem(rest) {
        let hint = if text.contains(':') {
            "a SAN is a DNS name or an IP address alone, without a scheme or a port"
        } else {
            "write an IP address or a DNS name such as `api.example.com`"
        };
        return Err((
            format!("SAN `{text}` is not a valid DNS name: it {problem}"),
            hint.into(),
        ));
    }
    Ok(San::Dns(text.to_owned()))
}

/// A qualified name as label and taint keys use: `[prefix/]name`, the prefix a DNS subdomain, the
/// name 1-63 alphanumerics, `-`, `_` or `.`, starting and ending alphanumeric.
pub fn is_qualified_name(text: &str) -> bool {
    let (prefix, name) = match text.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, text),
    };
    prefix.is_none_or(is_dns_subdomain) && !name.is_empty() && is_label_value(name)
}

/// A label value: empty, or up to 63 alphanumerics, `-`, `_`, `.`, starting and ending alphanumeric.
pub fn is_label_value(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.is_empty()
        || (bytes.len() <= 63
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
            && bytes[0].is_ascii_alphanumeric()
            && bytes[bytes.len() - 1].is_ascii_alphanumeric())
}

/// A Kubernetes resource quantity: `250m`, `1.5`, `512Mi`, `2Gi`, `1e3`.
pub fn is_quantity(text: &str) -> bool {
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    let digits_end = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(body.len());
    let (number, suffix) = body.split_at(digits_end);
    let number_ok = !number.is_empty()
        && number != "."
        && number.matches('.').count() <= 1
        && number.bytes().any(|b| b.is_ascii_digit());
    let suffix_ok = matches!(
        suffix,
        "" | "Ki"
            | "Mi"
            | "Gi"
            | "Ti"
            | "Pi"
            | "Ei"
            | "n"
            | "u"
            | "m"
            | "k"
            | "M"
            | "G"
            | "T"
            | "P"
            | "E"
    ) || suffix
        .strip_prefix(['e', 'E'])
        .map(|exp| exp.strip_prefix(['+', '-']).unwrap_or(exp))
        .is_some_and(|exp| !exp.is_empty() && exp.bytes().all(|b| b.is_ascii_digit()));
    number_ok && suffix_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names() {
        assert!(is_dns_subdomain("master01.example.com"));
        assert!(!is_dns_subdomain("Master01"));
        assert!(!is_dns_subdomain("a..b"));
        assert!(!is_dns_label("-a"));
        assert_eq!(
            dns_subdomain_problem("cluster.local.").unwrap(),
            "ends with a dot"
        );
    }

    #[test]
    fn sans() {
        assert_eq!(
            parse_san("10.0.0.1").unwrap(),
            San::Ip("10.0.0.1".parse().unwrap())
        );
        assert!(parse_san("*.example.com").is_ok());
        assert!(
            parse_san("kubernetes.default.svc.cluster.local.")
                .unwrap_err()
                .0
                .contains("ends with a dot")
        );
        assert!(parse_san("a.*.com").unwrap_err().0.contains("wildcard"));
        assert!(parse_san("*.com").is_err());
        assert!(parse_san("").is_err());
        assert!(parse_san("under_score.com").is_err());
    }

    #[test]
    fn qualified_names_and_quantities() {
        assert!(is_qualified_name(
            "node.kubernetes.io/exclude-from-external-load-balancers"
        ));
        assert!(is_qualified_name("team"));
        assert!(!is_qualified_name("a/b/c"));
        assert!(!is_qualified_name("bad key"));
        for good in ["250m", "1", "1.5", "512Mi", "2Gi", "1e3", "100M"] {
            assert!(is_quantity(good), "{good}");
        }
        for bad in ["", "m", "1.2.3", "12 Mi", "lots", "1mi"] {
            assert!(!is_quantity(bad), "{bad}");
        }
    }
}
