//! Who reads what: a static pod that runs as a user of its own (`securityContext.runAsUser`, as
//! kcompile's rootless control plane does) can read every file its flags name, given its user,
//! group and supplemental groups and the files' owners and modes; and it can read no secret of
//! the host that it does not mount (another component's key given to its user or group). Owners
//! come from the root's files, or from a tar's numeric ids. A pod that runs as the image's user
//! (root) reads everything and is not checked here.

use super::material::RunAs;
use super::permissions::held;
use super::pods::WRITTEN;
use super::{Check, PodFile, relative};
use crate::component::Component;
use crate::render::pod::{covers, flag_paths};

impl Check<'_> {
    /// Every rootless pod reads the files its flags name, and no secret it does not mount.
    pub(super) fn readers(&mut self) {
        for file in self.pods.clone() {
            let Some(run_as) = file.pod.run_as.clone() else {
                continue;
            };
            if run_as.uid == 0 {
                continue;
            }
            self.flag_files_readable(&file, &run_as);
            self.secrets_not_needed(&file, &run_as);
        }
    }

    /// Each file a flag names (and the host provides) is readable by the pod's process.
    fn flag_files_readable(&mut self, file: &PodFile, run_as: &RunAs) {
        let binary = binary(file);
        for (name, value) in &file.pod.flags {
            if WRITTEN.contains(&name.as_str()) || name.ends_with("-dir") {
                continue;
            }
            for path in flag_paths(value) {
                let host = relative(&file.pod.host_path(path));
                let (Some(owner), Some(mode)) = (self.tree.owner(&host), self.tree.mode(&host))
                else {
                    continue;
                };
                if run_as.reads(owner, mode).is_some() {
                    continue;
                }
                let shown = self.tree.display(&host);
                self.error(
                    &host,
                    format!(
                        "{binary} runs as {} and cannot read this file, which --{name} names \
                         (owner {}:{}, mode {mode:04o}): {binary} fails to start; `chown {}:{} \
                         {shown}` (mode 0600), or give it a group all its readers have (mode 0640)",
                        describe(run_as),
                        owner.0,
                        owner.1,
                        run_as.uid,
                        run_as.gid,
                    ),
                );
            }
        }
    }

    /// No secret of the tree that the pod does not mount is readable by its user or groups.
    fn secrets_not_needed(&mut self, file: &PodFile, run_as: &RunAs) {
        let binary = binary(file);
        let tree = self.tree;
        for (path, bytes) in &tree.files {
            let (Some(owner), Some(mode)) = (tree.owner(path), tree.mode(path)) else {
                continue;
            };
            // Readable by others is `permissions`' finding, for every user alike.
            let Some(by @ ("owner" | "group")) = run_as.reads(owner, mode) else {
                continue;
            };
            let host = format!("/{path}");
            let mounted = file
                .pod
                .mounts
                .iter()
                .filter_map(|(_, host_path)| host_path.as_deref())
                .any(|host_path| covers(host_path, &host));
            if mounted {
                continue;
            }
            let Some(held) = held(path, bytes, false) else {
                continue;
            };
            let fix = if by == "owner" {
                "give it to the component that reads it"
            } else {
                "take its group's read bit, or give it a group only its readers have"
            };
            let shown = tree.display(path);
            self.error(
                path,
                format!(
                    "holds {} that {binary} does not mount, yet {binary} ({}) can read it as its \
                     {by} (owner {}:{}, mode {mode:04o}); {fix} (`chown`/`chmod` {shown}): {}",
                    held.what,
                    describe(run_as),
                    owner.0,
                    owner.1,
                    held.consequence,
                ),
            );
        }
    }
}

/// The binary a pod runs, for messages.
fn binary(file: &PodFile) -> String {
    file.pod.component.map_or_else(
        || file.pod.name.clone(),
        |c: Component| c.binary().to_owned(),
    )
}

/// `uid 64101, gid 64101, supplemental groups 64100`.
fn describe(run_as: &RunAs) -> String {
    let mut text = format!("uid {}, gid {}", run_as.uid, run_as.gid);
    if !run_as.groups.is_empty() {
        let groups: Vec<String> = run_as.groups.iter().map(u32::to_string).collect();
        text.push_str(&format!(", supplemental groups {}", groups.join(",")));
    }
    text
}
