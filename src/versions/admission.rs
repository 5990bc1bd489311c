//! Admission plugins kube-apiserver removed, with the minor that removed each: the table
//! `apiServer.extraArgs.enable-admission-plugins` is checked against.

/// Admission plugins kube-apiserver no longer knows: the minor that removed each, and what to use.
pub fn removed_plugin(plugin: &str) -> Option<(u32, &'static str)> {
    match plugin {
        "PodSecurityPolicy" => Some((
            25,
            "use Pod Security Admission (the `PodSecurity` plugin, on by default) with namespace labels",
        )),
        "SecurityContextDeny" => Some((30, "use Pod Security Admission's `restricted` level")),
        "DenyEscalatingExec" | "DenyExecOnPrivileged" => Some((
            21,
            "use Pod Security Admission or a validating admission policy",
        )),
        "Initializers" => Some((14, "use admission webhooks")),
        _ => None,
    }
}
