//! The bench accounts: created through the admin API and signed in once
//! each. Sign-in costs the server an argon2 verification and is rate-limited
//! per address and email, so sessions can be kept in a cache file and reused
//! by the next scenario against the same server.

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use futures_util::{StreamExt, TryStreamExt, stream};
use serde::{Deserialize, Serialize};

use crate::ServerArgs;
use crate::api::{Api, Refusal, Session};

#[derive(Debug, Serialize, Deserialize)]
struct CachedSession {
    url: String,
    email: String,
    user_id: i64,
    token: String,
}

/// Signs in as the admin, reusing a cached session when there is one.
pub async fn admin_session(api: &Api, args: &ServerArgs) -> anyhow::Result<Session> {
    let mut cache = load_cache(args, api).await?;
    if let Some(session) = cache.remove(&args.admin_email) {
        return Ok(session);
    }
    let session = login_with_retry(api, &args.admin_email, &args.admin_password).await?;
    save_cache(args, api, std::slice::from_ref(&session))?;
    Ok(session)
}

/// The first `count` bench users, created if missing and signed in.
pub async fn bench_users(
    api: &Api,
    args: &ServerArgs,
    admin: &Session,
    count: usize,
) -> anyhow::Result<Vec<Session>> {
    let mut cache = load_cache(args, api).await?;
    let emails: Vec<String> = (0..count)
        .map(|index| bench_email(&args.users_prefix, index))
        .collect();
    let missing: Vec<(usize, String)> = emails
        .iter()
        .enumerate()
        .filter(|(_, email)| !cache.contains_key(*email))
        .map(|(index, email)| (index, email.clone()))
        .collect();
    if !missing.is_empty() {
        let started = Instant::now();
        eprintln!(
            "setup: creating and signing in {} bench users…",
            missing.len()
        );
        let done = std::sync::atomic::AtomicUsize::new(0);
        let created: Vec<Session> = stream::iter(missing)
            .map(|(index, email)| {
                let done = &done;
                async move {
                    api.ensure_user(
                        &admin.token,
                        &email,
                        &format!("Bench user {index}"),
                        &args.password,
                    )
                    .await?;
                    let session = login_with_retry(api, &email, &args.password).await?;
                    let finished = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                    if finished.is_multiple_of(500) {
                        eprintln!("setup: {finished} users ready");
                    }
                    anyhow::Ok(session)
                }
            })
            .buffer_unordered(args.setup_concurrency.max(1))
            .try_collect()
            .await?;
        eprintln!(
            "setup: {} users ready in {:.1} s",
            created.len(),
            started.elapsed().as_secs_f64()
        );
        save_cache(args, api, &created)?;
        for session in created {
            cache.insert(session.email.clone(), session);
        }
    }
    emails
        .iter()
        .map(|email| {
            cache
                .remove(email)
                .with_context(|| format!("no session for {email}"))
        })
        .collect()
}

pub fn bench_email(prefix: &str, index: usize) -> String {
    format!("{prefix}-{index}@bench.example.com")
}

/// Signs in, waiting out the per-address sign-in limit if a rerun hits it.
async fn login_with_retry(api: &Api, email: &str, password: &str) -> anyhow::Result<Session> {
    let mut attempts = 0;
    loop {
        match api.login(email, password).await {
            Ok(session) => return Ok(session),
            Err(error)
                if attempts < 12
                    && error.chain().any(|cause| {
                        cause
                            .downcast_ref::<Refusal>()
                            .is_some_and(|r| r.code == "rate_limited")
                    }) =>
            {
                attempts += 1;
                tokio::time::sleep(Duration::from_secs(6)).await;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Reads the cache for this server. A cache whose sessions the server no
/// longer knows (another data directory) is ignored.
async fn load_cache(args: &ServerArgs, api: &Api) -> anyhow::Result<HashMap<String, Session>> {
    let Some(path) = &args.session_cache else {
        return Ok(HashMap::new());
    };
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(error) => return Err(error).with_context(|| format!("reading {}", path.display())),
    };
    let mut sessions = HashMap::new();
    for line in text.lines().filter(|line| !line.trim().is_empty()) {
        let cached: CachedSession = serde_json::from_str(line)
            .with_context(|| format!("a malformed line in {}", path.display()))?;
        if cached.url == api.base_url {
            sessions.insert(
                cached.email.clone(),
                Session {
                    user_id: cached.user_id,
                    email: cached.email,
                    token: cached.token,
                },
            );
        }
    }
    if let Some(sample) = sessions.values().next()
        && api.me(&sample.token).await.is_err()
    {
        eprintln!("setup: cached sessions are not valid on this server; signing in again");
        return Ok(HashMap::new());
    }
    Ok(sessions)
}

fn save_cache(args: &ServerArgs, api: &Api, sessions: &[Session]) -> anyhow::Result<()> {
    let Some(path) = &args.session_cache else {
        return Ok(());
    };
    append_lines(path, api, sessions).with_context(|| format!("writing {}", path.display()))
}

fn append_lines(path: &Path, api: &Api, sessions: &[Session]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let mut text = String::new();
    for session in sessions {
        let cached = CachedSession {
            url: api.base_url.clone(),
            email: session.email.clone(),
            user_id: session.user_id,
            token: session.token.clone(),
        };
        text.push_str(&serde_json::to_string(&cached)?);
        text.push('\n');
    }
    file.write_all(text.as_bytes())?;
    Ok(())
}

/// Creates a public channel (the admin is its creator) whose members are
/// `members`: the first thousand are added at creation, the rest join.
pub async fn public_channel_with(
    api: &Api,
    admin: &Session,
    name: &str,
    members: &[Session],
    concurrency: usize,
) -> anyhow::Result<i64> {
    const AT_CREATION: usize = 1000;
    let first: Vec<i64> = members
        .iter()
        .take(AT_CREATION)
        .map(|session| session.user_id)
        .collect();
    let channel_id = api
        .create_public_channel(&admin.token, name, &first)
        .await?;
    if members.len() > AT_CREATION {
        let started = Instant::now();
        stream::iter(&members[AT_CREATION..])
            .map(|session| api.join(&session.token, channel_id))
            .buffer_unordered(concurrency.max(1))
            .try_collect::<Vec<()>>()
            .await?;
        eprintln!(
            "setup: {} more members joined #{name} in {:.1} s",
            members.len() - AT_CREATION,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(channel_id)
}

/// A short id that keeps channel names and client ids of one run apart
/// from earlier runs against the same server.
pub fn run_id() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis());
    format!("{millis}")
}
