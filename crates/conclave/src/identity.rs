//! Identity administration from the command line: SCIM tokens, role
//! changes and reactivation. Like every command, these talk to the store
//! directly and are audited with the operator's login name.

use anyhow::Context;
use clap::Subcommand;
use conclave_domain::Role;
use conclave_server::audit::{Actor, Change};
use conclave_store::Store;

#[derive(Debug, Subcommand)]
pub enum ScimCommand {
    /// Bearer tokens for identity providers.
    Token {
        #[command(subcommand)]
        command: ScimTokenCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ScimTokenCommand {
    /// Prints a new SCIM bearer token on its last line (only its hash is
    /// stored).
    Create {
        /// A label, such as the identity provider's name.
        #[arg(long, default_value = "scim")]
        name: String,
    },
    /// Lists tokens (never their secrets).
    List,
    /// Revokes a token at once.
    Revoke { id: i64 },
}

/// Records an action taken from the command line in the audit log.
async fn audit(store: &dyn Store, change: Change<'_>) -> anyhow::Result<()> {
    let label = match std::env::var("SUDO_USER").or_else(|_| std::env::var("USER")) {
        Ok(user) => format!("cli:{user}"),
        Err(_) => "cli".to_string(),
    };
    conclave_server::audit::record(store, &Actor::label(&label, None), change)
        .await
        .map_err(|error| anyhow::anyhow!("writing the audit log: {error}"))
}

pub async fn scim(
    store: &dyn Store,
    command: ScimCommand,
) -> anyhow::Result<std::process::ExitCode> {
    let ScimCommand::Token { command } = command;
    match command {
        ScimTokenCommand::Create { name } => {
            // A command-line token has no person behind it: it acts as an
            // admin-capped operator (docs/permissions.md).
            let (token, secret) =
                conclave_server::routes::admin::issue_scim_token(store, &name, None)
                    .await
                    .map_err(|error| anyhow::anyhow!("{error}"))?;
            audit(
                store,
                Change::new("scim_token.create", "scim_token", token.id)
                    .after(&serde_json::json!({"name": token.name})),
            )
            .await?;
            println!(
                "SCIM token {:?} created (id {}). Give it to the identity provider as a bearer token;",
                token.name, token.id
            );
            println!("it is shown only now: Conclave keeps just its hash.");
            println!("{secret}");
        }
        ScimTokenCommand::List => {
            for token in store.scim_tokens().await? {
                let state = if token.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                let maker = token
                    .created_by
                    .map_or("operator".to_string(), |id| format!("user {id}"));
                println!(
                    "{}\t{}\t{state}\tcreated {} by {maker}\tlast used {}",
                    token.id,
                    token.name,
                    token.created_at,
                    token
                        .last_used_at
                        .map_or("never".to_string(), |at| at.to_string())
                );
            }
        }
        ScimTokenCommand::Revoke { id } => {
            if !store
                .revoke_scim_token(id, conclave_server::now_millis())
                .await?
            {
                anyhow::bail!("no active SCIM token with id {id}");
            }
            audit(store, Change::new("scim_token.revoke", "scim_token", id)).await?;
            println!("SCIM token {id} revoked");
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

async fn user_by_email(store: &dyn Store, email: &str) -> anyhow::Result<conclave_domain::User> {
    let email = conclave_domain::validate::normalize_email(email);
    store
        .user_by_email(&email)
        .await?
        .with_context(|| format!("no user with email {email}"))
}

/// `conclave user role EMAIL ROLE`.
pub async fn set_role(
    store: &dyn Store,
    email: &str,
    role: &str,
) -> anyhow::Result<std::process::ExitCode> {
    let role = Role::parse(role).with_context(|| {
        format!("unknown role {role:?}; use owner, admin, compliance, member or guest")
    })?;
    let user = user_by_email(store, email).await?;
    if role != Role::Owner {
        conclave_server::scim::directory::keep_an_owner(store, &user)
            .await
            .map_err(|error| anyhow::anyhow!("{error}"))?;
    }
    let changed = store.set_user_role(user.id, role).await?;
    audit(
        store,
        Change::new("user.role", "user", user.id)
            .before(&serde_json::json!({"role": user.role.as_str()}))
            .after(&serde_json::json!({"role": role.as_str()})),
    )
    .await?;
    println!(
        "{} is now {} (was {})",
        changed.email,
        role.as_str(),
        user.role.as_str()
    );
    Ok(std::process::ExitCode::SUCCESS)
}

/// `conclave user reactivate EMAIL`.
pub async fn reactivate(store: &dyn Store, email: &str) -> anyhow::Result<std::process::ExitCode> {
    let user = user_by_email(store, email).await?;
    if user.active {
        println!("{} is already active", user.email);
        return Ok(std::process::ExitCode::SUCCESS);
    }
    store.reactivate_user(user.id).await?;
    audit(
        store,
        Change::new("user.reactivate", "user", user.id)
            .before(&serde_json::json!({"active": false}))
            .after(&serde_json::json!({"active": true})),
    )
    .await?;
    println!(
        "{} reactivated: they can sign in again (old sessions stay revoked)",
        user.email
    );
    Ok(std::process::ExitCode::SUCCESS)
}

/// `conclave user reset-password EMAIL`: prints a one-time reset link and
/// code (valid for a day; only its hash is stored) for the person to choose
/// a new password with. Their sessions are signed out at once.
pub async fn reset_password(
    store: &dyn Store,
    email: &str,
    public_url: Option<&str>,
) -> anyhow::Result<std::process::ExitCode> {
    let user = user_by_email(store, email).await?;
    let issued = conclave_server::accounts::issue_password_reset(
        store,
        &user,
        None,
        &Actor::label(&operator_label(), None),
        public_url,
    )
    .await
    .map_err(|error| anyhow::anyhow!("{error}"))?;
    println!(
        "A one-time password reset for {} (valid until {}; {} session(s) signed out).",
        user.email,
        conclave_server::compliance::rfc3339(issued.reset.expires_at),
        issued.revoked_sessions.len()
    );
    println!("Link: {}", issued.link);
    println!("Code: {}", issued.code);
    Ok(std::process::ExitCode::SUCCESS)
}

fn operator_label() -> String {
    match std::env::var("SUDO_USER").or_else(|_| std::env::var("USER")) {
        Ok(user) => format!("cli:{user}"),
        Err(_) => "cli".to_string(),
    }
}

/// Reads a password for `--password-stdin`. From a terminal it prompts on
/// standard error with echo turned off, twice, so a typo is caught; from a
/// pipe or file it reads the whole input (trailing newline removed).
pub fn read_password_from_stdin() -> anyhow::Result<String> {
    use std::io::{IsTerminal, Read};
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        let mut text = String::new();
        stdin
            .lock()
            .read_to_string(&mut text)
            .context("reading the password")?;
        return Ok(text.trim_end_matches(['\r', '\n']).to_string());
    }
    let first = prompt_without_echo("Password: ")?;
    let second = prompt_without_echo("Repeat the password: ")?;
    if first != second {
        anyhow::bail!("the two passwords differ");
    }
    Ok(first)
}

/// Restores the terminal's settings when dropped, even after an error.
struct EchoOff {
    original: rustix::termios::Termios,
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        let stdin = std::io::stdin();
        let _ = rustix::termios::tcsetattr(
            std::os::fd::AsFd::as_fd(&stdin),
            rustix::termios::OptionalActions::Now,
            &self.original,
        );
    }
}

fn prompt_without_echo(prompt: &str) -> anyhow::Result<String> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    use std::io::{BufRead, Write};
    use std::os::fd::AsFd;
    let stdin = std::io::stdin();
    let original = tcgetattr(stdin.as_fd()).context("reading the terminal's settings")?;
    let mut quiet = original.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    // The Enter key still moves to the next line.
    quiet.local_modes.insert(LocalModes::ECHONL);
    let guard = EchoOff { original };
    tcsetattr(stdin.as_fd(), OptionalActions::Now, &quiet)
        .context("turning the terminal's echo off")?;
    eprint!("{prompt}");
    std::io::stderr().flush().ok();
    let mut line = String::new();
    stdin
        .lock()
        .read_line(&mut line)
        .context("reading the password")?;
    drop(guard);
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}
