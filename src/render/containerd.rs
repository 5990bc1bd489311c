//! containerd's configuration, matching the kubelet config kcompile writes: the runc cgroup driver
//! (`SystemdCgroup`) follows the kubelet's `cgroupDriver`, the sandbox (pause) image is the one
//! kubeadm pins for the Kubernetes minor under `imageRepository`, and registry mirrors are
//! `hosts.toml` files under `/etc/containerd/certs.d`, which `config_path` points at.
//!
//! containerd 2.x (`node.containerRuntime: containerd-2`): a drop-in, `config version 3`, in
//! `/etc/containerd/conf.d/`, and a root `config.toml` that only imports that directory.
//! containerd reads drop-ins only through the root file's `imports` (v2.2.0 added
//! `/etc/containerd/conf.d/*.toml` to the default config, `defaults.DefaultConfigIncludePattern`,
//! but a host with no `config.toml` loads no file at all: `cmd/containerd/command/main.go` calls
//! `LoadConfig` only when it exists), so kcompile writes that root file itself. Version 3 is read
//! by every 2.x release (v2.3 migrates it to 4 on load). Keys and versions: `src/versions/node/
//! containerd_keys.tsv`, from containerd v2.0.0 and v2.3.4.
//!
//! containerd 1.x (`containerd-1`): a whole `/etc/containerd/config.toml`, `version = 2`, since
//! 1.x imports replace whole plugin sections. tests/suite/node.rs has Debian's containerd 1.6 read it.

use std::fmt::Write;

use super::node::systemd_cgroup;
use super::{FileSet, PUBLIC};
use crate::cluster::ContainerRuntime;
use crate::cluster::{Cluster, Host};
use crate::versions::images::pause_image;

/// containerd's root configuration file.
pub const CONFIG: &str = "/etc/containerd/config.toml";
/// kcompile's containerd 2.x drop-in, named to sort after the operator's own.
pub const DROP_IN: &str = "/etc/containerd/conf.d/99-kcompile.toml";
/// The directory containerd 2.x imports drop-ins from.
pub const DROP_IN_PATTERN: &str = "/etc/containerd/conf.d/*.toml";
/// Where the per-registry `hosts.toml` files live (`config_path`).
pub const CERTS_D: &str = "/etc/containerd/certs.d";

/// Adds the containerd files of `host` (the runtime is containerd 1.x or 2.x).
pub fn files(files: &mut FileSet, cluster: &Cluster, host: &Host) {
    match cluster.node.of(&host.name).container_runtime {
        ContainerRuntime::Containerd2 => {
            files.add(CONFIG, root_config_v3(), PUBLIC);
            files.add(DROP_IN, cri_config(&DROP_IN_V3, cluster, host), PUBLIC);
        }
        ContainerRuntime::Containerd1 => {
            files.add(CONFIG, cri_config(&CONFIG_V2, cluster, host), PUBLIC);
        }
        ContainerRuntime::None => return,
    }
    for (registry, mirrors) in &cluster.node.registry_mirrors {
        files.add(
            format!("{CERTS_D}/{registry}/hosts.toml"),
            hosts_toml(registry, mirrors),
            PUBLIC,
        );
    }
}

/// The sandbox image: `<imageRepository>/pause:<kubeadm's tag for the minor>`.
pub fn sandbox_image(cluster: &Cluster) -> String {
    pause_image(&cluster.image_repository, cluster.kubernetes_version)
}

/// A TOML basic string. Validation keeps quotes, backslashes and control characters out of every
/// value that reaches here; escaping them anyway keeps the file well-formed whatever it is given.
fn toml_string(text: &str) -> String {
    let mut quoted = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(quoted, "\\u{:04X}", u32::from(c));
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

/// `/etc/containerd/config.toml` for containerd 2.x: the imports only.
fn root_config_v3() -> String {
    format!(
        "# Written by kcompile: containerd 2.x reads its settings from the drop-ins in\n\
         # /etc/containerd/conf.d/ (kcompile's is 99-kcompile.toml; add your own beside it).\n\
         version = 3\n\
         imports = [{}]\n",
        toml_string(DROP_IN_PATTERN)
    )
}

/// Where one containerd config version puts the CRI settings the kubelet's config needs: the
/// one shape both the 2.x drop-in and the 1.x file are written from, so the two cannot drift.
struct CriLayout {
    /// The comment lines the file starts with.
    header: &'static str,
    /// The config `version`.
    version: u8,
    /// The table and key of the sandbox (pause) image.
    sandbox: (&'static str, &'static str),
    /// The table holding the registry's `config_path`.
    registry: &'static str,
    /// The table of the runc runtime (its `options` table holds `SystemdCgroup`).
    runc: &'static str,
}

/// containerd 2.x, `config version 3`: the CRI plugin split into `images` and `runtime`.
const DROP_IN_V3: CriLayout = CriLayout {
    header: "# Written by kcompile: the CRI settings the kubelet's config needs (containerd 2.x).\n",
    version: 3,
    sandbox: (
        "plugins.\"io.containerd.cri.v1.images\".pinned_images",
        "sandbox",
    ),
    registry: "plugins.\"io.containerd.cri.v1.images\".registry",
    runc: "plugins.\"io.containerd.cri.v1.runtime\".containerd.runtimes.runc",
};

/// containerd 1.x, `version = 2`: one CRI plugin. A whole file: 1.x imports would replace whole
/// plugin sections.
const CONFIG_V2: CriLayout = CriLayout {
    header: "# Written by kcompile: containerd 1.x configuration with the CRI settings the kubelet's\n\
             # config needs. A whole file: 1.x imports would replace whole plugin sections.\n",
    version: 2,
    sandbox: ("plugins.\"io.containerd.grpc.v1.cri\"", "sandbox_image"),
    registry: "plugins.\"io.containerd.grpc.v1.cri\".registry",
    runc: "plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc",
};

/// The CRI settings of `host` in `layout`: the sandbox image, the registry's `config_path`, and
/// runc with the kubelet's cgroup driver.
fn cri_config(layout: &CriLayout, cluster: &Cluster, host: &Host) -> String {
    let CriLayout {
        header,
        version,
        sandbox: (sandbox_table, sandbox_key),
        registry,
        runc,
    } = layout;
    format!(
        "{header}\
         version = {version}\n\
         \n\
         [{sandbox_table}]\n\
         {sandbox_key} = {sandbox}\n\
         \n\
         [{registry}]\n\
         config_path = {certs}\n\
         \n\
         [{runc}]\n\
         runtime_type = \"io.containerd.runc.v2\"\n\
         \n\
         [{runc}.options]\n\
         SystemdCgroup = {systemd}\n",
        sandbox = toml_string(&sandbox_image(cluster)),
        certs = toml_string(CERTS_D),
        systemd = systemd_cgroup(host),
    )
}

/// `/etc/containerd/certs.d/<registry>/hosts.toml`: the mirrors in order, then the registry.
fn hosts_toml(registry: &str, mirrors: &[String]) -> String {
    let mut text = format!(
        "# Written by kcompile: pulls from {registry} try these mirrors in order, then the registry.\n"
    );
    if registry != "_default" {
        // Docker Hub's images are named docker.io but served by registry-1.docker.io (containerd
        // v2.3.4 docs/hosts.md, its docker.io example).
        let server = if registry == "docker.io" {
            "https://registry-1.docker.io".to_owned()
        } else {
            format!("https://{registry}")
        };
        let _ = writeln!(text, "server = {}", toml_string(&server));
    }
    for mirror in mirrors {
        let _ = write!(
            text,
            "\n[host.{}]\ncapabilities = [\"pull\", \"resolve\"]\n",
            toml_string(mirror)
        );
    }
    text
}

#[cfg(test)]
mod tests {
    use super::{hosts_toml, toml_string};

    #[test]
    fn toml_strings_escape_quotes_and_controls() {
        assert_eq!(toml_string("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000A\"");
    }

    #[test]
    fn docker_hub_is_served_by_registry_1() {
        let text = hosts_toml("docker.io", &["https://mirror.example.com".to_owned()]);
        assert!(text.contains("server = \"https://registry-1.docker.io\""));
        assert!(text.contains("[host.\"https://mirror.example.com\"]"));
    }
}
