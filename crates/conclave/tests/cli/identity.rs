//! Command-line tests for the identity feature; helpers (conclave, create_user, serve, temp_dir) are in main.rs.

// Authentication commands: the acceptable-use policy and MFA.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policy_publish_and_mfa_commands_take_effect_on_the_server() {
    let dir = super::temp_dir("auth-commands");
    super::create_user(&dir, "ann@example.com", "member");
    let file = dir.join("policy.txt");
    std::fs::write(&file, "Use Conclave for work.\n").unwrap();
    let published = super::conclave(&dir)
        .args(["policy", "publish", "--file"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(
        published.status.success(),
        "{}",
        String::from_utf8_lossy(&published.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&published.stdout).unwrap();
    assert_eq!(summary["version"], 1);
    let shown = super::conclave(&dir)
        .args(["policy", "show"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&shown.stdout).contains("Use Conclave for work."));
    std::fs::write(&file, "  \n").unwrap();
    let empty = super::conclave(&dir)
        .args(["policy", "publish", "--file"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!empty.status.success(), "an empty policy is refused");

    let no_mfa = super::conclave(&dir)
        .args(["mfa", "reset", "ann@example.com"])
        .output()
        .unwrap();
    assert!(!no_mfa.status.success());
    assert!(String::from_utf8_lossy(&no_mfa.stderr).contains("no two-factor"));
    let required = super::conclave(&dir)
        .args(["mfa", "required", "on"])
        .output()
        .unwrap();
    assert!(
        required.status.success(),
        "{}",
        String::from_utf8_lossy(&required.stderr)
    );

    let server = super::serve(&dir, super::free_port());
    let client = reqwest::Client::new();
    let answer: serde_json::Value = client
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&serde_json::json!({"email": "ann@example.com", "password": "long enough password"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(answer["mfa_enrolment_required"], true, "{answer}");
    assert_eq!(answer["policy_acceptance_required"], true);
    drop(server);

    let audit = rusqlite::Connection::open(dir.join("conclave.db")).unwrap();
    let actions: Vec<String> = audit
        .prepare("SELECT action FROM audit_log WHERE actor_label LIKE 'cli%' ORDER BY id")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(
        actions.ends_with(&["policy.publish".to_string(), "auth.mfa_policy".to_string()]),
        "{actions:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

// SCIM tokens, role and reactivation commands, and the scim2-tester
// compliance suite against the real binary.

/// The last non-empty line of a command's standard output.
fn last_line(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or_default()
        .trim()
        .to_string()
}

#[test]
fn scim_token_role_and_reactivate_commands() {
    let dir = super::temp_dir("scim-commands");
    super::create_user(&dir, "ann@example.com", "member");
    let created = super::conclave(&dir)
        .args(["scim", "token", "create", "--name", "okta"])
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let token = last_line(&created);
    assert_eq!(token.len(), 64, "the token is the last line: {token:?}");
    assert!(token.chars().all(|c| c.is_ascii_hexdigit()));
    let default_name = super::conclave(&dir)
        .args(["scim", "token", "create"])
        .output()
        .unwrap();
    assert!(default_name.status.success());
    assert_ne!(last_line(&default_name), token);
    // Only the hash is stored.
    let db = rusqlite::Connection::open(dir.join("conclave.db")).unwrap();
    let stored: Vec<String> = db
        .prepare("SELECT token_hash FROM scim_tokens")
        .unwrap()
        .query_map([], |row| row.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(stored.len(), 2);
    assert!(!stored.contains(&token));
    let listed = super::conclave(&dir)
        .args(["scim", "token", "list"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).contains("okta"));

    let role = super::conclave(&dir)
        .args(["user", "role", "ann@example.com", "compliance"])
        .output()
        .unwrap();
    assert!(
        role.status.success(),
        "{}",
        String::from_utf8_lossy(&role.stderr)
    );
    let bad = super::conclave(&dir)
        .args(["user", "role", "ann@example.com", "emperor"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    let deactivated = super::conclave(&dir)
        .args(["user", "deactivate", "ann@example.com"])
        .output()
        .unwrap();
    assert!(deactivated.status.success());
    let reactivated = super::conclave(&dir)
        .args(["user", "reactivate", "ann@example.com"])
        .output()
        .unwrap();
    assert!(
        reactivated.status.success(),
        "{}",
        String::from_utf8_lossy(&reactivated.stderr)
    );
    let (role, active): (String, bool) = db
        .query_row(
            "SELECT role, active FROM users WHERE email = 'ann@example.com'",
            [],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    assert_eq!((role.as_str(), active), ("compliance", true));
    let audited: i64 = db
        .query_row("SELECT COUNT(*) FROM audit_log WHERE action IN ('scim_token.create', 'user.role', 'user.reactivate') AND actor_label LIKE 'cli%'", [], |row| row.get(0))
        .unwrap();
    assert_eq!(audited, 4);
    drop(db);
    let revoked = super::conclave(&dir)
        .args(["scim", "token", "revoke", "1"])
        .output()
        .unwrap();
    assert!(revoked.status.success());
    std::fs::remove_dir_all(dir).unwrap();
}

/// Runs the `scim` command line (scim2-cli) with one change to
/// scim2-tester's random data: a userName is an email address, since
/// Conclave refuses any other (its accounts are keyed by email) and the
/// tester otherwise sends a bare UUID. The hook is the tester's source of
/// example values, consulted for every generated value; if a later tester
/// drops it, this fails loudly instead of testing something else.
const SCIM_WITH_EMAIL_USER_NAMES: &str = r#"
import sys, uuid
import scim2_tester.filling as filling
examples = filling.get_random_example_value
def example_value(path):
    if str(path).rsplit(":", 1)[-1].lower() == "username":
        return f"{uuid.uuid4().hex}@scim2-tester.example"
    return examples(path)
filling.get_random_example_value = example_value
from scim2_cli import cli
sys.exit(cli())
"#;

/// The statuses scim2-tester prints at the start of each result line.
const SCIM_TESTER_STATUSES: [&str; 7] = [
    "SUCCESS",
    "COMPLIANT",
    "ACCEPTABLE",
    "DEVIATION",
    "ERROR",
    "CRITICAL",
    "SKIPPED",
];

#[test]
fn scim2_tester_reports_every_check_successful() {
    let available = std::process::Command::new("scim")
        .arg("--help")
        .output()
        .is_ok_and(|output| output.status.success());
    if !available {
        assert!(
            std::env::var_os("CI").is_none(),
            "the `scim` command (pip install scim2-cli) is missing; CI must run the SCIM compliance suite"
        );
        println!(
            "SKIPPED: the `scim` command is missing (python3 -m pip install scim2-cli); the SCIM compliance suite did not run"
        );
        return;
    }
    let dir = super::temp_dir("scim2-tester");
    let created = super::conclave(&dir)
        .args(["scim", "token", "create", "--name", "scim2-tester"])
        .output()
        .unwrap();
    assert!(created.status.success());
    let token = last_line(&created);
    let server = super::serve(&dir, super::free_port());
    let output = std::process::Command::new("python3")
        .args([
            "-c",
            SCIM_WITH_EMAIL_USER_NAMES,
            "--url",
            &format!("{}/scim/v2", server.base),
            "--header",
            &format!("Authorization: Bearer {token}"),
            "test",
        ])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout);
    let mut counts = std::collections::BTreeMap::new();
    let mut failures = Vec::new();
    for line in text.lines() {
        let Some(status) = SCIM_TESTER_STATUSES
            .iter()
            .find(|status| line.starts_with(&format!("{status} ")))
        else {
            continue;
        };
        *counts.entry(*status).or_insert(0) += 1;
        if *status != "SUCCESS" {
            failures.push(line.to_string());
        }
    }
    assert!(
        failures.is_empty(),
        "scim2-tester checks not SUCCESS: {failures:#?}\n{text}"
    );
    let successes = counts.get("SUCCESS").copied().unwrap_or(0);
    assert!(
        successes >= 90,
        "expected the whole suite to run, saw {counts:?}\n{text}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for check in [
        "object_creation",
        "object_replacement",
        "object_deletion",
        "check_add_attribute",
        "check_remove_attribute",
        "check_replace_attribute",
        "search_with_attributes",
    ] {
        assert!(
            text.contains(&format!("SUCCESS {check}")),
            "{check} did not run\n{text}"
        );
    }
    assert!(
        output.status.success(),
        "scim exited with {:?}\n{text}",
        output.status
    );
    println!("scim2-tester: {successes} checks, all SUCCESS");
    drop(server);
    std::fs::remove_dir_all(dir).unwrap();
}

// `user create --password-stdin` at a terminal: the password is asked for
// twice without echo.

/// Collects what a child writes, chunk by chunk, so a test can wait for a
/// prompt with a deadline instead of blocking on a read.
struct Transcript {
    chunks: std::sync::mpsc::Receiver<Vec<u8>>,
    text: String,
}

impl Transcript {
    fn follow(mut source: impl std::io::Read + Send + 'static) -> Self {
        let (sender, chunks) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 1024];
            while let Ok(read) = source.read(&mut buffer) {
                if read == 0 || sender.send(buffer[..read].to_vec()).is_err() {
                    break;
                }
            }
        });
        Transcript {
            chunks,
            text: String::new(),
        }
    }

    /// Waits until the text so far contains `needle`; false after `within`.
    fn wait_for(&mut self, needle: &str, within: std::time::Duration) -> bool {
        let deadline = std::time::Instant::now() + within;
        while !self.text.contains(needle) {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match self.chunks.recv_timeout(left) {
                Ok(chunk) => self.text.push_str(&String::from_utf8_lossy(&chunk)),
                Err(_) => return false,
            }
        }
        true
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn password_typed_at_a_terminal_is_not_echoed_and_signs_in() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    use std::time::Duration;

    // script(1) runs the command on a pseudo-terminal, as a person at a shell would.
    let has_script = Command::new("script")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !has_script {
        eprintln!("SKIPPED: no script(1) to give the command a terminal");
        return;
    }
    const TYPED: &str = "typed at a terminal 7391";
    let dir = super::temp_dir("password-tty");
    let command = format!(
        "{} --data-dir {} user create --email tty@example.com --name Tty --password-stdin",
        super::BINARY,
        dir.display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env_remove("CONCLAVE_DATABASE_URL")
        .env("CONCLAVE_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut keyboard = child.stdin.take().unwrap();
    let mut screen = Transcript::follow(child.stdout.take().unwrap());
    let within = Duration::from_secs(30);
    // Type only once the prompt is up: the echo is off by then.
    let typed = (|| {
        if !screen.wait_for("Password: ", within) {
            return false;
        }
        keyboard.write_all(format!("{TYPED}\n").as_bytes()).unwrap();
        if !screen.wait_for("Repeat the password: ", within) {
            return false;
        }
        keyboard.write_all(format!("{TYPED}\n").as_bytes()).unwrap();
        screen.wait_for("\"email\":\"tty@example.com\"", within)
    })();
    if !typed {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "the prompts or the summary did not appear: {:?}",
            screen.text
        );
    }
    drop(keyboard);
    let status = child.wait().unwrap();
    assert!(status.success(), "{:?}", screen.text);
    assert!(
        !screen.text.contains(TYPED),
        "the password was echoed to the terminal: {:?}",
        screen.text
    );

    let server = super::serve(&dir, super::free_port());
    let answer = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", server.base))
        .json(&serde_json::json!({"email": "tty@example.com", "password": TYPED}))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200, "the typed password signs in");
    drop(server);
    std::fs::remove_dir_all(&dir).unwrap();
}
