use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::*;

const KEY: &str = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIOi17s2cV1uKOVKYgbnMYraCZjGztzy/NTiTbnSz3yjLoAoGCCqGSM49\nAwEHoUQDQgAERmtedCI5ZiidE6Ld5WG1NctwQXGJlocq+8UfRaLEHngxuHkve+Cz\nZZgFfOoDlTE6hQ20IuW4K8srsHt88wFSaw==\n-----END EC PRIVATE KEY-----\n";

#[expect(
    clippy::unnecessary_wraps,
    reason = "the signature of the fingerprint callback"
)]
fn keyed(bytes: &[u8]) -> Option<String> {
    Some(format!("hmac:{}", &crate::digest::sha256(bytes)[..12]))
}

fn key_data() -> String {
    STANDARD.encode(KEY)
}

/// Every 8-byte window of `secret` (raw and base64) is absent from `text`.
fn absent(text: &str, secret: &str) {
    for encoded in [secret.to_owned(), STANDARD.encode(secret)] {
        for window in encoded.as_bytes().windows(8) {
            let window = std::str::from_utf8(window).unwrap();
            assert!(!text.contains(window), "`{window}` of a secret in:\n{text}");
        }
    }
}

fn kubeconfig_yaml(key: &str, server: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\ncontexts:\n- name: a@c\n  context: {{cluster: c, user: a}}\ncurrent-context: a@c\nusers:\n- name: a\n  user:\n    client-key-data: {key}\n"
    )
}

#[test]
fn kubeconfigs_in_any_form_hide_their_keys() {
    let data = key_data();
    let compiled = kubeconfig_yaml(&data, "https://10.0.0.1:6443");
    let forms = [
        // JSON with tabs.
        format!(
            "{{\n\t\"apiVersion\": \"v1\",\n\t\"kind\": \"Config\",\n\t\"users\": [{{\"name\": \"a\", \"user\": {{\"client-key-data\": \"{data}\"}}}}],\n\t\"extra\": 1\n}}\n"
        ),
        // Folded block scalar.
        format!(
            "apiVersion: v1\nkind: Config\nusers:\n- name: a\n  user:\n    client-key-data: >-\n      {data}\n"
        ),
        // Literal block scalar, wrapped.
        format!(
            "apiVersion: v1\nkind: Config\nusers:\n- name: a\n  user:\n    client-key-data: |\n      {}\n      {}\n",
            &data[..60],
            &data[60..]
        ),
        // Quoted keys, single-quoted value, tab after the colon.
        format!(
            "apiVersion: v1\nkind: Config\nusers:\n- name: a\n  user:\n    \"client-key-data\":\t'{data}'\n"
        ),
        // Flow style.
        format!(
            "{{apiVersion: v1, kind: Config, users: [{{name: a, user: {{client-key-data: {data}}}}}]}}\n"
        ),
        // An alias under another key.
        format!(
            "apiVersion: v1\nkind: Config\nx-copy: &k {data}\nusers:\n- name: a\n  user:\n    client-key-data: *k\n"
        ),
    ];
    for form in &forms {
        for fingerprint in [&keyed as Fingerprint<'_>, &no_fingerprint] {
            let shown = pair(
                "etc/kubernetes/admin.conf",
                form.as_bytes(),
                compiled.as_bytes(),
                fingerprint,
            );
            let Pair::Redacted { old, new, .. } = &shown else {
                panic!("{shown:?}");
            };
            absent(old, KEY);
            absent(new, KEY);
            absent(old, &data);
        }
    }
}

#[test]
fn a_server_change_shows_and_the_changed_key_is_named() {
    let data = key_data();
    let old = kubeconfig_yaml("QUJDREVGR0hJSktMTU5PUA==", "https://10.0.0.1:6443");
    let new = kubeconfig_yaml(&data, "https://10.0.0.2:6443");
    let Pair::Redacted {
        old, new, changed, ..
    } = pair(
        "etc/kubernetes/admin.conf",
        old.as_bytes(),
        new.as_bytes(),
        &keyed,
    )
    else {
        panic!()
    };
    assert!(old.contains("server: https://10.0.0.1:6443"), "{old}");
    assert!(new.contains("server: https://10.0.0.2:6443"), "{new}");
    assert!(new.contains("client-key-data: <hmac:"), "{new}");
    assert_eq!(changed, ["users[a].user.client-key-data"]);
}

#[test]
fn without_a_key_fingerprints_are_withheld() {
    let text = kubeconfig_yaml(&key_data(), "https://a:6443");
    let shown = show(
        "etc/kubernetes/admin.conf",
        text.as_bytes(),
        &no_fingerprint,
    )
    .unwrap();
    assert!(shown.contains("client-key-data: <redacted>"), "{shown}");
    assert!(
        !shown.contains("hmac:") && !shown.contains("sha256:"),
        "{shown}"
    );
}

#[test]
fn oidc_exec_secrets_and_encryption_configs() {
    let kubeconfig = "apiVersion: v1\nkind: Config\nusers:\n- name: o\n  user:\n    auth-provider:\n      name: oidc\n      config:\n        client-id: kubernetes\n        client-secret: Qx7vN2pLm9Rt\n        id-token: eyJhbGciOiJSUzI1NiJ9.Zk3wPq8sYt\n        refresh-token: Vb6nHj4kLr2x\n- name: e\n  user:\n    exec:\n      command: get-token\n      args: [--cluster, lab, --api-token=Tg5mWq1zXc8b, --password, Pn3rKd7fGh0j]\n      env:\n      - {name: HOME, value: Yu9eLs2vBn6m}\n";
    let shown = show("etc/kubernetes/x.conf", kubeconfig.as_bytes(), &keyed).unwrap();
    for secret in [
        "Qx7vN2pLm9Rt",
        "Zk3wPq8sYt",
        "Vb6nHj4kLr2x",
        "Tg5mWq1zXc8b",
        "Pn3rKd7fGh0j",
        "Yu9eLs2vBn6m",
    ] {
        absent(&shown, secret);
    }
    assert!(
        shown.contains("--cluster") && shown.contains("lab"),
        "{shown}"
    );
    let json = r#"{"kind":"EncryptionConfiguration","apiVersion":"apiserver.config.k8s.io/v1","resources":[{"resources":["secrets"],"providers":[{"aescbc":{"keys":[{"name":"key1","secret":"P6eUIcRS1zBeaC4DRyeauz5iKXZSPdFgWjOQUNgAZBE="}]}},{"identity":{}}]}]}"#;
    let shown = show(
        "etc/kubernetes/encryption-config.yaml",
        json.as_bytes(),
        &keyed,
    )
    .unwrap();
    absent(&shown, "P6eUIcRS1zBeaC4DRyeauz5iKXZSPdFgWjOQUNgAZBE=");
    assert!(shown.contains("name: key1"), "{shown}");
}

#[test]
fn a_name_that_holds_a_secret_is_not_shown() {
    let text = "apiVersion: v1\nkind: Config\nusers:\n- name: Rk8mTq2wLp5z\n  user:\n    token: Rk8mTq2wLp5z\n";
    let Pair::Redacted { new, changed, .. } =
        pair("etc/kubernetes/x.conf", b"", text.as_bytes(), &keyed)
    else {
        panic!()
    };
    assert!(!new.contains("Rk8mTq2w"), "{new}");
    assert!(!changed.concat().contains("Rk8mTq2w"), "{changed:?}");
}

#[test]
fn secrets_hide_data_and_string_data() {
    let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Secret\n  metadata: {name: bootstrap-token-abcdef}\n  stringData: {\"token-secret\": \"p4g6duhyw6fwoc5l\", token-id: abcdef}\n  data:\n    other: cDRnNmR1aHl3NmZ3b2M1bA==\n---\nkind: ClusterRoleBinding\nmetadata: {name: x}\n";
    let shown = show(
        "etc/kubernetes/addons/bootstrap.yaml",
        text.as_bytes(),
        &keyed,
    )
    .unwrap();
    absent(&shown, "p4g6duhyw6fwoc5l");
    assert!(shown.contains("bootstrap-token-abcdef"), "{shown}");
    assert!(shown.contains("ClusterRoleBinding"), "{shown}");
}

#[test]
fn keepalived_in_any_whitespace_form() {
    let compiled = "vrrp_instance VI_1 {\n    authentication {\n        auth_type PASS\n        auth_pass abcd1234\n    }\n}\n";
    for form in [
        "vrrp_instance VI_1 {\n\tauthentication {\n\t\tauth_pass\tabcd1234\n\t}\n}\n",
        "vrrp_instance VI_1 {\n  authentication {\n    auth_type PASS\n    auth_pass   \"abcd1234\"   ! the VRRP password\n  }\n}\n",
        "! old password was abcd1234\nvrrp_instance VI_1 { authentication { auth_pass abcd1234 } }\n",
    ] {
        let Pair::Redacted { old, new, .. } = pair(
            "etc/keepalived/keepalived.conf",
            form.as_bytes(),
            compiled.as_bytes(),
            &keyed,
        ) else {
            panic!("{form}")
        };
        assert!(
            !old.contains("abcd1234") && !new.contains("abcd1234"),
            "{old}"
        );
        assert!(new.contains("        auth_pass <hmac:"), "{new}");
    }
    assert_eq!(
        pair(
            "etc/keepalived/keepalived.conf",
            b"vrrp_instance VI_1 {\n auth_pass \"abcd1234\n}\n",
            compiled.as_bytes(),
            &keyed
        ),
        Pair::Unparseable
    );
    let haproxy = "listen stats\n    stats auth admin:haproxy-secret-1\nuserlist u\n    user a insecure-password haproxy-secret-2\n";
    let shown = show("etc/haproxy/haproxy.cfg", haproxy.as_bytes(), &keyed).unwrap();
    assert!(!shown.contains("haproxy-secret"), "{shown}");
    let Pair::Redacted { changed, .. } = pair(
        "etc/haproxy/haproxy.cfg",
        haproxy.as_bytes(),
        b"global\n",
        &keyed,
    ) else {
        panic!()
    };
    assert_eq!(
        changed,
        ["listen stats/stats auth", "userlist u/insecure-password"]
    );
}

#[test]
fn unparseable_secret_files_are_withheld_and_plain_files_shown() {
    let broken = format!("{{\"client-key-data\": \"{}\", ", key_data());
    let good = kubeconfig_yaml(&key_data(), "https://a:6443");
    assert_eq!(
        pair(
            "etc/kubernetes/admin.conf",
            broken.as_bytes(),
            good.as_bytes(),
            &keyed
        ),
        Pair::Unparseable
    );
    // Not a secret path, but a key by content.
    assert!(matches!(
        pair(
            "var/lib/kubelet/config.yaml",
            KEY.as_bytes(),
            b"a: 1\n",
            &keyed
        ),
        Pair::Key { .. }
    ));
    // A secret word in an unparseable text.
    assert_eq!(
        pair("etc/x.txt", b"[broken\ntoken: abc\n", b"a: 1\n", &keyed),
        Pair::Unparseable
    );
    let plain = pair("etc/x.yaml", b"a: 1 # old\n", b"a: 2\n", &keyed);
    assert_eq!(
        plain,
        Pair::Plain {
            old: "a: 1 # old\n".into(),
            new: "a: 2\n".into()
        }
    );
}

#[test]
fn keys_compare_by_their_bytes() {
    let rewrapped = KEY.replace('\n', "\r\n");
    assert_eq!(
        pair(
            "etc/kubernetes/pki/ca.key",
            rewrapped.as_bytes(),
            KEY.as_bytes(),
            &keyed
        ),
        Pair::Key {
            same: true,
            old: keyed(&pem_key(KEY.as_bytes()).unwrap()),
            new: keyed(&pem_key(KEY.as_bytes()).unwrap()),
        }
    );
    assert_eq!(
        pair(
            "etc/kubernetes/pki/ca.key",
            b"-----BEGIN EC PRIVATE KEY-----\nMHcC",
            KEY.as_bytes(),
            &keyed
        ),
        Pair::Unparseable
    );
}

#[test]
fn config_hashes_are_keyed_in_place() {
    let old = "metadata:\n  annotations:\n    kcompile.io/config-hash: sha256:0000000000000000000000000000000000000000000000000000000000000000\n# edited by hand\n";
    let new = "metadata:\n  annotations:\n    kcompile.io/config-hash: sha256:1111111111111111111111111111111111111111111111111111111111111111\n";
    let Pair::Plain { old, new } = pair(
        "etc/kubernetes/manifests/x.yaml",
        old.as_bytes(),
        new.as_bytes(),
        &keyed,
    ) else {
        panic!()
    };
    assert!(old.contains("# edited by hand"), "{old}");
    assert!(
        !old.contains("0000000000") && !new.contains("1111111111"),
        "{new}"
    );
    assert!(new.contains("config-hash: <hmac:"), "{new}");
}

#[test]
fn raw_text_that_suggests_a_secret() {
    assert!(suspicious("# token: abc"));
    assert!(suspicious("ExecStart=/bin/x --token=abc"));
    assert!(suspicious("\"password\" = 1"));
    assert!(suspicious("auth_pass abc"));
    assert!(!suspicious("# tokens and token reviews carry credentials"));
    assert!(!suspicious("resources: [\"serviceaccounts/token\"]"));
    assert!(suspicious(&format!("x: {}", key_data())));
    assert!(!suspicious(
        "--enable-bootstrap-token-auth=true --tls-private-key-file=/a.key"
    ));
    assert!(!suspicious("- --initial-cluster-token=kcompile-abc"));
}
