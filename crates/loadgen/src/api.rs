//! The few REST calls the scenarios need, as a client sees them: sign-in,
//! user creation by an admin, channels and membership, message posts.

use anyhow::{Context, bail};
use serde::Deserialize;
use serde_json::{Value, json};

/// A REST client bound to one server.
#[derive(Clone)]
pub struct Api {
    pub base_url: String,
    http: reqwest::Client,
}

/// A signed-in account.
#[derive(Debug, Clone)]
pub struct Session {
    pub user_id: i64,
    pub email: String,
    pub token: String,
}

#[derive(Debug, Deserialize)]
struct LoginResponse {
    token: String,
    user: UserBody,
}

#[derive(Debug, Deserialize)]
struct UserBody {
    id: i64,
}

/// What the server answered when it refused: its status and stable code.
#[derive(Debug)]
pub struct Refusal {
    pub status: u16,
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "HTTP {} {}: {}", self.status, self.code, self.message)
    }
}

impl std::error::Error for Refusal {}

impl Api {
    pub fn new(base_url: &str) -> anyhow::Result<Api> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(4096)
            .tcp_nodelay(true)
            .timeout(std::time::Duration::from_secs(120))
            .build()
            .context("building the HTTP client")?;
        Ok(Api {
            base_url: base_url.trim_end_matches('/').to_string(),
            http,
        })
    }

    /// The WebSocket URL for a token.
    pub fn websocket_url(&self, token: &str) -> String {
        let base = self
            .base_url
            .replacen("https://", "wss://", 1)
            .replacen("http://", "ws://", 1);
        format!("{base}/api/v1/ws?token={token}")
    }

    pub async fn login(&self, email: &str, password: &str) -> anyhow::Result<Session> {
        let body = self
            .send(
                self.http
                    .post(self.url("/api/v1/auth/login"))
                    .json(&json!({"email": email, "password": password})),
            )
            .await
            .with_context(|| format!("signing in as {email}"))?;
        let login: LoginResponse =
            serde_json::from_value(body).context("reading the sign-in answer")?;
        Ok(Session {
            user_id: login.user.id,
            email: email.to_string(),
            token: login.token,
        })
    }

    /// Answers the signed-in user's id, or a refusal if the token is no
    /// longer valid.
    pub async fn me(&self, token: &str) -> anyhow::Result<i64> {
        let body = self
            .send(self.http.get(self.url("/api/v1/me")).bearer_auth(token))
            .await?;
        let user: UserBody = serde_json::from_value(body).context("reading /me")?;
        Ok(user.id)
    }

    /// Creates a member account; an existing account with that email is fine.
    pub async fn ensure_user(
        &self,
        admin_token: &str,
        email: &str,
        name: &str,
        password: &str,
    ) -> anyhow::Result<()> {
        let request = self
            .http
            .post(self.url("/api/v1/users"))
            .bearer_auth(admin_token)
            .json(&json!({"email": email, "name": name, "role": "member", "password": password}));
        match self.send(request).await {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .downcast_ref::<Refusal>()
                    .is_some_and(|r| r.code == "conflict") =>
            {
                Ok(())
            }
            Err(error) => Err(error.context(format!("creating user {email}"))),
        }
    }

    /// Creates a public channel with these first members; answers its id.
    pub async fn create_public_channel(
        &self,
        token: &str,
        name: &str,
        member_ids: &[i64],
    ) -> anyhow::Result<i64> {
        let body = self
            .send(
                self.http
                    .post(self.url("/api/v1/channels"))
                    .bearer_auth(token)
                    .json(&json!({"name": name, "kind": "public", "member_ids": member_ids})),
            )
            .await
            .with_context(|| format!("creating channel {name}"))?;
        body.pointer("/channel/id")
            .and_then(Value::as_i64)
            .context("the channel answer has no channel.id")
    }

    pub async fn join(&self, token: &str, channel_id: i64) -> anyhow::Result<()> {
        self.send(
            self.http
                .post(self.url(&format!("/api/v1/channels/{channel_id}/join")))
                .bearer_auth(token),
        )
        .await
        .with_context(|| format!("joining channel {channel_id}"))?;
        Ok(())
    }

    /// Posts a message; returns once the server has answered 201 (durable).
    pub async fn post_message(
        &self,
        token: &str,
        channel_id: i64,
        text: &str,
        client_id: &str,
    ) -> anyhow::Result<()> {
        self.send(
            self.http
                .post(self.url(&format!("/api/v1/channels/{channel_id}/messages")))
                .bearer_auth(token)
                .json(&json!({"text": text, "client_id": client_id})),
        )
        .await?;
        Ok(())
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> anyhow::Result<Value> {
        let response = request.send().await.context("sending the request")?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .context("reading the response body")?;
        if status.is_success() {
            if bytes.is_empty() {
                return Ok(Value::Null);
            }
            return serde_json::from_slice(&bytes).context("the response is not JSON");
        }
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let text = |key: &str| {
            body.get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let refusal = Refusal {
            status: status.as_u16(),
            code: text("code"),
            message: text("message"),
        };
        if refusal.code.is_empty() && refusal.message.is_empty() {
            bail!("HTTP {status} without an error body");
        }
        Err(refusal.into())
    }
}
