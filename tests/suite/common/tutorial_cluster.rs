//! A tutorial-style cluster made for tests, the way Kelsey Hightower's "Kubernetes The Hard Way"
//! makes one in its cfssl era: repository kelseyhightower/kubernetes-the-hard-way, commit
//! 79a3f79b27bd28f82f071bb877a266c2e62ee506 ("Update to Kubernetes 1.21.0", the last before the
//! 2023 rewrite replaced cfssl by openssl and `.pem` names by `.crt`), files
//! `docs/04-certificate-authority.md` (one CA `ca.pem`/`ca-key.pem`; `admin`, `<worker>`,
//! `kube-controller-manager`, `kube-proxy`, `kube-scheduler`, `kubernetes` and `service-account`
//! pairs with their subjects and SANs, all from the `kubernetes` profile: server and client auth),
//! `docs/05-kubernetes-configuration-files.md` (kubeconfigs of cluster `kubernetes-the-hard-way`,
//! context `default`, certificates embedded), `docs/06-data-encryption-keys.md`
//! (`encryption-config.yaml`, one aescbc key `key1`, then identity),
//! `docs/07-bootstrapping-etcd.md` (`/etc/etcd/`, `etcd.service`),
//! `docs/08-bootstrapping-kubernetes-controllers.md` (`/var/lib/kubernetes/`, the three control
//! plane units, `/etc/kubernetes/config/kube-scheduler.yaml`) and
//! `docs/09-bootstrapping-kubernetes-workers.md` (`/var/lib/kubelet/`, `/var/lib/kube-proxy/`,
//! containerd, kubelet and kube-proxy units, CNI bridge). Three controllers (`controller-0..2`,
//! 10.240.0.10-12, no kubelet, as in the tutorial) and two workers (`worker-0..1`, 10.240.0.20-21,
//! external addresses from TEST-NET-2); the load balancer's public address is TEST-NET-3's
//! 203.0.113.10. Keys by openssl instead of cfssl (RSA 2048, PKCS#1 as cfssljson writes them).
//!
//! The tutorial's cluster ran v1.21.0; kcompile supports v1.33 and later, so this is that
//! cluster after its binaries were upgraded to v1.33.0 with the least change each upgrade forced:
//! the kubelet's `--container-runtime=remote`, `--image-pull-progress-deadline` and
//! `--network-plugin` are gone (removed with dockershim in v1.24 and v1.27), the encryption
//! config is `apiserver.config.k8s.io/v1` `EncryptionConfiguration` (the legacy `v1`
//! `EncryptionConfig` kind is no longer read), and the scheduler's configuration is
//! `kubescheduler.config.k8s.io/v1` (v1beta1 was removed in v1.26). Never made by kcompile's
//! renderer. Used by `adopt_tutorial.rs`.

// Each including crate uses only some of its items.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command as Process;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::kubeadm_cluster::{read, write};

/// The release the hosts' binaries run, given to `adopt --kubernetes-version`.
pub const VERSION: &str = "v1.33.0";
/// The load balancer's address (the tutorial's `KUBERNETES_PUBLIC_ADDRESS`).
pub const PUBLIC_ADDRESS: &str = "203.0.113.10";
pub const CONTROLLERS: [(&str, &str); 3] = [
    ("controller-0", "10.240.0.10"),
    ("controller-1", "10.240.0.11"),
    ("controller-2", "10.240.0.12"),
];
/// Workers: name, internal address, external address.
pub const WORKERS: [(&str, &str, &str); 2] = [
    ("worker-0", "10.240.0.20", "198.51.100.20"),
    ("worker-1", "10.240.0.21", "198.51.100.21"),
];
/// Where the tutorial keeps the encryption config.
pub const ENCRYPTION_CONFIG: &str = "var/lib/kubernetes/encryption-config.yaml";
/// The tutorial's one encryption key (`head -c 32 /dev/urandom | base64`): test data, fixed so
/// that a test can look for it.
pub const ENCRYPTION_KEY: &str = "oKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr8=";

/// The tutorial's `encryption-config.yaml`, in the kind v1.33 reads.
pub fn encryption_config() -> String {
    format!(
        "kind: EncryptionConfiguration\napiVersion: apiserver.config.k8s.io/v1\nresources:\n  - resources:\n      - secrets\n    providers:\n      - aescbc:\n          keys:\n            - name: key1\n              secret: {ENCRYPTION_KEY}\n      - identity: {{}}\n"
    )
}

fn openssl(dir: &Path, args: &[&str]) {
    let output = Process::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl is installed");
    assert!(
        output.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// cfssl's subject for a CSR's `names` entry: C, ST, L, O, OU, then CN.
fn subject(o: &str, ou: &str, cn: &str) -> String {
    format!("/C=US/ST=Oregon/L=Portland/O={o}/OU={ou}/CN={cn}")
}

/// `cfssl gencert -initca ca-csr.json | cfssljson -bare ca`: `ca.pem`, `ca-key.pem`.
fn ca(dir: &Path) {
    openssl(
        dir,
        &["genrsa", "-traditional", "-out", "ca-key.pem", "2048"],
    );
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-key",
            "ca-key.pem",
            "-days",
            "1825",
            "-subj",
            &subject("Kubernetes", "CA", "Kubernetes"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-out",
            "ca.pem",
        ],
    );
}

/// `cfssl gencert -ca=ca.pem -ca-key=ca-key.pem -profile=kubernetes [-hostname=...]`:
/// `name.pem`, `name-key.pem` in `dir`, signed by `dir`'s `issuer.pem`.
pub fn leaf(dir: &Path, issuer: &str, name: &str, subject: &str, hostnames: &[&str]) {
    let key = format!("{name}-key.pem");
    openssl(dir, &["genrsa", "-traditional", "-out", &key, "2048"]);
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-key",
            &key,
            "-subj",
            subject,
            "-out",
            &format!("{name}.csr"),
        ],
    );
    let mut extensions = "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth,clientAuth\n".to_owned();
    if !hostnames.is_empty() {
        let sans: Vec<String> = hostnames
            .iter()
            .map(|name| {
                if name.parse::<std::net::IpAddr>().is_ok() {
                    format!("IP:{name}")
                } else {
                    format!("DNS:{name}")
                }
            })
            .collect();
        extensions.push_str(&format!("subjectAltName={}\n", sans.join(",")));
    }
    write(&dir.join(format!("{name}.ext")), extensions);
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &format!("{name}.csr"),
            "-CA",
            &format!("{issuer}.pem"),
            "-CAkey",
            &format!("{issuer}-key.pem"),
            "-CAcreateserial",
            "-days",
            "365",
            "-extfile",
            &format!("{name}.ext"),
            "-out",
            &format!("{name}.pem"),
        ],
    );
}

/// A kubeconfig as `kubectl config set-cluster/set-credentials/set-context --embed-certs` writes
/// it (docs/05).
fn kubeconfig(dir: &Path, server: &str, user: &str, pair: &str) -> String {
    let b64 = |file: &str| STANDARD.encode(read(&dir.join(file)));
    format!(
        "apiVersion: v1\nclusters:\n- cluster:\n    certificate-authority-data: {}\n    server: {server}\n  name: kubernetes-the-hard-way\ncontexts:\n- context:\n    cluster: kubernetes-the-hard-way\n    user: {user}\n  name: default\ncurrent-context: default\nkind: Config\npreferences: {{}}\nusers:\n- name: {user}\n  user:\n    client-certificate-data: {}\n    client-key-data: {}\n",
        b64("ca.pem"),
        b64(&format!("{pair}.pem")),
        b64(&format!("{pair}-key.pem")),
    )
}

fn copy(from: &Path, files: &[&str], to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for file in files {
        std::fs::copy(from.join(file), to.join(file)).unwrap();
    }
}

/// The tutorial's cluster under `roots/<host>/`.
pub fn tutorial_cluster(roots: &Path) {
    let work = roots.join(".cfssl");
    let dir = work.as_path();
    std::fs::create_dir_all(dir).unwrap();
    ca(dir);
    let team = "Kubernetes The Hard Way";
    leaf(
        dir,
        "ca",
        "admin",
        &subject("system:masters", team, "admin"),
        &[],
    );
    for (name, internal, external) in WORKERS {
        leaf(
            dir,
            "ca",
            name,
            &subject("system:nodes", team, &format!("system:node:{name}")),
            &[name, external, internal],
        );
    }
    leaf(
        dir,
        "ca",
        "kube-controller-manager",
        &subject(
            "system:kube-controller-manager",
            team,
            "system:kube-controller-manager",
        ),
        &[],
    );
    leaf(
        dir,
        "ca",
        "kube-proxy",
        &subject("system:node-proxier", team, "system:kube-proxy"),
        &[],
    );
    leaf(
        dir,
        "ca",
        "kube-scheduler",
        &subject("system:kube-scheduler", team, "system:kube-scheduler"),
        &[],
    );
    let mut hostnames = vec!["10.32.0.1"];
    hostnames.extend(CONTROLLERS.iter().map(|(_, ip)| *ip));
    hostnames.extend([
        PUBLIC_ADDRESS,
        "127.0.0.1",
        "kubernetes",
        "kubernetes.default",
        "kubernetes.default.svc",
        "kubernetes.default.svc.cluster",
        "kubernetes.svc.cluster.local",
    ]);
    leaf(
        dir,
        "ca",
        "kubernetes",
        &subject("Kubernetes", team, "kubernetes"),
        &hostnames,
    );
    leaf(
        dir,
        "ca",
        "service-account",
        &subject("Kubernetes", team, "service-accounts"),
        &[],
    );
    let public = format!("https://{PUBLIC_ADDRESS}:6443");
    let local = "https://127.0.0.1:6443";
    let etcd_servers: Vec<String> = CONTROLLERS
        .iter()
        .map(|(_, ip)| format!("https://{ip}:2379"))
        .collect();
    let initial_cluster: Vec<String> = CONTROLLERS
        .iter()
        .map(|(name, ip)| format!("{name}=https://{ip}:2380"))
        .collect();
    for (name, ip) in CONTROLLERS {
        let root = roots.join(name);
        copy(
            dir,
            &["ca.pem", "kubernetes-key.pem", "kubernetes.pem"],
            &root.join("etc/etcd"),
        );
        let lib = root.join("var/lib/kubernetes");
        copy(
            dir,
            &[
                "ca.pem",
                "ca-key.pem",
                "kubernetes-key.pem",
                "kubernetes.pem",
                "service-account-key.pem",
                "service-account.pem",
            ],
            &lib,
        );
        write(&root.join(ENCRYPTION_CONFIG), encryption_config());
        write(
            &lib.join("kube-controller-manager.kubeconfig"),
            kubeconfig(
                dir,
                local,
                "system:kube-controller-manager",
                "kube-controller-manager",
            ),
        );
        write(
            &lib.join("kube-scheduler.kubeconfig"),
            kubeconfig(dir, local, "system:kube-scheduler", "kube-scheduler"),
        );
        write(
            &root.join("etc/kubernetes/config/kube-scheduler.yaml"),
            "apiVersion: kubescheduler.config.k8s.io/v1\nkind: KubeSchedulerConfiguration\nclientConnection:\n  kubeconfig: \"/var/lib/kubernetes/kube-scheduler.kubeconfig\"\nleaderElection:\n  leaderElect: true\n",
        );
        let units = root.join("etc/systemd/system");
        write(
            &units.join("etcd.service"),
            format!(
                "[Unit]\nDescription=etcd\nDocumentation=https://github.com/coreos\n\n[Service]\nType=notify\nExecStart=/usr/local/bin/etcd \\\n  --name {name} \\\n  --cert-file=/etc/etcd/kubernetes.pem \\\n  --key-file=/etc/etcd/kubernetes-key.pem \\\n  --peer-cert-file=/etc/etcd/kubernetes.pem \\\n  --peer-key-file=/etc/etcd/kubernetes-key.pem \\\n  --trusted-ca-file=/etc/etcd/ca.pem \\\n  --peer-trusted-ca-file=/etc/etcd/ca.pem \\\n  --peer-client-cert-auth \\\n  --client-cert-auth \\\n  --initial-advertise-peer-urls https://{ip}:2380 \\\n  --listen-peer-urls https://{ip}:2380 \\\n  --listen-client-urls https://{ip}:2379,https://127.0.0.1:2379 \\\n  --advertise-client-urls https://{ip}:2379 \\\n  --initial-cluster-token etcd-cluster-0 \\\n  --initial-cluster {} \\\n  --initial-cluster-state new \\\n  --data-dir=/var/lib/etcd\nRestart=on-failure\nRestartSec=5\n\n[Install]\nWantedBy=multi-user.target\n",
                initial_cluster.join(",")
            ),
        );
        write(
            &units.join("kube-apiserver.service"),
            format!(
                "[Unit]\nDescription=Kubernetes API Server\nDocumentation=https://github.com/kubernetes/kubernetes\n\n[Service]\nExecStart=/usr/local/bin/kube-apiserver \\\n  --advertise-address={ip} \\\n  --allow-privileged=true \\\n  --apiserver-count=3 \\\n  --audit-log-maxage=30 \\\n  --audit-log-maxbackup=3 \\\n  --audit-log-maxsize=100 \\\n  --audit-log-path=/var/log/audit.log \\\n  --authorization-mode=Node,RBAC \\\n  --bind-address=0.0.0.0 \\\n  --client-ca-file=/var/lib/kubernetes/ca.pem \\\n  --enable-admission-plugins=NamespaceLifecycle,NodeRestriction,LimitRanger,ServiceAccount,DefaultStorageClass,ResourceQuota \\\n  --etcd-cafile=/var/lib/kubernetes/ca.pem \\\n  --etcd-certfile=/var/lib/kubernetes/kubernetes.pem \\\n  --etcd-keyfile=/var/lib/kubernetes/kubernetes-key.pem \\\n  --etcd-servers={} \\\n  --event-ttl=1h \\\n  --encryption-provider-config=/var/lib/kubernetes/encryption-config.yaml \\\n  --kubelet-certificate-authority=/var/lib/kubernetes/ca.pem \\\n  --kubelet-client-certificate=/var/lib/kubernetes/kubernetes.pem \\\n  --kubelet-client-key=/var/lib/kubernetes/kubernetes-key.pem \\\n  --runtime-config='api/all=true' \\\n  --service-account-key-file=/var/lib/kubernetes/service-account.pem \\\n  --service-account-signing-key-file=/var/lib/kubernetes/service-account-key.pem \\\n  --service-account-issuer={public} \\\n  --service-cluster-ip-range=10.32.0.0/24 \\\n  --service-node-port-range=30000-32767 \\\n  --tls-cert-file=/var/lib/kubernetes/kubernetes.pem \\\n  --tls-private-key-file=/var/lib/kubernetes/kubernetes-key.pem \\\n  --v=2\nRestart=on-failure\nRestartSec=5\n\n[Install]\nWantedBy=multi-user.target\n",
                etcd_servers.join(",")
            ),
        );
        write(
            &units.join("kube-controller-manager.service"),
            "[Unit]\nDescription=Kubernetes Controller Manager\nDocumentation=https://github.com/kubernetes/kubernetes\n\n[Service]\nExecStart=/usr/local/bin/kube-controller-manager \\\n  --bind-address=0.0.0.0 \\\n  --cluster-cidr=10.200.0.0/16 \\\n  --cluster-name=kubernetes \\\n  --cluster-signing-cert-file=/var/lib/kubernetes/ca.pem \\\n  --cluster-signing-key-file=/var/lib/kubernetes/ca-key.pem \\\n  --kubeconfig=/var/lib/kubernetes/kube-controller-manager.kubeconfig \\\n  --leader-elect=true \\\n  --root-ca-file=/var/lib/kubernetes/ca.pem \\\n  --service-account-private-key-file=/var/lib/kubernetes/service-account-key.pem \\\n  --service-cluster-ip-range=10.32.0.0/24 \\\n  --use-service-account-credentials=true \\\n  --v=2\nRestart=on-failure\nRestartSec=5\n\n[Install]\nWantedBy=multi-user.target\n",
        );
        write(
            &units.join("kube-scheduler.service"),
            "[Unit]\nDescription=Kubernetes Scheduler\nDocumentation=https://github.com/kubernetes/kubernetes\n\n[Service]\nExecStart=/usr/local/bin/kube-scheduler \\\n  --config=/etc/kubernetes/config/kube-scheduler.yaml \\\n  --v=2\nRestart=on-failure\nRestartSec=5\n\n[Install]\nWantedBy=multi-user.target\n",
        );
    }
    for (index, (name, _, _)) in WORKERS.iter().enumerate() {
        let root = roots.join(name);
        let kubelet = root.join("var/lib/kubelet");
        copy(
            dir,
            &[&format!("{name}.pem"), &format!("{name}-key.pem")],
            &kubelet,
        );
        write(
            &kubelet.join("kubeconfig"),
            kubeconfig(dir, &public, &format!("system:node:{name}"), name),
        );
        copy(dir, &["ca.pem"], &root.join("var/lib/kubernetes"));
        let pod_cidr = format!("10.200.{index}.0/24");
        write(
            &kubelet.join("kubelet-config.yaml"),
            format!(
                "kind: KubeletConfiguration\napiVersion: kubelet.config.k8s.io/v1beta1\nauthentication:\n  anonymous:\n    enabled: false\n  webhook:\n    enabled: true\n  x509:\n    clientCAFile: \"/var/lib/kubernetes/ca.pem\"\nauthorization:\n  mode: Webhook\nclusterDomain: \"cluster.local\"\nclusterDNS:\n  - \"10.32.0.10\"\npodCIDR: \"{pod_cidr}\"\nresolvConf: \"/run/systemd/resolve/resolv.conf\"\nruntimeRequestTimeout: \"15m\"\ntlsCertFile: \"/var/lib/kubelet/{name}.pem\"\ntlsPrivateKeyFile: \"/var/lib/kubelet/{name}-key.pem\"\n"
            ),
        );
        write(
            &root.join("var/lib/kube-proxy/kubeconfig"),
            kubeconfig(dir, &public, "system:kube-proxy", "kube-proxy"),
        );
        write(
            &root.join("var/lib/kube-proxy/kube-proxy-config.yaml"),
            "kind: KubeProxyConfiguration\napiVersion: kubeproxy.config.k8s.io/v1alpha1\nclientConnection:\n  kubeconfig: \"/var/lib/kube-proxy/kubeconfig\"\nmode: \"iptables\"\nclusterCIDR: \"10.200.0.0/16\"\n",
        );
        write(
            &root.join("etc/cni/net.d/10-bridge.conf"),
            format!(
                "{{\n    \"cniVersion\": \"0.3.1\",\n    \"name\": \"bridge\",\n    \"type\": \"bridge\",\n    \"bridge\": \"cnio0\",\n    \"isGateway\": true,\n    \"ipMasq\": true,\n    \"ipam\": {{\n        \"type\": \"host-local\",\n        \"ranges\": [\n          [{{\"subnet\": \"{pod_cidr}\"}}]\n        ],\n        \"routes\": [{{\"dst\": \"0.0.0.0/0\"}}]\n    }}\n}}\n"
            ),
        );
        write(
            &root.join("etc/containerd/config.toml"),
            "[plugins]\n  [plugins.cri.containerd]\n    snapshotter = \"overlayfs\"\n    [plugins.cri.containerd.default_runtime]\n      runtime_type = \"io.containerd.runtime.v1.linux\"\n      runtime_engine = \"/usr/local/bin/runc\"\n      runtime_root = \"\"\n",
        );
        let units = root.join("etc/systemd/system");
        write(
            &units.join("containerd.service"),
            "[Unit]\nDescription=containerd container runtime\nDocumentation=https://containerd.io\nAfter=network.target\n\n[Service]\nExecStartPre=/sbin/modprobe overlay\nExecStart=/bin/containerd\nRestart=always\nRestartSec=5\nDelegate=yes\nKillMode=process\nOOMScoreAdjust=-999\nLimitNOFILE=1048576\nLimitNPROC=infinity\nLimitCORE=infinity\n\n[Install]\nWantedBy=multi-user.target\n",
        );
        write(
            &units.join("kubelet.service"),
            "[Unit]\nDescription=Kubernetes Kubelet\nDocumentation=https://github.com/kubernetes/kubernetes\nAfter=containerd.service\nRequires=containerd.service\n\n[Service]\nExecStart=/usr/local/bin/kubelet \\\n  --config=/var/lib/kubelet/kubelet-config.yaml \\\n  --container-runtime-endpoint=unix:///var/run/containerd/containerd.sock \\\n  --kubeconfig=/var/lib/kubelet/kubeconfig \\\n  --register-node=true \\\n  --v=2\nRestart=on-failure\nRestartSec=5\n\n[Install]\nWantedBy=multi-user.target\n",
        );
        write(
            &units.join("kube-proxy.service"),
            "[Unit]\nDescription=Kubernetes Kube Proxy\nDocumentation=https://github.com/kubernetes/kubernetes\n\n[Service]\nExecStart=/usr/local/bin/kube-proxy \\\n  --config=/var/lib/kube-proxy/kube-proxy-config.yaml\nRestart=on-failure\nRestartSec=5\n\n[Install]\nWantedBy=multi-user.target\n",
        );
    }
    std::fs::remove_dir_all(work).unwrap();
}
