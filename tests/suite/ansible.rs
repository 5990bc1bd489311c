//! The consumers of bundles in examples/ansible: the playbook, run with `ansible-playbook` over a
//! local connection into temp roots (one control-plane host and one worker of
//! examples/ha-3-masters.yaml), its settings given where its README says (the inventory's
//! `[all:vars]`, a host's line, `-e`), and the rsync recipe of examples/ansible/README.md. Nothing
//! is written outside a temp dir: every host's `kcompile_root` is one, and the kubelet "restart" is
//! an `echo` into a file. Needs ansible-playbook and rsync (`.ci/install-ansible.sh`).

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::common::{self, KCOMPILE, Spec};

const REPO: &str = env!("CARGO_MANIFEST_DIR");
const HOSTS: [&str; 2] = ["master01", "worker01"];

fn spec() -> PathBuf {
    Path::new(REPO).join("examples/ha-3-masters.yaml")
}

/// Fails the test with a clear message when `tool` is not installed.
fn require(tool: &str) {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        found,
        "`{tool}` is not installed (or not on PATH): tests/ansible.rs needs it; \
         install ansible-core and rsync with `sudo bash .ci/install-ansible.sh`"
    );
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn run(command: &mut Command) -> Output {
    let output = command.stdin(Stdio::null()).output().unwrap();
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}\n{}",
        output.status,
        text(&output.stdout),
        text(&output.stderr)
    );
    output
}

/// `kcompile build --all --out OUT` (directory format): the expected files of every host.
fn build_tree(state: &Path, out: &Path) {
    run(common::kcompile_process(Path::new(REPO))
        .args(["build", "--all", "-f"])
        .arg(spec())
        .arg("--state")
        .arg(state)
        .arg("--out")
        .arg(out));
}

/// Every path under `dir` (files and directories), relative.
fn all_paths(dir: &Path) -> Vec<String> {
    let mut paths = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            paths.push(
                path.strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            );
            if fs::symlink_metadata(&path).unwrap().is_dir() {
                stack.push(path);
            }
        }
    }
    paths.sort();
    paths
}

/// The host's files under `root` are the bundle's: same contents, the modes the bundle and its
/// MANIFEST give, owner root when the test runs as root; nothing else in the manifests dir.
/// Who owns the files a push put on the host.
#[derive(Clone, Copy)]
enum Owners {
    /// The bundle's owners (root, or a rootless component's numeric ids): a tar unpacked as root.
    Bundle,
    /// root (rsync's `--chown=root:root`; the kubelet unit's systemd-tmpfiles step then gives
    /// rootless components their files).
    Root,
}

fn assert_root_holds_bundle(host: &str, root: &Path, expected: &Path, owners: Owners) {
    let want = common::bundle_files(&expected.join(host));
    assert!(
        want.len() > 5,
        "{host}: the build wrote only {} files",
        want.len()
    );
    let running_as_root = fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0);
    for (path, (bytes, mode)) in &want {
        let target = root.join(path);
        let meta = fs::symlink_metadata(&target)
            .unwrap_or_else(|e| panic!("{host}: `{path}` not in the root: {e}"));
        assert!(meta.is_file(), "{host}: `{path}` is not a regular file");
        assert_eq!(
            meta.permissions().mode() & 0o7777,
            *mode,
            "{host}: mode of `{path}`"
        );
        assert!(
            fs::read(&target).unwrap() == *bytes,
            "{host}: contents of `{path}` differ"
        );
        if running_as_root {
            let owner = match owners {
                Owners::Bundle => {
                    let built = fs::metadata(expected.join(host).join(path)).unwrap();
                    (built.uid(), built.gid())
                }
                Owners::Root => (0, 0),
            };
            assert_eq!((meta.uid(), meta.gid()), owner, "{host}: owner of `{path}`");
        }
    }
    // The modes the MANIFEST on the machine lists.
    let manifest = fs::read_to_string(root.join("etc/kubernetes/kcompile/MANIFEST")).unwrap();
    let mut listed = 0;
    for line in manifest.lines() {
        let fields: Vec<&str> = line.splitn(3, ' ').collect();
        if fields.len() == 3 && fields[0].len() == 4 && fields[1].len() == 64 {
            let mode = u32::from_str_radix(fields[0], 8).unwrap();
            let meta = fs::metadata(root.join(fields[2])).unwrap();
            assert_eq!(
                meta.permissions().mode() & 0o7777,
                mode,
                "{host}: MANIFEST mode of `{}`",
                fields[2]
            );
            listed += 1;
        }
    }
    // The MANIFEST does not list itself.
    assert_eq!(
        listed + 1,
        want.len(),
        "{host}: the MANIFEST lists every other file"
    );
    // No temp, backup or holding file in the static pod directory.
    let manifests_dir = root.join("etc/kubernetes/manifests");
    let mut present: Vec<String> = fs::read_dir(&manifests_dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    present.sort();
    let expected_manifests: Vec<String> = want
        .keys()
        .filter_map(|path| path.strip_prefix("etc/kubernetes/manifests/"))
        .map(str::to_owned)
        .collect();
    assert_eq!(
        present, expected_manifests,
        "{host}: the static pod directory"
    );
    for path in all_paths(root) {
        assert!(
            !path.contains(".~tmp~") && !path.ends_with('~') && !path.contains("/.kcompile"),
            "{host}: left over in the root: {path}"
        );
    }
}

/// `kcompile diff --root ROOT` exits 0 and prints only the no-change summary line.
fn assert_no_diff(host: &str, state: &Path, root: &Path) {
    let output = common::kcompile_process(Path::new(REPO))
        .args(["diff", "--color", "never", "--host", host, "-f"])
        .arg(spec())
        .arg("--state")
        .arg(state)
        .arg("--root")
        .arg(root)
        .output()
        .unwrap();
    let stdout = text(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{host}: kcompile diff --root {} after the rollout:\n{stdout}{}",
        root.display(),
        text(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{host}: only the summary line:\n{stdout}");
    assert!(
        lines[0].starts_with(&format!("{host}: 0 to add, 0 to change, 0 to remove, "))
            && lines[0].ends_with(" unchanged."),
        "{host}: summary line: {}",
        lines[0]
    );
}

/// The playbook's output split into tasks: (task name, lines of its results).
fn tasks(output: &str) -> Vec<(String, String)> {
    let mut tasks = Vec::new();
    for chunk in output.split("\nTASK [").skip(1) {
        let (name, rest) = chunk.split_once(']').unwrap();
        let body = rest.split("\nPLAY ").next().unwrap();
        tasks.push((name.to_owned(), body.to_owned()));
    }
    tasks
}

/// The index of the first task named `prefix...` whose results mention `marker`.
fn task_index(tasks: &[(String, String)], prefix: &str, marker: &str) -> Option<usize> {
    tasks
        .iter()
        .position(|(name, body)| name.starts_with(prefix) && body.contains(marker))
}

/// Runs the playbook over a local connection, stdin not a terminal; returns its output.
fn run_playbook(dir: &Path, extra_vars: &Path) -> String {
    let (success, output) = try_playbook(dir, extra_vars, &[]);
    assert!(success, "ansible-playbook failed:\n{output}");
    output
}

/// Runs the playbook; returns whether it succeeded, and its stdout and stderr.
fn try_playbook(dir: &Path, extra_vars: &Path, more_vars: &[&str]) -> (bool, String) {
    // Isolated as a kcompile run is: the playbook runs kcompile with this environment.
    let output = common::isolated("ansible-playbook", dir)
        .arg("-i")
        .arg(dir.join("inventory.ini"))
        .arg(Path::new(REPO).join("examples/ansible/kcompile.yml"))
        .arg("-e")
        .arg(format!("@{}", extra_vars.display()))
        .args(more_vars.iter().flat_map(|vars| ["-e", vars]))
        .env(
            "ANSIBLE_CONFIG",
            Path::new(REPO).join("examples/ansible/ansible.cfg"),
        )
        .env("ANSIBLE_HOME", dir.join("ansible-home"))
        .env("ANSIBLE_LOCAL_TEMP", dir.join("ansible-tmp"))
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_FORCE_COLOR", "0")
        .env("TMPDIR", dir.join("tmp"))
        .output()
        .expect("ansible-playbook could not be started");
    (
        output.status.success(),
        format!("{}{}", text(&output.stdout), text(&output.stderr)),
    )
}

#[test]
fn playbook_shows_the_diff_then_unpacks_and_a_second_run_changes_nothing() {
    require("ansible-playbook");
    let _heavy = common::heavy();
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let state = dir.join("state");
    let restarts = dir.join("kubelet-restarts.log");
    fs::create_dir(dir.join("tmp")).unwrap();
    let python = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| text(&o.stdout).trim().to_owned());
    // The settings where the README says they can be: in the inventory's `[all:vars]`, over the
    // playbook's defaults.yml (its kcompile_spec, cluster.yaml, does not exist; its restart is
    // `systemctl restart kubelet`; it asks for a yes). A host's line wins over `[all:vars]`: the
    // `kcompile_root` there is a dir that must never be made.
    let wrong_root = dir.join("all-vars-root");
    let mut inventory = String::from("[kubernetes]\n");
    for host in HOSTS {
        let root = dir.join(format!("root-{host}"));
        fs::create_dir(&root).unwrap();
        // A root with an unusual mode: the rollout must leave existing directories alone.
        fs::set_permissions(&root, fs::Permissions::from_mode(0o711)).unwrap();
        inventory.push_str(&format!("{host} kcompile_root={}\n", root.display()));
    }
    inventory.push_str("\n[kubernetes:vars]\nansible_connection=local\n");
    if let Some(python) = python {
        inventory.push_str(&format!("ansible_python_interpreter={python}\n"));
    }
    inventory.push_str(&format!(
        "\n[all:vars]\n\
         kcompile_bin={}\n\
         kcompile_spec={}\n\
         kcompile_state={}\n\
         kcompile_root={}\n\
         kcompile_confirm=false\n\
         kcompile_become=false\n\
         kcompile_kubelet_restart=echo {{{{ kcompile_host }}}} >> {}\n",
        KCOMPILE,
        spec().display(),
        state.display(),
        wrong_root.display(),
        restarts.display(),
    ));
    fs::write(dir.join("inventory.ini"), inventory).unwrap();
    // Only what the playbook reads before any host's vars comes as an extra var.
    let extra_vars = dir.join("vars.json");
    let vars = serde_json::json!({ "kcompile_serial": 1 });
    fs::write(&extra_vars, serde_json::to_vec_pretty(&vars).unwrap()).unwrap();

    // Asking for confirmation with no terminal: the diff is shown, the answer is not "yes", so
    // nothing is unpacked anywhere and the controller's work dir (bundles, keys) is deleted. The
    // -e extra var wins over the inventory's `kcompile_confirm=false`.
    let (success, refused) = try_playbook(dir, &extra_vars, &[r#"{"kcompile_confirm": true}"#]);
    assert!(!success, "applied without a yes:\n{refused}");
    assert!(
        task_index(&tasks(&refused), "Show the diff", "master01: ").is_some(),
        "no diff shown before the question:\n{refused}"
    );
    assert!(refused.contains("not confirmed"), "{refused}");
    for host in HOSTS {
        let root = dir.join(format!("root-{host}"));
        assert!(
            all_paths(&root).is_empty(),
            "{host}: unpacked without a yes: {:?}",
            all_paths(&root)
        );
    }
    assert_eq!(
        fs::read_dir(dir.join("tmp")).unwrap().count(),
        0,
        "left in TMPDIR after a no"
    );

    // First run: everything is new; `[all:vars]` says not to ask.
    let first = run_playbook(dir, &extra_vars);
    let first_tasks = tasks(&first);
    let expected = dir.join("expected");
    build_tree(&state, &expected);
    for host in HOSTS {
        let shown = task_index(&first_tasks, "Show the diff", &format!("{host}: "))
            .unwrap_or_else(|| panic!("{host}: no diff shown:\n{first}"));
        let body = &first_tasks[shown].1;
        let count = common::bundle_files(&expected.join(host)).len();
        assert!(
            body.contains(&format!(
                "{host}: {count} to add, 0 to change, 0 to remove, 0 unchanged."
            )),
            "{host}: the diff's summary:\n{body}"
        );
        assert!(
            body.contains("+ etc/kubernetes/kcompile/MANIFEST"),
            "{host}: the diff's files:\n{body}"
        );
        assert!(
            body.contains("restart: kubelet restarts"),
            "{host}: the diff's restarts:\n{body}"
        );
        let unpacked = task_index(
            &first_tasks,
            "Unpack the bundle",
            &format!("changed: [{host}]"),
        )
        .unwrap_or_else(|| panic!("{host}: not unpacked:\n{first}"));
        assert!(
            shown < unpacked,
            "{host}: unpacked before its diff was shown:\n{first}"
        );
        let root = dir.join(format!("root-{host}"));
        assert_root_holds_bundle(host, &root, &expected, Owners::Bundle);
        assert_eq!(
            fs::metadata(&root).unwrap().permissions().mode() & 0o7777,
            0o711,
            "{host}: the root directory's mode was changed"
        );
        assert_no_diff(host, &state, &root);
    }
    assert_eq!(
        fs::read_to_string(&restarts).unwrap(),
        "master01\nworker01\n",
        "the kubelet restarts once per host, by the inventory's [all:vars] kcompile_kubelet_restart"
    );
    assert!(
        !wrong_root.exists(),
        "the [all:vars] kcompile_root was used over the hosts' own"
    );
    // Secrets: no private key, nor the base64 of any key, in what the playbook printed.
    assert!(
        !first.contains("PRIVATE KEY"),
        "a private key in the output:\n{first}"
    );
    for host in HOSTS {
        for (path, (bytes, _)) in common::bundle_files(&expected.join(host)) {
            if path.ends_with(".key") {
                for line in text(&bytes)
                    .lines()
                    .filter(|l| l.len() > 20 && !l.starts_with("-----"))
                {
                    assert!(
                        !first.contains(line),
                        "{host}: the key `{path}` in the output"
                    );
                }
            }
        }
    }
    // The controller's work dir, the hosts' staging dirs and the mirrors are gone.
    let leftovers: Vec<String> = fs::read_dir(dir.join("tmp"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("kcompile"))
        .collect();
    assert!(leftovers.is_empty(), "left in TMPDIR: {leftovers:?}");

    // Second run: nothing to do, nothing done.
    let second = run_playbook(dir, &extra_vars);
    let second_tasks = tasks(&second);
    for host in HOSTS {
        let shown = task_index(&second_tasks, "Show the diff", &format!("{host}: "))
            .unwrap_or_else(|| panic!("{host}: no diff shown:\n{second}"));
        assert!(
            second_tasks[shown]
                .1
                .contains(&format!("{host}: 0 to add, 0 to change, 0 to remove, ")),
            "{host}: the second diff:\n{second}"
        );
        assert!(
            task_index(
                &second_tasks,
                "Unpack the bundle",
                &format!("skipping: [{host}]")
            )
            .is_some(),
            "{host}: unpacked again:\n{second}"
        );
        let recap = second
            .lines()
            .find(|line| line.starts_with(host) && line.contains(" changed="))
            .unwrap_or_else(|| panic!("{host}: no recap:\n{second}"));
        assert!(
            recap.contains(" changed=0 ") && recap.contains(" failed=0 "),
            "{recap}"
        );
        assert_no_diff(host, &state, &dir.join(format!("root-{host}")));
    }
    assert_eq!(
        fs::read_to_string(&restarts).unwrap(),
        "master01\nworker01\n",
        "no kubelet restart on the second run"
    );

    // Third run: master01's MANIFEST lists files the build does not produce. The playbook removes
    // them as `kcompile build --out` prunes: only unchanged regular files in the directories
    // kcompile owns (and the owned directories that empties); the rest is left and said why.
    let root = dir.join("root-master01");
    let planted = [
        (
            "etc/kubernetes/manifests/retired-addon.yaml",
            "kind: Pod\n",
            true,
        ),
        ("etc/kubernetes/retired/old.conf", "old\n", true),
        ("etc/kubernetes/edited.conf", "as written\n", false),
        ("etc/outside.conf", "not kcompile's\n", false),
    ];
    let mut manifest = fs::read_to_string(root.join("etc/kubernetes/kcompile/MANIFEST")).unwrap();
    for (path, content, _) in planted {
        let target = root.join(path);
        fs::create_dir_all(target.parent().unwrap()).unwrap();
        fs::write(&target, content).unwrap();
        let sha = Command::new("sha256sum").arg(&target).output().unwrap();
        manifest.push_str(&format!("0644 {} {path}\n", &text(&sha.stdout)[..64]));
    }
    fs::write(root.join("etc/kubernetes/kcompile/MANIFEST"), manifest).unwrap();
    fs::write(root.join("etc/kubernetes/edited.conf"), "edited since\n").unwrap();
    let third = run_playbook(dir, &extra_vars);
    let third_tasks = tasks(&third);
    let shown = task_index(&third_tasks, "Show the diff", "master01: ")
        .unwrap_or_else(|| panic!("master01: no diff shown:\n{third}"));
    assert!(
        third_tasks[shown]
            .1
            .contains("master01: 0 to add, 1 to change, 4 to remove, "),
        "master01: the third diff:\n{third}"
    );
    for (path, _, removed) in planted {
        assert_eq!(
            !root.join(path).exists(),
            removed,
            "master01: `{path}` removed or left:\n{third}"
        );
    }
    assert!(
        !root.join("etc/kubernetes/retired").exists(),
        "the owned directory the prune emptied is left"
    );
    for said in [
        "removed etc/kubernetes/manifests/retired-addon.yaml",
        "removed etc/kubernetes/retired/",
        "left etc/kubernetes/edited.conf: changed since kcompile wrote it",
        "left etc/outside.conf: outside the directories kcompile owns",
    ] {
        assert!(third.contains(said), "not said: {said}\n{third}");
    }
    assert!(
        task_index(&third_tasks, "Unpack the bundle", "skipping: [worker01]").is_some(),
        "worker01: unpacked again:\n{third}"
    );
    assert_root_holds_bundle("master01", &root, &expected, Owners::Bundle);
    for host in HOSTS {
        assert_no_diff(host, &state, &dir.join(format!("root-{host}")));
    }
    assert_eq!(
        fs::read_to_string(&restarts).unwrap(),
        "master01\nworker01\n",
        "no kubelet restart for removed files"
    );
}

/// The positions of the first `Show the diff` result of each host, in the playbook's output.
fn diff_order(output: &str) -> Vec<String> {
    let mut order = Vec::new();
    for (name, body) in tasks(output) {
        if !name.starts_with("Show the diff") {
            continue;
        }
        for host in HOSTS {
            if body.contains(&format!("[{host}]")) && !order.contains(&host.to_owned()) {
                order.push(host.to_owned());
            }
        }
    }
    order
}

#[test]
fn playbook_rolls_the_hosts_in_the_plans_order_with_its_steps() {
    require("ansible-playbook");
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let state = dir.join("state");
    let restarts = dir.join("kubelet-restarts.log");
    fs::create_dir(dir.join("tmp")).unwrap();
    let spec_path = dir.join("cluster.yaml");
    let original = fs::read_to_string(spec()).unwrap();
    fs::write(&spec_path, &original).unwrap();
    // The worker first in the inventory: the plan puts the control plane first.
    let mut inventory = String::from("[kubernetes]\n");
    for host in ["worker01", "master01"] {
        let root = dir.join(format!("root-{host}"));
        fs::create_dir(&root).unwrap();
        inventory.push_str(&format!("{host} kcompile_root={}\n", root.display()));
    }
    inventory.push_str("\n[kubernetes:vars]\nansible_connection=local\n");
    if let Some(python) = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .ok()
        .filter(|o| o.status.success())
    {
        inventory.push_str(&format!(
            "ansible_python_interpreter={}\n",
            text(&python.stdout).trim()
        ));
    }
    inventory.push_str(&format!(
        "\n[all:vars]\nkcompile_bin={KCOMPILE}\nkcompile_spec={}\nkcompile_state={}\n\
         kcompile_confirm=false\nkcompile_become=false\n\
         kcompile_kubelet_restart=echo {{{{ kcompile_host }}}} >> {}\n",
        spec_path.display(),
        state.display(),
        restarts.display(),
    ));
    fs::write(dir.join("inventory.ini"), inventory).unwrap();
    let extra_vars = dir.join("vars.json");
    fs::write(&extra_vars, "{}").unwrap();

    // A new cluster: every host is new; master01's etcd wave comes first, the workers' last.
    let first = run_playbook(dir, &extra_vars);
    assert_eq!(diff_order(&first), ["master01", "worker01"], "{first}");
    assert_eq!(
        fs::read_to_string(&restarts).unwrap(),
        "master01\nworker01\n"
    );
    let first_tasks = tasks(&first);
    let after = task_index(
        &first_tasks,
        "The plan's steps to run after",
        "ok: [master01]",
    )
    .unwrap_or_else(|| panic!("master01: no after steps:\n{first}"));
    assert!(
        first_tasks[after]
            .1
            .contains("etcdctl endpoint health --cluster"),
        "{}",
        first_tasks[after].1
    );
    let before = task_index(
        &first_tasks,
        "The plan's steps to run before",
        "ok: [worker01]",
    )
    .unwrap_or_else(|| panic!("worker01: no before steps:\n{first}"));
    assert!(first_tasks[before].1.contains("kubectl drain"), "{first}");
    // Each host alone in its batch: master01's play ends before worker01's starts.
    let plays: Vec<&str> = first
        .lines()
        .filter(|line| line.starts_with("PLAY [Show the diff"))
        .collect();
    assert_eq!(plays.len(), 2, "{first}");

    // A SAN change: the plan (against the state's record of the last build) rolls the apiservers;
    // worker01 has only its MANIFEST to change and goes last.
    Spec::parse(&original)
        .push("pki.apiServerCertSANs", "api.ansible.example.com")
        .write(&spec_path);
    let second = run_playbook(dir, &extra_vars);
    assert_eq!(diff_order(&second), ["master01", "worker01"], "{second}");
    let second_tasks = tasks(&second);
    let after = task_index(
        &second_tasks,
        "The plan's steps to run after",
        "ok: [master01]",
    )
    .unwrap_or_else(|| panic!("master01: no after steps:\n{second}"));
    assert!(second_tasks[after].1.contains("/readyz"), "{second}");
    assert!(
        task_index(
            &second_tasks,
            "The plan's steps to run before",
            "ok: [worker01]"
        )
        .is_none(),
        "{second}"
    );
    // The build the playbook made is recorded: nothing is left to roll out.
    let plan = common::kcompile(dir)
        .args(["plan", "-f"])
        .arg(&spec_path)
        .arg("--state")
        .arg(&state)
        .output()
        .unwrap();
    assert_eq!(plan.status.code(), Some(0), "{}", text(&plan.stdout));
}

/// The `kcompile_push` function of examples/ansible/README.md.
fn rsync_recipe() -> String {
    let readme = fs::read_to_string(Path::new(REPO).join("examples/ansible/README.md")).unwrap();
    let start = readme
        .find("kcompile_push() {")
        .expect("README: no kcompile_push function");
    let end = start
        + readme[start..]
            .find("\n}\n")
            .expect("README: kcompile_push not closed")
        + 3;
    readme[start..end].to_owned()
}

fn push(out: &Path, host: &str, dest: &Path, tmp: &Path) {
    let script = format!(
        "set -eu\n{}\nkcompile_push \"$1\" \"$2\" \"$3\"\n",
        rsync_recipe()
    );
    run(Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("kcompile_push")
        .arg(out)
        .arg(host)
        .arg(dest)
        .env("KCOMPILE_RSYNC_TMP", tmp));
}

#[test]
fn rsync_recipe_pushes_an_out_tree_and_leaves_nothing_in_the_manifests_dir() {
    require("rsync");
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path();
    let state = dir.join("state");
    let out = dir.join("out");
    build_tree(&state, &out);
    let root = dir.join("root");
    fs::create_dir(&root).unwrap();
    fs::set_permissions(&root, fs::Permissions::from_mode(0o711)).unwrap();
    let rsync_tmp = dir.join("rsync-tmp");
    let host = "master01";

    push(&out, host, &root, &rsync_tmp);
    assert_root_holds_bundle(host, &root, &out, Owners::Root);
    assert_no_diff(host, &state, &root);

    // Drift on the machine: a changed manifest, a changed certificate, a loosened key mode.
    let manifest = root.join("etc/kubernetes/manifests/kube-apiserver.yaml");
    let mut bytes = fs::read(&manifest).unwrap();
    bytes.extend_from_slice(b"# edited by hand\n");
    fs::write(&manifest, bytes).unwrap();
    fs::write(
        root.join("etc/kubernetes/pki/ca.crt"),
        "not a certificate\n",
    )
    .unwrap();
    fs::set_permissions(
        root.join("etc/kubernetes/pki/apiserver.key"),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    push(&out, host, &root, &rsync_tmp);
    assert_root_holds_bundle(host, &root, &out, Owners::Root);
    assert_no_diff(host, &state, &root);
    assert_eq!(
        fs::metadata(&root).unwrap().permissions().mode() & 0o7777,
        0o711,
        "the root directory's mode was changed"
    );
    assert!(
        all_paths(&rsync_tmp).is_empty(),
        "left in the temp dir: {:?}",
        all_paths(&rsync_tmp)
    );
}
