//! CoreDNS, the cluster DNS, as kubeadm's `addon/coredns` phase installs it
//! (`cmd/kubeadm/app/phases/addons/dns/manifests.go`): a `ServiceAccount`, the `ClusterRole`
//! `system:coredns` and its binding, the `coredns` `ConfigMap` with the Corefile, a Deployment of two
//! replicas and the `kube-dns` Service at the cluster DNS IP, the address every kubelet's
//! `clusterDNS` names. Written to `/etc/kubernetes/addons/coredns.yaml` beside the other addons.
//!
//! Differences from kubeadm, on purpose: the Service carries no `resourceVersion: "0"` (kubeadm
//! needs it for its create-or-update call; `kubectl apply` refuses to create an object that has
//! one), and kubeadm's migration of an existing Corefile on upgrade is not done: the `ConfigMap` is
//! kubeadm's default Corefile for the cluster domain.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::{
    Affinity, Capabilities, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort,
    HTTPGetAction, KeyToPath, PodAffinityTerm, PodAntiAffinity, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements, SecurityContext, Service, ServiceAccount, ServicePort, ServiceSpec,
    Toleration, Volume, VolumeMount, WeightedPodAffinityTerm,
};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::yaml;
use crate::cluster::Cluster;
use crate::versions::images::coredns_image;

/// The file, under [`super::addons::ADDONS`].
pub const FILE: &str = "coredns.yaml";

const NAMESPACE: &str = "kube-system";
const NAME: &str = "coredns";
/// The label kubeadm (and kube-dns before it) selects DNS pods by.
const APP_LABEL: (&str, &str) = ("k8s-app", "kube-dns");

/// kubeadm's default Corefile for the cluster domain `domain`.
pub fn corefile(domain: &str) -> String {
    format!(
        ".:53 {{
    errors
    health {{
       lameduck 5s
    }}
    ready
    kubernetes {domain} in-addr.arpa ip6.arpa {{
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }}
    prometheus :9153
    forward . /etc/resolv.conf {{
       max_concurrent 1000
    }}
    cache 30 {{
       disable success {domain}
       disable denial {domain}
    }}
    loop
    reload
    loadbalance
}}
"
    )
}

/// Every CoreDNS object, as one multi-document YAML file.
pub fn manifests(cluster: &Cluster) -> String {
    [
        yaml(&service_account()),
        yaml(&cluster_role()),
        yaml(&cluster_role_binding()),
        config_map_yaml(&cluster.networking.dns_domain),
        yaml(&deployment(cluster)),
        yaml(&service(cluster)),
    ]
    .join("---\n")
}

fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        ..ObjectMeta::default()
    }
}

fn app_labels() -> BTreeMap<String, String> {
    BTreeMap::from([(APP_LABEL.0.to_owned(), APP_LABEL.1.to_owned())])
}

fn service_account() -> ServiceAccount {
    ServiceAccount {
        metadata: meta(NAME, Some(NAMESPACE)),
        ..ServiceAccount::default()
    }
}

fn cluster_role() -> ClusterRole {
    let rule = |group: &str, resources: &[&str]| PolicyRule {
        api_groups: Some(vec![group.to_owned()]),
        resources: Some(resources.iter().map(|r| (*r).to_owned()).collect()),
        verbs: vec!["list".into(), "watch".into()],
        ..PolicyRule::default()
    };
    ClusterRole {
        metadata: meta("system:coredns", None),
        rules: Some(vec![
            rule("", &["endpoints", "services", "pods", "namespaces"]),
            rule("discovery.k8s.io", &["endpointslices"]),
        ]),
        ..ClusterRole::default()
    }
}

fn cluster_role_binding() -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: meta("system:coredns", None),
        role_ref: RoleRef {
            api_group: Some("rbac.authorization.k8s.io".into()),
            kind: "ClusterRole".into(),
            name: "system:coredns".into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: NAME.into(),
            namespace: Some(NAMESPACE.into()),
            ..Subject::default()
        }]),
    }
}

/// The `ConfigMap`, with the Corefile as a literal block (readable, as kubeadm writes it).
fn config_map_yaml(domain: &str) -> String {
    let config_map = ConfigMap {
        metadata: meta(NAME, Some(NAMESPACE)),
        data: Some(BTreeMap::from([("Corefile".to_owned(), corefile(domain))])),
        ..ConfigMap::default()
    };
    let mut options = serde_saphyr::SerializerOptions::default();
    options.prefer_block_scalars = true;
    let mut text = serde_saphyr::to_string_with_options(&config_map, options).unwrap_or_default();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    text
}

fn port(name: &str, number: i32, protocol: &str) -> ContainerPort {
    ContainerPort {
        name: Some(name.to_owned()),
        container_port: number,
        protocol: Some(protocol.to_owned()),
        ..ContainerPort::default()
    }
}

fn http_probe(path: &str, port: &str) -> HTTPGetAction {
    HTTPGetAction {
        path: Some(path.to_owned()),
        port: IntOrString::String(port.to_owned()),
        scheme: Some("HTTP".into()),
        ..HTTPGetAction::default()
    }
}

fn quantities(pairs: &[(&str, &str)]) -> BTreeMap<String, Quantity> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Quantity((*v).to_owned())))
        .collect()
}

fn container(cluster: &Cluster) -> Container {
    Container {
        name: NAME.into(),
        image: Some(coredns_image(
            &cluster.image_repository,
            cluster.kubernetes_version,
        )),
        image_pull_policy: Some("IfNotPresent".into()),
        resources: Some(ResourceRequirements {
            limits: Some(quantities(&[("memory", "170Mi")])),
            requests: Some(quantities(&[("cpu", "100m"), ("memory", "70Mi")])),
            ..ResourceRequirements::default()
        }),
        args: Some(vec!["-conf".into(), "/etc/coredns/Corefile".into()]),
        volume_mounts: Some(vec![VolumeMount {
            name: "config-volume".into(),
            mount_path: "/etc/coredns".into(),
            read_only: Some(true),
            ..VolumeMount::default()
        }]),
        ports: Some(vec![
            port("dns", 53, "UDP"),
            port("dns-tcp", 53, "TCP"),
            port("metrics", 9153, "TCP"),
            port("liveness-probe", 8080, "TCP"),
            port("readiness-probe", 8181, "TCP"),
        ]),
        liveness_probe: Some(Probe {
            http_get: Some(http_probe("/health", "liveness-probe")),
            initial_delay_seconds: Some(60),
            timeout_seconds: Some(5),
            success_threshold: Some(1),
            failure_threshold: Some(5),
            ..Probe::default()
        }),
        readiness_probe: Some(Probe {
            http_get: Some(http_probe("/ready", "readiness-probe")),
            ..Probe::default()
        }),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            capabilities: Some(Capabilities {
                add: Some(vec!["NET_BIND_SERVICE".into()]),
                drop: Some(vec!["ALL".into()]),
            }),
            read_only_root_filesystem: Some(true),
            ..SecurityContext::default()
        }),
        ..Container::default()
    }
}

fn deployment(cluster: &Cluster) -> Deployment {
    let anti_affinity = WeightedPodAffinityTerm {
        weight: 100,
        pod_affinity_term: PodAffinityTerm {
            label_selector: Some(LabelSelector {
                match_expressions: Some(vec![LabelSelectorRequirement {
                    key: APP_LABEL.0.into(),
                    operator: "In".into(),
                    values: Some(vec![APP_LABEL.1.into()]),
                }]),
                ..LabelSelector::default()
            }),
            topology_key: "kubernetes.io/hostname".into(),
            ..PodAffinityTerm::default()
        },
    };
    let toleration = |key: &str, operator: Option<&str>, effect: Option<&str>| Toleration {
        key: Some(key.to_owned()),
        operator: operator.map(str::to_owned),
        effect: effect.map(str::to_owned),
        ..Toleration::default()
    };
    let pod = PodSpec {
        priority_class_name: Some("system-cluster-critical".into()),
        service_account_name: Some(NAME.into()),
        affinity: Some(Affinity {
            pod_anti_affinity: Some(PodAntiAffinity {
                preferred_during_scheduling_ignored_during_execution: Some(vec![anti_affinity]),
                ..PodAntiAffinity::default()
            }),
            ..Affinity::default()
        }),
        tolerations: Some(vec![
            toleration("CriticalAddonsOnly", Some("Exists"), None),
            toleration(
                "node-role.kubernetes.io/control-plane",
                None,
                Some("NoSchedule"),
            ),
        ]),
        node_selector: Some(BTreeMap::from([(
            "kubernetes.io/os".to_owned(),
            "linux".to_owned(),
        )])),
        containers: vec![container(cluster)],
        dns_policy: Some("Default".into()),
        volumes: Some(vec![Volume {
            name: "config-volume".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: NAME.into(),
                items: Some(vec![KeyToPath {
                    key: "Corefile".into(),
                    path: "Corefile".into(),
                    ..KeyToPath::default()
                }]),
                ..ConfigMapVolumeSource::default()
            }),
            ..Volume::default()
        }]),
        ..PodSpec::default()
    };
    Deployment {
        metadata: ObjectMeta {
            labels: Some(app_labels()),
            ..meta(NAME, Some(NAMESPACE))
        },
        spec: DeploymentSpec {
            replicas: Some(2),
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_unavailable: Some(IntOrString::Int(1)),
                    ..RollingUpdateDeployment::default()
                }),
            }),
            selector: LabelSelector {
                match_labels: Some(app_labels()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(app_labels()),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod),
            },
            ..DeploymentSpec::default()
        },
        ..Deployment::default()
    }
}

fn service(cluster: &Cluster) -> Service {
    let port = |name: &str, number: i32, protocol: &str| ServicePort {
        name: Some(name.to_owned()),
        port: number,
        protocol: Some(protocol.to_owned()),
        target_port: Some(IntOrString::Int(number)),
        ..ServicePort::default()
    };
    let mut labels = app_labels();
    labels.insert("kubernetes.io/cluster-service".into(), "true".into());
    labels.insert("kubernetes.io/name".into(), "CoreDNS".into());
    Service {
        metadata: ObjectMeta {
            labels: Some(labels),
            annotations: Some(BTreeMap::from([
                ("prometheus.io/port".to_owned(), "9153".to_owned()),
                ("prometheus.io/scrape".to_owned(), "true".to_owned()),
            ])),
            ..meta("kube-dns", Some(NAMESPACE))
        },
        spec: Some(ServiceSpec {
            cluster_ip: Some(cluster.networking.cluster_dns.to_string()),
            ports: Some(vec![
                port("dns", 53, "UDP"),
                port("dns-tcp", 53, "TCP"),
                port("metrics", 9153, "TCP"),
            ]),
            selector: Some(app_labels()),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corefile_serves_the_cluster_domain_and_keeps_it_out_of_the_cache() {
        let text = corefile("example.internal");
        assert!(text.contains("kubernetes example.internal in-addr.arpa ip6.arpa {"));
        assert!(text.contains("disable success example.internal\n"));
        assert!(text.contains("disable denial example.internal\n"));
    }
}
