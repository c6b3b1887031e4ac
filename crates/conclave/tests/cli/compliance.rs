//! Command-line tests for the compliance feature; helpers (conclave, create_user, serve, temp_dir,
//! run, post_through_server) are in main.rs.

use super::*;

#[test]
fn compliance_commands_follow_the_contract() {
    let dir = temp_dir("compliance");
    create_user(&dir, "alice@example.com", "member");
    create_user(&dir, "bob@example.com", "member");
    post_through_server(
        &dir,
        "alice@example.com",
        "ledger",
        &["CLIMARK first", "CLIMARK second"],
    );

    // Retention: exactly one scope, and days as a number or `forever`.
    let (ok, _, stderr) = run(&dir, &["retention", "set", "--days", "5"]);
    assert!(!ok && stderr.contains("--global"), "{stderr}");
    let (ok, _, stderr) = run(
        &dir,
        &[
            "retention",
            "set",
            "--global",
            "--channel",
            "ledger",
            "--days",
            "5",
        ],
    );
    assert!(!ok, "{stderr}");
    let (ok, _, stderr) = run(&dir, &["retention", "set", "--global", "--days", "soon"]);
    assert!(!ok && stderr.contains("forever"), "{stderr}");
    let (ok, _, stderr) = run(
        &dir,
        &["retention", "set", "--channel", "nowhere", "--days", "5"],
    );
    assert!(
        !ok && stderr.contains("no channel named nowhere"),
        "{stderr}"
    );
    for args in [
        &["retention", "set", "--global", "--days", "30"][..],
        &[
            "retention",
            "set",
            "--channel",
            "ledger",
            "--days",
            "forever",
        ][..],
        &["retention", "set", "--team", "sales", "--days", "7"][..],
    ] {
        let (ok, _, stderr) = run(&dir, args);
        assert!(ok, "{args:?}: {stderr}");
    }
    let (ok, stdout, _) = run(&dir, &["retention", "list"]);
    assert!(ok);
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    let (ok, stdout, stderr) = run(&dir, &["retention", "run"]);
    assert!(ok, "{stderr}");
    let report: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(report["messages"], 0, "nothing is 30 days old yet");

    // Holds block erasure, naming themselves.
    let (ok, _, stderr) = run(&dir, &["hold", "create", "--name", "Nothing"]);
    assert!(!ok, "{stderr}");
    let (ok, _, stderr) = run(
        &dir,
        &[
            "hold",
            "create",
            "--name",
            "Bad",
            "--channel",
            "ledger",
            "--from",
            "last week",
        ],
    );
    assert!(!ok && stderr.contains("YYYY-MM-DD"), "{stderr}");
    let (ok, stdout, stderr) = run(
        &dir,
        &[
            "hold",
            "create",
            "--name",
            "Audit 2024",
            "--custodian",
            "alice@example.com",
            "--from",
            "2020-01-01",
        ],
    );
    assert!(ok, "{stderr}");
    let hold: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(hold["name"], "Audit 2024");
    let (ok, _, stderr) = run(&dir, &["erase", "--user", "alice@example.com"]);
    assert!(
        !ok && stderr.contains("Audit 2024"),
        "refused, saying why: {stderr}"
    );
    let (ok, stdout, _) = run(&dir, &["hold", "list"]);
    assert!(ok && stdout.contains("Audit 2024"));

    // Exports in every format, each with a manifest whose checksums match.
    let (ok, _, stderr) = run(
        &dir,
        &[
            "export",
            "--format",
            "pdf",
            "--out",
            dir.join("x").to_str().unwrap(),
        ],
    );
    assert!(!ok && stderr.contains("unknown format"), "{stderr}");
    for format in ["jsonl", "eml", "actiance", "csv"] {
        let out = dir.join(format!("export-{format}"));
        let (ok, stdout, stderr) = run(
            &dir,
            &[
                "export",
                "--format",
                format,
                "--out",
                out.to_str().unwrap(),
                "--custodian",
                "alice@example.com",
                "--channel",
                "ledger",
                "--from",
                "2020-01-01",
            ],
        );
        assert!(ok, "{format}: {stderr}");
        let summary: Value = serde_json::from_str(stdout.trim()).unwrap();
        assert_eq!(summary["counts"]["messages"], 2, "{summary}");
        let manifest: Value =
            serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(
            manifest["filters"]["custodians"],
            json!(["alice@example.com"])
        );
        for file in manifest["files"].as_array().unwrap() {
            let path = out.join(file["name"].as_str().unwrap());
            let digest = Command::new("sha256sum").arg(&path).output().unwrap();
            let digest = String::from_utf8_lossy(&digest.stdout);
            assert_eq!(
                digest.split_whitespace().next(),
                file["sha256"].as_str(),
                "{}",
                path.display()
            );
        }
        let (ok, _, stderr) = run(
            &dir,
            &["export", "--format", format, "--out", out.to_str().unwrap()],
        );
        assert!(
            !ok && stderr.contains("already holds an export"),
            "{stderr}"
        );
    }

    // Checkpoints: kept outside, checked later.
    let (ok, stdout, _) = run(&dir, &["journal", "checkpoint"]);
    assert!(ok);
    let checkpoint_path = dir.join("checkpoint.json");
    std::fs::write(&checkpoint_path, &stdout).unwrap();
    let (ok, stdout, _) = run(
        &dir,
        &[
            "journal",
            "checkpoint",
            "--verify",
            checkpoint_path.to_str().unwrap(),
        ],
    );
    assert!(ok, "{stdout}");
    let mut forged: Value =
        serde_json::from_str(std::fs::read_to_string(&checkpoint_path).unwrap().trim()).unwrap();
    forged["hash"] = json!("0".repeat(64));
    std::fs::write(&checkpoint_path, forged.to_string()).unwrap();
    let output = conclave(&dir)
        .args([
            "journal",
            "checkpoint",
            "--verify",
            checkpoint_path.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));

    // Released, the person can be erased; the journal still verifies.
    let (ok, _, stderr) = run(&dir, &["hold", "release", "Audit 2024"]);
    assert!(ok, "{stderr}");
    let (ok, _, stderr) = run(&dir, &["hold", "release", "Audit 2024"]);
    assert!(!ok && stderr.contains("already released"), "{stderr}");
    let (ok, stdout, stderr) = run(&dir, &["erase", "--user", "alice@example.com"]);
    assert!(ok, "{stderr}");
    let report: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(report["messages"], 2);
    let (ok, stdout, _) = run(&dir, &["journal", "verify"]);
    assert!(ok, "{stdout}");
    let db = std::fs::read(dir.join("conclave.db")).unwrap();
    assert!(
        !db.windows(7).any(|window| window == b"CLIMARK"),
        "erased text remains in the database file"
    );

    let audit = rusqlite::Connection::open(dir.join("conclave.db")).unwrap();
    let actions: Vec<String> = audit
        .prepare("SELECT action FROM audit_log ORDER BY id")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for action in [
        "retention.set",
        "retention.run",
        "hold.create",
        "erasure.refused",
        "export.create",
        "hold.release",
        "erasure.complete",
    ] {
        assert!(
            actions.iter().any(|a| a == action),
            "{action} not audited: {actions:?}"
        );
    }
    std::fs::remove_dir_all(dir).unwrap();
}

/// Every file under `dir`, recursively, concatenated.
fn all_bytes(dir: &Path) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            bytes.extend(all_bytes(&path));
        } else {
            bytes.extend(std::fs::read(&path).unwrap_or_default());
        }
    }
    bytes
}

#[test]
fn content_is_sealed_at_rest_and_the_master_key_rotates() {
    let dir = temp_dir("keys");
    create_user(&dir, "alice@example.com", "member");
    let channel = post_through_server(&dir, "alice@example.com", "vault", &["ROTATEMARK-6a1f"]);
    assert!(
        !all_bytes(&dir).windows(15).any(|w| w == b"ROTATEMARK-6a1f"),
        "message text is readable in the data dir"
    );

    let (ok, stdout, stderr) = run(&dir, &["keys", "status"]);
    assert!(ok, "{stderr}");
    let before: Value = serde_json::from_str(&stdout).unwrap();
    assert!(before["data_keys"].as_u64().unwrap() >= 1, "{before}");
    assert!(
        before["source"].as_str().unwrap().ends_with("master.key"),
        "{before}"
    );
    let old_key = std::fs::read_to_string(dir.join("master.key")).unwrap();

    let (ok, stdout, stderr) = run(&dir, &["keys", "rotate"]);
    assert!(ok, "{stderr}");
    let rotation: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(rotation["previous_fingerprint"], before["fingerprint"]);
    assert_ne!(rotation["fingerprint"], before["fingerprint"]);
    assert_eq!(rotation["rewrapped"], before["data_keys"]);
    assert_ne!(
        std::fs::read_to_string(dir.join("master.key")).unwrap(),
        old_key
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // The content reads back through a server with the new key.
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = serve(&dir, free_port());
    runtime.block_on(async {
        let client = reqwest::Client::new();
        let token = login(&client, &server.base, "alice@example.com").await;
        let url = format!("{}/api/v1/channels/{channel}/messages", server.base);
        let page = get_json(&client, &url, &token).await;
        assert!(page.to_string().contains("ROTATEMARK-6a1f"), "{page}");
    });
    drop(server);

    // The old key, or any other, is refused rather than creating keys the
    // keystore cannot vouch for.
    let output = conclave(&dir)
        .args(["keys", "status"])
        .env("CONCLAVE_ENCRYPTION__MASTER_KEY", old_key.trim())
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("not the one"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let (ok, generated, _) = run(&dir, &["keys", "generate"]);
    assert!(ok && generated.trim().len() == 44, "{generated}");
}
