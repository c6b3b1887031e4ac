//! Staff replies that carry files: which WhatsApp message type a file goes
//! as, Meta's size limit for it, the plan a queued reply records in the
//! outbox, and sending that plan (upload each file to the Graph API, then
//! one media message per file).
//!
//! The reply's text travels as the first file's caption when that file
//! takes one (image, video, document) and the text fits Meta's 1024
//! characters; otherwise it goes first as a text message of its own. The
//! plan names the archive's attachments, never their bytes: a blob is read
//! (and unsealed) only when it is uploaded to Meta. A resumed reply uploads
//! its files again (Meta's media ids are cheap and expire anyway); within
//! one process a retry continues where the last try stopped.

use std::sync::Mutex;

use conclave_domain::Attachment;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;

use super::format;
use super::graph::{self, GraphError};
use crate::state::AppState;

/// Meta's longest caption.
pub const MAX_CAPTION_CHARS: usize = 1024;

const MB: u64 = 1024 * 1024;

/// The WhatsApp message type a file of this (sniffed) MIME type is sent
/// as: the image, video and audio formats Meta plays, everything else as a
/// document.
pub fn media_kind(content_type: &str) -> &'static str {
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match mime.as_str() {
        "image/jpeg" | "image/png" => "image",
        "video/mp4" | "video/3gpp" => "video",
        "audio/aac" | "audio/amr" | "audio/mpeg" | "audio/mp4" | "audio/ogg" => "audio",
        _ => "document",
    }
}

/// Meta's size limit for a media type: images 5 MB, video and audio 16 MB,
/// documents 100 MB.
pub fn size_limit(kind: &str) -> u64 {
    match kind {
        "image" => 5 * MB,
        "video" | "audio" => 16 * MB,
        _ => 100 * MB,
    }
}

/// Whether a media type carries a caption (audio does not).
fn takes_caption(kind: &str) -> bool {
    matches!(kind, "image" | "video" | "document")
}

/// One file of a media reply, as the outbox records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlannedFile {
    pub attachment_id: i64,
    /// image, video, audio or document.
    #[serde(rename = "type")]
    pub kind: String,
    pub mime_type: String,
    pub filename: String,
    /// In WhatsApp's formatting.
    pub caption: Option<String>,
}

/// What a media reply sends, in order: the text on its own (when it does
/// not go as a caption), then each file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MediaPlan {
    pub to: String,
    /// In WhatsApp's formatting.
    pub text: Option<String>,
    pub files: Vec<PlannedFile>,
}

impl MediaPlan {
    /// Plans a reply of `text` (the agent's Markdown; may be empty) with
    /// `attachments`, in the order given.
    pub fn new(to: &str, text: &str, attachments: &[Attachment]) -> MediaPlan {
        let text = text.trim();
        let mut files: Vec<PlannedFile> = attachments
            .iter()
            .map(|attachment| {
                let kind = media_kind(&attachment.content_type);
                PlannedFile {
                    attachment_id: attachment.id,
                    kind: kind.into(),
                    mime_type: attachment.content_type.clone(),
                    filename: attachment.name.clone(),
                    caption: None,
                }
            })
            .collect();
        let mut separate = None;
        if !text.is_empty() {
            let formatted = format::to_whatsapp(text);
            match files.first_mut() {
                Some(first)
                    if takes_caption(&first.kind)
                        && formatted.chars().count() <= MAX_CAPTION_CHARS =>
                {
                    first.caption = Some(formatted);
                }
                _ => separate = Some(formatted),
            }
        }
        MediaPlan {
            to: to.into(),
            text: separate,
            files,
        }
    }

    /// The outbox's request: `{"media_reply": plan}`, told apart from a
    /// Graph API body by its key.
    pub fn to_request(&self) -> Value {
        json!({ "media_reply": self })
    }

    /// The plan of a recorded request: None for a plain Graph API body,
    /// Some(Err) for a media reply that cannot be read.
    pub fn from_request(request: &Value) -> Option<Result<MediaPlan, serde_json::Error>> {
        request
            .get("media_reply")
            .map(|plan| serde_json::from_value(plan.clone()))
    }

    /// The delivery record's kind: the first file's type.
    pub fn kind(&self) -> &str {
        self.files
            .first()
            .map_or("document", |file| file.kind.as_str())
    }
}

/// How far this process got with a plan, so a retry does not upload or
/// send again what already went.
#[derive(Debug, Default)]
pub struct Progress {
    inner: Mutex<ProgressState>,
}

#[derive(Debug, Default, Clone)]
struct ProgressState {
    text_sent: bool,
    files_sent: usize,
    media_ids: Vec<Option<String>>,
    first_wamid: Option<String>,
}

impl Progress {
    fn snapshot(&self) -> ProgressState {
        self.inner
            .lock()
            .map(|state| state.clone())
            .unwrap_or_default()
    }

    fn update(&self, change: impl FnOnce(&mut ProgressState)) {
        if let Ok(mut state) = self.inner.lock() {
            change(&mut state);
        }
    }
}

/// Sends what of `plan` is not sent yet; answers the wamid of its first
/// message (the one delivery statuses are followed for).
pub async fn send_plan(
    state: &AppState,
    phone_number_id: &str,
    plan: &MediaPlan,
    progress: &Progress,
) -> Result<String, GraphError> {
    let http = &state.connector.http;
    let config = &state.config.whatsapp;
    let sent = |progress: &Progress, wamid: String| {
        progress.update(|state| {
            state.first_wamid.get_or_insert(wamid);
        });
    };
    if let Some(text) = &plan.text
        && !progress.snapshot().text_sent
    {
        let body = json!({
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": plan.to,
            "type": "text",
            "text": {"preview_url": false, "body": text},
        });
        let wamid = graph::send_message(http, config, phone_number_id, &body).await?;
        sent(progress, wamid);
        progress.update(|state| state.text_sent = true);
    }
    for (index, file) in plan.files.iter().enumerate() {
        let known = progress.snapshot();
        if index < known.files_sent {
            continue;
        }
        let media_id = match known.media_ids.get(index).cloned().flatten() {
            Some(media_id) => media_id,
            None => {
                let bytes = read_attachment(state, file).await?;
                let media_id = graph::upload_media(
                    http,
                    config,
                    phone_number_id,
                    &file.mime_type,
                    &file.filename,
                    bytes,
                )
                .await?;
                progress.update(|state| {
                    if state.media_ids.len() <= index {
                        state.media_ids.resize(index + 1, None);
                    }
                    state.media_ids[index] = Some(media_id.clone());
                });
                media_id
            }
        };
        let wamid = graph::send_message(
            http,
            config,
            phone_number_id,
            &message(plan, file, &media_id),
        )
        .await?;
        sent(progress, wamid);
        progress.update(|state| state.files_sent = index + 1);
    }
    progress
        .snapshot()
        .first_wamid
        .ok_or_else(|| GraphError::permanent("the reply had nothing to send"))
}

/// Meta's send-message JSON for one uploaded file.
fn message(plan: &MediaPlan, file: &PlannedFile, media_id: &str) -> Value {
    let mut media = json!({ "id": media_id });
    if let Some(caption) = &file.caption {
        media["caption"] = Value::String(caption.clone());
    }
    if file.kind == "document" {
        media["filename"] = Value::String(file.filename.clone());
    }
    let mut body = json!({
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": plan.to,
        "type": file.kind,
    });
    body[file.kind.as_str()] = media;
    body
}

/// The file's bytes, unsealed from the blob store. A file that is gone
/// (erased, or its key destroyed) is a permanent failure.
async fn read_attachment(state: &AppState, file: &PlannedFile) -> Result<Vec<u8>, GraphError> {
    let attachment = state
        .store
        .attachment_by_id(file.attachment_id)
        .await
        .map_err(|error| GraphError::transient(format!("reading the attachment: {error}")))?
        .ok_or_else(|| GraphError::permanent("an attached file is gone"))?;
    let limit = size_limit(&file.kind);
    let reader = state
        .blobs
        .open(&attachment.storage_key)
        .await
        .map_err(|error| {
            if error.kind() == std::io::ErrorKind::NotFound {
                GraphError::permanent("an attached file is gone")
            } else {
                GraphError::transient(format!("opening an attached file: {error}"))
            }
        })?;
    let mut bytes = Vec::with_capacity(usize::try_from(reader.length.min(limit)).unwrap_or(0));
    reader
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .await
        .map_err(|error| GraphError::transient(format!("reading an attached file: {error}")))?;
    if bytes.len() as u64 > limit {
        return Err(GraphError::permanent(format!(
            "an attached file is larger than WhatsApp's {} MB for {}",
            limit / MB,
            file.kind
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attachment(id: i64, content_type: &str, name: &str) -> Attachment {
        Attachment {
            id,
            uploader_id: 1,
            channel_id: 1,
            message_id: None,
            name: name.into(),
            content_type: content_type.into(),
            size: 10,
            sha256: String::new(),
            storage_key: String::new(),
            thumbnail_key: None,
            width: None,
            height: None,
            created_at: 0,
        }
    }

    #[test]
    fn files_go_as_the_type_meta_plays_with_its_limit() {
        let cases = [
            ("image/png", "image", 5),
            ("image/jpeg", "image", 5),
            ("image/gif", "document", 100),
            ("video/mp4", "video", 16),
            ("audio/ogg", "audio", 16),
            ("audio/webm", "document", 100),
            ("application/pdf", "document", 100),
        ];
        for (mime, kind, megabytes) in cases {
            assert_eq!(media_kind(mime), kind, "{mime}");
            assert_eq!(size_limit(kind), megabytes * MB, "{mime}");
        }
    }

    #[test]
    fn the_text_is_the_first_caption_or_a_message_of_its_own() {
        let png = attachment(1, "image/png", "a.png");
        let pdf = attachment(2, "application/pdf", "b.pdf");
        let ogg = attachment(3, "audio/ogg", "c.ogg");
        let plan = MediaPlan::new("49", "**see** this", &[png.clone(), pdf.clone()]);
        assert_eq!(plan.text, None);
        assert_eq!(plan.files[0].caption.as_deref(), Some("*see* this"));
        assert_eq!(plan.files[1].caption, None);
        let plan = MediaPlan::new("49", "listen", &[ogg, png.clone()]);
        assert_eq!(plan.text.as_deref(), Some("listen"));
        assert!(plan.files.iter().all(|file| file.caption.is_none()));
        let long = "x".repeat(MAX_CAPTION_CHARS + 1);
        let plan = MediaPlan::new("49", &long, std::slice::from_ref(&png));
        assert_eq!(plan.text.as_deref(), Some(long.as_str()));
        let plan = MediaPlan::new("49", "  ", &[pdf]);
        assert_eq!(plan.text, None);
        assert_eq!(plan.files[0].caption, None);
        let request = MediaPlan::new("49", "hi", &[png]).to_request();
        let back = MediaPlan::from_request(&request).unwrap().unwrap();
        assert_eq!(back.files[0].caption.as_deref(), Some("hi"));
        assert!(MediaPlan::from_request(&json!({"messaging_product": "whatsapp"})).is_none());
    }
}
