//! Attachments: streaming upload with a size cap, content type sniffed from
//! the bytes, thumbnails for images, and downloads for those who may read
//! the message.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use conclave_domain::{Attachment, NewAttachment, User, permissions, validate};
use futures_util::StreamExt;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa::IntoParams;

use super::{ApiPath, ApiQuery, readable_channel};
use crate::api::AttachmentDto;
use crate::auth::Authed;
use crate::blobs::BlobSealingWriter;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
pub struct UploadQuery {
    pub channel_id: i64,
    /// The file's name as the sender knows it.
    pub name: String,
}

/// Uploads a file (the raw bytes are the body) for a later message.
#[utoipa::path(post, path = "/api/v1/files", tag = "files", security(("bearer" = [])), params(UploadQuery),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 201, body = AttachmentDto), (status = 413, body = crate::error::ErrorBody),
              (status = 507, body = crate::error::ErrorBody)))]
pub async fn upload(
    State(state): State<AppState>,
    authed: Authed,
    ApiQuery(query): ApiQuery<UploadQuery>,
    body: Body,
) -> ApiResult<(StatusCode, axum::Json<AttachmentDto>)> {
    let (channel, membership) = readable_channel(&state, &authed.user, query.channel_id).await?;
    if !permissions::can_post(&authed.user, &channel, membership.as_ref()) {
        return Err(ApiError::forbidden(
            "you cannot share files in this channel",
        ));
    }
    let name = validate::sanitize_file_name(&query.name);
    let limit = state.config.limits.max_upload_bytes;
    let temporary = state.blobs.temporary_path();
    let received = receive(&state, authed.user.id, body, &temporary, limit).await;
    let (size, digest, head) = match received {
        Ok(received) => received,
        Err(error) => {
            let _ = tokio::fs::remove_file(&temporary).await;
            return Err(error);
        }
    };
    if size == 0 {
        let _ = tokio::fs::remove_file(&temporary).await;
        return Err(ApiError::InvalidRequest("the file is empty".into()));
    }
    let content_type = sniff(&head);
    let key = crate::blobs::content_key("sha256", &digest, authed.user.id);
    let (thumbnail_key, width, height) = if content_type.starts_with("image/") {
        thumbnail(&state, &temporary, size, &digest, authed.user.id).await
    } else {
        (None, None, None)
    };
    if let Err(error) = state.blobs.put_file(&key, &temporary).await {
        let _ = tokio::fs::remove_file(&temporary).await;
        return Err(ApiError::from_io("storing upload", error));
    }
    let attachment = state
        .store
        .create_attachment(NewAttachment {
            uploader_id: authed.user.id,
            channel_id: channel.id,
            name,
            content_type,
            size: i64::try_from(size).unwrap_or(i64::MAX),
            sha256: digest,
            storage_key: key,
            thumbnail_key,
            width,
            height,
            created_at: crate::now_millis(),
        })
        .await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(AttachmentDto::from(&attachment)),
    ))
}

/// Streams the body to `path`, sealed under the uploader's key and hashed
/// as it goes; keeps the first bytes for sniffing. Refuses bodies over
/// `limit` without reading them whole.
async fn receive(
    state: &AppState,
    uploader: conclave_domain::UserId,
    body: Body,
    path: &std::path::Path,
    limit: u64,
) -> ApiResult<(u64, String, Vec<u8>)> {
    let mut file = BlobSealingWriter::create(path, state.blobs.keyring(), uploader)
        .await
        .map_err(|e| ApiError::from_io("creating upload file", e))?;
    let mut stream = body.into_data_stream();
    let mut hasher = Sha256::new();
    let mut size: u64 = 0;
    let mut head: Vec<u8> = Vec::with_capacity(8192);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk
            .map_err(|e| ApiError::InvalidRequest(format!("the upload was interrupted: {e}")))?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(ApiError::PayloadTooLarge(format!(
                "files may be at most {limit} bytes"
            )));
        }
        if head.len() < 8192 {
            let take = (8192 - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..take]);
        }
        hasher.update(&chunk);
        file.write(&chunk)
            .await
            .map_err(|e| ApiError::from_io("writing upload", e))?;
    }
    file.finish()
        .await
        .map_err(|e| ApiError::from_io("finishing upload", e))?;
    Ok((size, hex::encode(hasher.finalize()), head))
}

/// The content type from the bytes themselves. Text is recognised by being
/// valid UTF-8 without control characters; everything unknown is opaque.
pub fn sniff(head: &[u8]) -> String {
    if let Some(kind) = infer::get(head) {
        // Markup and scripts are only ever offered as plain text.
        if kind.mime_type().starts_with("text/") {
            return "text/plain; charset=utf-8".into();
        }
        return kind.mime_type().to_string();
    }
    let text = match std::str::from_utf8(head) {
        Ok(text) => Some(text),
        // The head may cut a multi-byte character in two.
        Err(error) if error.error_len().is_none() => {
            std::str::from_utf8(&head[..error.valid_up_to()]).ok()
        }
        Err(_) => None,
    };
    match text {
        Some(text) if !text.chars().any(|c| c.is_control() && !c.is_whitespace()) => {
            "text/plain; charset=utf-8".into()
        }
        _ => "application/octet-stream".into(),
    }
}

const THUMBNAIL_EDGE: u32 = 480;

/// Images with more pixels than this get no thumbnail (the file itself is
/// kept): decoding one holds every pixel in memory, four bytes each, so a
/// small file declaring 12000×12000 pixels would take 576 MB. 40 megapixels
/// covers camera photos at their usual resolution and 8K screenshots.
pub const THUMBNAIL_MAX_PIXELS: u64 = 40_000_000;
/// The most memory one decode may allocate, whatever the header says.
const THUMBNAIL_MAX_DECODE_BYTES: u64 = 256 * 1024 * 1024;
/// Larger image files get no thumbnail: the whole file is read to decode it.
pub const THUMBNAIL_MAX_FILE_BYTES: u64 = 48 * 1024 * 1024;
/// Thumbnails made at once by one server; the others wait their turn, so
/// memory stays within this many decodes.
pub const THUMBNAILS_AT_ONCE: usize = 2;

/// What became of an image's thumbnail.
#[derive(Debug)]
pub enum Thumbnail {
    Made {
        jpeg: Vec<u8>,
        width: i64,
        height: i64,
    },
    /// The image is over [`THUMBNAIL_MAX_PIXELS`]: its size is known from
    /// its header, and it was not decoded.
    TooLarge { width: i64, height: i64 },
}

async fn thumbnail(
    state: &AppState,
    path: &std::path::Path,
    size: u64,
    digest: &str,
    owner: conclave_domain::UserId,
) -> (Option<String>, Option<i64>, Option<i64>) {
    if size > THUMBNAIL_MAX_FILE_BYTES {
        tracing::debug!(size, "no thumbnail for an image file this large");
        return (None, None, None);
    }
    // Reading and decoding both hold the image in memory: both wait for
    // a turn of the bounded pool.
    let Ok(_turn) = state.thumbnails.acquire().await else {
        return (None, None, None);
    };
    let bytes = match crate::blobs::BlobReader::open_file(path, state.blobs.keyring()).await {
        Ok(mut reader) => {
            let mut bytes = Vec::with_capacity(usize::try_from(reader.length).unwrap_or(0));
            match tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut bytes).await {
                Ok(_) => bytes,
                Err(error) => {
                    tracing::warn!(%error, "reading an upload back for its thumbnail failed");
                    return (None, None, None);
                }
            }
        }
        Err(error) => {
            tracing::warn!(%error, "opening an upload for its thumbnail failed");
            return (None, None, None);
        }
    };
    let made = tokio::task::spawn_blocking(move || make_thumbnail(bytes)).await;
    match made {
        Ok(Ok(Thumbnail::Made {
            jpeg,
            width,
            height,
        })) => {
            let key = crate::blobs::content_key("thumb", digest, owner);
            match state.blobs.put_bytes(&key, jpeg, owner).await {
                Ok(()) => (Some(key), Some(width), Some(height)),
                Err(error) => {
                    tracing::warn!(%error, "storing a thumbnail failed");
                    (None, Some(width), Some(height))
                }
            }
        }
        Ok(Ok(Thumbnail::TooLarge { width, height })) => {
            tracing::debug!(
                width,
                height,
                "no thumbnail for an image with this many pixels"
            );
            (None, Some(width), Some(height))
        }
        Ok(Err(error)) => {
            tracing::debug!(%error, "no thumbnail for an image that does not decode");
            (None, None, None)
        }
        Err(error) => {
            tracing::warn!(%error, "thumbnail task failed");
            (None, None, None)
        }
    }
}

/// Reads the image's size from its header, refuses to decode one over
/// [`THUMBNAIL_MAX_PIXELS`], decodes the rest with memory limits (a
/// decompression bomb is refused), scales to fit a square and encodes JPEG.
pub fn make_thumbnail(bytes: Vec<u8>) -> Result<Thumbnail, image::ImageError> {
    let (width, height) = image::ImageReader::new(std::io::Cursor::new(bytes.as_slice()))
        .with_guessed_format()?
        .into_dimensions()?;
    if u64::from(width) * u64::from(height) > THUMBNAIL_MAX_PIXELS {
        return Ok(Thumbnail::TooLarge {
            width: i64::from(width),
            height: i64::from(height),
        });
    }
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes)).with_guessed_format()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(width);
    limits.max_image_height = Some(height);
    limits.max_alloc = Some(THUMBNAIL_MAX_DECODE_BYTES);
    reader.limits(limits);
    let image = reader.decode()?;
    let (width, height) = (i64::from(image.width()), i64::from(image.height()));
    // JPEG has no transparency: lay transparent pixels over white, as
    // messengers do, rather than letting them turn black.
    let small = image.thumbnail(THUMBNAIL_EDGE, THUMBNAIL_EDGE).to_rgba8();
    drop(image);
    let small = image::RgbImage::from_fn(small.width(), small.height(), |x, y| {
        let [r, g, b, a] = small.get_pixel(x, y).0;
        let over_white = |channel: u8| {
            ((u16::from(channel) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8
        };
        image::Rgb([over_white(r), over_white(g), over_white(b)])
    });
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80).encode_image(&small)?;
    Ok(Thumbnail::Made {
        jpeg,
        width,
        height,
    })
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DownloadQuery {
    /// Ask the browser to save rather than show.
    pub download: Option<u8>,
}

async fn readable_attachment(state: &AppState, user: &User, id: i64) -> ApiResult<Attachment> {
    let attachment = state
        .store
        .attachment_by_id(id)
        .await?
        .ok_or(ApiError::NotFound("file"))?;
    match attachment.message_id {
        // Not yet sent: only its uploader sees it.
        None if attachment.uploader_id == user.id => Ok(attachment),
        None => Err(ApiError::NotFound("file")),
        Some(message_id) => {
            let message = state
                .store
                .message_by_id(message_id)
                .await?
                .ok_or(ApiError::NotFound("file"))?;
            if message.deleted_at.is_some() {
                return Err(ApiError::NotFound("file"));
            }
            readable_channel(state, user, message.channel_id)
                .await
                .map_err(|_| ApiError::NotFound("file"))?;
            Ok(attachment)
        }
    }
}

/// Downloads a file (members of its channel only).
#[utoipa::path(get, path = "/api/v1/files/{id}", tag = "files", security(("bearer" = [])),
    params(("id" = i64, Path), DownloadQuery), responses((status = 200, description = "The file's bytes"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn download(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
    ApiQuery(query): ApiQuery<DownloadQuery>,
) -> ApiResult<Response> {
    let attachment = readable_attachment(&state, &authed.user, id).await?;
    let inline = query.download.is_none()
        && !attachment.content_type.contains("svg")
        && ["image/", "video/", "audio/"]
            .iter()
            .any(|prefix| attachment.content_type.starts_with(prefix));
    serve(
        &state,
        &attachment.storage_key,
        &attachment.content_type,
        Some((&attachment.name, inline)),
    )
    .await
}

/// A JPEG thumbnail of an image.
#[utoipa::path(get, path = "/api/v1/files/{id}/thumbnail", tag = "files", security(("bearer" = [])),
    params(("id" = i64, Path)), responses((status = 200, description = "JPEG"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn thumbnail_download(
    State(state): State<AppState>,
    authed: Authed,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    let attachment = readable_attachment(&state, &authed.user, id).await?;
    let key = attachment
        .thumbnail_key
        .ok_or(ApiError::NotFound("thumbnail"))?;
    serve(&state, &key, "image/jpeg", None).await
}

async fn serve(
    state: &AppState,
    key: &str,
    content_type: &str,
    name: Option<(&str, bool)>,
) -> ApiResult<Response> {
    let file = state.blobs.open(key).await.map_err(|error| {
        if error.kind() == std::io::ErrorKind::NotFound {
            ApiError::NotFound("file")
        } else {
            ApiError::Internal(format!("opening blob: {error}"))
        }
    })?;
    let length = Some(file.length);
    let mut response = Body::from_stream(tokio_util::io::ReaderStream::new(file)).into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Some(length) = length {
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    if let Some((name, inline)) = name {
        let ascii: String = name
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let disposition = format!(
            "{}; filename=\"{}\"",
            if inline { "inline" } else { "attachment" },
            ascii.replace('"', "")
        );
        if let Ok(value) = HeaderValue::from_str(&disposition) {
            headers.insert(header::CONTENT_DISPOSITION, value);
        }
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::{Thumbnail, make_thumbnail, sniff};

    #[test]
    fn transparent_images_get_white_thumbnails_not_black() {
        let path = std::env::temp_dir().join(format!("conclave-thumb-{}.png", std::process::id()));
        image::RgbaImage::from_pixel(40, 30, image::Rgba([0, 0, 0, 0]))
            .save(&path)
            .unwrap();
        let Thumbnail::Made {
            jpeg,
            width,
            height,
        } = make_thumbnail(std::fs::read(&path).unwrap()).unwrap()
        else {
            panic!("a small image gets a thumbnail");
        };
        assert_eq!((width, height), (40, 30));
        let decoded = image::load_from_memory(&jpeg).unwrap().to_rgb8();
        let pixel = decoded.get_pixel(5, 5).0;
        assert!(pixel.iter().all(|channel| *channel > 245), "{pixel:?}");
        std::fs::remove_file(path).unwrap();
    }

    /// A valid all-black greyscale PNG of `width`×`height` pixels: small
    /// on disk, `width`×`height` bytes or more once decoded.
    fn black_png(width: u32, height: u32) -> Vec<u8> {
        use image::ImageEncoder;
        let pixels = vec![0u8; width as usize * height as usize];
        let mut png = Vec::new();
        image::codecs::png::PngEncoder::new_with_quality(
            &mut png,
            image::codecs::png::CompressionType::Fast,
            image::codecs::png::FilterType::NoFilter,
        )
        .write_image(&pixels, width, height, image::ExtendedColorType::L8)
        .unwrap();
        png
    }

    #[test]
    fn images_over_the_pixel_budget_are_measured_not_decoded() {
        let png = black_png(8_000, 6_000);
        match make_thumbnail(png).unwrap() {
            Thumbnail::TooLarge { width, height } => assert_eq!((width, height), (8_000, 6_000)),
            Thumbnail::Made { .. } => panic!("a 48-megapixel image was decoded"),
        }
        // Within the budget, it is decoded.
        let png = black_png(6_000, 6_000);
        assert!(matches!(
            make_thumbnail(png).unwrap(),
            Thumbnail::Made { width: 6_000, .. }
        ));
    }

    #[test]
    fn sniffs_from_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), "image/png");
        assert_eq!(sniff(b"%PDF-1.7\n"), "application/pdf");
        assert_eq!(
            sniff("hello, wörld\n".as_bytes()),
            "text/plain; charset=utf-8"
        );
        assert_eq!(sniff(b"\0\x01\x02binary"), "application/octet-stream");
        // An HTML file is text, never served as HTML.
        assert_eq!(
            sniff(b"<script>alert(1)</script>"),
            "text/plain; charset=utf-8"
        );
    }
}
