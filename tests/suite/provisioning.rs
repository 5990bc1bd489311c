//! The provisioning formats (`bundle::cloud_init`, `bundle::ignition`) against the tar of the
//! same bundle and against the real tools. examples/single-node.yaml (ECDSA keys: fast) is built
//! twice from one state dir (`kcompile build --host node01 > tar`, as a user would), each tar read
//! back into a `FileSet`, and the documents made from it through the library:
//!
//! - **round trip, decoded here**: every `write_files` entry (cloud-init) and every data URL
//!   (Ignition) decoded by this test (YAML parsed by serde-saphyr, base64, gunzip) gives the tar's
//!   files byte for byte and mode for mode, root-owned; the directories each format sets are the
//!   tar's directories, 0755; the kubelet is enabled and started.
//! - **round trip, written by the real tools**: cloud-init's own `write_files` module (Debian's
//!   cloud-init, its Python) writes the cloud-config's files under a temp root, under umask 077,
//!   then the document's `runcmd` `chmod` is run there; Ignition's own `files` stage (Debian's
//!   ignition, `-platform file -root TMP`) writes the Ignition config's. Both trees equal the tar.
//! - **validators**: `cloud-init schema --config-file` accepts the cloud-config;
//!   `ignition-validate` accepts the Ignition config. Each also rejects a broken copy, so a
//!   validator that accepts anything would fail the test.
//! - **determinism**: the two builds give the same tar, and the same documents to the byte.
//!
//! Debian 12's ignition is 2.14.0, which knows spec 3.4.0 only as `3.4.0-experimental` (3.4.0 was
//! stabilized in 2.15.0, changing only LUKS and Tang fields this config does not use, and adding
//! one check, a `storage.files` path that a unit with `contents` also writes, which this test
//! makes itself). When the installed validator refuses `3.4.0` as an unsupported version, the
//! same document relabeled `3.4.0-experimental` is validated, and the test says so on stderr.
//!
//! Needs cloud-init and ignition (`.ci/install-provisioning.sh`) and root (the tools chown to
//! root); without them the tests fail, saying how to install them.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use kcompile::bundle::cloud_init::{Document, USER_DATA_LIMIT};
use kcompile::bundle::{cloud_init, ignition};
use kcompile::render::FileSet;
use serde::Deserialize;
use serde_json::Value;

use crate::common;

const SINGLE_NODE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/single-node.yaml");
const HOST: &str = "node01";
const INSTALL_HINT: &str = "install it with `bash .ci/install-provisioning.sh` (as root; \
                            Debian 12: `apt-get install cloud-init ignition`)";
/// Where Debian's ignition package installs Ignition itself (for the initramfs).
const IGNITION: &str = "/usr/lib/dracut/modules.d/30ignition/ignition";

/// Writes past the test harness's capture, so the tool versions and sizes show in every run.
fn note(text: &str) {
    let _ = writeln!(std::io::stderr(), "provisioning: {text}");
}

/// Absolute path → (mode, bytes).
type Files = BTreeMap<String, (u32, Vec<u8>)>;

/// One build's bundle, read back from its tar.
struct Bundle {
    tar: Vec<u8>,
    set: FileSet,
    /// The tar's files by absolute path.
    files: Files,
    /// The tar's directory entries by absolute path, with their modes.
    directories: BTreeMap<String, u32>,
}

/// The bundle of two builds from the same spec and state dir.
fn bundles() -> &'static [Bundle; 2] {
    static BUNDLES: OnceLock<[Bundle; 2]> = OnceLock::new();
    BUNDLES.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        fs::copy(SINGLE_NODE, dir.path().join("cluster.yaml")).unwrap();
        let build = || {
            let output = common::kcompile_process(dir.path())
                .args([
                    "build",
                    "-f",
                    "cluster.yaml",
                    "--state",
                    "state",
                    "--host",
                    HOST,
                ])
                .stdin(Stdio::null())
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "build failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            read_tar(output.stdout)
        };
        [build(), build()]
    })
}

fn bundle() -> &'static Bundle {
    &bundles()[0]
}

fn read_tar(tar: Vec<u8>) -> Bundle {
    let mut set = FileSet::default();
    let mut files = Files::new();
    let mut directories = BTreeMap::new();
    let mut archive = tar::Archive::new(tar.as_slice());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let header = entry.header();
        assert_eq!((header.uid().unwrap(), header.gid().unwrap()), (0, 0));
        let mode = header.mode().unwrap();
        let kind = header.entry_type();
        let path = entry.path().unwrap().to_str().unwrap().to_owned();
        if kind.is_dir() {
            directories.insert(format!("/{}", path.trim_end_matches('/')), mode);
        } else {
            assert!(kind.is_file(), "{path}: neither a file nor a directory");
            let mut bytes = Vec::new();
            entry.read_to_end(&mut bytes).unwrap();
            files.insert(format!("/{path}"), (mode, bytes.clone()));
            set.add(path, bytes, mode);
        }
    }
    assert!(files.len() > 30, "a single-node bundle has more files");
    Bundle {
        tar,
        set,
        files,
        directories,
    }
}

fn cloud_config(bundle: &Bundle) -> Document {
    cloud_init::document(&bundle.set, HOST).unwrap()
}

fn ignition_config(bundle: &Bundle) -> Document {
    ignition::document(&bundle.set).unwrap()
}

/// Asserts that `got` holds exactly the tar's files, each with its bytes and mode; names the
/// first difference (sizes, never contents: some are keys).
fn assert_same_files(what: &str, got: &Files) {
    let expected = &bundle().files;
    let missing: Vec<_> = expected.keys().filter(|p| !got.contains_key(*p)).collect();
    let extra: Vec<_> = got.keys().filter(|p| !expected.contains_key(*p)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "{what}: missing {missing:?}, extra {extra:?}"
    );
    for (path, (mode, bytes)) in expected {
        let (got_mode, got_bytes) = &got[path];
        assert_eq!(
            got_mode, mode,
            "{what}: {path}: mode {got_mode:o}, not {mode:o}"
        );
        assert!(
            got_bytes == bytes,
            "{what}: {path}: {} bytes differ from the tar's {}",
            got_bytes.len(),
            bytes.len()
        );
    }
}

fn gunzip(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// The fields of a cloud-config kcompile writes; anything else is an error.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CloudConfig {
    write_files: Vec<WriteFile>,
    runcmd: Vec<Vec<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WriteFile {
    path: String,
    owner: String,
    permissions: String,
    encoding: String,
    content: String,
}

fn parse_cloud_config(text: &str) -> CloudConfig {
    assert!(text.starts_with("#cloud-config\n"), "no #cloud-config line");
    serde_saphyr::from_str(text).unwrap()
}

/// A tool on PATH, or a failure saying how to install it.
fn tool(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
        .unwrap_or_else(|| panic!("`{name}` is not installed (or not on PATH): {INSTALL_HINT}"))
}

fn run(command: &mut Command) -> Output {
    command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{command:?}: {e}: {INSTALL_HINT}"))
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Every entry under `root`, links not followed: absolute path (as on the host) → (mode, bytes),
/// files and directories apart; every entry must be root's.
fn walk(root: &Path) -> (Files, BTreeMap<String, u32>) {
    let mut files = Files::new();
    let mut directories = BTreeMap::new();
    for entry in walkdir::WalkDir::new(root).min_depth(1) {
        let entry = entry.unwrap();
        let meta = entry.path().symlink_metadata().unwrap();
        let path = format!(
            "/{}",
            entry.path().strip_prefix(root).unwrap().to_str().unwrap()
        );
        assert_eq!((meta.uid(), meta.gid()), (0, 0), "{path} is not root's");
        let mode = meta.permissions().mode() & 0o7777;
        if meta.is_dir() {
            directories.insert(path, mode);
        } else {
            assert!(meta.is_file(), "{path}: neither a file nor a directory");
            files.insert(path, (mode, fs::read(entry.path()).unwrap()));
        }
    }
    (files, directories)
}

#[test]
fn the_cloud_config_decodes_to_the_tars_files_and_starts_the_kubelet() {
    let document = cloud_config(bundle());
    let config = parse_cloud_config(&document.text);
    let mut got = Files::new();
    for file in &config.write_files {
        assert_eq!(file.owner, "root:root", "{}", file.path);
        assert_eq!(
            file.permissions.len(),
            4,
            "{}: {}",
            file.path,
            file.permissions
        );
        let mode = u32::from_str_radix(&file.permissions, 8).unwrap();
        let decoded = STANDARD.decode(&file.content).unwrap();
        let bytes = match file.encoding.as_str() {
            "gz+b64" => gunzip(&decoded),
            "b64" => decoded,
            other => panic!("{}: encoding {other}", file.path),
        };
        assert!(
            got.insert(file.path.clone(), (mode, bytes)).is_none(),
            "{} twice",
            file.path
        );
    }
    assert_same_files("cloud-config write_files", &got);
    // The directories the tar holds, all 0755, set by one chmod; then the kubelet.
    let tar_dirs: Vec<String> = bundle().directories.keys().cloned().collect();
    assert!(bundle().directories.values().all(|mode| *mode == 0o755));
    let mut chmod = vec!["chmod".to_owned(), "0755".to_owned()];
    chmod.extend(tar_dirs);
    assert_eq!(
        config.runcmd,
        vec![
            chmod,
            vec!["systemctl".to_owned(), "daemon-reload".to_owned()],
            ["systemctl", "enable", "--now", "kubelet"]
                .map(str::to_owned)
                .to_vec(),
        ]
    );
    let unit = &bundle().files["/etc/systemd/system/kubelet.service"].1;
    assert!(String::from_utf8_lossy(unit).contains("\n[Install]\nWantedBy=multi-user.target\n"));
}

#[test]
fn the_ignition_config_decodes_to_the_tars_files_and_enables_the_kubelet() {
    let document = ignition_config(bundle());
    assert!(document.text.ends_with("}\n") && document.text.lines().count() == 1);
    let config: Value = serde_json::from_str(&document.text).unwrap();
    assert_eq!(config["ignition"], serde_json::json!({"version": "3.4.0"}));
    let mut got = Files::new();
    for file in config["storage"]["files"].as_array().unwrap() {
        let path = file["path"].as_str().unwrap();
        assert_eq!(file["overwrite"], Value::Bool(true), "{path}");
        // No owner: Ignition's default is uid and gid 0.
        assert!(file.get("user").is_none() && file.get("group").is_none());
        let mode = u32::try_from(file["mode"].as_u64().unwrap()).unwrap();
        let contents = &file["contents"];
        let source = contents["source"].as_str().unwrap();
        // RFC 2397: data:[<mediatype>][;base64],<data>
        let (header, data) = source
            .strip_prefix("data:")
            .unwrap()
            .split_once(',')
            .unwrap();
        assert_eq!(header, ";base64", "{path}");
        let decoded = STANDARD.decode(data).unwrap();
        let bytes = match contents.get("compression") {
            Some(Value::String(gzip)) if gzip == "gzip" => gunzip(&decoded),
            None => decoded,
            other => panic!("{path}: compression {other:?}"),
        };
        assert!(got.insert(path.to_owned(), (mode, bytes)).is_none());
    }
    assert_same_files("Ignition storage.files", &got);
    let directories: BTreeMap<String, u32> = config["storage"]["directories"]
        .as_array()
        .unwrap()
        .iter()
        .map(|dir| {
            (
                dir["path"].as_str().unwrap().to_owned(),
                u32::try_from(dir["mode"].as_u64().unwrap()).unwrap(),
            )
        })
        .collect();
    assert_eq!(&directories, &bundle().directories);
    // The unit file ships in storage.files; the unit is only enabled. Spec 3.4.0 refuses a file
    // path that a unit with `contents` also writes (ErrPathConflictsSystemd, a check Debian 12's
    // validator predates): no unit has contents.
    assert_eq!(
        config["systemd"],
        serde_json::json!({"units": [{"name": "kubelet.service", "enabled": true}]})
    );
    assert!(got.contains_key("/etc/systemd/system/kubelet.service"));
}

#[test]
fn two_builds_give_the_same_documents_byte_for_byte() {
    let [first, second] = bundles();
    assert!(first.tar == second.tar, "the two builds' tars differ");
    assert_eq!(cloud_config(first), cloud_config(second));
    assert_eq!(ignition_config(first), ignition_config(second));
    // Every gzip member has mtime 0 and no name (FLG 0).
    let config = parse_cloud_config(&cloud_config(first).text);
    for file in config.write_files.iter().filter(|f| f.encoding == "gz+b64") {
        let gz = STANDARD.decode(&file.content).unwrap();
        assert_eq!(&gz[..8], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0], "{}", file.path);
    }
}

#[test]
fn past_16_kib_each_document_warns_and_the_sizes_are_shown() {
    let bundle = bundle();
    let raw: usize = bundle.files.values().map(|(_, bytes)| bytes.len()).sum();
    let cloud = cloud_config(bundle);
    let ignition = ignition_config(bundle);
    note(&format!(
        "{HOST}: {} files, {raw} bytes raw, tar {} bytes; cloud-config {} bytes; Ignition {} bytes",
        bundle.files.len(),
        bundle.tar.len(),
        cloud.text.len(),
        ignition.text.len()
    ));
    for (document, start) in [
        (&cloud, "the cloud-config of node01 is "),
        (&ignition, "the Ignition config is "),
    ] {
        assert!(document.text.len() > USER_DATA_LIMIT);
        assert_eq!(document.warnings.len(), 1, "{:?}", document.warnings);
        let warning = &document.warnings[0];
        assert!(
            warning.starts_with(&format!("{start}{} bytes", document.text.len())),
            "{warning}"
        );
        assert!(warning.contains("16 KiB"), "{warning}");
    }
    // Compression pays: smaller than the files they carry, base64 included.
    assert!(cloud.text.len() < raw && ignition.text.len() < raw);
}

#[test]
fn cloud_init_schema_accepts_the_cloud_config_and_refuses_a_broken_one() {
    let cloud_init = tool("cloud-init");
    let version = run(Command::new(&cloud_init).arg("--version"));
    note(&format!("cloud-init {}", text(&version).trim()));
    let dir = tempfile::tempdir().unwrap();
    let document = cloud_config(bundle()).text;
    let schema = |text: &str| {
        let path = dir.path().join("user-data");
        fs::write(&path, text).unwrap();
        run(Command::new(&cloud_init)
            .args(["schema", "--config-file"])
            .arg(&path))
    };
    let output = schema(&document);
    assert!(
        output.status.success() && text(&output).contains("Valid cloud-config"),
        "cloud-init schema refused the cloud-config: {}",
        text(&output)
    );
    let broken = document.replacen("encoding: gz+b64", "encoding: gz+b65", 1);
    let output = schema(&broken);
    assert!(
        !output.status.success(),
        "cloud-init schema accepted an unknown encoding: {}",
        text(&output)
    );
}

#[test]
fn cloud_inits_own_write_files_writes_the_tars_tree() {
    // cloud-init's modules run in the Python its script names.
    let cloud_init = tool("cloud-init");
    let script = fs::read_to_string(&cloud_init).unwrap();
    let python = script
        .lines()
        .next()
        .and_then(|line| line.strip_prefix("#!"))
        .map_or_else(
            || panic!("{}: no #! line: {INSTALL_HINT}", cloud_init.display()),
            |line| line.split_whitespace().collect::<Vec<_>>(),
        );
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    fs::create_dir(&root).unwrap();
    let document = cloud_config(bundle()).text;
    let user_data = dir.path().join("user-data");
    fs::write(&user_data, &document).unwrap();
    // cloud-init's YAML loader and write_files module, each path moved under the temp root,
    // under umask 077 (cloud-init never sets the mode of the parents it creates).
    let program = r#"
import os, sys
from cloudinit import util
from cloudinit.config import cc_write_files
root, user_data = sys.argv[1], sys.argv[2]
with open(user_data) as f:
    config = util.load_yaml(f.read())
files = config["write_files"]
for entry in files:
    assert entry["path"].startswith("/")
    entry["path"] = root + entry["path"]
os.umask(0o077)
cc_write_files.write_files("write_files", files, "root:root")
"#;
    let output = run(Command::new(python[0])
        .args(&python[1..])
        .args(["-c", program])
        .arg(&root)
        .arg(&user_data));
    assert!(
        output.status.success(),
        "cloud-init's write_files failed: {}",
        text(&output)
    );
    let (files, before) = walk(&root);
    assert_same_files("cloud-init write_files", &files);
    // Without the runcmd chmod, the directories kcompile owns would keep cloud-init's umask.
    assert_eq!(before["/etc/kubernetes/pki"], 0o700);
    // The document's chmod, run under the temp root.
    let config = parse_cloud_config(&document);
    let chmod = &config.runcmd[0];
    assert_eq!(chmod[..2], ["chmod", "0755"]);
    let status = Command::new("chmod")
        .arg(&chmod[1])
        .args(chmod[2..].iter().map(|dir| root.join(&dir[1..])))
        .status()
        .unwrap();
    assert!(status.success());
    let (_, after) = walk(&root);
    for (dir, mode) in &bundle().directories {
        assert_eq!(after[dir], *mode, "{dir}");
    }
}

/// The Ignition config as the installed ignition-validate takes it: as written, or relabeled
/// `3.4.0-experimental` when the validator predates 3.4.0 (Debian 12's 2.14.0; see the module
/// doc). Returns the validator's version and the document to give it.
fn for_installed_ignition(document: &str) -> (String, String) {
    let validate = tool("ignition-validate");
    let version = text(&run(Command::new(&validate).arg("--version")))
        .trim()
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.ign");
    fs::write(&path, document).unwrap();
    let output = run(Command::new(&validate).arg(&path));
    if !output.status.success() && text(&output).contains("unsupported config version") {
        note(&format!(
            "{version} predates spec 3.4.0: validating the config as 3.4.0-experimental"
        ));
        let relabeled = document.replacen(
            r#"{"ignition":{"version":"3.4.0"}"#,
            r#"{"ignition":{"version":"3.4.0-experimental"}"#,
            1,
        );
        assert!(relabeled != document, "no version 3.4.0 to relabel");
        return (version, relabeled);
    }
    (version, document.to_owned())
}

#[test]
fn ignition_validate_accepts_the_config_and_refuses_a_broken_one() {
    let validate = tool("ignition-validate");
    let (version, document) = for_installed_ignition(&ignition_config(bundle()).text);
    note(&format!("ignition-validate: {version}"));
    let dir = tempfile::tempdir().unwrap();
    let check = |text: &str| {
        let path = dir.path().join("config.ign");
        fs::write(&path, text).unwrap();
        run(Command::new(&validate).arg(&path))
    };
    let output = check(&document);
    // Warnings are printed too: none is expected.
    assert!(
        output.status.success() && text(&output).trim().is_empty(),
        "ignition-validate refused the config: {}",
        text(&output)
    );
    let broken = document.replacen(r#""mode":384"#, r#""mode":"0600""#, 1);
    assert!(broken != document, "no mode 384 to break");
    let output = check(&broken);
    assert!(
        !output.status.success(),
        "ignition-validate accepted a string mode: {}",
        text(&output)
    );
}

#[test]
fn ignitions_own_files_stage_writes_the_tars_tree() {
    assert!(
        Path::new(IGNITION).is_file(),
        "{IGNITION} is missing: {INSTALL_HINT}"
    );
    let (_, document) = for_installed_ignition(&ignition_config(bundle()).text);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    let config = dir.path().join("config.ign");
    fs::write(&config, &document).unwrap();
    // Debian builds Ignition with SELinux relabeling on: after writing, it reads the policy's
    // name from the root and runs `setfiles`. There is no policy here: name one, and stub
    // `setfiles` (relabeling is all it would do).
    fs::create_dir_all(root.join("etc/selinux")).unwrap();
    fs::write(root.join("etc/selinux/config"), "SELINUXTYPE=none\n").unwrap();
    let bin = dir.path().join("bin");
    fs::create_dir(&bin).unwrap();
    fs::write(bin.join("setfiles"), "#!/bin/sh\ncat >/dev/null\n").unwrap();
    fs::set_permissions(bin.join("setfiles"), fs::Permissions::from_mode(0o755)).unwrap();
    let path = std::env::join_paths(std::iter::once(bin.clone()).chain(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    )))
    .unwrap();
    for stage in ["fetch-offline", "files"] {
        let output = run(Command::new("sh")
            .args(["-c", "umask 077; exec \"$0\" \"$@\"", IGNITION])
            .args([
                "-platform",
                "file",
                "-stage",
                stage,
                "-log-to-stdout",
                "-root",
            ])
            .arg(&root)
            .arg("-config-cache")
            .arg(dir.path().join("cache.json"))
            .arg("-state-file")
            .arg(dir.path().join("state"))
            .arg("-neednet")
            .arg(dir.path().join("neednet"))
            .env("IGNITION_CONFIG_FILE", &config)
            .env("PATH", &path));
        let log = text(&output);
        assert!(
            output.status.success() && log.contains("Ignition finished successfully"),
            "Ignition's {stage} stage failed: {}",
            log.lines()
                .filter(|line| line.contains("CRITICAL") || line.contains("ERROR"))
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    let (mut files, directories) = walk(&root);
    // What Ignition adds of its own: the preset that enables the kubelet at first boot, its
    // result file; and the SELinux config this test wrote.
    let preset = files
        .remove("/etc/systemd/system-preset/20-ignition.preset")
        .expect("Ignition wrote no systemd preset");
    assert_eq!(preset.1, b"enable kubelet.service\n");
    assert!(files.remove("/etc/.ignition-result.json").is_some());
    assert!(files.remove("/etc/selinux/config").is_some());
    assert_same_files("Ignition's files stage", &files);
    for (dir, mode) in &bundle().directories {
        assert_eq!(directories[dir], *mode, "{dir}");
    }
    // The parents Ignition creates that kcompile does not own (`/etc/systemd`, `/var/lib`) follow
    // Ignition's umask (077 here), as the other sinks leave system directories alone; on a real
    // image they exist already.
    assert_eq!(directories["/var/lib"], 0o700);
}
