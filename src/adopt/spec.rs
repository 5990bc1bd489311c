//! The spec `adopt` writes: what the cluster's files say, in kcompile's terms. Settings kcompile
//! derives (paths of its certificates, etcd membership, the node name) are left to it; every other
//! flag a component runs with is carried into `extraArgs` (per host in `overrides` where hosts
//! differ), every hostPath volume kubeadm does not add into `extraVolumes`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::AdoptError;
use super::host::{HostFiles, Pod, url_host, version_of};
use crate::component::Component;
use crate::pki::inspect::Inspected;
use crate::spec::{
    API_VERSION, ApiServerSpec, ArgValue, ComponentSpec, EncryptionSpec, EndpointSpec, EtcdServers,
    EtcdSpec, HostOverridesSpec, HostPathType, HostSpec, KubeProxySpec, KubeletSpec,
    NetworkingSpec, PkiSpec, Role, SchedulerSpec, Spec, VolumeSpec,
};

/// The volumes kubeadm's generators add (`cmd/kubeadm/app/phases/controlplane/volumes.go`,
/// `cmd/kubeadm/app/phases/etcd/local.go`); kcompile adds its own, so only others are carried.
const KUBEADM_VOLUMES: [&str; 10] = [
    "k8s-certs",
    "ca-certs",
    "etc-ca-certificates",
    "etc-pki",
    "usr-share-ca-certificates",
    "usr-local-share-ca-certificates",
    "kubeconfig",
    "flexvolume-dir",
    "etcd-data",
    "etcd-certs",
];

/// Flags kcompile sets for reasons of its own and that the cluster's value cannot change
/// without a spec field, handled by [`Discovered`]'s fields rather than `extraArgs`.
const DERIVED: [(Component, &str); 2] = [
    (Component::ControllerManager, "cluster-name"),
    (Component::Kubelet, "pod-infra-container-image"),
];

/// The spec and what could not go into it.
#[derive(Debug)]
pub struct Discovered {
    /// The spec to write.
    pub spec: Spec,
    /// Settings carried over with a caveat, or left out, each naming its file.
    pub warnings: Vec<String>,
    /// The cluster's audit policy, byte for byte, to be written where `audit.policyFile` says.
    pub audit_policy: Option<String>,
}

/// Works the spec out from every host's files (control planes first). `policy_file` is where the
/// spec keeps the cluster's audit policy, relative to the spec ([`Discovered::audit_policy`]).
pub fn discover(hosts: &[HostFiles], policy_file: &str) -> Result<Discovered, AdoptError> {
    let mut warnings = Vec::new();
    let first = hosts.first().ok_or_else(|| AdoptError::NoHosts {
        roots: String::new(),
        reason: "no host".into(),
    })?;
    // A tutorial's controllers run no kubelet: its settings come from the first host with one.
    let kubelet_host = hosts
        .iter()
        .find(|host| !host.kubelet_flags.is_empty() || host.kubelet_config.is_some())
        .unwrap_or(first);
    let apiserver = first.pods.get(&Component::ApiServer).ok_or_else(|| {
        unsupported(
            first,
            "etc/kubernetes/manifests/kube-apiserver.yaml",
            "no kube-apiserver pod",
        )
    })?;
    let version = version_of(apiserver)
        .ok_or_else(|| {
            unsupported(
                first,
                apiserver.file,
                "the kube-apiserver image has no version tag",
            )
        })?
        .to_owned();
    let repository = apiserver
        .image
        .rsplit_once('/')
        .map(|(repository, _)| repository.to_owned());
    let mut spec = Spec {
        api_version: Some(API_VERSION.into()),
        kind: Some("Cluster".into()),
        name: Some(
            first
                .pods
                .get(&Component::ControllerManager)
                .and_then(|pod| pod.flag("cluster-name"))
                .unwrap_or("kubernetes")
                .to_owned(),
        ),
        profiles: Some(vec!["kubeadm".into()]),
        kubernetes_version: Some(version),
        image_repository: repository,
        ..Spec::default()
    };
    let networking = NetworkingSpec {
        service_subnet: apiserver
            .flag("service-cluster-ip-range")
            .map(str::to_owned),
        pod_subnet: first
            .pods
            .get(&Component::ControllerManager)
            .and_then(|pod| pod.flag("cluster-cidr"))
            .map(str::to_owned),
        dns_domain: kubelet_host
            .kubelet_config
            .as_ref()
            .and_then(|config| config.get("clusterDomain"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
        cluster_dns: kubelet_host
            .kubelet_config
            .as_ref()
            .and_then(|config| config.pointer("/clusterDNS/0"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned),
    };
    let mut addresses = BTreeMap::new();
    for host in hosts {
        addresses.insert(host.name.clone(), host.address()?);
    }
    spec.control_plane_endpoint = endpoint(hosts, &addresses)?;
    spec.networking = Some(networking);
    spec.pki = Some(PkiSpec {
        api_server_cert_sans: Some(extra_sans(hosts, &addresses, &spec)?),
        ..PkiSpec::default()
    });
    spec.encryption = super::encryption::read(hosts)?.map(|found| EncryptionSpec {
        enabled: Some(true),
        provider: Some(found.current.provider),
        resources: found
            .adopted
            .groups
            .first()
            .map(|group| group.resources.clone()),
        config_path: Some(found.path).filter(|path| path != crate::render::ENCRYPTION_CONFIG),
    });
    let audit = super::audit::read(hosts, policy_file)?;
    if let Some(audit) = &audit {
        for flag in &audit.added {
            warnings.push(format!(
                "{}: the cluster leaves --{flag} to the kube-apiserver's default; kcompile passes the profile's value (a flag the cluster did not have); set it under `audit` to choose another",
                first.file(apiserver.file)
            ));
        }
    }
    let audit_policy = audit.as_ref().map(|audit| audit.policy.text.clone());
    spec.audit = audit.map(|audit| audit.spec);
    spec.etcd = first.pods.get(&Component::Etcd).map(|etcd| EtcdSpec {
        data_dir: etcd.flag("data-dir").map(str::to_owned),
        api_server_endpoints: etcd_servers(first, apiserver, &mut warnings),
        ..EtcdSpec::default()
    });
    let mut overrides: BTreeMap<String, HostOverridesSpec> = BTreeMap::new();
    for component in [
        Component::Etcd,
        Component::ApiServer,
        Component::ControllerManager,
        Component::Scheduler,
        Component::KubeProxy,
    ] {
        let pods: Vec<(&HostFiles, &Pod)> = hosts
            .iter()
            .filter_map(|host| host.pods.get(&component).map(|pod| (host, pod)))
            .collect();
        let Some((base_host, base)) = pods.first() else {
            continue;
        };
        let args = carried_args(component, &base.flags);
        let volumes = extra_volumes(base);
        for (host, pod) in &pods[1..] {
            let theirs = carried_args(component, &pod.flags);
            if let Some(missing) = args.keys().find(|flag| !theirs.contains_key(*flag)) {
                return Err(unsupported(
                    host,
                    pod.file,
                    &format!(
                        "it lacks --{missing}, which {} passes: kcompile cannot drop a flag for one host; make the hosts agree first",
                        base_host.name
                    ),
                ));
            }
            let differing: BTreeMap<String, ArgValue> = theirs
                .into_iter()
                .filter(|(flag, value)| args.get(flag) != Some(value))
                .collect();
            if extra_volumes(pod) != volumes {
                warnings.push(format!(
                    "{}/{}: its extra volumes differ from {}'s; the spec carries {}'s",
                    host.name, pod.file, base_host.name, base_host.name
                ));
            }
            if !differing.is_empty() {
                let entry = overrides.entry(host.name.clone()).or_default();
                let component_spec = ComponentSpec {
                    extra_args: Some(differing),
                    ..ComponentSpec::default()
                };
                match component {
                    Component::Etcd => entry.etcd = Some(component_spec),
                    Component::ApiServer => entry.api_server = Some(component_spec),
                    Component::ControllerManager => entry.controller_manager = Some(component_spec),
                    Component::Scheduler => entry.scheduler = Some(component_spec),
                    Component::KubeProxy | Component::Kubelet => {
                        entry.kube_proxy = Some(component_spec);
                    }
                }
            }
        }
        let args = Some(args).filter(|args| !args.is_empty());
        let volumes = Some(volumes).filter(|volumes| !volumes.is_empty());
        match component {
            Component::Etcd => {
                let etcd = spec.etcd.get_or_insert_with(EtcdSpec::default);
                etcd.extra_args = args;
                etcd.extra_volumes = volumes;
            }
            Component::ApiServer => {
                spec.api_server = Some(ApiServerSpec {
                    bind_port: base.flag("secure-port").and_then(|port| port.parse().ok()),
                    extra_args: args,
                    extra_volumes: volumes,
                    ..ApiServerSpec::default()
                });
            }
            Component::ControllerManager => {
                spec.controller_manager = Some(ComponentSpec {
                    extra_args: args,
                    extra_volumes: volumes,
                    ..ComponentSpec::default()
                });
            }
            Component::Scheduler => {
                spec.scheduler = Some(SchedulerSpec {
                    extra_args: args,
                    extra_volumes: volumes,
                    ..SchedulerSpec::default()
                });
            }
            Component::KubeProxy | Component::Kubelet => {
                spec.kube_proxy = Some(KubeProxySpec {
                    enabled: Some(true),
                    extra_args: args,
                    extra_volumes: volumes,
                    ..KubeProxySpec::default()
                });
            }
        }
    }
    if spec.kube_proxy.is_none() {
        // kubeadm runs kube-proxy as a DaemonSet: it stays as it is, outside kcompile, and the
        // apiservers keep reaching services through it.
        spec.kube_proxy = Some(KubeProxySpec {
            enabled: Some(false),
            external: Some(true),
            ..KubeProxySpec::default()
        });
        warnings.push(
            "kube-proxy: no host runs it as a static pod (kubeadm runs a DaemonSet): the spec leaves it off and the DaemonSet keeps running outside kcompile".into(),
        );
    }
    for host in hosts {
        if let Some(image) = host.kubelet_flag("pod-infra-container-image") {
            warnings.push(format!(
                "{}/{}: --pod-infra-container-image={image} is not carried: kcompile sets the pause image in the container runtime's configuration",
                host.name,
                super::host::KUBEADM_FLAGS
            ));
        }
    }
    let kubelet_args = carried_args(Component::Kubelet, &kubelet_host.kubelet_flags);
    let kubelet_config = kubelet_host
        .kubelet_config
        .as_ref()
        .map(super::kubelet::carried)
        .unwrap_or_default();
    spec.kubelet = Some(KubeletSpec {
        container_runtime_endpoint: kubelet_host
            .kubelet_flag("container-runtime-endpoint")
            .map(str::to_owned)
            .or_else(|| {
                kubelet_host
                    .kubelet_config
                    .as_ref()
                    .and_then(|config| config.get("containerRuntimeEndpoint"))
                    .and_then(serde_json::Value::as_str)
                    .map(str::to_owned)
            }),
        config: Some(kubelet_config.clone()).filter(|config| !config.is_empty()),
        extra_args: Some(kubelet_args).filter(|args| !args.is_empty()),
        tls_bootstrap: Some(false),
        ..KubeletSpec::default()
    });
    for host in &hosts[1..] {
        let theirs = host
            .kubelet_config
            .as_ref()
            .map(super::kubelet::carried)
            .unwrap_or_default();
        if let Some(missing) = kubelet_config.keys().find(|key| !theirs.contains_key(*key)) {
            warnings.push(format!(
                "{}: it does not set `{missing}`, which {}'s does: the spec sets it on every host",
                host.file(super::host::KUBELET_CONFIG),
                first.name
            ));
        }
        let differing: BTreeMap<String, serde_json::Value> = theirs
            .into_iter()
            .filter(|(key, value)| kubelet_config.get(key) != Some(value))
            .collect();
        if !differing.is_empty() {
            overrides.entry(host.name.clone()).or_default().kubelet = Some(KubeletSpec {
                config: Some(differing),
                ..KubeletSpec::default()
            });
        }
    }
    let mut host_specs = Vec::new();
    for host in hosts {
        let labels: BTreeMap<String, String> = host
            .kubelet_flag("node-labels")
            .into_iter()
            .flat_map(|labels| labels.split(','))
            .filter_map(|label| label.split_once('='))
            .map(|(key, value)| (key.to_owned(), value.to_owned()))
            .collect();
        host_specs.push(HostSpec {
            name: Some(host.name.clone()),
            address: addresses.get(&host.name).map(IpAddr::to_string),
            roles: Some(host.roles()),
            labels: Some(labels).filter(|labels| !labels.is_empty()),
            overrides: overrides.remove(&host.name),
            ..HostSpec::default()
        });
    }
    spec.hosts = Some(host_specs);
    Ok(Discovered {
        spec,
        warnings,
        audit_policy,
    })
}

/// `local` when the apiserver dials its own host's member only (`https://127.0.0.1:2379`, as
/// kubeadm sets it), none (every member, kcompile's default) otherwise, with a warning when the
/// cluster's list is neither.
fn etcd_servers(
    host: &HostFiles,
    apiserver: &Pod,
    warnings: &mut Vec<String>,
) -> Option<EtcdServers> {
    let servers = apiserver.flag("etcd-servers")?;
    if servers == "https://127.0.0.1:2379" {
        return Some(EtcdServers::Local);
    }
    if servers.split(',').any(|url| url_host(url).is_none()) {
        warnings.push(format!(
            "{}: --etcd-servers={servers} is not carried: kcompile passes every member's https://ADDRESS:2379",
            host.file(apiserver.file)
        ));
    }
    None
}

/// The flags a spec carries in `extraArgs`: all but those kcompile sets from a spec field.
fn carried_args(component: Component, flags: &[(String, String)]) -> BTreeMap<String, ArgValue> {
    flags
        .iter()
        .filter(|(flag, _)| component.owned_flag_hint(flag).is_none())
        .filter(|(flag, _)| !DERIVED.contains(&(component, flag.as_str())))
        .map(|(flag, value)| (flag.clone(), ArgValue(value.clone())))
        .collect()
}

/// The hostPath volumes kubeadm's generators do not add.
fn extra_volumes(pod: &Pod) -> Vec<VolumeSpec> {
    pod.volumes
        .iter()
        .filter(|volume| !KUBEADM_VOLUMES.contains(&volume.name.as_str()))
        .map(|volume| VolumeSpec {
            name: Some(volume.name.clone()),
            host_path: Some(volume.host_path.clone()),
            mount_path: Some(volume.mount_path.clone()),
            read_only: Some(volume.read_only),
            path_type: volume.path_type.as_deref().and_then(path_type),
        })
        .collect()
}

fn path_type(name: &str) -> Option<HostPathType> {
    Some(match name {
        "DirectoryOrCreate" => HostPathType::DirectoryOrCreate,
        "Directory" => HostPathType::Directory,
        "FileOrCreate" => HostPathType::FileOrCreate,
        "File" => HostPathType::File,
        "Socket" => HostPathType::Socket,
        "CharDevice" => HostPathType::CharDevice,
        "BlockDevice" => HostPathType::BlockDevice,
        _ => return None,
    })
}

/// The endpoint kubelets dial, when it is not a control plane's own address (kubeadm's
/// `controlPlaneEndpoint`): every kubelet.conf must name the same one.
fn endpoint(
    hosts: &[HostFiles],
    addresses: &BTreeMap<String, IpAddr>,
) -> Result<Option<EndpointSpec>, AdoptError> {
    let worker = hosts
        .iter()
        .find(|host| host.roles() == [Role::Worker])
        .or(hosts.first());
    let Some(host) = worker else {
        return Ok(None);
    };
    let Some(server) = &host.server else {
        return Err(unsupported(
            host,
            super::host::KUBELET_KUBECONFIG,
            "no server: fetch the host's /etc/kubernetes/kubelet.conf",
        ));
    };
    let name = url_host(server).unwrap_or_default();
    let port = server
        .rsplit_once(':')
        .and_then(|(_, port)| port.trim_end_matches('/').parse::<u16>().ok());
    let own = name
        .parse::<IpAddr>()
        .is_ok_and(|ip| addresses.get(&host.name) == Some(&ip));
    Ok((!own).then_some(EndpointSpec {
        host: Some(name),
        port,
    }))
}

/// The apiserver certificates' SANs beyond those kubeadm (and kcompile) always put in.
fn extra_sans(
    hosts: &[HostFiles],
    addresses: &BTreeMap<String, IpAddr>,
    spec: &Spec,
) -> Result<Vec<String>, AdoptError> {
    let endpoint = spec
        .control_plane_endpoint
        .as_ref()
        .and_then(|endpoint| endpoint.host.clone());
    let domain = spec
        .networking
        .as_ref()
        .and_then(|networking| networking.dns_domain.clone())
        .unwrap_or_else(|| "cluster.local".into());
    let mut extra = Vec::new();
    for host in hosts
        .iter()
        .filter(|host| host.roles().contains(&Role::ControlPlane))
    {
        let file = match super::tutorial::location(host, "apiserver") {
            super::tutorial::Location::Pair { cert, .. } if host.tutorial.is_some() => cert,
            _ => "etc/kubernetes/pki/apiserver.crt".to_owned(),
        };
        let file = file.as_str();
        let Some(bytes) = host.root.read(file).ok().flatten() else {
            continue;
        };
        let text = String::from_utf8_lossy(&bytes);
        let cert = Inspected::parse(&text).map_err(|reason| AdoptError::Unreadable {
            file: format!("{}/{file}", host.name),
            reason: reason.to_string(),
        })?;
        for san in cert.sans {
            let (kind, value) = san.split_once(':').unwrap_or(("", san.as_str()));
            let standard = value == host.name
                || ["kubernetes", "kubernetes.default", "kubernetes.default.svc"].contains(&value)
                || value == format!("kubernetes.default.svc.{domain}")
                || (kind == "IP"
                    && value.parse::<IpAddr>().is_ok_and(|ip| {
                        addresses.get(&host.name) == Some(&ip) || is_service_ip(spec, ip)
                    }))
                || endpoint.as_deref() == Some(value);
            if !standard && !extra.iter().any(|known: &String| known == value) {
                extra.push(value.to_owned());
            }
        }
    }
    Ok(extra)
}

/// Whether `ip` is the first address of the service subnet (the `kubernetes` Service).
fn is_service_ip(spec: &Spec, ip: IpAddr) -> bool {
    spec.networking
        .as_ref()
        .and_then(|networking| networking.service_subnet.as_deref())
        .and_then(|subnet| subnet.split(',').next())
        .and_then(|subnet| subnet.parse::<ipnet::IpNet>().ok())
        .and_then(|net| net.hosts().next())
        .is_some_and(|first| first == ip)
}

fn unsupported(host: &HostFiles, file: &str, what: &str) -> AdoptError {
    AdoptError::Unsupported {
        file: format!("{}/{file}", host.name),
        what: what.to_owned(),
    }
}
