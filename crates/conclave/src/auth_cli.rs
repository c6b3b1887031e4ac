//! Authentication administration from the command line: the acceptable-use
//! policy, MFA resets and the "MFA required" switch. Like every command,
//! these talk to the store directly and are audited with the operator's
//! login name; a running server sees the changes within its cache times
//! (one second for policies and the switch, thirty seconds for an MFA
//! reset).

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Subcommand, ValueEnum};
use conclave_server::audit::Change;
use conclave_server::auth_policy::MFA_REQUIRED_SETTING;
use conclave_store::Store;

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Publishes a new version of the acceptable-use policy from a text
    /// file; every user must accept it before their next request.
    Publish {
        #[arg(long)]
        file: PathBuf,
    },
    /// Prints the current version and its text.
    Show,
}

#[derive(Debug, Subcommand)]
pub enum MfaCommand {
    /// Removes a user's two-factor authentication (a lost device) and signs
    /// them out everywhere.
    Reset { email: String },
    /// Requires (on) or stops requiring (off) MFA for every account with a
    /// password. `auth.mfa_required` in conclave.toml overrides "off".
    Required { state: Switch },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

pub async fn policy(
    store: &dyn Store,
    command: PolicyCommand,
) -> anyhow::Result<std::process::ExitCode> {
    match command {
        PolicyCommand::Publish { file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            conclave_domain::auth::policy_text(&text)
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            let policy = store
                .publish_policy(text, None, conclave_server::now_millis())
                .await?;
            super::audit(
                store,
                Change::new("policy.publish", "policy", policy.version).after(&serde_json::json!({
                    "version": policy.version,
                    "bytes": policy.text.len(),
                    "sha256": conclave_server::oidc::digest(&policy.text),
                })),
            )
            .await?;
            println!(
                "{}",
                serde_json::json!({"version": policy.version, "published_at": policy.published_at})
            );
        }
        PolicyCommand::Show => match store.current_policy().await? {
            Some(policy) => {
                println!(
                    "version {} (published {} ms since the epoch)\n",
                    policy.version, policy.published_at
                );
                print!("{}", policy.text);
            }
            None => bail!("no acceptable-use policy has been published"),
        },
    }
    Ok(std::process::ExitCode::SUCCESS)
}

pub async fn mfa(store: &dyn Store, command: MfaCommand) -> anyhow::Result<std::process::ExitCode> {
    match command {
        MfaCommand::Reset { email } => {
            let email = conclave_domain::validate::normalize_email(&email);
            let user = store
                .user_by_email(&email)
                .await?
                .with_context(|| format!("no user with email {email}"))?;
            if !store.remove_mfa(user.id).await? {
                bail!("{email} has no two-factor authentication");
            }
            let now = conclave_server::now_millis();
            let sessions = store.list_sessions(user.id, now).await?;
            for session in &sessions {
                store.revoke_session(session.id, now).await?;
            }
            super::audit(
                store,
                Change::new("mfa.reset", "user", user.id)
                    .before(&serde_json::json!({"mfa_enabled": true}))
                    .after(&serde_json::json!({"mfa_enabled": false, "sessions_revoked": sessions.len()})),
            )
            .await?;
            println!(
                "{email}: two-factor authentication removed, {} session(s) signed out",
                sessions.len()
            );
        }
        MfaCommand::Required { state } => {
            let before = store.auth_setting(MFA_REQUIRED_SETTING).await?.as_deref() == Some("true");
            let after = matches!(state, Switch::On);
            store
                .set_auth_setting(
                    MFA_REQUIRED_SETTING,
                    if after { "true" } else { "false" },
                    conclave_server::now_millis(),
                )
                .await?;
            super::audit(
                store,
                Change::new("auth.mfa_policy", "setting", MFA_REQUIRED_SETTING)
                    .before(&serde_json::json!({"required_by_admin": before}))
                    .after(&serde_json::json!({"required_by_admin": after})),
            )
            .await?;
            println!("MFA required: {}", if after { "on" } else { "off" });
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}
