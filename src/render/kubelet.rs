//! The kubelet: its systemd unit (`ExecStart` with the config, the kubeconfig, the node IP and name,
//! labels and taints; ordered after the container runtime) and its `KubeletConfiguration`, with the
//! spec's `kubelet.config` merged over kcompile's fields.

use std::fmt::Write;

use serde_json::{Value, json};

use super::merge_json;
use super::{KUBELET_CONFIG, KUBELET_PKI, KUBERNETES, PKI, yaml};
use crate::cluster::TaintEffect;
use crate::cluster::{Cluster, Host};

/// Where the kubelet reads static pods.
pub const STATIC_POD_PATH: &str = "/etc/kubernetes/manifests";

/// kcompile's `rotateCertificates` (kubeadm's too): the kubelet renews its client certificate.
const ROTATE_CERTIFICATES: bool = true;

/// Whether `host`'s kubelet rotates its client certificate: the `--rotate-certificates` flag when
/// `kubelet.extraArgs` sets it (a flag wins over the config file), else `rotateCertificates` as
/// `kubelet.config` leaves it.
pub fn rotates_certificates(host: &Host) -> bool {
    let kubelet = &host.kubelet;
    if let Some(flag) = kubelet.extra_args.get("rotate-certificates") {
        // Go's strconv.ParseBool; a bare `--rotate-certificates` is true.
        return matches!(
            flag.as_str(),
            "" | "1" | "t" | "T" | "true" | "TRUE" | "True"
        );
    }
    kubelet
        .config
        .get("rotateCertificates")
        .and_then(Value::as_bool)
        .unwrap_or(ROTATE_CERTIFICATES)
}

/// `/var/lib/kubelet/config.yaml` for `host`.
pub fn config(cluster: &Cluster, host: &Host) -> String {
    let mut config = json!({
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "authentication": {
            "anonymous": {"enabled": false},
            "webhook": {"enabled": true},
            "x509": {"clientCAFile": format!("{PKI}/ca.crt")},
        },
        "authorization": {"mode": "Webhook"},
        "cgroupDriver": "systemd",
        "clusterDNS": [cluster.networking.cluster_dns.to_string()],
        "clusterDomain": cluster.networking.dns_domain,
        "containerRuntimeEndpoint": host.kubelet.container_runtime_endpoint,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "readOnlyPort": 0,
        "rotateCertificates": ROTATE_CERTIFICATES,
        "serverTLSBootstrap": false,
        "staticPodPath": STATIC_POD_PATH,
        "tlsCertFile": format!("{KUBELET_PKI}/kubelet.crt"),
        "tlsPrivateKeyFile": format!("{KUBELET_PKI}/kubelet.key"),
    });
    let overrides: serde_json::Map<String, Value> = host
        .kubelet
        .config
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    merge_json(&mut config, Value::Object(overrides));
    yaml(&sorted(config))
}

/// `/etc/systemd/system/kubelet.service` for `host`; with `tmpfiles`, it first applies that
/// systemd-tmpfiles configuration (the rootless control plane's data directories).
pub fn unit(host: &Host, tmpfiles: Option<&str>) -> String {
    let kubelet = &host.kubelet;
    let runtime = if kubelet.container_runtime_endpoint.contains("crio") {
        Some("crio.service")
    } else if kubelet.container_runtime_endpoint.contains("containerd") {
        Some("containerd.service")
    } else {
        None
    };
    let mut flags: Vec<(String, String)> = vec![
        ("config".into(), KUBELET_CONFIG.to_owned()),
        ("hostname-override".into(), host.name.clone()),
        ("kubeconfig".into(), format!("{KUBERNETES}/kubelet.conf")),
        ("node-ip".into(), host.address.to_string()),
    ];
    if crate::pki::catalog::joins_by_bootstrap(host) {
        flags.push((
            "bootstrap-kubeconfig".into(),
            super::BOOTSTRAP_KUBECONFIG.to_owned(),
        ));
    }
    if !host.labels.is_empty() {
        let labels: Vec<String> = host
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        flags.push(("node-labels".into(), labels.join(",")));
    }
    if !host.taints.is_empty() {
        let taints: Vec<String> = host
            .taints
            .iter()
            .map(|taint| {
                let effect = match taint.effect {
                    TaintEffect::NoSchedule => "NoSchedule",
                    TaintEffect::PreferNoSchedule => "PreferNoSchedule",
                    TaintEffect::NoExecute => "NoExecute",
                };
                format!("{}={}:{effect}", taint.key, taint.value)
            })
            .collect();
        flags.push(("register-with-taints".into(), taints.join(",")));
    }
    flags.retain(|(name, _)| !kubelet.extra_args.contains_key(name));
    flags.extend(
        kubelet
            .extra_args
            .iter()
            .map(|(k, v)| (k.clone(), v.clone())),
    );
    flags.sort();

    let mut unit = String::from(
        "# Written by kcompile: the kubelet, configured by /var/lib/kubelet/config.yaml.\n[Unit]\n\
         Description=kubelet: The Kubernetes Node Agent\nDocumentation=https://kubernetes.io/docs/\n",
    );
    match runtime {
        Some(service) => {
            let _ = writeln!(
                unit,
                "Wants=network-online.target {service}\nAfter=network-online.target {service}"
            );
        }
        None => unit.push_str("Wants=network-online.target\nAfter=network-online.target\n"),
    }
    unit.push_str("\n[Service]\n");
    let mut env = kubelet.extra_env.clone();
    env.sort();
    for (name, value) in env {
        let _ = writeln!(
            unit,
            "Environment={}",
            systemd_word(&format!("{name}={value}"), Expansion::Specifiers, true)
        );
    }
    if let Some(conf) = tmpfiles {
        // The directories the rootless control plane writes, created with their owners before
        // the kubelet starts the static pods (the kubelet would create them as root).
        let _ = writeln!(
            unit,
            "ExecStartPre=/usr/bin/systemd-tmpfiles --create {}",
            systemd_word(conf, Expansion::SpecifiersAndVariables, false)
        );
    }
    let _ = write!(
        unit,
        "ExecStart={}",
        systemd_word(
            &kubelet.binary_path,
            Expansion::SpecifiersAndVariables,
            false
        )
    );
    for (name, value) in flags {
        let word = systemd_word(
            &format!("--{name}={value}"),
            Expansion::SpecifiersAndVariables,
            false,
        );
        let _ = write!(unit, " \\\n  {word}");
    }
    unit.push_str("\nRestart=always\nStartLimitInterval=0\nRestartSec=10\n\n[Install]\nWantedBy=multi-user.target\n");
    unit
}

/// What systemd expands in a unit setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expansion {
    /// `%` specifiers only (`Environment=`).
    Specifiers,
    /// `%` specifiers and `$VAR`/`${VAR}` (`ExecStart=`).
    SpecifiersAndVariables,
}

/// One word of a unit setting, kept literal: `%` as `%%`, `$` as `$$` where systemd expands
/// variables, and quoted (with `\\` and `\"` escaped) when `quote` or when it holds a space, a
/// quote, a backslash or a `;`, so that it stays one argument. Line breaks never reach here
/// (validation refuses them).
fn systemd_word(text: &str, expansion: Expansion, quote: bool) -> String {
    let mut word = text.replace('%', "%%");
    if expansion == Expansion::SpecifiersAndVariables {
        word = word.replace('$', "$$");
    }
    let needs_quotes = quote
        || word.is_empty()
        || word
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '\\' | ';'));
    if !needs_quotes {
        return word;
    }
    let escaped = word.replace('\\', "\\\\").replace('"', "\\\"");
    format!("\"{escaped}\"")
}

/// The value with every object's keys in alphabetical order, as Kubernetes writes configs.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::{Expansion, systemd_word};

    #[test]
    fn unit_words_stay_literal_and_whole() {
        let exec = Expansion::SpecifiersAndVariables;
        assert_eq!(systemd_word("--v=2", exec, false), "--v=2");
        assert_eq!(systemd_word("--x=%h$HOME", exec, false), "--x=%%h$$HOME");
        assert_eq!(
            systemd_word("--x=a b\"c\\", exec, false),
            "\"--x=a b\\\"c\\\\\""
        );
        assert_eq!(systemd_word("--x=;", exec, false), "\"--x=;\"");
        assert_eq!(
            systemd_word("A=$B %n", Expansion::Specifiers, true),
            "\"A=$B %%n\""
        );
    }
}
