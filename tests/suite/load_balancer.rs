//! The load balancers kcompile runs in front of the apiservers, for examples/ha-3-masters.yaml with
//! each `loadBalancer.kind` (spec variants written here; the example itself stays as the golden
//! files need it). Every host is built, then:
//!
//! - the rendered haproxy.cfg passes `haproxy -c -f` and keepalived.conf passes
//!   `keepalived --config-test`: Debian's haproxy and keepalived, installed by
//!   `.ci/install-lb.sh`;
//! - which hosts get which files and pods, keepalived's per-host state and priority and its shared
//!   router id and password, kube-vip's kubeconfig (super-admin.conf on the first control plane);
//! - local-proxy: the workers' kubelet and kube-proxy dial 127.0.0.1, and every apiserver
//!   certificate holds the IP SAN 127.0.0.1;
//! - a config change changes only the files that depend on it, the pod's config hash among them;
//! - with `rootless`, the pods' confinement, resources and probes, and a rootless keepalived run
//!   as its manifest says (command, capabilities, read-only root, tmpfs `/run`) in a network
//!   namespace takes the VIP (needs root, `ip netns`, `unshare`, `setpriv`);
//! - `src/versions/image_users.tsv` is what `scripts/image_users.py` makes of its saved reads.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{self, Spec, netns};
use serde_json::Value;
use tempfile::TempDir;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

const MASTERS: [(&str, &str); 3] = [
    ("master01", "10.0.0.11"),
    ("master02", "10.0.0.12"),
    ("master03", "10.0.0.13"),
];
const WORKERS: [&str; 2] = ["worker01", "worker02"];
const VIP: &str = "10.0.0.100";
const INSTALL_HINT: &str = "install it with `bash .ci/install-lb.sh` (as root)";

const HAPROXY_CFG: &str = "etc/haproxy/haproxy.cfg";
const KEEPALIVED_CONF: &str = "etc/keepalived/keepalived.conf";
const CHECK_SCRIPT: &str = "etc/keepalived/check_apiserver.sh";
const MANIFESTS: &str = "etc/kubernetes/manifests";

/// The HA example with the control-plane endpoint on `port` and `load_balancer` (the YAML of the
/// `loadBalancer` mapping).
fn variant(port: u16, load_balancer: &str) -> Spec {
    Spec::example("ha-3-masters")
        .set("controlPlaneEndpoint.port", port)
        .set_yaml("loadBalancer", load_balancer)
}

fn keepalived_spec() -> Spec {
    variant(8443, "{ kind: keepalived-haproxy, interface: eth0 }")
}

fn kube_vip_spec() -> Spec {
    variant(6443, "{ kind: kube-vip, interface: eth0 }")
}

fn local_proxy_spec() -> Spec {
    variant(6443, "{ kind: local-proxy, localPort: 7443 }")
}

/// A temp dir with a spec, its state dir and builds of every host.
struct Workspace {
    dir: TempDir,
}

impl Workspace {
    fn new(spec: &Spec) -> Workspace {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("cluster.yaml"), spec.yaml()).unwrap();
        Workspace { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Sets `path` in the workspace's spec to `value`.
    fn edit_spec(&self, path: &str, value: impl serde::Serialize) {
        let spec = Spec::parse(&fs::read_to_string(self.path("cluster.yaml")).unwrap());
        fs::write(self.path("cluster.yaml"), spec.set(path, value).yaml()).unwrap();
    }

    /// Builds every host into `out/<host>`.
    fn build(&self, out: &str) -> Build {
        let output = common::kcompile(self.dir.path())
            .args(["build", "-f", "cluster.yaml", "--state", "state", "--all"])
            .args(["--out", out])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "build failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        Build {
            root: self.path(out),
        }
    }
}

/// One build of every host.
struct Build {
    root: PathBuf,
}

impl Build {
    fn host(&self, host: &str) -> PathBuf {
        self.root.join(host)
    }

    fn has(&self, host: &str, path: &str) -> bool {
        self.host(host).join(path).is_file()
    }

    fn text(&self, host: &str, path: &str) -> String {
        fs::read_to_string(self.host(host).join(path))
            .unwrap_or_else(|e| panic!("{host}:/{path}: {e}"))
    }

    fn mode(&self, host: &str, path: &str) -> u32 {
        fs::metadata(self.host(host).join(path))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    }

    fn yaml(&self, host: &str, path: &str) -> Value {
        serde_saphyr::from_str(&self.text(host, path))
            .unwrap_or_else(|e| panic!("{host}:/{path}: not YAML: {e}"))
    }

    /// The static pods of `host`, by file stem.
    fn pods(&self, host: &str) -> Vec<String> {
        let mut pods: Vec<String> = fs::read_dir(self.host(host).join(MANIFESTS))
            .unwrap()
            .map(|entry| {
                let name = entry.unwrap().file_name().to_string_lossy().into_owned();
                name.trim_end_matches(".yaml").to_owned()
            })
            .collect();
        pods.sort();
        pods
    }

    /// Every file of `host` (relative path → bytes and mode) but its INPUTS stamp
    /// (`common::bundle_files`).
    fn files(&self, host: &str) -> BTreeMap<String, (Vec<u8>, u32)> {
        common::bundle_files(&self.host(host))
    }

    /// The server of a kubeconfig of `host`.
    fn server(&self, host: &str, kubeconfig: &str) -> String {
        let config = self.yaml(host, &format!("etc/kubernetes/{kubeconfig}"));
        config
            .pointer("/clusters/0/cluster/server")
            .and_then(Value::as_str)
            .unwrap_or_else(|| panic!("{host}: {kubeconfig} names no server"))
            .to_owned()
    }

    fn config_hash(&self, host: &str, pod: &str) -> String {
        let pod = self.yaml(host, &format!("{MANIFESTS}/{pod}.yaml"));
        pod.pointer("/metadata/annotations/kcompile.io~1config-hash")
            .and_then(Value::as_str)
            .expect("a config-hash annotation")
            .to_owned()
    }
}

/// The files that differ between two builds of `host` (added, removed or changed), but the
/// MANIFEST, which names the spec's hash and so changes on every host with any spec change.
fn changed(before: &Build, after: &Build, host: &str) -> Vec<String> {
    let (old, new) = (before.files(host), after.files(host));
    let mut paths: Vec<String> = old
        .keys()
        .chain(new.keys())
        .filter(|path| old.get(*path) != new.get(*path) && !path.ends_with("kcompile/MANIFEST"))
        .cloned()
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

/// Runs a checker; panics with its output unless it succeeds.
fn check(program: &str, args: &[&str], what: &str) -> String {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} is not installed ({e}): {INSTALL_HINT}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "{what}: `{program} {}` failed ({}):\n{text}",
        args.join(" "),
        output.status
    );
    text
}

/// `haproxy -c -f`: valid, and without a warning.
fn haproxy_accepts(path: &Path, what: &str) {
    let output = check("haproxy", &["-c", "-f", path.to_str().unwrap()], what);
    assert!(
        !output.contains("[WARNING]") && !output.contains("[ALERT]"),
        "{what}: haproxy warns:\n{output}"
    );
}

/// `keepalived --config-test`. keepalived disables (and the test fails on) a `vrrp_script` whose
/// script does not exist, so the check runs on a copy whose `script` line names a copy of the
/// rendered check script; the rendered path, /`etc/keepalived/check_apiserver.sh`, is checked by
/// the caller.
fn keepalived_accepts(build: &Build, host: &str, scratch: &Path) {
    let dir = scratch.join(format!("keepalived-{host}"));
    fs::create_dir_all(&dir).unwrap();
    // keepalived's script security refuses scripts in directories others may write.
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
    let script = dir.join("check_apiserver.sh");
    fs::write(&script, build.text(host, CHECK_SCRIPT)).unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let config = build.text(host, KEEPALIVED_CONF);
    let rendered_script = format!("script \"/{CHECK_SCRIPT}\"");
    assert!(config.contains(&rendered_script), "{host}: {config}");
    let copy = dir.join("keepalived.conf");
    fs::write(
        &copy,
        config.replace(
            &rendered_script,
            &format!("script \"{}\"", script.display()),
        ),
    )
    .unwrap();
    let output = check(
        "keepalived",
        &[
            "--config-test",
            "--log-console",
            "-f",
            copy.to_str().unwrap(),
        ],
        &format!("{host}: keepalived.conf"),
    );
    assert!(
        !output.contains("Disabling") && !output.contains("Unknown keyword"),
        "{host}: keepalived complains:\n{output}"
    );
}

/// The value after `key ` on the line of `config` that starts with it (after indentation).
fn setting<'a>(config: &'a str, key: &str) -> &'a str {
    config
        .lines()
        .find_map(|line| line.trim().strip_prefix(&format!("{key} ")))
        .unwrap_or_else(|| panic!("no `{key}` in:\n{config}"))
        .trim()
}

fn env<'a>(pod: &'a Value, name: &str) -> Option<&'a str> {
    pod.pointer("/spec/containers/0/env")?
        .as_array()?
        .iter()
        .find(|var| var["name"] == name)?
        .get("value")?
        .as_str()
}

fn apiserver_ip_sans(build: &Build, host: &str) -> Vec<String> {
    let pem =
        pem::parse(fs::read(build.host(host).join("etc/kubernetes/pki/apiserver.crt")).unwrap())
            .unwrap();
    let (_, cert) = X509Certificate::from_der(pem.contents()).unwrap();
    cert.subject_alternative_name()
        .unwrap()
        .unwrap()
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::IPAddress(bytes) if bytes.len() == 4 => {
                Some(std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn keepalived_haproxy_on_every_control_plane() {
    let workspace = Workspace::new(&keepalived_spec());
    let build = workspace.build("out");
    let password = fs::read_to_string(workspace.path("state/secrets/vrrp-password")).unwrap();
    let password = password.trim();
    assert!(
        password.len() == 8
            && password
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()),
        "the VRRP password is 8 characters of [a-z0-9]"
    );
    for (index, (host, _)) in MASTERS.iter().enumerate() {
        assert_eq!(
            build.pods(host),
            [
                "etcd",
                "haproxy",
                "keepalived",
                "kube-apiserver",
                "kube-controller-manager",
                "kube-proxy",
                "kube-scheduler"
            ],
            "{host}"
        );
        // haproxy: the endpoint's port, every apiserver with HTTPS /healthz checks.
        haproxy_accepts(&build.host(host).join(HAPROXY_CFG), host);
        let haproxy = build.text(host, HAPROXY_CFG);
        assert_eq!(setting(&haproxy, "bind"), "*:8443", "{host}");
        for line in [
            "option httpchk",
            "http-check connect ssl",
            "http-check send meth GET uri /healthz",
            "http-check expect status 200",
            "balance roundrobin",
            "default-server inter 10s downinter 5s rise 2 fall 2 slowstart 60s maxconn 250 maxqueue 256 weight 100",
        ] {
            assert!(
                haproxy.lines().any(|l| l.trim() == line),
                "{host}: no `{line}`"
            );
        }
        for (name, address) in MASTERS {
            let server = format!("server {name} {address}:6443 check check-ssl verify none");
            assert!(
                haproxy.lines().any(|l| l.trim() == server),
                "{host}: no `{server}`"
            );
        }
        // keepalived: per-host state and priority; router id, password and VIP shared.
        keepalived_accepts(&build, host, workspace.dir.path());
        let keepalived = build.text(host, KEEPALIVED_CONF);
        let (state, priority) = if index == 0 {
            ("MASTER", "101")
        } else {
            ("BACKUP", if index == 1 { "100" } else { "99" })
        };
        assert_eq!(setting(&keepalived, "state"), state, "{host}");
        assert_eq!(setting(&keepalived, "priority"), priority, "{host}");
        assert_eq!(setting(&keepalived, "interface"), "eth0", "{host}");
        assert_eq!(setting(&keepalived, "virtual_router_id"), "51", "{host}");
        assert_eq!(setting(&keepalived, "auth_pass"), password, "{host}");
        assert!(
            keepalived.lines().any(|l| l.trim() == format!("{VIP}/32")),
            "{host}: the VIP"
        );
        assert_eq!(
            build.mode(host, KEEPALIVED_CONF),
            0o600,
            "{host}: it holds a secret"
        );
        assert_eq!(build.mode(host, CHECK_SCRIPT), 0o755, "{host}");
        let script = build.text(host, CHECK_SCRIPT);
        assert!(script.starts_with("#!/bin/sh\n"));
        assert!(
            script.contains("https://localhost:8443/")
                && script.contains(&format!("https://{VIP}:8443/"))
        );
        // The pods mount what they read, read-only; keepalived may manage addresses.
        let pod = build.yaml(host, &format!("{MANIFESTS}/keepalived.yaml"));
        assert_eq!(
            pod.pointer("/spec/containers/0/securityContext/capabilities/add"),
            Some(&serde_json::json!([
                "NET_ADMIN",
                "NET_BROADCAST",
                "NET_RAW"
            ]))
        );
        assert_eq!(pod.pointer("/spec/hostNetwork"), Some(&Value::Bool(true)));
        let paths: Vec<&str> = pod["spec"]["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|v| v["hostPath"]["path"].as_str())
            .collect();
        assert_eq!(
            paths,
            [format!("/{CHECK_SCRIPT}"), format!("/{KEEPALIVED_CONF}")]
        );
        // Every host path read-only; the one writable mount is the in-memory /run.
        let writable: Vec<&Value> = pod["spec"]["containers"][0]["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["readOnly"] != true)
            .map(|m| &m["mountPath"])
            .collect();
        assert_eq!(writable, [&serde_json::json!("/run")]);
        let pod = build.yaml(host, &format!("{MANIFESTS}/haproxy.yaml"));
        assert_eq!(
            pod.pointer("/spec/volumes/0/hostPath/path")
                .and_then(Value::as_str),
            Some("/etc/haproxy/haproxy.cfg")
        );
        assert_eq!(
            pod.pointer("/spec/containers/0/volumeMounts/0/readOnly"),
            Some(&Value::Bool(true))
        );
    }
    for host in WORKERS {
        assert!(!build.has(host, HAPROXY_CFG) && !build.has(host, KEEPALIVED_CONF));
        assert_eq!(build.pods(host), ["kube-proxy"], "{host}");
        assert_eq!(
            build.server(host, "kubelet.conf"),
            format!("https://{VIP}:8443")
        );
        assert_eq!(
            build.server(host, "kube-proxy.conf"),
            format!("https://{VIP}:8443")
        );
    }
}

#[test]
fn kube_vip_gives_the_first_control_plane_super_admin() {
    let workspace = Workspace::new(&kube_vip_spec());
    let build = workspace.build("out");
    for (index, (host, _)) in MASTERS.iter().enumerate() {
        assert!(build.pods(host).contains(&"kube-vip".to_owned()), "{host}");
        assert!(!build.has(host, HAPROXY_CFG) && !build.has(host, KEEPALIVED_CONF));
        let pod = build.yaml(host, &format!("{MANIFESTS}/kube-vip.yaml"));
        let kubeconfig = if index == 0 {
            "/etc/kubernetes/super-admin.conf"
        } else {
            "/etc/kubernetes/admin.conf"
        };
        assert_eq!(
            pod.pointer("/spec/volumes/0/hostPath/path")
                .and_then(Value::as_str),
            Some(kubeconfig),
            "{host}"
        );
        assert!(
            build.has(host, &kubeconfig[1..]),
            "{host}: {kubeconfig} is in the bundle"
        );
        assert_eq!(
            pod.pointer("/spec/containers/0/volumeMounts/0/mountPath")
                .and_then(Value::as_str),
            Some("/etc/kubernetes/admin.conf"),
            "kube-vip reads admin.conf"
        );
        for (name, value) in [
            ("vip_arp", "true"),
            ("cp_enable", "true"),
            ("vip_leaderelection", "true"),
            ("vip_interface", "eth0"),
            ("address", VIP),
            ("port", "6443"),
        ] {
            assert_eq!(env(&pod, name), Some(value), "{host}: env {name}");
        }
        assert_eq!(
            pod.pointer("/spec/containers/0/args"),
            Some(&serde_json::json!(["manager"]))
        );
        assert_eq!(pod.pointer("/spec/hostNetwork"), Some(&Value::Bool(true)));
        assert!(!apiserver_ip_sans(&build, host).contains(&"127.0.0.1".to_owned()));
    }
    for host in WORKERS {
        assert_eq!(build.pods(host), ["kube-proxy"], "{host}");
        assert_eq!(
            build.server(host, "kubelet.conf"),
            format!("https://{VIP}:6443")
        );
    }
}

#[test]
fn local_proxy_on_every_worker() {
    let workspace = Workspace::new(&local_proxy_spec());
    let build = workspace.build("out");
    for host in WORKERS {
        assert_eq!(build.pods(host), ["haproxy", "kube-proxy"], "{host}");
        haproxy_accepts(&build.host(host).join(HAPROXY_CFG), host);
        let haproxy = build.text(host, HAPROXY_CFG);
        assert_eq!(setting(&haproxy, "bind"), "127.0.0.1:7443", "{host}");
        assert!(haproxy.contains("http-check send meth GET uri /healthz"));
        for (name, address) in MASTERS {
            let server = format!("server {name} {address}:6443 check check-ssl verify none");
            assert!(
                haproxy.lines().any(|l| l.trim() == server),
                "{host}: no `{server}`"
            );
        }
        assert!(!build.has(host, KEEPALIVED_CONF));
        for kubeconfig in ["kubelet.conf", "kube-proxy.conf"] {
            assert_eq!(
                build.server(host, kubeconfig),
                "https://127.0.0.1:7443",
                "{host}: {kubeconfig}"
            );
        }
    }
    for (host, address) in MASTERS {
        assert!(
            !build.has(host, HAPROXY_CFG),
            "{host}: has an apiserver, needs no proxy"
        );
        assert!(!build.pods(host).contains(&"haproxy".to_owned()));
        assert_eq!(
            build.server(host, "kubelet.conf"),
            format!("https://{address}:6443")
        );
        assert!(
            apiserver_ip_sans(&build, host).contains(&"127.0.0.1".to_owned()),
            "{host}: the apiserver certificate names 127.0.0.1"
        );
    }
}

#[test]
fn a_config_change_changes_the_pod_hash_and_nothing_else() {
    let workspace = Workspace::new(&keepalived_spec());
    let before = workspace.build("before");
    workspace.edit_spec("loadBalancer.virtualRouterId", 52);
    let after = workspace.build("after");
    for (host, _) in MASTERS {
        assert_eq!(
            setting(&after.text(host, KEEPALIVED_CONF), "virtual_router_id"),
            "52"
        );
        assert_ne!(
            before.config_hash(host, "keepalived"),
            after.config_hash(host, "keepalived"),
            "{host}: keepalived restarts"
        );
        assert_eq!(
            before.config_hash(host, "haproxy"),
            after.config_hash(host, "haproxy"),
            "{host}: haproxy does not"
        );
        assert_eq!(
            changed(&before, &after, host),
            [
                "etc/keepalived/keepalived.conf",
                "etc/kubernetes/manifests/keepalived.yaml"
            ],
            "{host}"
        );
    }
    for host in WORKERS {
        assert_eq!(changed(&before, &after, host), [] as [&str; 0], "{host}");
    }

    // local-proxy: another port changes the workers' proxy, its pod and what dials it.
    let workspace = Workspace::new(&local_proxy_spec());
    let before = workspace.build("before");
    workspace.edit_spec("loadBalancer.localPort", 7444);
    let after = workspace.build("after");
    for host in WORKERS {
        assert_ne!(
            before.config_hash(host, "haproxy"),
            after.config_hash(host, "haproxy"),
            "{host}"
        );
        assert_eq!(after.server(host, "kubelet.conf"), "https://127.0.0.1:7444");
        assert_eq!(
            changed(&before, &after, host),
            [
                "etc/haproxy/haproxy.cfg",
                "etc/kubernetes/kube-proxy.conf",
                "etc/kubernetes/kubelet.conf",
                "etc/kubernetes/manifests/haproxy.yaml",
                "etc/kubernetes/manifests/kube-proxy.yaml"
            ],
            "{host}"
        );
    }
    for (host, _) in MASTERS {
        assert_eq!(changed(&before, &after, host), [] as [&str; 0], "{host}");
    }
}

/// The container `securityContext` of `pod` on `host`.
fn security_context(build: &Build, host: &str, pod: &str) -> Value {
    build.yaml(host, &format!("{MANIFESTS}/{pod}.yaml"))["spec"]["containers"][0]["securityContext"]
        .clone()
}

#[test]
fn rootless_load_balancer_pods_run_with_the_fewest_privileges() {
    // rootless (on in the example's hardened profile), port 8443: haproxy as the image's user
    // (uid 99), nothing added; keepalived root with only what VRRP and the VIP need.
    let workspace = Workspace::new(&keepalived_spec());
    let build = workspace.build("out");
    let haproxy = security_context(&build, "master01", "haproxy");
    assert_eq!(haproxy["runAsUser"], 99, "{haproxy}");
    assert_eq!(haproxy["runAsGroup"], 99, "{haproxy}");
    assert_eq!(haproxy["runAsNonRoot"], true, "{haproxy}");
    assert_eq!(haproxy["allowPrivilegeEscalation"], false, "{haproxy}");
    assert_eq!(haproxy["readOnlyRootFilesystem"], true, "{haproxy}");
    assert_eq!(haproxy["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert!(haproxy["capabilities"]["add"].is_null(), "{haproxy}");
    let keepalived = security_context(&build, "master01", "keepalived");
    assert!(keepalived["runAsUser"].is_null(), "{keepalived}");
    assert_eq!(keepalived["readOnlyRootFilesystem"], true, "{keepalived}");
    assert_eq!(
        keepalived["allowPrivilegeEscalation"], false,
        "{keepalived}"
    );
    assert_eq!(
        keepalived["capabilities"]["drop"],
        serde_json::json!(["ALL"])
    );
    assert_eq!(
        keepalived["capabilities"]["add"],
        serde_json::json!(["NET_ADMIN", "NET_BROADCAST", "NET_RAW"])
    );
    // The haproxy user reads its config (root's, 0644).
    assert_eq!(build.mode("master01", HAPROXY_CFG), 0o644);

    // Port 443: haproxy needs root's CAP_NET_BIND_SERVICE, and only that.
    let workspace = Workspace::new(&variant(
        443,
        "{ kind: keepalived-haproxy, interface: eth0 }",
    ));
    let build = workspace.build("out");
    let haproxy = security_context(&build, "master01", "haproxy");
    assert!(haproxy["runAsUser"].is_null(), "{haproxy}");
    assert_eq!(haproxy["allowPrivilegeEscalation"], false, "{haproxy}");
    assert_eq!(haproxy["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert_eq!(
        haproxy["capabilities"]["add"],
        serde_json::json!(["NET_BIND_SERVICE"])
    );

    // rootless off: the images' own shapes.
    let workspace = Workspace::new(&keepalived_spec().set("rootless.enabled", false));
    let build = workspace.build("out");
    assert!(security_context(&build, "master01", "haproxy").is_null());
    let keepalived = security_context(&build, "master01", "keepalived");
    assert!(keepalived["capabilities"]["drop"].is_null(), "{keepalived}");
    // The image's own entrypoint, as the Kubernetes HA guide runs it.
    assert!(container(&build, "master01", "keepalived")["command"].is_null());
    assert!(
        keepalived["allowPrivilegeEscalation"].is_null(),
        "{keepalived}"
    );
}

/// The container of `pod` on `host`.
fn container(build: &Build, host: &str, pod: &str) -> Value {
    build.yaml(host, &format!("{MANIFESTS}/{pod}.yaml"))["spec"]["containers"][0].clone()
}

#[test]
fn load_balancer_pods_take_their_resources_and_probes_from_the_spec() {
    // The example's hardened profile gives haproxy and keepalived requests and limits.
    let workspace = Workspace::new(&keepalived_spec());
    let build = workspace.build("out");
    let haproxy = container(&build, "master01", "haproxy");
    assert_eq!(
        haproxy["resources"],
        serde_json::json!({"requests": {"cpu": "25m", "memory": "32Mi"}, "limits": {"cpu": "500m", "memory": "256Mi"}})
    );
    // Readiness and liveness are haproxy's own port, not the apiservers behind it.
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(
            haproxy[probe]["tcpSocket"],
            serde_json::json!({"host": "127.0.0.1", "port": 8443}),
            "{probe}"
        );
    }
    let keepalived = container(&build, "master01", "keepalived");
    assert_eq!(
        keepalived["resources"]["limits"],
        serde_json::json!({"cpu": "100m", "memory": "128Mi"})
    );
    // keepalived serves nothing a probe could ask.
    assert!(keepalived["readinessProbe"].is_null(), "{keepalived}");

    // The spec tunes them, key by key over the profile's.
    let tuned = keepalived_spec()
        .set("loadBalancer.haproxyResources.limits.memory", "1Gi")
        .set("loadBalancer.keepalivedResources.requests.cpu", "50m");
    let workspace = Workspace::new(&tuned);
    let build = workspace.build("out");
    assert_eq!(
        container(&build, "master01", "haproxy")["resources"]["limits"],
        serde_json::json!({"cpu": "500m", "memory": "1Gi"})
    );
    assert_eq!(
        container(&build, "master01", "keepalived")["resources"]["requests"],
        serde_json::json!({"cpu": "50m", "memory": "16Mi"})
    );

    // kube-vip and the local proxy get theirs too.
    let workspace = Workspace::new(&kube_vip_spec());
    let build = workspace.build("out");
    assert_eq!(
        container(&build, "master01", "kube-vip")["resources"]["requests"],
        serde_json::json!({"cpu": "25m", "memory": "32Mi"})
    );
    let workspace = Workspace::new(&local_proxy_spec());
    let build = workspace.build("out");
    let proxy = container(&build, "worker01", "haproxy");
    assert_eq!(proxy["resources"]["limits"]["memory"], "256Mi", "{proxy}");
    assert_eq!(
        proxy["readinessProbe"]["tcpSocket"]["port"], 7443,
        "{proxy}"
    );

    // Without the hardened profile, no resources: kubeadm's HA guide sets none.
    let workspace = Workspace::new(&keepalived_spec().set("profiles", ["kubeadm"]));
    let build = workspace.build("out");
    assert!(container(&build, "master01", "haproxy")["resources"].is_null());
}

#[test]
fn a_profiles_load_balancer_resources_give_no_cluster_a_load_balancer() {
    // ha-3-masters without `loadBalancer`, on the hardened profile (which names the pods'
    // resources): no load-balancer pod, and `--show-resolved` shows no load balancer.
    let workspace = Workspace::new(&Spec::example("ha-3-masters"));
    let build = workspace.build("out");
    for (host, _) in MASTERS {
        assert!(
            !build.has(host, &format!("{MANIFESTS}/haproxy.yaml")),
            "{host}"
        );
    }
    let resolved = common::kcompile(workspace.dir.path())
        .args(["validate", "-f", "cluster.yaml", "--show-resolved"])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&resolved.get_output().stdout).into_owned();
    assert!(text.contains("profiles:"), "{text}");
    assert!(!text.contains("loadBalancer"), "{text}");
}

#[test]
fn the_image_user_table_is_what_the_script_makes_of_its_saved_reads() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let output = Command::new("python3")
        .arg(root.join("scripts/image_users.py"))
        .output()
        .expect("python3 runs scripts/image_users.py");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let committed = fs::read_to_string(root.join("src/versions/image_users.tsv")).unwrap();
    assert_eq!(
        String::from_utf8(output.stdout).unwrap(),
        committed,
        "src/versions/image_users.tsv differs from `python3 scripts/image_users.py`: regenerate it"
    );
}

#[test]
fn a_rootless_keepalived_holds_the_vip_on_a_read_only_root_with_only_its_capabilities() {
    // The manifest's keepalived, run as its container would run: Debian's keepalived (the image's
    // is the same program, an older release) with the manifest's command and kcompile's config,
    // as root with only the manifest's added capabilities and no new privileges, on a read-only
    // root (and, as a container runtime mounts them, a read-only /sys and /proc/sys), with a
    // fresh tmpfs at each of the manifest's emptyDir mounts; in a network namespace whose `eth0`
    // has master01's address. It must take the VIP.
    if let Some(reason) = netns::missing_precondition(std::process::id()) {
        panic!("cannot run keepalived in a network namespace here: {reason}");
    }
    let workspace = Workspace::new(&keepalived_spec());
    let build = workspace.build("out");
    let pod = build.yaml("master01", &format!("{MANIFESTS}/keepalived.yaml"));
    let container = &pod["spec"]["containers"][0];
    let context = &container["securityContext"];
    assert_eq!(context["readOnlyRootFilesystem"], true, "{context}");
    assert_eq!(context["allowPrivilegeEscalation"], false, "{context}");
    assert_eq!(context["capabilities"]["drop"], serde_json::json!(["ALL"]));
    let capabilities: Vec<String> = context["capabilities"]["add"]
        .as_array()
        .expect("added capabilities")
        .iter()
        .map(|c| format!("+{}", c.as_str().unwrap().to_lowercase()))
        .collect();
    let scratch: Vec<String> = pod["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|volume| !volume["emptyDir"].is_null())
        .map(|volume| {
            container["volumeMounts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|mount| mount["name"] == volume["name"])
                .expect("a mount of the emptyDir")["mountPath"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(scratch, ["/run"]);
    let config = workspace.path("keepalived.conf");
    fs::write(
        &config,
        build.text("master01", "etc/keepalived/keepalived.conf"),
    )
    .unwrap();
    let mut command: Vec<String> = container["command"]
        .as_array()
        .expect("a command")
        .iter()
        .map(|word| word.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(command[0], "/usr/local/sbin/keepalived");
    command[0] = "keepalived".into();
    for word in &mut command {
        if word == "/usr/local/etc/keepalived/keepalived.conf" {
            *word = config.display().to_string();
        }
    }

    let mut guard = netns::Guard::default();
    let namespace = format!("kc-ka-{}", std::process::id());
    netns::add_namespace(&mut guard, &namespace);
    guard.links.push((namespace.clone(), "eth0".into()));
    netns::ip(&[
        "-n", &namespace, "link", "add", "eth0", "type", "veth", "peer", "name", "eth0p",
    ]);
    netns::ip(&[
        "-n",
        &namespace,
        "addr",
        "add",
        "10.0.0.11/24",
        "dev",
        "eth0",
    ]);
    netns::ip(&["-n", &namespace, "link", "set", "eth0p", "up"]);
    netns::ip(&["-n", &namespace, "link", "set", "eth0", "up"]);
    let mut script = String::from("set -e\n");
    for dir in &scratch {
        script.push_str(&format!("mount -t tmpfs -o mode=0755 tmpfs {dir}\n"));
    }
    script.push_str(
        "mount -o remount,bind,ro /\n\
         mount -o remount,bind,ro /sys\n\
         mount --bind /proc/sys /proc/sys\n\
         mount -o remount,bind,ro /proc/sys\n\
         if touch /var/lib/kcompile-read-only-probe 2>/dev/null; then echo 'the root is writable'; exit 97; fi\n",
    );
    script.push_str(&format!(
        "exec setpriv --bounding-set -all,{} --inh-caps -all --no-new-privs \"$@\"\n",
        capabilities.join(",")
    ));
    let log = workspace.path("keepalived.log");
    let output = fs::File::create(&log).unwrap();
    let child = netns::in_netns(&namespace)
        .args(["unshare", "--mount", "--propagation", "private"])
        .args(["sh", "-c", &script, "keepalived-pod"])
        .args(&command)
        .stdin(std::process::Stdio::null())
        .stdout(output.try_clone().unwrap())
        .stderr(output)
        .spawn()
        .expect("nsenter runs");
    guard
        .members
        .push(("keepalived".into(), child, log.clone()));
    let vip = "10.0.0.100/32";
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let held = loop {
        let out = netns::ip_command(&["-n", &namespace, "addr", "show", "dev", "eth0"])
            .output()
            .unwrap();
        if String::from_utf8_lossy(&out.stdout).contains(vip) {
            break true;
        }
        if std::time::Instant::now() > deadline {
            break false;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    let text = fs::read_to_string(&log).unwrap_or_default();
    assert!(held, "keepalived did not take {vip}:\n{text}");
    assert!(text.contains("Entering MASTER STATE"), "{text}");
    // Still running: nothing it needed to write was refused.
    assert!(
        guard.members[0].1.try_wait().unwrap().is_none(),
        "keepalived exited:\n{text}"
    );
}
