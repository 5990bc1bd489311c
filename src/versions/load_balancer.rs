//! The load-balancer images kcompile pins: what runs under the public repository unless the spec
//! names another image (`super::images::LoadBalancerImage` maps them under a mirror).

/// haproxy (`keepalived-haproxy`, `local-proxy`).
pub const HAPROXY: &str = "docker.io/library/haproxy:2.8";

/// keepalived (`keepalived-haproxy`).
pub const KEEPALIVED: &str = "docker.io/osixia/keepalived:2.0.20";

/// kube-vip (`kube-vip`).
pub const KUBE_VIP: &str = "ghcr.io/kube-vip/kube-vip:v0.8.9";

/// The user (uid, gid) the pinned haproxy image runs as: its Dockerfile's `USER`, from
/// `image_users.tsv` (made by `scripts/image_users.py` from docker-library/haproxy's
/// `2.8/Dockerfile`; the row names the commit and lines). `None` if the table has no row for it.
pub fn haproxy_user() -> Option<(u32, u32)> {
    image_user(include_str!("image_users.tsv"), HAPROXY)
}

/// The (uid, gid) the table `text` (`image<TAB>uid<TAB>gid<TAB>source`) gives `image`.
fn image_user(text: &str, image: &str) -> Option<(u32, u32)> {
    super::tsv_rows(text).find_map(|columns| match columns.as_slice() {
        [name, uid, gid, source] if *name == image && !source.trim().is_empty() => {
            Some((uid.parse().ok()?, gid.parse().ok()?))
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pinned_haproxy_image_has_a_user() {
        assert_eq!(haproxy_user(), Some((99, 99)));
    }

    #[test]
    fn rows_without_a_source_or_number_give_no_user() {
        assert_eq!(image_user("a\t1\t2\t\n", "a"), None);
        assert_eq!(image_user("a\tx\t2\tsrc\n", "a"), None);
        assert_eq!(image_user("a\t1\t2\tsrc\n", "a"), Some((1, 2)));
    }
}
