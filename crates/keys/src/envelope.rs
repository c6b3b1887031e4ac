//! The sealed forms of text and of files.
//!
//! Text: `enc1:` then base64 of `key id (8 bytes, big-endian) ‖ nonce (12)
//! ‖ ciphertext ‖ tag (16)`, with the key id bound as associated data. It
//! stays a string, so it fits the TEXT columns and JSON payloads of both
//! backends, and a stored value is recognisably sealed.
//!
//! Files: a 16-byte header (`CNCLBLB1` and the key id) and then frames of
//! at most [`BLOB_CHUNK`] plaintext bytes, each `nonce ‖ ciphertext ‖ tag`.
//! Each frame's associated data is the header, its index and whether it is
//! the last, so frames cannot be reordered, dropped or the file cut short
//! unnoticed. The last frame is always shorter than a full one (possibly
//! empty), which is how a reader knows it.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use ring::aead::{Aad, LessSafeKey, NONCE_LEN, Nonce};
use ring::rand::{SecureRandom, SystemRandom};

use crate::KeyError;

pub const TEXT_PREFIX: &str = "enc1:";
pub const BLOB_MAGIC: &[u8; 8] = b"CNCLBLB1";
pub const BLOB_HEADER_LEN: usize = 16;
/// Plaintext bytes per file frame.
pub const BLOB_CHUNK: usize = 64 * 1024;
const TAG_LEN: usize = 16;
/// The size of every frame but the last.
pub const BLOB_FRAME: usize = NONCE_LEN + BLOB_CHUNK + TAG_LEN;

fn nonce() -> Result<[u8; NONCE_LEN], KeyError> {
    let mut bytes = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| KeyError::Store("the system random generator failed".into()))?;
    Ok(bytes)
}

fn text_aad(key_id: u64) -> [u8; 21] {
    let mut aad = [0u8; 21];
    aad[..13].copy_from_slice(b"conclave-text");
    aad[13..].copy_from_slice(&key_id.to_be_bytes());
    aad
}

pub(crate) fn seal_text(
    key_id: u64,
    key: &LessSafeKey,
    plaintext: &str,
) -> Result<String, KeyError> {
    let nonce_bytes = nonce()?;
    let mut buffer = Vec::with_capacity(8 + NONCE_LEN + plaintext.len() + TAG_LEN);
    buffer.extend_from_slice(&key_id.to_be_bytes());
    buffer.extend_from_slice(&nonce_bytes);
    buffer.extend_from_slice(plaintext.as_bytes());
    let mut body = buffer.split_off(8 + NONCE_LEN);
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce_bytes),
        Aad::from(text_aad(key_id)),
        &mut body,
    )
    .map_err(|_| KeyError::Corrupt)?;
    buffer.extend_from_slice(&body);
    let mut sealed = String::with_capacity(TEXT_PREFIX.len() + buffer.len() * 4 / 3 + 4);
    sealed.push_str(TEXT_PREFIX);
    STANDARD_NO_PAD.encode_string(&buffer, &mut sealed);
    Ok(sealed)
}

/// The key id of a sealed text, or `None` when `stored` is not sealed.
pub(crate) fn parse_text(stored: &str) -> Option<Result<(u64, Vec<u8>), KeyError>> {
    let encoded = stored.strip_prefix(TEXT_PREFIX)?;
    let bytes = match STANDARD_NO_PAD.decode(encoded) {
        Ok(bytes) if bytes.len() >= 8 + NONCE_LEN + TAG_LEN => bytes,
        _ => return Some(Err(KeyError::Corrupt)),
    };
    let mut id = [0u8; 8];
    id.copy_from_slice(&bytes[..8]);
    Some(Ok((u64::from_be_bytes(id), bytes)))
}

pub(crate) fn open_text(
    key_id: u64,
    key: &LessSafeKey,
    mut bytes: Vec<u8>,
) -> Result<String, KeyError> {
    let mut nonce_bytes = [0u8; NONCE_LEN];
    nonce_bytes.copy_from_slice(&bytes[8..8 + NONCE_LEN]);
    let mut body = bytes.split_off(8 + NONCE_LEN);
    let plaintext = key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce_bytes),
            Aad::from(text_aad(key_id)),
            &mut body,
        )
        .map_err(|_| KeyError::Corrupt)?;
    let length = plaintext.len();
    body.truncate(length);
    String::from_utf8(body).map_err(|_| KeyError::Corrupt)
}

/// The key id in a file header, or `None` when the bytes are not a sealed
/// file (files written before encryption at rest).
pub fn blob_key_id(header: &[u8]) -> Option<u64> {
    if header.len() < BLOB_HEADER_LEN || &header[..8] != BLOB_MAGIC {
        return None;
    }
    let mut id = [0u8; 8];
    id.copy_from_slice(&header[8..16]);
    Some(u64::from_be_bytes(id))
}

/// The plaintext length of a sealed file of `total` bytes, or `None` when
/// no sealed file has that length.
pub fn blob_plaintext_len(total: u64) -> Option<u64> {
    let body = total.checked_sub(BLOB_HEADER_LEN as u64)?;
    let overhead = (NONCE_LEN + TAG_LEN) as u64;
    if body < overhead {
        return None;
    }
    let frames = body / BLOB_FRAME as u64 + 1;
    body.checked_sub(frames * overhead)
}

fn frame_aad(header: &[u8; BLOB_HEADER_LEN], index: u64, last: bool) -> [u8; BLOB_HEADER_LEN + 9] {
    let mut aad = [0u8; BLOB_HEADER_LEN + 9];
    aad[..BLOB_HEADER_LEN].copy_from_slice(header);
    aad[BLOB_HEADER_LEN..BLOB_HEADER_LEN + 8].copy_from_slice(&index.to_be_bytes());
    aad[BLOB_HEADER_LEN + 8] = u8::from(last);
    aad
}

/// Seals a file as it streams through, frame by frame.
pub struct BlobSealer {
    key: Arc<LessSafeKey>,
    header: [u8; BLOB_HEADER_LEN],
    index: u64,
    pending: Vec<u8>,
}

impl BlobSealer {
    pub(crate) fn new(key_id: u64, key: Arc<LessSafeKey>) -> BlobSealer {
        let mut header = [0u8; BLOB_HEADER_LEN];
        header[..8].copy_from_slice(BLOB_MAGIC);
        header[8..].copy_from_slice(&key_id.to_be_bytes());
        BlobSealer {
            key,
            header,
            index: 0,
            pending: Vec::with_capacity(BLOB_CHUNK),
        }
    }

    /// The bytes that start the sealed file.
    pub fn header(&self) -> [u8; BLOB_HEADER_LEN] {
        self.header
    }

    /// Takes plaintext and appends every frame it completes to `out`.
    pub fn push(&mut self, mut data: &[u8], out: &mut Vec<u8>) -> Result<(), KeyError> {
        while !data.is_empty() {
            let take = (BLOB_CHUNK - self.pending.len()).min(data.len());
            self.pending.extend_from_slice(&data[..take]);
            data = &data[take..];
            if self.pending.len() == BLOB_CHUNK {
                self.seal_pending(false, out)?;
            }
        }
        Ok(())
    }

    /// Seals what remains as the last frame.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), KeyError> {
        self.seal_pending(true, out)
    }

    fn seal_pending(&mut self, last: bool, out: &mut Vec<u8>) -> Result<(), KeyError> {
        let nonce_bytes = nonce()?;
        let mut body = std::mem::replace(&mut self.pending, Vec::with_capacity(BLOB_CHUNK));
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(frame_aad(&self.header, self.index, last)),
                &mut body,
            )
            .map_err(|_| KeyError::Corrupt)?;
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&body);
        self.index += 1;
        Ok(())
    }
}

/// Opens a sealed file frame by frame: feed it frames of [`BLOB_FRAME`]
/// bytes, and the shorter last one with `last = true`.
pub struct BlobOpener {
    key: Arc<LessSafeKey>,
    header: [u8; BLOB_HEADER_LEN],
    index: u64,
    finished: bool,
}

impl BlobOpener {
    pub(crate) fn new(header: [u8; BLOB_HEADER_LEN], key: Arc<LessSafeKey>) -> BlobOpener {
        BlobOpener {
            key,
            header,
            index: 0,
            finished: false,
        }
    }

    /// The plaintext of one frame. A full-size frame is never the last one;
    /// a short one always is, and nothing may follow it.
    pub fn open_frame(&mut self, mut frame: Vec<u8>) -> Result<Vec<u8>, KeyError> {
        if self.finished || frame.len() < NONCE_LEN + TAG_LEN || frame.len() > BLOB_FRAME {
            return Err(KeyError::Corrupt);
        }
        let last = frame.len() < BLOB_FRAME;
        let mut nonce_bytes = [0u8; NONCE_LEN];
        nonce_bytes.copy_from_slice(&frame[..NONCE_LEN]);
        let mut body = frame.split_off(NONCE_LEN);
        let length = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(frame_aad(&self.header, self.index, last)),
                &mut body,
            )
            .map_err(|_| KeyError::Corrupt)?
            .len();
        body.truncate(length);
        self.index += 1;
        self.finished = last;
        Ok(body)
    }

    /// Whether the last frame was read: a file that ends before it was cut.
    pub fn is_finished(&self) -> bool {
        self.finished
    }
}
