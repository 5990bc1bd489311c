//! Unit tests of the state dir: opening, checking, staging, modes.

use super::*;

fn committed(root: &Path, files: &[(&str, &[u8])]) -> State {
    let (mut state, _) = State::open_or_create(root).unwrap();
    let mut transaction = state.begin();
    for (path, bytes) in files {
        transaction.write(path, bytes.to_vec(), 0o600);
    }
    let changes = transaction.finish();
    state.commit(changes).unwrap();
    state
}

#[test]
fn a_recorded_item_that_goes_missing_or_changes_is_named() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("state");
    drop(committed(
        &root,
        &[
            ("pki/sa.key", b"key"),
            ("secrets/etcd-initial-cluster-token", b"t"),
        ],
    ));
    assert_eq!(
        fs::metadata(&root).unwrap().permissions().mode() & 0o777,
        0o700
    );
    State::open(&root, Access::ReadOnly)
        .unwrap()
        .check_all()
        .unwrap();
    fs::remove_file(root.join("pki/sa.key")).unwrap();
    // Opening reads only the inventory; the item is checked when a run uses it.
    let state = State::open(&root, Access::Write).unwrap();
    let error = state.read("pki/sa.key").unwrap_err().to_string();
    assert_eq!(state.check_all().unwrap_err().to_string(), error);
    drop(state);
    assert!(
        error.contains("`pki/sa.key` (service-account-key"),
        "{error}"
    );
    assert!(error.contains("is missing"), "{error}");
    assert!(error.contains("service-account token"), "{error}");
    fs::write(root.join("pki/sa.key"), b"other").unwrap();
    let state = State::open(&root, Access::ReadOnly).unwrap();
    let error = state.load(["pki/sa.key"]).unwrap_err().to_string();
    assert!(error.contains("is not what was recorded"), "{error}");
}

#[test]
fn reads_see_staged_writes_and_previews_never_write() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("state");
    drop(committed(&root, &[("pki/sa.key", b"one")]));
    let state = State::open(&root, Access::ReadOnly).unwrap();
    let mut transaction = state.begin();
    transaction.write("pki/sa.key", b"two".to_vec(), 0o600);
    transaction.retire("pki/sa.key").unwrap();
    assert_eq!(transaction.read("pki/sa.key").unwrap().unwrap(), b"two");
    drop(transaction);
    assert_eq!(fs::read(root.join("pki/sa.key")).unwrap(), b"one");
}

#[test]
fn a_state_without_inventory_is_refused_until_recorded() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("state");
    fs::create_dir_all(root.join("pki")).unwrap();
    fs::set_permissions(&root, fs::Permissions::from_mode(0o700)).unwrap();
    fs::write(root.join("pki/ca.crt"), b"cert").unwrap();
    let error = State::open(&root, Access::Write).unwrap_err().to_string();
    assert!(error.contains("no inventory"), "{error}");
    assert_eq!(State::record_existing(&root).unwrap(), ["pki/ca.crt"]);
    let state = State::open(&root, Access::ReadOnly).unwrap();
    assert!(state.inventory().items.contains_key("pki/ca.crt"));
}

#[test]
fn open_to_others_is_refused_by_readers_and_repaired_by_writers() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("state");
    drop(committed(&root, &[("pki/ca.key", b"key")]));
    fs::set_permissions(&root, fs::Permissions::from_mode(0o777)).unwrap();
    fs::set_permissions(root.join("pki/ca.key"), fs::Permissions::from_mode(0o644)).unwrap();
    let error = State::open(&root, Access::ReadOnly)
        .unwrap_err()
        .to_string();
    assert!(error.contains("mode 0777"), "{error}");
    State::open(&root, Access::Write)
        .unwrap()
        .check_all()
        .unwrap();
    assert_eq!(
        fs::metadata(&root).unwrap().permissions().mode() & 0o777,
        0o700
    );
    assert_eq!(
        fs::metadata(root.join("pki/ca.key"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
}

#[test]
fn a_secret_open_to_others_is_never_cached_for_a_reader() {
    let temp = tempfile::tempdir().unwrap();
    let root = temp.path().join("state");
    drop(committed(&root, &[("pki/ca.key", b"key")]));
    let state = State::open(&root, Access::ReadOnly).unwrap();
    fs::set_permissions(root.join("pki/ca.key"), fs::Permissions::from_mode(0o644)).unwrap();
    // Refused each time it is read: the first refusal did not keep its bytes for a second read.
    for _ in 0..2 {
        let error = state.read("pki/ca.key").unwrap_err().to_string();
        assert!(error.contains("mode 0644"), "{error}");
    }
    assert!(state.load(["pki/ca.key"]).is_err());
}
