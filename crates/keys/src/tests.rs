#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use super::*;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "conclave-keys-{name}-{}-{}",
        std::process::id(),
        now_millis()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn text_round_trips_and_hides_its_plaintext() {
    let dir = scratch("text");
    let keyring = Keyring::open_in_dir(&dir).unwrap();
    let sealed = keyring.seal_text(7, "quarterly figures: 42").unwrap();
    assert!(sealed.starts_with(TEXT_PREFIX));
    assert!(!sealed.contains("quarterly"));
    assert_ne!(
        sealed,
        keyring.seal_text(7, "quarterly figures: 42").unwrap(),
        "nonces differ"
    );
    assert_eq!(keyring.open_text(&sealed).unwrap(), "quarterly figures: 42");
    assert_eq!(keyring.seal_text(7, "").unwrap(), "");
    assert_eq!(
        keyring.open_text("written before encryption").unwrap(),
        "written before encryption"
    );
}

#[test]
fn the_master_key_file_is_private_and_survives_reopening() {
    let dir = scratch("reopen");
    let sealed = Keyring::open_in_dir(&dir)
        .unwrap()
        .seal_text(3, "hello")
        .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let reopened = Keyring::open_in_dir(&dir).unwrap();
    assert_eq!(reopened.open_text(&sealed).unwrap(), "hello");
}

#[test]
fn a_wrong_master_key_is_refused() {
    let dir = scratch("wrong");
    Keyring::open_in_dir(&dir)
        .unwrap()
        .seal_text(3, "hello")
        .unwrap();
    let other = generate_master_key().unwrap();
    let error = Keyring::open(&dir.join("keys.db"), MasterKeySource::Value(other)).unwrap_err();
    assert!(matches!(error, KeyError::Master(message) if message.contains("not the one")));
}

#[test]
fn altered_text_is_detected() {
    let dir = scratch("altered");
    let keyring = Keyring::open_in_dir(&dir).unwrap();
    let sealed = keyring.seal_text(3, "pay 100 to Ann").unwrap();
    let mut bytes = sealed.into_bytes();
    let last = bytes.len() - 3;
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(bytes).unwrap();
    assert!(matches!(
        keyring.open_text(&altered),
        Err(KeyError::Corrupt)
    ));
}

#[test]
fn shredding_makes_an_owners_content_unrecoverable_even_from_a_copy() {
    let dir = scratch("shred");
    let keyring = Keyring::open_in_dir(&dir).unwrap();
    let leaver = keyring.seal_text(5, "leaver's secret").unwrap();
    let stayer = keyring.seal_text(6, "stayer's note").unwrap();
    let file = keyring.seal_blob(5, b"leaver's file").unwrap();
    assert_eq!(keyring.shred(5).unwrap(), 1);
    assert!(!keyring.has_key(5).unwrap());
    assert!(matches!(
        keyring.open_text(&leaver),
        Err(KeyError::Shredded(_))
    ));
    assert!(matches!(
        keyring.open_blob(&file),
        Err(KeyError::Shredded(_))
    ));
    assert_eq!(keyring.open_text_or_empty(&leaver), "");
    // A fresh process with the same keystore: nothing cached.
    let reopened = Keyring::open_in_dir(&dir).unwrap();
    assert!(matches!(
        reopened.open_text(&leaver),
        Err(KeyError::Shredded(_))
    ));
    assert_eq!(reopened.open_text(&stayer).unwrap(), "stayer's note");
    // The key's bytes are gone from the keystore file (secure_delete), and
    // new content for the owner gets a new key.
    let again = reopened.seal_text(5, "after").unwrap();
    assert_eq!(reopened.open_text(&again).unwrap(), "after");
    assert!(matches!(
        reopened.open_text(&leaver),
        Err(KeyError::Shredded(_))
    ));
}

#[test]
fn files_round_trip_across_frames_and_cuts_are_detected() {
    let dir = scratch("blob");
    let keyring = Keyring::open_in_dir(&dir).unwrap();
    for size in [
        0,
        1,
        BLOB_CHUNK - 1,
        BLOB_CHUNK,
        BLOB_CHUNK + 1,
        3 * BLOB_CHUNK + 17,
    ] {
        let plaintext: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
        let sealed = keyring.seal_blob(9, &plaintext).unwrap();
        assert_eq!(
            blob_plaintext_len(sealed.len() as u64),
            Some(size as u64),
            "size {size}"
        );
        assert_eq!(
            keyring.open_blob(&sealed).unwrap(),
            plaintext,
            "size {size}"
        );
        if size > BLOB_CHUNK {
            let cut = &sealed[..BLOB_HEADER_LEN + BLOB_FRAME];
            assert!(
                matches!(keyring.open_blob(cut), Err(KeyError::Corrupt)),
                "cut at a frame"
            );
            let mut swapped = sealed.clone();
            swapped[BLOB_HEADER_LEN + 20] ^= 1;
            assert!(matches!(
                keyring.open_blob(&swapped),
                Err(KeyError::Corrupt)
            ));
        }
    }
    assert_eq!(
        keyring.open_blob(b"plain old bytes").unwrap(),
        b"plain old bytes"
    );
}

#[test]
fn rotation_rewraps_keys_and_old_keystore_copies_become_useless() {
    let dir = scratch("rotate");
    let keyring = Keyring::open_in_dir(&dir).unwrap();
    let sealed = keyring.seal_text(4, "kept through rotation").unwrap();
    keyring.seal_text(8, "another person").unwrap();
    let old_key = std::fs::read_to_string(dir.join("master.key")).unwrap();
    let backup = dir.join("keys-backup.db");
    std::fs::copy(dir.join("keys.db"), &backup).unwrap();

    let rotation = keyring.rotate_master().unwrap();
    assert_eq!(rotation.rewrapped, 2);
    assert_ne!(rotation.previous_fingerprint, rotation.fingerprint);
    assert_ne!(
        std::fs::read_to_string(dir.join("master.key")).unwrap(),
        old_key
    );
    assert!(!dir.join("master.key.next").exists());
    assert_eq!(keyring.open_text(&sealed).unwrap(), "kept through rotation");

    let reopened = Keyring::open_in_dir(&dir).unwrap();
    assert_eq!(reopened.status().unwrap().fingerprint, rotation.fingerprint);
    assert_eq!(
        reopened.open_text(&sealed).unwrap(),
        "kept through rotation"
    );
    // The old keystore copy needs the old master key, which is gone.
    let new_key = std::fs::read_to_string(dir.join("master.key")).unwrap();
    assert!(Keyring::open(&backup, MasterKeySource::Value(new_key)).is_err());
}

#[test]
fn an_interrupted_rotation_is_finished_or_discarded_on_open() {
    let dir = scratch("interrupted");
    let keyring = Keyring::open_in_dir(&dir).unwrap();
    let sealed = keyring.seal_text(4, "survives").unwrap();
    drop(keyring);
    // A next key that was never committed: discarded.
    master::write_key_file(
        &dir.join("master.key.next"),
        &generate_master_key().unwrap(),
    )
    .unwrap();
    let reopened = Keyring::open_in_dir(&dir).unwrap();
    assert!(!dir.join("master.key.next").exists());
    assert_eq!(reopened.open_text(&sealed).unwrap(), "survives");
}

#[test]
fn a_value_source_cannot_be_rotated() {
    let dir = scratch("value");
    let keyring = Keyring::open(
        &dir.join("keys.db"),
        MasterKeySource::Value(generate_master_key().unwrap()),
    )
    .unwrap();
    assert!(matches!(keyring.rotate_master(), Err(KeyError::Master(_))));
}

#[cfg(unix)]
#[test]
fn the_keystore_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let dir = scratch("keystore-mode");
    let keyring = Keyring::open_in_dir(&dir).unwrap();
    keyring.seal_text(3, "hello").unwrap();
    assert_eq!(mode(&dir.join("keys.db")), 0o600);
    drop(keyring);

    // A keystore an earlier version left readable by others is tightened.
    std::fs::set_permissions(dir.join("keys.db"), std::fs::Permissions::from_mode(0o644)).unwrap();
    let _reopened = Keyring::open_in_dir(&dir).unwrap();
    assert_eq!(mode(&dir.join("keys.db")), 0o600);
}
