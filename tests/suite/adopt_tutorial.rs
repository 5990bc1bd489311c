//! `kcompile adopt` on a tutorial-style cluster (`common/tutorial_cluster.rs`: "Kubernetes The
//! Hard Way" in its cfssl era, three controllers running etcd and the control plane as systemd
//! units, two workers). `diff -o json` of every host must list exactly the changes `adopt`
//! reported; every certificate or key among them is either the cluster's own, byte for byte, at
//! kcompile's path, or one adopt said it reissues and why, naming the file.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::common::adopted::{json, triples};
use crate::common::kubeadm_cluster::{read, write};
use crate::common::run_kcompile;
use crate::common::tutorial_cluster::{
    CONTROLLERS, ENCRYPTION_CONFIG, ENCRYPTION_KEY, PUBLIC_ADDRESS, VERSION, WORKERS,
    encryption_config, leaf, tutorial_cluster,
};

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn adopt(dir: &Path, spec: &str, json: bool) -> std::process::Output {
    let mut args = vec![
        "adopt",
        "--roots",
        "roots",
        "--kubernetes-version",
        VERSION,
        "-f",
        spec,
    ];
    if json {
        args.extend(["-o", "json"]);
    }
    run_kcompile(dir, &args)
}

fn hosts() -> Vec<&'static str> {
    CONTROLLERS
        .iter()
        .map(|(name, _)| *name)
        .chain(WORKERS.iter().map(|(name, _, _)| *name))
        .collect()
}

fn is_key_material(path: &str) -> bool {
    [".crt", ".key", ".pem", ".pub", "encryption-config.yaml"]
        .iter()
        .any(|end| path.ends_with(end))
}

#[test]
fn a_tutorial_cluster_is_adopted_and_diff_shows_exactly_the_reported_changes() {
    let temp = tempfile::tempdir().unwrap();
    let roots = temp.path().join("roots");
    tutorial_cluster(&roots);
    let output = adopt(temp.path(), "cluster.yaml", true);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let adopted = json(&output);
    let spec = read(&temp.path().join("cluster.yaml"));
    // What the units, the kubelet's configuration and the certificates say, carried.
    for carried in [
        "kubernetesVersion: v1.33.0",
        "binaryPath: /usr/local/bin/kubelet",
        "runtime-config: api/all=true",
        &format!("service-account-issuer: https://{PUBLIC_ADDRESS}:6443"),
        "service-node-port-range: 30000-32767",
        "event-ttl: 1h",
        "use-service-account-credentials: \"true\"",
        "peer-client-cert-auth: \"true\"",
        "resolvConf: /run/systemd/resolve/resolv.conf",
        "runtimeRequestTimeout: 15m",
        "register-node: \"true\"",
        "mode: iptables",
        "dataDir: /var/lib/etcd",
        "serviceSubnet: 10.32.0.0/24",
        "podSubnet: 10.200.0.0/16",
        "clusterDNS: \"10.32.0.10\"",
        "kubernetes.svc.cluster.local",
        "- \"127.0.0.1\"",
        &format!("host: \"{PUBLIC_ADDRESS}\""),
        "address: \"10.240.0.20\"",
    ] {
        assert!(spec.contains(carried), "`{carried}` is carried:\n{spec}");
    }
    let warnings = stderr(&output);
    for warned in [
        "warning: controller-0/etc/systemd/system/kube-apiserver.service: --audit-log-maxage=30",
        "warning: worker-0/var/lib/kubelet/kubelet-config.yaml: podCIDR is not carried",
        "warning: controller-0/etc/systemd/system/etcd.service: etcd runs from /usr/local/bin/etcd",
        "no aggregation layer (front-proxy) CA",
    ] {
        assert!(warnings.contains(warned), "warned: {warned}\n{warnings}");
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains(ENCRYPTION_KEY), "adopt prints no key");
    assert!(!spec.contains(ENCRYPTION_KEY), "the spec holds no key");
    // Kept: the CA (also as etcd's), the service-account key, the leaves that fit.
    let kept: Vec<&str> = adopted["kept"]
        .as_array()
        .unwrap()
        .iter()
        .map(|kept| kept.as_str().unwrap())
        .collect();
    for expected in [
        "pki/ca.crt, pki/ca.key (from controller-0/var/lib/kubernetes/ca.pem)",
        "pki/etcd/ca.crt, pki/etcd/ca.key (the cluster CA from controller-0/var/lib/kubernetes/ca.pem: the tutorial's etcd trusts it)",
        "pki/sa.key, pki/sa.pub (from controller-0/var/lib/kubernetes/service-account-key.pem)",
        "hosts/controller-1/controller-manager.crt (from controller-1/var/lib/kubernetes/kube-controller-manager.kubeconfig)",
        "hosts/controller-2/scheduler.crt (from controller-2/var/lib/kubernetes/kube-scheduler.kubeconfig)",
        "hosts/worker-0/kubelet-client.crt (from worker-0/var/lib/kubelet/kubeconfig)",
        "hosts/worker-0/kubelet-serving.crt (from worker-0/var/lib/kubelet/worker-0.pem)",
        "hosts/worker-1/kube-proxy.crt (from worker-1/var/lib/kube-proxy/kubeconfig)",
        "secrets/encryption-key (the cluster's key `key1`, which encrypts first)",
        "etcd/members.json",
    ] {
        assert!(kept.contains(&expected), "kept: {expected}\n{kept:#?}");
    }

    // diff of every host lists exactly what adopt reported.
    let reported = triples(None, &adopted["changes"]);
    let mut diffed = BTreeSet::new();
    for host in hosts() {
        let root = format!("roots/{host}");
        let output = run_kcompile(
            temp.path(),
            &[
                "diff",
                "--host",
                host,
                "--root",
                &root,
                "-f",
                "cluster.yaml",
                "-o",
                "json",
            ],
        );
        assert!(
            matches!(output.status.code(), Some(0 | 1)),
            "{}",
            stderr(&output)
        );
        diffed.extend(triples(Some(host), &json(&output)["changes"]));
    }
    assert_eq!(reported, diffed, "adopt lists exactly what diff shows");

    // Every certificate, key or encryption config among the changes: the cluster's own bytes at
    // kcompile's path, or a reissue adopt gave its reason for.
    let build = run_kcompile(temp.path(), &["build", "--all", "--out", "out"]);
    assert_eq!(build.status.code(), Some(0), "{}", stderr(&build));
    let out = temp.path().join("out");
    let mut moved = 0;
    let mut reissued = BTreeSet::new();
    for change in adopted["changes"].as_array().unwrap() {
        let (host, path) = (
            change["host"].as_str().unwrap(),
            change["path"].as_str().unwrap(),
        );
        let reason = change["reason"].as_str().unwrap();
        assert!(!reason.is_empty(), "{change}");
        if !is_key_material(path) {
            continue;
        }
        if reason.starts_with(
            "the cluster's EncryptionConfiguration, byte for byte at its own path; mode ",
        ) {
            assert_eq!(
                std::fs::read(out.join(host).join(path)).unwrap(),
                std::fs::read(roots.join(host).join(path)).unwrap(),
                "only the mode of {host}/{path} changes"
            );
            continue;
        }
        assert_eq!(
            change["action"], "add",
            "nothing of the cluster's is replaced: {change}"
        );
        if let Some(rest) = reason.strip_prefix("kept: the cluster's ") {
            let from = rest.split(',').next().unwrap();
            assert_eq!(
                std::fs::read(out.join(host).join(path)).unwrap(),
                std::fs::read(roots.join(host).join(from)).unwrap(),
                "{host}/{path} is {from}, byte for byte"
            );
            moved += 1;
        } else if path.ends_with("encryption-config.yaml") {
            assert!(
                reason.contains("the cluster's EncryptionConfiguration"),
                "{reason}"
            );
        } else if path.ends_with("sa.pub") {
            assert!(
                reason.contains("public half of the cluster's service-account key"),
                "{reason}"
            );
        } else if path.contains("front-proxy-ca.") {
            assert!(
                reason.starts_with("a new CA: the cluster has no aggregation layer"),
                "{reason}"
            );
        } else {
            assert!(
                reason.starts_with(
                    "a certificate kcompile issues, because the cluster's is not kept: "
                ),
                "{host}/{path}: {reason}"
            );
            reissued.insert(format!("{host}/{path}"));
        }
    }
    // CA, etcd CA, SA key and the three controllers' CA keys; the workers' serving pairs.
    assert!(moved >= 14, "{moved} files kept byte for byte");
    for (host, _) in CONTROLLERS {
        for file in [
            "apiserver.crt",
            "apiserver-kubelet-client.crt",
            "etcd/server.crt",
            "etcd/peer.crt",
        ] {
            assert!(
                reissued.contains(&format!("{host}/etc/kubernetes/pki/{file}")),
                "{host}: {file}"
            );
        }
    }
    for (host, _, _) in WORKERS {
        assert!(
            !reissued
                .iter()
                .any(|path| path.starts_with(&format!("{host}/"))),
            "nothing of {host} is reissued: {reissued:#?}"
        );
    }
    let listing = serde_json::to_string_pretty(&adopted["changes"]).unwrap();
    for reason in [
        "controller-0/var/lib/kubernetes/kubernetes.pem: lacks SANs DNS:controller-0",
        "controller-0/var/lib/kubernetes/kubernetes.pem: its CN is `kubernetes`, kcompile's is `kube-apiserver-kubelet-client`",
        "controller-0/etc/etcd/kubernetes.pem: lacks SANs DNS:controller-0",
        "embedding the same certificate and key as the cluster's var/lib/kubelet/kubeconfig",
        "embedding the same certificate and key as the cluster's var/lib/kubernetes/kube-scheduler.kubeconfig",
        "with a certificate kcompile issues because the cluster's is not kept: the tutorial keeps admin.kubeconfig in the home directory",
    ] {
        assert!(listing.contains(reason), "{reason}\n{listing}");
    }

    // The static pods run with the units' flags.
    let apiserver = read(&out.join("controller-1/etc/kubernetes/manifests/kube-apiserver.yaml"));
    for flag in [
        "--advertise-address=10.240.0.11",
        "--runtime-config=api/all=true",
        "--event-ttl=1h",
        "--apiserver-count=3",
        "--authorization-mode=Node,RBAC",
        "--service-account-issuer=https://203.0.113.10:6443",
    ] {
        assert!(apiserver.contains(flag), "{flag}:\n{apiserver}");
    }
    let etcd = read(&out.join("controller-2/etc/kubernetes/manifests/etcd.yaml"));
    for flag in [
        "--name=controller-2",
        "--data-dir=/var/lib/etcd",
        "--initial-cluster-state=new",
        "--initial-cluster=controller-0=https://10.240.0.10:2380,controller-1=https://10.240.0.11:2380,controller-2=https://10.240.0.12:2380",
    ] {
        assert!(etcd.contains(flag), "{flag}:\n{etcd}");
    }
    // The encryption key the cluster had is the first key of the adopted configuration.
    let config = read(&out.join("controller-0").join(ENCRYPTION_CONFIG));
    let rendered: Value = serde_saphyr::from_str(&config).unwrap();
    let cluster: Value = serde_saphyr::from_str(&encryption_config()).unwrap();
    assert_eq!(
        rendered, cluster,
        "the adopted configuration is the cluster's:\n{config}"
    );
    assert_eq!(
        rendered["resources"][0]["providers"][0]["aescbc"]["keys"][0]["secret"],
        ENCRYPTION_KEY
    );

    // The cut-over: one host per wave, controllers first, each unit stopped and disabled.
    let cutover = adopted["cutover"].as_array().unwrap();
    let order: Vec<&str> = cutover
        .iter()
        .map(|step| step["host"].as_str().unwrap())
        .collect();
    assert_eq!(order, hosts());
    for (index, step) in cutover.iter().enumerate() {
        assert_eq!(step["wave"], index + 1);
    }
    let first = cutover[0]["actions"].to_string();
    for action in [
        "apply the RBAC objects of etc/kubernetes/addons/",
        "install containerd, runc, the CNI plugins and the kubelet binary",
        "systemctl disable --now etcd.service kube-apiserver.service kube-controller-manager.service kube-scheduler.service",
        "wait until `etcdctl endpoint health` passes",
    ] {
        assert!(first.contains(action), "{action}: {first}");
    }
    // kcompile's own plan rolls the controllers one at a time too.
    let plan = run_kcompile(temp.path(), &["plan", "--roots", "roots", "-o", "json"]);
    assert_eq!(plan.status.code(), Some(1), "{}", stderr(&plan));
    for wave in json(&plan)["waves"].as_array().unwrap() {
        let hosts: Vec<&str> = wave["hosts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|host| host["host"].as_str().unwrap())
            .collect();
        if hosts.iter().any(|host| host.starts_with("controller-")) {
            assert_eq!(hosts.len(), 1, "one controller at a time: {wave}");
        }
    }
    let worker = cutover[3]["actions"].to_string();
    assert!(
        worker.contains("systemctl disable --now kube-proxy.service"),
        "{worker}"
    );
    assert!(!worker.contains("install containerd"), "{worker}");
}

#[test]
fn what_adopt_cannot_take_over_from_a_tutorial_cluster_stops_it_naming_the_file() {
    let temp = tempfile::tempdir().unwrap();
    let roots = temp.path().join("roots");
    tutorial_cluster(&roots);
    let refused = |output: std::process::Output, message: &str| {
        assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
        assert!(
            stderr(&output).contains(message),
            "{message}\n{}",
            stderr(&output)
        );
        assert!(!stderr(&output).contains(ENCRYPTION_KEY));
        assert!(
            !temp.path().join("cluster.yaml").exists(),
            "no spec is written"
        );
        assert!(
            !temp.path().join("cluster.state").exists(),
            "no state is written"
        );
    };
    // The binaries' release is not in the copy.
    refused(
        run_kcompile(
            temp.path(),
            &["adopt", "--roots", "roots", "-f", "cluster.yaml"],
        ),
        "controller-0/etc/systemd/system/kube-apiserver.service: cannot be adopted: it runs /usr/local/bin/kube-apiserver from the host, whose release a copy of its files cannot tell: pass --kubernetes-version",
    );
    // A missing CA key: kcompile could not sign what it must issue.
    let ca_key = roots.join("controller-0/var/lib/kubernetes/ca-key.pem");
    let saved = read(&ca_key);
    std::fs::remove_file(&ca_key).unwrap();
    refused(
        adopt(temp.path(), "cluster.yaml", false),
        "controller-0/var/lib/kubernetes/ca-key.pem: cannot be read: absent; it is the cluster CA's key",
    );
    write(&ca_key, &saved);
    // A unit without a command, a scheduler configuration its unit names but the copy lacks.
    let unit = roots.join("controller-1/etc/systemd/system/kube-scheduler.service");
    let saved = read(&unit);
    write(&unit, "[Unit]\nDescription=Kubernetes Scheduler\n");
    refused(
        adopt(temp.path(), "cluster.yaml", false),
        "controller-1/etc/systemd/system/kube-scheduler.service: cannot be adopted: no ExecStart= command",
    );
    write(&unit, &saved);
    let config = roots.join("controller-2/etc/kubernetes/config/kube-scheduler.yaml");
    let saved = read(&config);
    std::fs::remove_file(&config).unwrap();
    refused(
        adopt(temp.path(), "cluster.yaml", false),
        "controller-2/etc/kubernetes/config/kube-scheduler.yaml: cannot be read: absent, though its unit passes it with --config",
    );
    write(&config, &saved);
    // A service-account verifying key that is not the signing key's.
    let verifying = roots.join("controller-0/var/lib/kubernetes/service-account.pem");
    let saved = read(&verifying);
    std::fs::copy(
        roots.join("controller-0/var/lib/kubernetes/kubernetes.pem"),
        &verifying,
    )
    .unwrap();
    refused(
        adopt(temp.path(), "cluster.yaml", false),
        "controller-0/var/lib/kubernetes/service-account.pem: cannot be adopted: the kube-apiserver verifies service-account tokens with a key other than var/lib/kubernetes/service-account-key.pem",
    );
    write(&verifying, &saved);
    // etcd trusting another CA.
    let other = temp.path().join("other");
    std::fs::create_dir_all(&other).unwrap();
    let openssl = |args: &[&str]| {
        let status = std::process::Command::new("openssl")
            .current_dir(&other)
            .args(args)
            .output()
            .unwrap();
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
    };
    openssl(&["genrsa", "-traditional", "-out", "other-key.pem", "2048"]);
    openssl(&[
        "req",
        "-x509",
        "-key",
        "other-key.pem",
        "-days",
        "365",
        "-subj",
        "/CN=other",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign",
        "-out",
        "other.pem",
    ]);
    // A CA key that is not the CA's.
    let ca_key_saved = read(&ca_key);
    std::fs::copy(other.join("other-key.pem"), &ca_key).unwrap();
    refused(
        adopt(temp.path(), "cluster.yaml", false),
        "controller-0/var/lib/kubernetes/ca-key.pem: cannot be adopted: not the key of var/lib/kubernetes/ca.pem",
    );
    write(&ca_key, &ca_key_saved);
    // A worker whose certificate names no private address (and whose unit passes no --node-ip).
    let lib = roots.join("controller-0/var/lib/kubernetes");
    for file in ["ca.pem", "ca-key.pem"] {
        std::fs::copy(lib.join(file), other.join(file)).unwrap();
    }
    leaf(
        &other,
        "ca",
        "worker-1",
        "/O=system:nodes/CN=system:node:worker-1",
        &["worker-1", "198.51.100.21"],
    );
    let kubelet = roots.join("worker-1/var/lib/kubelet");
    let saved_pair = (
        read(&kubelet.join("worker-1.pem")),
        read(&kubelet.join("worker-1-key.pem")),
    );
    for file in ["worker-1.pem", "worker-1-key.pem"] {
        std::fs::copy(other.join(file), kubelet.join(file)).unwrap();
    }
    refused(
        adopt(temp.path(), "cluster.yaml", false),
        "worker-1/var/lib/kubelet/worker-1.pem: cannot be adopted: no node address: its SANs hold 0 private IP addresses, not one; add --node-ip=ADDRESS to the kubelet's unit",
    );
    write(&kubelet.join("worker-1.pem"), &saved_pair.0);
    write(&kubelet.join("worker-1-key.pem"), &saved_pair.1);
    let etcd_ca = roots.join("controller-0/etc/etcd/ca.pem");
    let saved = read(&etcd_ca);
    std::fs::copy(other.join("other.pem"), &etcd_ca).unwrap();
    refused(
        adopt(temp.path(), "cluster.yaml", false),
        "controller-0/etc/etcd/ca.pem: cannot be adopted: etcd's --trusted-ca-file is not the cluster CA",
    );
    write(&etcd_ca, &saved);
    // The tutorial's v1.21 encryption config kind, which v1.33 no longer reads.
    for (name, _) in CONTROLLERS {
        write(
            &roots.join(name).join(ENCRYPTION_CONFIG),
            encryption_config()
                .replace("kind: EncryptionConfiguration", "kind: EncryptionConfig")
                .replace("apiserver.config.k8s.io/v1", "v1"),
        );
    }
    refused(
        adopt(temp.path(), "cluster.yaml", false),
        "controller-0/var/lib/kubernetes/encryption-config.yaml: cannot be adopted",
    );
    for (name, _) in CONTROLLERS {
        write(
            &roots.join(name).join(ENCRYPTION_CONFIG),
            encryption_config(),
        );
    }
    // A leaf signed by another CA (a kubelet serving certificate of its own) is not kept: adopt
    // goes on, names the file and says kcompile reissues it.
    leaf(
        &other,
        "other",
        "worker-0-serving",
        "/CN=system:node:worker-0/O=system:nodes",
        &["worker-0", "10.240.0.20"],
    );
    for file in ["worker-0-serving.pem", "worker-0-serving-key.pem"] {
        std::fs::copy(
            other.join(file),
            roots.join("worker-0/var/lib/kubelet").join(file),
        )
        .unwrap();
    }
    let config = roots.join("worker-0/var/lib/kubelet/kubelet-config.yaml");
    write(
        &config,
        read(&config)
            .replace("worker-0.pem", "worker-0-serving.pem")
            .replace("worker-0-key.pem", "worker-0-serving-key.pem"),
    );
    let output = adopt(temp.path(), "cluster.yaml", true);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let changes = json(&output)["changes"].clone();
    let serving = changes
        .as_array()
        .unwrap()
        .iter()
        .find(|change| {
            change["host"] == "worker-0" && change["path"] == "var/lib/kubelet/pki/kubelet.crt"
        })
        .unwrap();
    assert_eq!(
        serving["reason"],
        "a certificate kcompile issues, because the cluster's is not kept: worker-0/var/lib/kubelet/worker-0-serving.pem: not signed by ca"
    );
}
