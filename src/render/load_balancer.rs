//! The load balancer kcompile runs in front of the apiservers (`loadBalancer` in the spec), as
//! static pods, so the control-plane endpoint survives the loss of a host:
//!
//! - `keepalived-haproxy`, on each control-plane host, as the Kubernetes HA guide (kubeadm's
//!   `docs/ha-considerations.md`, "keepalived and haproxy", option 2) describes: haproxy listens on
//!   `controlPlaneEndpoint.port` and balances to every apiserver with HTTPS `/healthz` checks;
//!   keepalived holds the VIP (`controlPlaneEndpoint.host`): MASTER with priority 101 on the first
//!   control-plane host, BACKUP with 100, 99... on the others, one virtual router id and one
//!   `auth_pass` (from the state's secrets) for all, and a check script that drops the priority
//!   when the local haproxy (or, on the VIP holder, the VIP) stops answering.
//! - `kube-vip`, on each control-plane host: kube-vip in ARP mode with leader election, the
//!   manifest `kube-vip manifest pod --arp --controlplane --leaderElection` writes. kube-vip reads
//!   `/etc/kubernetes/admin.conf`; on the first control-plane host that path is given
//!   `super-admin.conf` (from v1.29 admin.conf has no rights until the cluster's RBAC objects
//!   exist, and kube-vip must hold the VIP before they do: kube-vip's documented workaround).
//! - `local-proxy`, on every host without the control-plane role: haproxy on
//!   `127.0.0.1:localPort` balancing to every apiserver, as the tutorials' kube-nginx; that host's
//!   kubelet and kube-proxy dial it ([`local_proxy_server`]), so workers need no VIP.
//!
//! Each pod carries the `kcompile.io/config-hash` annotation over the bundle files it mounts, so a
//! changed config (or a renewed kubeconfig) restarts it.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, EmptyDirVolumeSource, EnvVar, EnvVarSource, HostAlias,
    ObjectFieldSelector, Pod, Probe, SecurityContext, TCPSocketAction, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::pod::{CONFIG_HASH, Mount, config_hash, node_critical_pod, requirements};
use super::{FileSet, PUBLIC, SECRET};
use super::{KUBERNETES, MANIFESTS, yaml};
use crate::cluster::{AnonymousAuth, LoadBalancerKind, Role};
use crate::cluster::{Cluster, EndpointHost, Host, Identity, LoadBalancer, Resources};
use crate::pki::secrets::Secrets;
use crate::versions;

/// haproxy's config on the host (keepalived-haproxy: control planes; local-proxy: the others).
pub const HAPROXY_CONFIG: &str = "/etc/haproxy/haproxy.cfg";
/// keepalived's config on the host (keepalived-haproxy: control planes).
pub const KEEPALIVED_CONFIG: &str = "/etc/keepalived/keepalived.conf";
/// The script keepalived runs to check the apiserver endpoint (keepalived-haproxy).
pub const CHECK_SCRIPT: &str = "/etc/keepalived/check_apiserver.sh";
/// Where the haproxy image reads its config.
const HAPROXY_CONFIG_IN_POD: &str = "/usr/local/etc/haproxy/haproxy.cfg";
/// Where the keepalived image (osixia/keepalived) reads its config.
const KEEPALIVED_CONFIG_IN_POD: &str = "/usr/local/etc/keepalived/keepalived.conf";
/// The kubeconfig path kube-vip reads (fixed in kube-vip).
const KUBE_VIP_KUBECONFIG: &str = "/etc/kubernetes/admin.conf";
/// Mode of the check script.
const EXECUTABLE: u32 = 0o755;

/// The load balancer, if its kind is `kind`.
fn of_kind(cluster: &Cluster, kind: LoadBalancerKind) -> Option<&LoadBalancer> {
    cluster.load_balancer.as_ref().filter(|lb| lb.kind == kind)
}

/// Whether `host` runs the local proxy: the load balancer is `local-proxy` and the host has no
/// apiserver of its own.
pub fn runs_local_proxy(cluster: &Cluster, host: &Host) -> bool {
    of_kind(cluster, LoadBalancerKind::LocalProxy).is_some() && !host.has(Role::ControlPlane)
}

/// The server `host`'s kubelet and kube-proxy dial when it runs the local proxy:
/// `https://127.0.0.1:<localPort>`; `None` otherwise.
pub fn local_proxy_server(cluster: &Cluster, host: &Host) -> Option<String> {
    let lb = of_kind(cluster, LoadBalancerKind::LocalProxy)?;
    runs_local_proxy(cluster, host).then(|| format!("https://127.0.0.1:{}", lb.local_port))
}

/// The VIP: `controlPlaneEndpoint.host` (validation makes it an IP for the VIP kinds).
fn vip(cluster: &Cluster) -> Option<(IpAddr, u16)> {
    match &cluster.control_plane_endpoint {
        Some(endpoint) => match endpoint.host {
            EndpointHost::Ip(ip) => Some((ip, endpoint.port)),
            EndpointHost::Dns(_) => None,
        },
        None => None,
    }
}

/// The load balancer's config files for `host`: haproxy.cfg, keepalived.conf and its check
/// script, as its kind and the host's roles need.
pub fn configs(files: &mut FileSet, cluster: &Cluster, secrets: &Secrets, host: &Host) {
    let Some(lb) = &cluster.load_balancer else {
        return;
    };
    match lb.kind {
        LoadBalancerKind::KeepalivedHaproxy if host.has(Role::ControlPlane) => {
            let Some((vip, port)) = vip(cluster) else {
                return;
            };
            files.add(
                HAPROXY_CONFIG,
                haproxy_config(cluster, &format!("*:{port}")),
                PUBLIC,
            );
            // auth_pass is a secret: 0600, like every file that holds one.
            files.add(
                KEEPALIVED_CONFIG,
                keepalived_config(cluster, lb, secrets, host, vip),
                SECRET,
            );
            files.add(CHECK_SCRIPT, check_script(vip, port), EXECUTABLE);
        }
        LoadBalancerKind::LocalProxy if runs_local_proxy(cluster, host) => {
            files.add(
                HAPROXY_CONFIG,
                haproxy_config(cluster, &format!("127.0.0.1:{}", lb.local_port)),
                PUBLIC,
            );
        }
        _ => {}
    }
}

/// haproxy.cfg: a TCP frontend on `bind` and a backend with every apiserver, checked over HTTPS
/// with `GET /healthz` as the Kubernetes HA guide does (a plain TLS check when anonymous access
/// is off, as `/healthz` then answers 401 to haproxy too).
pub fn haproxy_config(cluster: &Cluster, bind: &str) -> String {
    let mut text = String::from(
        "# Written by kcompile: haproxy in front of every kube-apiserver.\n\
         global\n    \
         log stdout format raw local0\n\n\
         defaults\n    \
         mode tcp\n    \
         log global\n    \
         option tcplog\n    \
         option dontlognull\n    \
         option redispatch\n    \
         retries 1\n    \
         timeout queue 20s\n    \
         timeout connect 5s\n    \
         # Long enough for watches, logs -f and exec sessions that are quiet for a while.\n    \
         timeout client 5m\n    \
         timeout server 15m\n    \
         timeout check 10s\n\n",
    );
    let _ = write!(
        text,
        "frontend apiserver\n    \
         bind {bind}\n    \
         mode tcp\n    \
         option tcplog\n    \
         default_backend apiserverbackend\n\n\
         backend apiserverbackend\n    \
         mode tcp\n"
    );
    if cluster.anonymous_auth != AnonymousAuth::Disabled {
        text.push_str(
            "    option httpchk\n    \
             http-check connect ssl\n    \
             http-check send meth GET uri /healthz\n    \
             http-check expect status 200\n",
        );
    }
    text.push_str(
        "    balance roundrobin\n    \
         default-server inter 10s downinter 5s rise 2 fall 2 slowstart 60s maxconn 250 maxqueue 256 weight 100\n",
    );
    for host in cluster.hosts_with(Role::ControlPlane) {
        let address = match host.address {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        };
        let _ = writeln!(
            text,
            "    server {} {address}:{} check check-ssl verify none",
            host.name, cluster.api_server_port
        );
    }
    text
}

/// keepalived.conf for one control-plane host: MASTER with priority 101 on the first, BACKUP with
/// 100, 99... on the others; the check script lowers a failing host's priority by 2.
pub fn keepalived_config(
    cluster: &Cluster,
    lb: &LoadBalancer,
    secrets: &Secrets,
    host: &Host,
    vip: IpAddr,
) -> String {
    let index = cluster
        .hosts_with(Role::ControlPlane)
        .position(|h| h.name == host.name)
        .unwrap_or(0);
    let state = if index == 0 { "MASTER" } else { "BACKUP" };
    // 101, 100, 99...: every host a distinct priority, floored at 1 (VRRP allows 1-254).
    let priority = 101usize.saturating_sub(index).max(1);
    let prefix = if vip.is_ipv4() { 32 } else { 128 };
    format!(
        "! Written by kcompile: keepalived holds the control-plane VIP {vip}.\n\
         global_defs {{\n    \
         router_id {name}\n    \
         script_user root\n    \
         enable_script_security\n\
         }}\n\n\
         vrrp_script check_apiserver {{\n    \
         script \"{CHECK_SCRIPT}\"\n    \
         interval 3\n    \
         weight -2\n    \
         fall 10\n    \
         rise 2\n\
         }}\n\n\
         vrrp_instance VI_1 {{\n    \
         state {state}\n    \
         interface {interface}\n    \
         virtual_router_id {router_id}\n    \
         priority {priority}\n    \
         authentication {{\n        \
         auth_type PASS\n        \
         auth_pass {password}\n    \
         }}\n    \
         virtual_ipaddress {{\n        \
         {vip}/{prefix}\n    \
         }}\n    \
         track_script {{\n        \
         check_apiserver\n    \
         }}\n\
         }}\n",
        name = host.name,
        interface = lb.interface,
        router_id = lb.virtual_router_id,
        password = secrets.vrrp_password,
    )
}

/// `check_apiserver.sh`: the local haproxy answers, and so does the VIP where this host holds it
/// (the guide's script; the VIP is matched as a whole address, not a prefix of another).
pub fn check_script(vip: IpAddr, port: u16) -> String {
    let url_host = match vip {
        IpAddr::V4(ip) => ip.to_string(),
        IpAddr::V6(ip) => format!("[{ip}]"),
    };
    format!(
        "#!/bin/sh\n\
         # Written by kcompile: keepalived's check that the apiserver endpoint answers.\n\n\
         errorExit() {{\n    \
         echo \"*** $*\" 1>&2\n    \
         exit 1\n\
         }}\n\n\
         curl --silent --max-time 2 --insecure https://localhost:{port}/ -o /dev/null || errorExit \"Error GET https://localhost:{port}/\"\n\
         if ip addr | grep -q \" {vip}/\"; then\n    \
         curl --silent --max-time 2 --insecure https://{url_host}:{port}/ -o /dev/null || errorExit \"Error GET https://{url_host}:{port}/\"\n\
         fi\n"
    )
}

/// The load balancer's static pods for `host`, as (path, YAML). `files` is the host's bundle so
/// far: the config hash covers the files each pod mounts.
pub fn pods(files: &FileSet, cluster: &Cluster, host: &Host) -> Vec<(String, String)> {
    host_pods(cluster, host)
        .into_iter()
        .map(|pod| (format!("{MANIFESTS}/{}.yaml", pod.name), pod.render(files)))
        .collect()
}

/// The load-balancer pods `host` runs, as (pod name, image): the same pods [`pods`] renders
/// (`crate::images` lists them with the host's other images).
pub fn images(cluster: &Cluster, host: &Host) -> Vec<(&'static str, String)> {
    host_pods(cluster, host)
        .into_iter()
        .map(|pod| (pod.name, pod.image))
        .collect()
}

/// The load-balancer pods `host` runs, by the kind and the host's roles.
fn host_pods(cluster: &Cluster, host: &Host) -> Vec<LbPod> {
    let Some(lb) = &cluster.load_balancer else {
        return Vec::new();
    };
    match lb.kind {
        LoadBalancerKind::KeepalivedHaproxy if host.has(Role::ControlPlane) => {
            let port = vip(cluster).map_or(cluster.api_server_port, |(_, port)| port);
            let rootless = cluster.rootless.is_some();
            vec![
                haproxy_pod(lb, port, rootless),
                keepalived_pod(lb, rootless),
            ]
        }
        LoadBalancerKind::KubeVip if host.has(Role::ControlPlane) => {
            vec![kube_vip_pod(cluster, lb, host)]
        }
        LoadBalancerKind::LocalProxy if runs_local_proxy(cluster, host) => {
            vec![haproxy_pod(lb, lb.local_port, cluster.rootless.is_some())]
        }
        _ => Vec::new(),
    }
}

/// One load-balancer pod: a single container running its image's own entrypoint.
struct LbPod {
    name: &'static str,
    image: String,
    /// The container's command; empty: the image's entrypoint.
    command: Vec<String>,
    args: Vec<String>,
    env: Vec<EnvVar>,
    mounts: Vec<Mount>,
    capabilities: Vec<&'static str>,
    /// How the container runs beyond `capabilities`.
    confinement: Confinement,
    /// A TCP liveness and readiness probe on this 127.0.0.1 port: where the pod serves.
    probe_port: Option<u16>,
    /// Requests and limits.
    resources: Resources,
    host_aliases: Vec<HostAlias>,
    /// Writable scratch directories (an `emptyDir` in memory each), for a read-only root
    /// filesystem.
    scratch: Vec<&'static str>,
}

/// Where a read-only keepalived writes: its pid files, in memory.
const RUN_DIR: &str = "/run";

/// keepalived in the foreground, logging to the console, reading kcompile's config: the command
/// the keepalived image's `process.sh` runs (osixia/docker-keepalived v2.0.20
/// `image/service/keepalived/process.sh`, `exec /usr/local/sbin/keepalived -f
/// /usr/local/etc/keepalived/keepalived.conf --dont-fork --log-console`), with its pid files
/// named in [`RUN_DIR`] (`-p`, `-r`, `-c`) whatever the build's default directory.
const KEEPALIVED_COMMAND: [&str; 11] = [
    "/usr/local/sbin/keepalived",
    "-f",
    KEEPALIVED_CONFIG_IN_POD,
    "--dont-fork",
    "--log-console",
    "-p",
    "/run/keepalived.pid",
    "-r",
    "/run/vrrp.pid",
    "-c",
    "/run/checkers.pid",
];

/// The lowest port a process without `CAP_NET_BIND_SERVICE` may bind.
const UNPRIVILEGED_PORTS: u16 = 1024;

/// How a load-balancer container runs, besides the capabilities it adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Confinement {
    /// As the image runs it (its user, the runtime's default capabilities plus the added ones).
    Image,
    /// With `rootless` on, a container that needs root (keepalived moves the VIP): every
    /// capability dropped but the added ones, no privilege escalation.
    RootWithFewestCapabilities,
    /// With `rootless` on, haproxy on an unprivileged port: as the image's own user, every
    /// capability dropped, no privilege escalation, a read-only root filesystem.
    NonRoot(Identity),
}

/// haproxy; its liveness and readiness are haproxy's own listening port (not the apiservers
/// behind it, so it is not restarted while they are all down, as during bootstrap). With
/// `rootless` on it runs as the pinned image's user, by number
/// ([`versions::load_balancer::haproxy_user`]; an image the spec names runs as that same user),
/// unless it listens on a port below 1024 (which needs root's `CAP_NET_BIND_SERVICE`: Kubernetes
/// gives a non-root container no ambient capability).
fn haproxy_pod(lb: &LoadBalancer, port: u16, rootless: bool) -> LbPod {
    let image_user =
        versions::load_balancer::haproxy_user().map(|(uid, gid)| Identity { uid, gid });
    let confinement = match (rootless, port >= UNPRIVILEGED_PORTS, image_user) {
        (true, true, Some(user)) => Confinement::NonRoot(user),
        (true, _, _) => Confinement::RootWithFewestCapabilities,
        (false, _, _) => Confinement::Image,
    };
    let capabilities = if confinement == Confinement::RootWithFewestCapabilities {
        vec!["NET_BIND_SERVICE"]
    } else {
        Vec::new()
    };
    LbPod {
        name: "haproxy",
        image: lb.haproxy_image.clone(),
        command: Vec::new(),
        args: Vec::new(),
        env: Vec::new(),
        mounts: vec![Mount {
            name: "haproxyconf".into(),
            host_path: HAPROXY_CONFIG.into(),
            mount_path: HAPROXY_CONFIG_IN_POD.into(),
            read_only: true,
            path_type: "File".into(),
        }],
        capabilities,
        confinement,
        probe_port: Some(port),
        resources: lb.haproxy_resources.clone(),
        host_aliases: Vec::new(),
        scratch: Vec::new(),
    }
}

/// keepalived, with the capabilities VRRP and the VIP need (root: a non-root container gets no
/// ambient capability). With `rootless` on, every other capability is dropped and the root
/// filesystem is read-only: keepalived then runs as the image's own `process.sh` starts it
/// ([`KEEPALIVED_COMMAND`]), without the image's first-start script, which edits a template
/// config inside the image (osixia/docker-keepalived v2.0.20 `image/service/keepalived/
/// startup.sh`, `sed -i` on `assets/keepalived.conf`) that kcompile's mounted config replaces;
/// its pid files go to an in-memory `/run`.
fn keepalived_pod(lb: &LoadBalancer, rootless: bool) -> LbPod {
    LbPod {
        name: "keepalived",
        image: lb.keepalived_image.clone(),
        command: if rootless {
            KEEPALIVED_COMMAND
                .iter()
                .map(|word| (*word).to_owned())
                .collect()
        } else {
            Vec::new()
        },
        args: Vec::new(),
        env: Vec::new(),
        mounts: vec![
            Mount {
                name: "config".into(),
                host_path: KEEPALIVED_CONFIG.into(),
                mount_path: KEEPALIVED_CONFIG_IN_POD.into(),
                read_only: true,
                path_type: "File".into(),
            },
            Mount::same("check", CHECK_SCRIPT, true, "File"),
        ],
        capabilities: vec!["NET_ADMIN", "NET_BROADCAST", "NET_RAW"],
        confinement: if rootless {
            Confinement::RootWithFewestCapabilities
        } else {
            Confinement::Image
        },
        probe_port: None,
        resources: lb.keepalived_resources.clone(),
        host_aliases: Vec::new(),
        scratch: if rootless { vec![RUN_DIR] } else { Vec::new() },
    }
}

/// kube-vip in ARP mode with leader election, holding the VIP for the control plane, with the
/// environment `kube-vip manifest pod --arp --controlplane --leaderElection` writes.
fn kube_vip_pod(cluster: &Cluster, lb: &LoadBalancer, host: &Host) -> LbPod {
    let (vip, port) = vip(cluster).map_or_else(
        || (String::new(), cluster.api_server_port),
        |(ip, port)| (ip.to_string(), port),
    );
    let value = |name: &str, value: &str| EnvVar {
        name: name.to_owned(),
        value: Some(value.to_owned()),
        ..EnvVar::default()
    };
    let cidr = if vip.contains(':') { "128" } else { "32" };
    let env = vec![
        value("vip_arp", "true"),
        value("port", &port.to_string()),
        EnvVar {
            name: "vip_nodename".into(),
            value_from: Some(EnvVarSource {
                field_ref: Some(ObjectFieldSelector {
                    field_path: "spec.nodeName".into(),
                    ..ObjectFieldSelector::default()
                }),
                ..EnvVarSource::default()
            }),
            ..EnvVar::default()
        },
        value("vip_interface", &lb.interface),
        value("vip_cidr", cidr),
        value("dns_mode", "first"),
        value("cp_enable", "true"),
        value("cp_namespace", "kube-system"),
        value("vip_leaderelection", "true"),
        value("vip_leasename", "plndr-cp-lock"),
        value("vip_leaseduration", "5"),
        value("vip_renewdeadline", "3"),
        value("vip_retryperiod", "1"),
        value("address", &vip),
        value("prometheus_server", ":2112"),
    ];
    // The first control plane bootstraps the cluster: its kube-vip needs super-admin.conf.
    let kubeconfig = if cluster.is_first_control_plane(host) {
        format!("{KUBERNETES}/super-admin.conf")
    } else {
        format!("{KUBERNETES}/admin.conf")
    };
    LbPod {
        name: "kube-vip",
        image: lb.kube_vip_image.clone(),
        command: Vec::new(),
        args: vec!["manager".into()],
        env,
        mounts: vec![Mount {
            name: "kubeconfig".into(),
            host_path: kubeconfig,
            mount_path: KUBE_VIP_KUBECONFIG.into(),
            read_only: true,
            path_type: "File".into(),
        }],
        capabilities: vec!["NET_ADMIN", "NET_RAW"],
        confinement: Confinement::Image,
        probe_port: None,
        resources: lb.kube_vip_resources.clone(),
        // kube-vip dials `kubernetes:<port>` on a control plane: the local apiserver, which holds
        // the DNS SAN `kubernetes`, reachable before the VIP is up.
        host_aliases: vec![HostAlias {
            hostnames: Some(vec!["kubernetes".into()]),
            ip: "127.0.0.1".into(),
        }],
        scratch: Vec::new(),
    }
}

impl LbPod {
    /// The container's `securityContext`, from its confinement and added capabilities.
    fn security_context(&self) -> Option<SecurityContext> {
        let add = (!self.capabilities.is_empty())
            .then(|| self.capabilities.iter().map(|c| (*c).to_owned()).collect());
        let drop_all = Some(vec!["ALL".to_owned()]);
        match self.confinement {
            Confinement::Image => add.map(|add| SecurityContext {
                capabilities: Some(Capabilities {
                    add: Some(add),
                    ..Capabilities::default()
                }),
                ..SecurityContext::default()
            }),
            Confinement::RootWithFewestCapabilities => Some(SecurityContext {
                allow_privilege_escalation: Some(false),
                capabilities: Some(Capabilities {
                    add,
                    drop: drop_all,
                }),
                privileged: Some(false),
                read_only_root_filesystem: Some(true),
                ..SecurityContext::default()
            }),
            Confinement::NonRoot(user) => Some(SecurityContext {
                allow_privilege_escalation: Some(false),
                capabilities: Some(Capabilities {
                    add,
                    drop: drop_all,
                }),
                privileged: Some(false),
                read_only_root_filesystem: Some(true),
                run_as_group: Some(i64::from(user.gid)),
                run_as_non_root: Some(true),
                run_as_user: Some(i64::from(user.uid)),
                ..SecurityContext::default()
            }),
        }
    }

    /// The pod's YAML, with the config hash of the bundle files it mounts.
    fn render(&self, files: &FileSet) -> String {
        let mut mounts = self.mounts.clone();
        mounts.sort_by(|a, b| a.name.cmp(&b.name));
        let container = Container {
            name: self.name.to_owned(),
            image: Some(self.image.clone()),
            image_pull_policy: Some("IfNotPresent".into()),
            command: (!self.command.is_empty()).then(|| self.command.clone()),
            args: (!self.args.is_empty()).then(|| self.args.clone()),
            env: (!self.env.is_empty()).then(|| self.env.clone()),
            liveness_probe: self.probe_port.map(|port| Probe {
                initial_delay_seconds: Some(10),
                period_seconds: Some(10),
                timeout_seconds: Some(15),
                failure_threshold: Some(8),
                ..tcp_probe(port)
            }),
            readiness_probe: self.probe_port.map(|port| Probe {
                period_seconds: Some(1),
                timeout_seconds: Some(15),
                failure_threshold: Some(3),
                ..tcp_probe(port)
            }),
            resources: requirements(&self.resources),
            security_context: self.security_context(),
            ..Container::default()
        };
        let annotations =
            BTreeMap::from([(CONFIG_HASH.to_owned(), config_hash(&[], &mounts, files))]);
        let aliases = (!self.host_aliases.is_empty()).then(|| self.host_aliases.clone());
        let mut pod = node_critical_pod(self.name, container, &mounts, annotations, aliases);
        add_scratch(&mut pod, &self.scratch);
        if self.confinement != Confinement::Image
            && let Some(spec) = pod.spec.as_mut()
        {
            // A static pod cannot name a service account; say so, as the rootless pods do.
            spec.automount_service_account_token = Some(false);
        }
        yaml(&pod)
    }
}

/// Mounts an in-memory `emptyDir` at each of `dirs` in `pod`'s container.
fn add_scratch(pod: &mut Pod, dirs: &[&str]) {
    let Some(spec) = pod.spec.as_mut() else {
        return;
    };
    for dir in dirs {
        let name = format!("scratch{}", dir.replace('/', "-"));
        spec.volumes.get_or_insert_with(Vec::new).push(Volume {
            name: name.clone(),
            empty_dir: Some(EmptyDirVolumeSource {
                medium: Some("Memory".into()),
                ..EmptyDirVolumeSource::default()
            }),
            ..Volume::default()
        });
        for container in &mut spec.containers {
            container
                .volume_mounts
                .get_or_insert_with(Vec::new)
                .push(VolumeMount {
                    name: name.clone(),
                    mount_path: (*dir).to_owned(),
                    ..VolumeMount::default()
                });
        }
    }
}

/// A TCP probe of `127.0.0.1:<port>`.
fn tcp_probe(port: u16) -> Probe {
    Probe {
        tcp_socket: Some(TCPSocketAction {
            host: Some("127.0.0.1".into()),
            port: IntOrString::Int(i32::from(port)),
        }),
        ..Probe::default()
    }
}
