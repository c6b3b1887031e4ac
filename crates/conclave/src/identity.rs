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
            let (token, secret) = conclave_server::routes::admin::issue_scim_token(store, &name)
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
                println!(
                    "{}\t{}\t{state}\tcreated {}\tlast used {}",
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
