//! `conclave user reset-password`: a one-time code and link for the person
//! to choose a new password with (redeemed over HTTP in the API tests).

use super::*;

fn code_and_link(stdout: &str) -> (String, String) {
    let line = |prefix: &str| {
        stdout
            .lines()
            .find_map(|line| line.strip_prefix(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} line in {stdout}"))
            .trim()
            .to_string()
    };
    (line("Code:"), line("Link:"))
}

#[test]
fn reset_password_prints_a_fresh_one_time_code_and_its_link() {
    let dir = temp_dir("reset-password");
    create_user(&dir, "pat@example.com", "member");

    let (ok, stdout, stderr) = run(&dir, &["user", "reset-password", "pat@example.com"]);
    assert!(ok, "{stderr}");
    let (code, link) = code_and_link(&stdout);
    assert_eq!(code.len(), 19, "{code}");
    assert_eq!(link, format!("/reset-password?code={code}"));
    assert!(stdout.contains("valid until"), "{stdout}");

    let (ok, stdout, _) = run(&dir, &["user", "reset-password", "pat@example.com"]);
    assert!(ok);
    assert_ne!(
        code_and_link(&stdout).0,
        code,
        "each reset has its own code"
    );

    let (ok, _, stderr) = run(&dir, &["user", "reset-password", "nobody@example.com"]);
    assert!(!ok);
    assert!(stderr.contains("no user with email"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
