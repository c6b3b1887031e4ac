//! The Graph API, as the connector uses it: sending messages
//! (`POST {base}/{phone-number-id}/messages`), uploading media for them
//! (`POST {base}/{phone-number-id}/media`, multipart) and downloading media
//! (`GET {base}/{media-id}` answers a short-lived URL, fetched with the same
//! bearer token). Failures say whether trying again could help.

use serde::Deserialize;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::config::WhatsAppConfig;

/// A failed Graph API call.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct GraphError {
    /// Server errors, rate limits and network failures: worth a retry.
    pub transient: bool,
    pub message: String,
}

impl GraphError {
    pub(crate) fn transient(message: impl Into<String>) -> GraphError {
        GraphError {
            transient: true,
            message: message.into(),
        }
    }

    pub(crate) fn permanent(message: impl Into<String>) -> GraphError {
        GraphError {
            transient: false,
            message: message.into(),
        }
    }
}

/// Path segments we put into URLs: Meta's ids are digits, letters and a
/// few punctuation marks, never slashes.
fn safe_segment(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn base(config: &WhatsAppConfig) -> &str {
    config.graph_api_base.trim_end_matches('/')
}

/// Reads Meta's error envelope `{"error": {"message", "code", …}}`.
fn error_text(status: reqwest::StatusCode, body: &str) -> String {
    let detail = serde_json::from_str::<Value>(body).ok().and_then(|value| {
        let error = value.get("error")?;
        let message = error
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("error");
        Some(match error.get("code").and_then(Value::as_i64) {
            Some(code) => format!("{message} (code {code})"),
            None => message.to_string(),
        })
    });
    format!(
        "the Graph API answered {}: {}",
        status.as_u16(),
        detail.unwrap_or_else(|| body.chars().take(200).collect())
    )
}

fn classify(status: reqwest::StatusCode, body: &str) -> GraphError {
    let message = error_text(status, body);
    if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
        GraphError::transient(message)
    } else {
        GraphError::permanent(message)
    }
}

fn network(error: reqwest::Error) -> GraphError {
    GraphError::transient(format!("the Graph API could not be reached: {error}"))
}

#[derive(Deserialize)]
struct SendResponse {
    #[serde(default)]
    messages: Vec<SentMessage>,
}

#[derive(Deserialize)]
struct SentMessage {
    id: String,
}

/// Sends one message; answers Meta's message id (wamid).
pub async fn send_message(
    http: &reqwest::Client,
    config: &WhatsAppConfig,
    phone_number_id: &str,
    body: &Value,
) -> Result<String, GraphError> {
    if !safe_segment(phone_number_id) {
        return Err(GraphError::permanent("the phone number id is not valid"));
    }
    let url = format!("{}/{phone_number_id}/messages", base(config));
    let response = http
        .post(url)
        .bearer_auth(&config.access_token)
        .json(body)
        .send()
        .await
        .map_err(network)?;
    let status = response.status();
    let text = response.text().await.map_err(network)?;
    if !status.is_success() {
        return Err(classify(status, &text));
    }
    let parsed: SendResponse = serde_json::from_str(&text)
        .map_err(|error| GraphError::permanent(format!("unreadable send response: {error}")))?;
    parsed
        .messages
        .into_iter()
        .next()
        .map(|message| message.id)
        .ok_or_else(|| GraphError::permanent("the send response names no message id"))
}

#[derive(Deserialize)]
struct UploadResponse {
    id: String,
}

/// Uploads one file for a later media message, as Meta's Cloud API takes
/// it: `multipart/form-data` with the fields `messaging_product`
/// (`whatsapp`), `type` (the MIME type) and `file`. Answers Meta's media id.
pub async fn upload_media(
    http: &reqwest::Client,
    config: &WhatsAppConfig,
    phone_number_id: &str,
    mime_type: &str,
    filename: &str,
    bytes: Vec<u8>,
) -> Result<String, GraphError> {
    if !safe_segment(phone_number_id) {
        return Err(GraphError::permanent("the phone number id is not valid"));
    }
    let (content_type, body) = multipart_upload(mime_type, filename, bytes);
    let url = format!("{}/{phone_number_id}/media", base(config));
    let response = http
        .post(url)
        .bearer_auth(&config.access_token)
        .header(reqwest::header::CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .map_err(network)?;
    let status = response.status();
    let text = response.text().await.map_err(network)?;
    if !status.is_success() {
        return Err(classify(status, &text));
    }
    let parsed: UploadResponse = serde_json::from_str(&text)
        .map_err(|error| GraphError::permanent(format!("unreadable upload response: {error}")))?;
    if parsed.id.is_empty() {
        return Err(GraphError::permanent(
            "the upload response names no media id",
        ));
    }
    Ok(parsed.id)
}

/// The `multipart/form-data` body of a media upload and its content type.
/// The boundary is derived from the file's digest, so it cannot occur in
/// the file (short of a SHA-256 collision) and a retry sends the same bytes.
fn multipart_upload(mime_type: &str, filename: &str, bytes: Vec<u8>) -> (String, Vec<u8>) {
    use sha2::{Digest, Sha256};
    let digest = hex::encode(Sha256::digest(&bytes));
    let boundary = format!("conclave-{}", &digest[..40]);
    // Header values must stay on one line and inside their quotes.
    let clean = |value: &str| -> String {
        value
            .chars()
            .map(|c| {
                if c.is_control() || c == '"' || c == '\\' {
                    '_'
                } else {
                    c
                }
            })
            .collect()
    };
    let (mime_type, filename) = (clean(mime_type), clean(filename));
    let mut body = Vec::with_capacity(bytes.len() + 512);
    let mut field = |name: &str, value: &str| {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    };
    field("messaging_product", "whatsapp");
    field("type", &mime_type);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: {mime_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(&bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

#[derive(Deserialize)]
struct MediaInfo {
    url: String,
    #[serde(default)]
    mime_type: Option<String>,
}

/// A downloaded media file.
pub struct Media {
    pub bytes: Vec<u8>,
    pub mime_type: Option<String>,
}

/// Downloads a media file of at most `limit` bytes.
pub async fn download_media(
    http: &reqwest::Client,
    config: &WhatsAppConfig,
    media_id: &str,
    limit: u64,
) -> Result<Media, GraphError> {
    if !safe_segment(media_id) {
        return Err(GraphError::permanent("the media id is not valid"));
    }
    let response = http
        .get(format!("{}/{media_id}", base(config)))
        .bearer_auth(&config.access_token)
        .send()
        .await
        .map_err(network)?;
    let status = response.status();
    let text = response.text().await.map_err(network)?;
    if !status.is_success() {
        return Err(classify(status, &text));
    }
    let info: MediaInfo = serde_json::from_str(&text)
        .map_err(|error| GraphError::permanent(format!("unreadable media response: {error}")))?;
    if !(info.url.starts_with("https://") || info.url.starts_with("http://")) {
        return Err(GraphError::permanent("the media URL is not http(s)"));
    }
    let mut response = http
        .get(&info.url)
        .bearer_auth(&config.access_token)
        .send()
        .await
        .map_err(network)?;
    let status = response.status();
    if !status.is_success() {
        let text = response.text().await.unwrap_or_default();
        return Err(classify(status, &text));
    }
    if response
        .content_length()
        .is_some_and(|length| length > limit)
    {
        return Err(GraphError::permanent(format!(
            "the media file is larger than {limit} bytes"
        )));
    }
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(network)? {
        if bytes.len() as u64 + chunk.len() as u64 > limit {
            return Err(GraphError::permanent(format!(
                "the media file is larger than {limit} bytes"
            )));
        }
        bytes.extend_from_slice(&chunk);
    }
    Ok(Media {
        bytes,
        mime_type: info.mime_type,
    })
}

/// Runs `attempt` until it succeeds, fails for good, or `attempts` tries are
/// used up, waiting `base_ms`, then twice as long, … (at most 30 s) between
/// tries. Once `stop` is cancelled (the server is shutting down) no further
/// try is started and the last transient error is answered; a try already
/// under way is allowed to finish, so a message Meta accepted is not
/// mistaken for one it never saw. Answers the result and how many tries
/// were made.
pub async fn with_retries<T, F, Fut>(
    attempts: u32,
    base_ms: u64,
    stop: &CancellationToken,
    mut attempt: F,
) -> (Result<T, GraphError>, u32)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, GraphError>>,
{
    let attempts = attempts.max(1);
    let mut delay = base_ms;
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Ok(value) => return (Ok(value), tries),
            Err(error) if error.transient && tries < attempts && !stop.is_cancelled() => {
                tracing::warn!(%error, tries, "Graph API call failed; retrying");
                tokio::select! {
                    () = tokio::time::sleep(std::time::Duration::from_millis(delay)) => {}
                    () = stop.cancelled() => return (Err(error), tries),
                }
                delay = (delay.saturating_mul(2)).min(30_000);
            }
            Err(error) => return (Err(error), tries),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_with_slashes_never_reach_a_url() {
        for bad in ["", "../x", "a/b", "a?b", "a b", &"9".repeat(129)] {
            assert!(!safe_segment(bad), "{bad}");
        }
        assert!(safe_segment("106540352242922"));
    }

    #[test]
    fn meta_errors_are_classified() {
        let body = r#"{"error":{"message":"(#131047) Re-engagement message","code":131047}}"#;
        let error = classify(reqwest::StatusCode::BAD_REQUEST, body);
        assert!(!error.transient);
        assert!(
            error
                .message
                .contains("Re-engagement message (code 131047)"),
            "{}",
            error.message
        );
        assert!(classify(reqwest::StatusCode::BAD_GATEWAY, "").transient);
        assert!(classify(reqwest::StatusCode::TOO_MANY_REQUESTS, "").transient);
    }

    #[test]
    fn uploads_are_multipart_form_data_with_metas_fields() {
        let (content_type, body) =
            multipart_upload("image/png", "a \"b\".png", b"\x89PNG bytes".to_vec());
        let boundary = content_type
            .strip_prefix("multipart/form-data; boundary=")
            .unwrap();
        let text = String::from_utf8_lossy(&body);
        assert!(text.starts_with(&format!("--{boundary}\r\n")), "{text}");
        assert!(text.contains("name=\"messaging_product\"\r\n\r\nwhatsapp\r\n"));
        assert!(text.contains("name=\"type\"\r\n\r\nimage/png\r\n"));
        assert!(text.contains(
            "name=\"file\"; filename=\"a _b_.png\"\r\nContent-Type: image/png\r\n\r\n\u{fffd}PNG bytes\r\n"
        ));
        assert!(text.ends_with(&format!("--{boundary}--\r\n")));
    }

    #[tokio::test]
    async fn transient_failures_are_retried_with_backoff() {
        let running = CancellationToken::new();
        let mut calls = 0;
        let (result, tries) = with_retries(4, 1, &running, || {
            calls += 1;
            let outcome = if calls < 3 {
                Err(GraphError::transient("503"))
            } else {
                Ok(calls)
            };
            async move { outcome }
        })
        .await;
        assert_eq!((result.unwrap(), tries), (3, 3));
        let (result, tries) = with_retries(4, 1, &running, || async {
            Err::<(), _>(GraphError::permanent("400"))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(tries, 1, "permanent failures are not retried");
        let (result, tries) = with_retries(3, 1, &running, || async {
            Err::<(), _>(GraphError::transient("503"))
        })
        .await;
        assert!(result.is_err());
        assert_eq!(tries, 3);
    }

    #[tokio::test]
    async fn a_shutdown_ends_the_retries_but_not_the_try_under_way() {
        let stop = CancellationToken::new();
        let mut calls = 0;
        // A long backoff: without the stop the second try would come in a minute.
        let (result, tries) = with_retries(5, 60_000, &stop, || {
            calls += 1;
            stop.cancel();
            async { Err::<(), _>(GraphError::transient("connection refused")) }
        })
        .await;
        assert_eq!(result.unwrap_err().message, "connection refused");
        assert_eq!((tries, calls), (1, 1), "no try starts after the stop");

        let stopped = CancellationToken::new();
        stopped.cancel();
        let (result, tries) =
            with_retries(5, 1, &stopped, || async { Ok::<_, GraphError>(7) }).await;
        assert_eq!((result.unwrap(), tries), (7, 1), "the first try still runs");
    }
}
