//! The `conclave` binary: the server and the administration commands.
//! Command names and flags are a fixed contract (see PRODUCT.md).

mod auth_cli;
mod compliance;
mod config;
mod identity;
mod whatsapp;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use conclave_domain::{Command as StoreCommand, Role};
use conclave_server::audit::{Actor, Change};
use conclave_server::blobs::LocalBlobStore;
use conclave_server::config::ServerConfig;
use conclave_store::Store;

#[derive(Debug, Parser)]
#[command(
    name = "conclave",
    version,
    about = "Self-hosted, compliance-first team messaging"
)]
struct Cli {
    /// Where Conclave keeps its database, files and keys.
    #[arg(long, global = true, env = "CONCLAVE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// PostgreSQL URL; without it, SQLite inside the data directory.
    #[arg(
        long,
        global = true,
        env = "CONCLAVE_DATABASE_URL",
        hide_env_values = true
    )]
    database_url: Option<String>,
    /// A configuration file (default: DATA_DIR/conclave.toml when present).
    #[arg(long, global = true, env = "CONCLAVE_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Runs the server.
    Serve {
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long, env = "CONCLAVE_LISTEN")]
        listen: Option<String>,
    },
    /// Manages user accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// The tamper-evident journal.
    Journal {
        #[command(subcommand)]
        command: JournalCommand,
    },
    /// Imports outside conversations into the archive.
    Import {
        #[command(subcommand)]
        command: whatsapp::ImportCommand,
    },
    /// eDiscovery export with manifest.json.
    Export(compliance::ExportArgs),
    /// Retention policies.
    Retention {
        #[command(subcommand)]
        command: compliance::RetentionCommand,
    },
    /// Legal holds.
    Hold {
        #[command(subcommand)]
        command: compliance::HoldCommand,
    },
    /// Right to erasure for one person.
    Erase(compliance::EraseArgs),
    /// SCIM provisioning.
    Scim {
        #[command(subcommand)]
        command: identity::ScimCommand,
    },
    /// The acceptable-use policy.
    Policy {
        #[command(subcommand)]
        command: auth_cli::PolicyCommand,
    },
    /// Two-factor authentication: resets and the "MFA required" switch.
    Mfa {
        #[command(subcommand)]
        command: auth_cli::MfaCommand,
    },
    /// Encryption at rest: the master key and the data keys it wraps.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Configuration helpers.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Prints where the master key comes from, its fingerprint, and how many
    /// data keys are live and destroyed.
    Status,
    /// Replaces the master key and re-wraps every data key with it (a
    /// running server picks the new key up by itself). Keystore backups
    /// taken before become useless: run it after erasures.
    Rotate,
    /// Prints a new random master key in base64, for
    /// CONCLAVE_ENCRYPTION__MASTER_KEY or a key file.
    Generate,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Creates a user.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// owner, admin, compliance, member or guest.
        #[arg(long, default_value = "member")]
        role: String,
        /// Read the password from standard input (otherwise the account has
        /// no password until one is set).
        #[arg(long)]
        password_stdin: bool,
    },
    /// Deprovisions a user at once: sessions, sockets and tokens cut off.
    Deactivate { email: String },
    /// Changes a user's role (owner, admin, compliance, member or guest).
    Role { email: String, role: String },
    /// Lets a deactivated user sign in again.
    Reactivate { email: String },
    /// Prints a one-time link and code with which the person sets a new
    /// password (valid for a day); signs them out everywhere.
    ResetPassword { email: String },
}

#[derive(Debug, Subcommand)]
enum JournalCommand {
    /// Exits 0 when the hash chain is intact, 1 naming the first broken event.
    Verify,
    /// Prints the chain head with the time, for an outside party to keep.
    Checkpoint(compliance::CheckpointArgs),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Prints a configuration file with every setting at its default.
    Example,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CONCLAVE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("CONCLAVE_LOG_FORMAT").as_deref() == Ok("json") {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    let listen = match &cli.command {
        Command::Serve { listen } => listen.clone(),
        _ => None,
    };
    let overrides = config::Overrides {
        config_file: cli.config.clone(),
        data_dir: cli.data_dir.clone(),
        database_url: cli.database_url.clone(),
        listen,
    };
    let settings = config::load(&overrides, std::env::vars())?;
    match cli.command {
        Command::Config {
            command: ConfigCommand::Example,
        } => {
            print!("{}", config::example()?);
            Ok(std::process::ExitCode::SUCCESS)
        }
        Command::Serve { .. } => serve(settings).await,
        Command::Keys { command } => keys_command(&settings, command).await,
        Command::User { command } => {
            let store = open_store(&settings).await?;
            user_command(&*store, &settings, command).await
        }
        Command::Scim { command } => identity::scim(&*open_store(&settings).await?, command).await,
        Command::Policy { command } => {
            auth_cli::policy(&*open_store(&settings).await?, command).await
        }
        Command::Mfa { command } => auth_cli::mfa(&*open_store(&settings).await?, command).await,
        Command::Import { command } => {
            whatsapp::run(&*open_store(&settings).await?, &settings, command).await
        }
        Command::Export(args) => {
            compliance::export(open_store(&settings).await?, &settings, args).await
        }
        Command::Retention { command } => {
            compliance::retention(open_store(&settings).await?, &settings, command).await
        }
        Command::Hold { command } => compliance::hold(open_store(&settings).await?, command).await,
        Command::Erase(args) => {
            compliance::erase(open_store(&settings).await?, &settings, args).await
        }
        Command::Journal {
            command: JournalCommand::Checkpoint(args),
        } => compliance::checkpoint(open_store(&settings).await?, args).await,
        Command::Journal {
            command: JournalCommand::Verify,
        } => {
            let store = open_store(&settings).await?;
            match store.verify_journal().await? {
                Ok(count) => {
                    println!("journal intact: {count} events verified");
                    Ok(std::process::ExitCode::SUCCESS)
                }
                Err((position, problem)) => {
                    println!("journal broken at event {position}: {problem}");
                    Ok(std::process::ExitCode::from(1))
                }
            }
        }
    }
}

async fn keys_command(
    settings: &ServerConfig,
    command: KeysCommand,
) -> anyhow::Result<std::process::ExitCode> {
    let status = |keyring: &conclave_store::Keyring| -> anyhow::Result<serde_json::Value> {
        let status = keyring.status()?;
        Ok(serde_json::json!({
            "source": status.source,
            "fingerprint": status.fingerprint,
            "data_keys": status.data_keys,
            "destroyed_keys": status.destroyed_keys,
        }))
    };
    match command {
        KeysCommand::Generate => println!("{}", conclave_store::keys::generate_master_key()?),
        KeysCommand::Status => println!("{}", status(&open_keyring(settings)?)?),
        KeysCommand::Rotate => {
            let store = open_store(settings).await?;
            let rotation = store.keyring().rotate_master()?;
            let after = serde_json::json!({
                "previous_fingerprint": rotation.previous_fingerprint,
                "fingerprint": rotation.fingerprint,
                "rewrapped": rotation.rewrapped,
            });
            audit(
                &*store,
                Change::new("keys.rotate", "master_key", &rotation.fingerprint).after(&after),
            )
            .await?;
            println!("{after}");
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// The keystore and master key encryption at rest uses.
fn open_keyring(settings: &ServerConfig) -> anyhow::Result<conclave_store::Keyring> {
    let (path, source) = settings.keyring_location();
    conclave_store::Keyring::open(&path, source)
        .with_context(|| format!("opening the keystore {}", path.display()))
}

async fn open_store(settings: &ServerConfig) -> anyhow::Result<Arc<dyn Store>> {
    std::fs::create_dir_all(&settings.data_dir).with_context(|| {
        format!(
            "creating the data directory {}",
            settings.data_dir.display()
        )
    })?;
    let keyring = Arc::new(open_keyring(settings)?);
    Ok(match &settings.database_url {
        Some(url) => Arc::new(
            conclave_store_postgres::PostgresStore::connect(url, keyring)
                .await
                .context("connecting to PostgreSQL")?,
        ),
        None => {
            let path = config::sqlite_path(&settings.data_dir);
            Arc::new(
                conclave_store_sqlite::SqliteStore::open_with_keyring(&path, keyring)
                    .with_context(|| format!("opening {}", path.display()))?,
            )
        }
    })
}

async fn user_command(
    store: &dyn Store,
    config: &conclave_server::config::ServerConfig,
    command: UserCommand,
) -> anyhow::Result<std::process::ExitCode> {
    match command {
        UserCommand::Create {
            email,
            name,
            role,
            password_stdin,
        } => {
            let role = Role::parse(&role).with_context(|| {
                format!("unknown role {role:?}; use owner, admin, compliance, member or guest")
            })?;
            let password = if password_stdin {
                let password = identity::read_password_from_stdin()?;
                if password.is_empty() {
                    bail!("--password-stdin was given but standard input was empty");
                }
                Some(password)
            } else {
                None
            };
            let user = conclave_server::routes::users::create_user_in(
                store,
                &email,
                &name,
                role,
                password.as_deref(),
            )
            .await
            .map_err(|error| anyhow::anyhow!("{error}"))?;
            let summary = serde_json::json!({"id": user.id, "email": user.email, "handle": user.handle, "name": user.name, "role": user.role.as_str()});
            audit(
                store,
                Change::new("user.create", "user", user.id).after(&summary),
            )
            .await?;
            println!("{summary}");
            Ok(std::process::ExitCode::SUCCESS)
        }
        UserCommand::Role { email, role } => identity::set_role(store, &email, &role).await,
        UserCommand::Reactivate { email } => identity::reactivate(store, &email).await,
        UserCommand::ResetPassword { email } => {
            identity::reset_password(store, &email, config.public_url.as_deref()).await
        }
        UserCommand::Deactivate { email } => {
            let email = conclave_domain::validate::normalize_email(&email);
            let user = store
                .user_by_email(&email)
                .await?
                .with_context(|| format!("no user with email {email}"))?;
            conclave_server::scim::directory::keep_an_owner(store, &user)
                .await
                .map_err(|error| anyhow::anyhow!("{error}"))?;
            let outcome = store
                .apply(vec![StoreCommand::DeactivateUser {
                    user_id: user.id,
                    at: conclave_server::now_millis(),
                }])
                .await?
                .pop()
                .context("no outcome")??;
            audit(
                store,
                Change::new("user.deactivate", "user", user.id)
                    .before(&serde_json::json!({"active": user.active}))
                    .after(&serde_json::json!({"active": false})),
            )
            .await?;
            if outcome.events.is_empty() {
                println!("{email} was already deactivated; any remaining sessions are revoked");
            } else {
                println!(
                    "{email} deactivated: sessions revoked, open connections are being closed"
                );
            }
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}

/// Records an action taken from the command line in the audit log.
async fn audit(store: &dyn Store, change: Change<'_>) -> anyhow::Result<()> {
    let user = std::env::var("SUDO_USER")
        .or_else(|_| std::env::var("USER"))
        .ok();
    let label = match user {
        Some(user) => format!("cli:{user}"),
        None => "cli".to_string(),
    };
    conclave_server::audit::record(store, &Actor::label(&label, None), change)
        .await
        .map_err(|error| anyhow::anyhow!("writing the audit log: {error}"))
}

async fn serve(settings: ServerConfig) -> anyhow::Result<std::process::ExitCode> {
    let started = std::time::Instant::now();
    let store = open_store(&settings).await?;
    let blobs = Arc::new(
        LocalBlobStore::new(settings.data_dir.join("blobs"), store.keyring().clone())
            .context("preparing the blob store")?,
    );
    let listener = tokio::net::TcpListener::bind(&settings.listen)
        .await
        .with_context(|| format!("listening on {}", settings.listen))?;
    let address = listener.local_addr()?;
    let users = store.count_users().await?;
    let data_dir = settings.data_dir.clone();
    let backend = if settings.database_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    let state = conclave_server::AppState::new(store, blobs, settings);
    tracing::info!(%address, backend, data_dir = %data_dir.display(), startup_ms = started.elapsed().as_millis() as u64, "Conclave is ready");
    let shutdown = shutdown_signal();
    println!("Conclave is running at http://{address}/");
    if users == 0 {
        println!(
            "No users yet. Create the first owner with:\n  {} user create --data-dir {} --email you@example.com --name \"Your Name\" --role owner --password-stdin",
            this_binary(),
            data_dir.display()
        );
    }
    conclave_server::run(listener, state, shutdown).await?;
    tracing::info!("stopped");
    Ok(std::process::ExitCode::SUCCESS)
}

/// How to invoke this binary in a printed command: its path, so the command
/// works even when `conclave` is not on the PATH (as after `scripts/run`).
fn this_binary() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|path| {
            let current = std::env::current_dir().ok()?;
            Some(
                path.strip_prefix(&current)
                    .map(|relative| relative.to_path_buf())
                    .unwrap_or(path),
            )
        })
        .map(|path| path.display().to_string())
        .unwrap_or_else(|| "conclave".to_string())
}

/// Listens for SIGTERM from the moment it is called (not from the first
/// poll), so a signal sent right after the "running" line is not lost.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        let interrupt = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            match terminate {
                Some(mut terminate) => {
                    tokio::select! {
                        _ = interrupt => {}
                        _ = terminate.recv() => {}
                    }
                }
                None => {
                    let _ = interrupt.await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = interrupt.await;
        }
    }
}
