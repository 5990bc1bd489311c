//! The `rootless` section: the users etcd, kube-apiserver, kube-controller-manager and
//! kube-scheduler run as, checked and resolved to [`Rootless`]. Off unless `rootless.enabled` (the
//! `hardened` profile turns it on). A component that runs as root, two components that share a
//! user, or a shared group that is also a component's group would let one component read another's
//! key, so each is refused; so is an apiserver port below 1024, which a non-root container cannot
//! bind (Kubernetes gives no ambient capabilities, so `NET_BIND_SERVICE` would not reach it).

use super::types::{IdentitySpec, Spec};
use crate::cluster::{Identity, Rootless};

/// The users and groups kcompile gives the components when the spec names none: a block far
/// above the ranges distributions hand out to system (100-999) and login (1000-59999) users.
pub const DEFAULTS: Rootless = Rootless {
    etcd: Identity {
        uid: 64101,
        gid: 64101,
    },
    api_server: Identity {
        uid: 64102,
        gid: 64102,
    },
    controller_manager: Identity {
        uid: 64103,
        gid: 64103,
    },
    scheduler: Identity {
        uid: 64104,
        gid: 64104,
    },
    shared_group: 64100,
};

/// The largest id a user or group may have: `(uid_t)-1` means "no change" to chown.
const MAX_ID: u32 = u32::MAX - 1;

/// One thing wrong with the `rootless` section, at a spec path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootlessProblem {
    /// The spec path of the value.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub hint: String,
}

/// The `rootless` section resolved (`None` when off), or every problem with it. `api_server_port`
/// is the port every apiserver binds.
pub fn settings(
    spec: &Spec,
    api_server_port: Option<u16>,
) -> Result<Option<Rootless>, Vec<RootlessProblem>> {
    let Some(section) = spec.rootless.as_ref().filter(|r| r.enabled == Some(true)) else {
        return Ok(None);
    };
    let mut problems = Vec::new();
    let mut identity = |key: &'static str, given: &Option<IdentitySpec>, default: Identity| {
        let given = given.clone().unwrap_or_default();
        let uid = given.uid.unwrap_or(default.uid);
        let gid = given.gid.unwrap_or(default.gid);
        for (field, id) in [("uid", uid), ("gid", gid)] {
            if let Some(problem) = id_problem(id) {
                problems.push(RootlessProblem {
                    path: format!("rootless.{key}.{field}"),
                    message: format!("{key} {field} {id} {problem}"),
                    hint: format!(
                        "give {key} its own non-root id, 1 to {MAX_ID} (default {})",
                        if field == "uid" {
                            default.uid
                        } else {
                            default.gid
                        }
                    ),
                });
            }
        }
        (key, Identity { uid, gid })
    };
    let components = [
        identity("etcd", &section.etcd, DEFAULTS.etcd),
        identity("apiServer", &section.api_server, DEFAULTS.api_server),
        identity(
            "controllerManager",
            &section.controller_manager,
            DEFAULTS.controller_manager,
        ),
        identity("scheduler", &section.scheduler, DEFAULTS.scheduler),
    ];
    let shared_group = section.shared_group.unwrap_or(DEFAULTS.shared_group);
    if let Some(problem) = id_problem(shared_group) {
        problems.push(RootlessProblem {
            path: "rootless.sharedGroup".into(),
            message: format!("sharedGroup {shared_group} {problem}"),
            hint: format!(
                "name a non-root group, 1 to {MAX_ID} (default {})",
                DEFAULTS.shared_group
            ),
        });
    }
    for (i, (key, own)) in components.iter().enumerate() {
        if let Some((other, _)) = components[..i]
            .iter()
            .find(|(_, earlier)| earlier.uid == own.uid)
        {
            problems.push(RootlessProblem {
                path: format!("rootless.{key}.uid"),
                message: format!("{key} and {other} both run as uid {}", own.uid),
                hint: "give each component its own user: a key owned by a shared user is readable by both".into(),
            });
        }
        if own.gid == shared_group {
            problems.push(RootlessProblem {
                path: format!("rootless.{key}.gid"),
                message: format!("{key} gid {} is also rootless.sharedGroup", own.gid),
                hint: "give the shared group its own id: every member of a component's group would read the files two components share".into(),
            });
        }
    }
    if let Some(port) = api_server_port.filter(|port| *port < 1024) {
        problems.push(RootlessProblem {
            path: "apiServer.bindPort".into(),
            message: format!("a rootless kube-apiserver cannot bind port {port}, below 1024"),
            hint: "use a port of 1024 or above (6443 is kubeadm's), or set `rootless.enabled: false`: Kubernetes gives a non-root container no ambient capabilities, so NET_BIND_SERVICE would not reach it".into(),
        });
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let [etcd, api_server, controller_manager, scheduler] = components.map(|(_, id)| id);
    Ok(Some(Rootless {
        etcd,
        api_server,
        controller_manager,
        scheduler,
        shared_group,
    }))
}

/// Why `id` cannot be a rootless component's user or group.
fn id_problem(id: u32) -> Option<&'static str> {
    match id {
        0 => Some("is root"),
        MAX_ID.. => Some("is (uid_t)-1, which chown reads as \"no change\""),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::RootlessSpec;

    fn spec(rootless: RootlessSpec) -> Spec {
        Spec {
            rootless: Some(rootless),
            ..Spec::default()
        }
    }

    #[test]
    fn off_unless_enabled() {
        assert_eq!(settings(&Spec::default(), Some(6443)), Ok(None));
        let off = spec(RootlessSpec {
            enabled: Some(false),
            ..RootlessSpec::default()
        });
        assert_eq!(settings(&off, Some(443)), Ok(None));
    }

    #[test]
    fn defaults_when_enabled() {
        let on = spec(RootlessSpec {
            enabled: Some(true),
            ..RootlessSpec::default()
        });
        assert_eq!(settings(&on, Some(6443)), Ok(Some(DEFAULTS)));
    }

    #[test]
    fn refuses_root_shared_users_and_low_ports() {
        let bad = spec(RootlessSpec {
            enabled: Some(true),
            etcd: Some(IdentitySpec {
                uid: Some(0),
                gid: None,
            }),
            scheduler: Some(IdentitySpec {
                uid: Some(DEFAULTS.api_server.uid),
                gid: Some(DEFAULTS.shared_group),
            }),
            ..RootlessSpec::default()
        });
        let problems = settings(&bad, Some(443)).unwrap_err();
        let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "rootless.etcd.uid",
                "rootless.scheduler.uid",
                "rootless.scheduler.gid",
                "apiServer.bindPort"
            ]
        );
        assert_eq!(problems[0].message, "etcd uid 0 is root");
        assert_eq!(
            problems[1].message,
            "scheduler and apiServer both run as uid 64102"
        );
    }
}
