//! Recognises what a message body is: a media marker, a deleted-message
//! marker, a system event, or plain text.
//!
//! WhatsApp writes these markers in the phone's language, so each is a table of
//! the phrases known for English, German, Spanish, French and Portuguese. The
//! phrases are matched case-sensitively, as WhatsApp writes them, so that a
//! person's own words are less likely to be mistaken for a marker. An unknown
//! translation degrades to `Text` (or `SystemEvent::Other`), never to an error.

use crate::header::is_invisible;

/// What kind of file a media message carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    Document,
    Sticker,
    Gif,
    Contact,
    Unknown,
}

/// The event a system line records. The line's text is always kept too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SystemEvent {
    EncryptionNotice,
    GroupCreated,
    MemberAdded,
    MemberJoined,
    MemberLeft,
    MemberRemoved,
    SubjectChanged,
    IconChanged,
    DescriptionChanged,
    NumberChanged,
    SecurityCodeChanged,
    Other,
}

/// A media marker found at the start of a body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MediaMarker {
    pub(crate) kind: MediaKind,
    pub(crate) file_name: Option<String>,
}

/// Removes a trailing "message was edited" marker, reporting whether there was
/// one.
pub(crate) fn strip_edited_marker(body: &str) -> (&str, bool) {
    let trimmed = trim_end_invisible(body);
    for marker in EDITED_MARKERS {
        if let Some(before) = trimmed.strip_suffix(marker) {
            return (trim_end_invisible(before), true);
        }
    }
    (body, false)
}

/// Whether the whole body is a "this message was deleted" marker.
pub(crate) fn is_deleted_marker(body: &str) -> bool {
    let text = body.trim();
    let text = text.strip_suffix('.').unwrap_or(text);
    DELETED_MARKERS.contains(&text)
}

/// Reads a media marker from the first line of a body (already stripped of
/// leading invisible characters).
pub(crate) fn media_marker(first_line: &str) -> Option<MediaMarker> {
    let line = first_line.trim();
    if OMITTED_WITHOUT_KIND.contains(&line) {
        return Some(MediaMarker {
            kind: MediaKind::Unknown,
            file_name: None,
        });
    }
    for (phrase, kind) in OMITTED_WITH_KIND {
        if line == *phrase {
            return Some(MediaMarker {
                kind: *kind,
                file_name: None,
            });
        }
    }
    // iOS names documents: `report.pdf • 3 pages document omitted`.
    for phrase in DOCUMENT_OMITTED {
        if let Some(before) = line.strip_suffix(phrase) {
            let name = before.split(" • ").next().unwrap_or(before);
            let name = clean_file_name(name);
            if !name.is_empty() {
                return Some(MediaMarker {
                    kind: MediaKind::Document,
                    file_name: Some(name),
                });
            }
        }
    }
    let attached = line
        .strip_prefix('<')
        .and_then(|rest| rest.strip_suffix('>'))
        .and_then(|inner| inner.split_once(':'))
        .filter(|(word, _)| ATTACHED_WORDS.contains(&word.trim()))
        .map(|(_, name)| clean_file_name(name))
        .filter(|name| !name.is_empty());
    if let Some(name) = attached {
        return Some(MediaMarker {
            kind: media_kind_from_file_name(&name),
            file_name: Some(name),
        });
    }
    for suffix in FILE_ATTACHED_SUFFIXES {
        if let Some(before) = line.strip_suffix(suffix) {
            let name = clean_file_name(before);
            if !name.is_empty() && !name.contains(char::is_whitespace) {
                return Some(MediaMarker {
                    kind: media_kind_from_file_name(&name),
                    file_name: Some(name),
                });
            }
        }
    }
    None
}

/// Classifies system text, or `None` when it matches no known phrase.
pub(crate) fn system_event(text: &str) -> Option<SystemEvent> {
    SYSTEM_PHRASES
        .iter()
        .find(|(needles, _)| needles.iter().all(|needle| text.contains(needle)))
        .map(|(_, event)| *event)
}

/// Whether the text is the end-to-end encryption notice, which is recognised
/// even where it is not marked as a system line.
pub(crate) fn is_encryption_notice(text: &str) -> bool {
    system_event(text) == Some(SystemEvent::EncryptionNotice)
}

/// Guesses a media kind from a WhatsApp file name such as
/// `IMG-20231231-WA0001.jpg` or `00000012-PHOTO-2023-12-31-21-41-05.jpg`,
/// falling back to the extension.
pub fn media_kind_from_file_name(file_name: &str) -> MediaKind {
    let upper = file_name.to_ascii_uppercase();
    let by_prefix = [
        ("IMG-", MediaKind::Image),
        ("VID-", MediaKind::Video),
        ("PTT-", MediaKind::Audio),
        ("AUD-", MediaKind::Audio),
        ("STK-", MediaKind::Sticker),
        ("DOC-", MediaKind::Document),
    ];
    for (prefix, kind) in by_prefix {
        if upper.starts_with(prefix) {
            return kind;
        }
    }
    // iOS: a sequence number, then the kind.
    let by_infix = [
        ("-PHOTO-", MediaKind::Image),
        ("-VIDEO-", MediaKind::Video),
        ("-AUDIO-", MediaKind::Audio),
        ("-STICKER-", MediaKind::Sticker),
        ("-GIF-", MediaKind::Gif),
        ("-CONTACT-", MediaKind::Contact),
    ];
    for (infix, kind) in by_infix {
        if upper.contains(infix) {
            return kind;
        }
    }
    let extension = upper
        .rsplit_once('.')
        .map_or("", |(_, extension)| extension);
    match extension {
        "JPG" | "JPEG" | "PNG" | "HEIC" | "HEIF" | "BMP" => MediaKind::Image,
        "WEBP" => MediaKind::Sticker,
        "GIF" => MediaKind::Gif,
        "MP4" | "3GP" | "MOV" | "MKV" | "WEBM" | "AVI" => MediaKind::Video,
        "OPUS" | "OGG" | "M4A" | "MP3" | "AAC" | "AMR" | "WAV" => MediaKind::Audio,
        "VCF" => MediaKind::Contact,
        "PDF" | "DOC" | "DOCX" | "XLS" | "XLSX" | "PPT" | "PPTX" | "ODT" | "ODS" | "TXT"
        | "CSV" | "ZIP" | "RTF" => MediaKind::Document,
        _ => MediaKind::Unknown,
    }
}

/// Removes invisible characters from the start of `text`.
pub(crate) fn trim_start_invisible(text: &str) -> &str {
    text.trim_start_matches(is_invisible)
}

fn trim_end_invisible(text: &str) -> &str {
    text.trim_end_matches(|character: char| is_invisible(character) || character.is_whitespace())
}

fn clean_file_name(name: &str) -> String {
    name.chars()
        .filter(|character| !is_invisible(*character))
        .collect::<String>()
        .trim()
        .to_owned()
}

const EDITED_MARKERS: &[&str] = &[
    "<This message was edited>",
    "<Diese Nachricht wurde bearbeitet>",
    "<Se editó este mensaje.>",
    "<Se editó este mensaje>",
    "<Ce message a été modifié>",
    "<Mensagem editada>",
];

const DELETED_MARKERS: &[&str] = &[
    "This message was deleted",
    "You deleted this message",
    "Diese Nachricht wurde gelöscht",
    "Du hast diese Nachricht gelöscht",
    "Se eliminó este mensaje",
    "Eliminaste este mensaje",
    "Ce message a été supprimé",
    "Vous avez supprimé ce message",
    "Mensagem apagada",
    "Essa mensagem foi apagada",
    "Você apagou esta mensagem",
    "Você apagou essa mensagem",
];

/// Android's markers for media left out of the export.
const OMITTED_WITHOUT_KIND: &[&str] = &[
    "<Media omitted>",
    "<Medien ausgeschlossen>",
    "<Multimedia omitido>",
    "<Médias omis>",
    "<Mídia oculta>",
    "<Arquivo de mídia oculto>",
];

/// iOS's markers for media left out of the export.
const OMITTED_WITH_KIND: &[(&str, MediaKind)] = &[
    ("image omitted", MediaKind::Image),
    ("video omitted", MediaKind::Video),
    ("audio omitted", MediaKind::Audio),
    ("sticker omitted", MediaKind::Sticker),
    ("GIF omitted", MediaKind::Gif),
    ("document omitted", MediaKind::Document),
    ("Contact card omitted", MediaKind::Contact),
    ("Bild weggelassen", MediaKind::Image),
    ("Video weggelassen", MediaKind::Video),
    ("Audio weggelassen", MediaKind::Audio),
    ("Sticker weggelassen", MediaKind::Sticker),
    ("GIF weggelassen", MediaKind::Gif),
    ("Dokument weggelassen", MediaKind::Document),
    ("Kontaktkarte ausgelassen", MediaKind::Contact),
    ("imagen omitida", MediaKind::Image),
    ("video omitido", MediaKind::Video),
    ("audio omitido", MediaKind::Audio),
    ("sticker omitido", MediaKind::Sticker),
    ("GIF omitido", MediaKind::Gif),
    ("documento omitido", MediaKind::Document),
    ("tarjeta de contacto omitida", MediaKind::Contact),
    ("image absente", MediaKind::Image),
    ("vidéo absente", MediaKind::Video),
    ("audio omis", MediaKind::Audio),
    ("autocollant omis", MediaKind::Sticker),
    ("GIF retiré", MediaKind::Gif),
    ("document omis", MediaKind::Document),
    ("fiche contact omise", MediaKind::Contact),
    ("imagem ocultada", MediaKind::Image),
    ("vídeo omitido", MediaKind::Video),
    ("áudio ocultado", MediaKind::Audio),
    ("figurinha omitida", MediaKind::Sticker),
    ("cartão do contato omitido", MediaKind::Contact),
];

const DOCUMENT_OMITTED: &[&str] = &[
    " document omitted",
    " Dokument weggelassen",
    " documento omitido",
    " document omis",
];

/// The word before the colon in iOS's `<attached: NAME>`.
const ATTACHED_WORDS: &[&str] = &[
    "attached",
    "Anhang",
    "adjunto",
    "pièce jointe",
    "anexado",
    "anexo",
];

/// Android's `NAME (file attached)` when media was included in the export.
const FILE_ATTACHED_SUFFIXES: &[&str] = &[
    " (file attached)",
    " (Datei angehängt)",
    " (archivo adjunto)",
    " (fichier joint)",
    " (arquivo anexado)",
];

/// All needles must occur for the event to match; the first match wins, so
/// specific phrases come before general ones.
const SYSTEM_PHRASES: &[(&[&str], SystemEvent)] = &[
    (&["end-to-end encrypt"], SystemEvent::EncryptionNotice),
    (
        &["Ende-zu-Ende-verschlüsselt"],
        SystemEvent::EncryptionNotice,
    ),
    (
        &["cifrados de extremo a extremo"],
        SystemEvent::EncryptionNotice,
    ),
    (&["chiffrés de bout en bout"], SystemEvent::EncryptionNotice),
    (
        &["criptografia de ponta a ponta"],
        SystemEvent::EncryptionNotice,
    ),
    (&["security code"], SystemEvent::SecurityCodeChanged),
    (&["Sicherheitsnummer"], SystemEvent::SecurityCodeChanged),
    (&["código de seguridad"], SystemEvent::SecurityCodeChanged),
    (&["code de sécurité"], SystemEvent::SecurityCodeChanged),
    (&["código de segurança"], SystemEvent::SecurityCodeChanged),
    (&["changed their phone number"], SystemEvent::NumberChanged),
    (&["hat die Telefonnummer"], SystemEvent::NumberChanged),
    (&["cambió su número"], SystemEvent::NumberChanged),
    (&["changé de numéro"], SystemEvent::NumberChanged),
    (&["mudou seu número"], SystemEvent::NumberChanged),
    (&["changed the subject"], SystemEvent::SubjectChanged),
    (&["changed the group name"], SystemEvent::SubjectChanged),
    (&["den Betreff"], SystemEvent::SubjectChanged),
    (&["den Gruppennamen"], SystemEvent::SubjectChanged),
    (&["cambió el asunto"], SystemEvent::SubjectChanged),
    (&["Cambiaste el asunto"], SystemEvent::SubjectChanged),
    (&["cambió el nombre del grupo"], SystemEvent::SubjectChanged),
    (&["modifié le sujet"], SystemEvent::SubjectChanged),
    (&["changé le sujet"], SystemEvent::SubjectChanged),
    (&["changé le nom du groupe"], SystemEvent::SubjectChanged),
    (&["mudou o assunto"], SystemEvent::SubjectChanged),
    (&["mudou o nome do grupo"], SystemEvent::SubjectChanged),
    (&["group icon"], SystemEvent::IconChanged),
    (&["group's icon"], SystemEvent::IconChanged),
    (&["Gruppenbild"], SystemEvent::IconChanged),
    (&["ícono de este grupo"], SystemEvent::IconChanged),
    (&["ícono del grupo"], SystemEvent::IconChanged),
    (&["icône de ce groupe"], SystemEvent::IconChanged),
    (&["icône du groupe"], SystemEvent::IconChanged),
    (&["imagem deste grupo"], SystemEvent::IconChanged),
    (&["imagem do grupo"], SystemEvent::IconChanged),
    (&["group description"], SystemEvent::DescriptionChanged),
    (&["Gruppenbeschreibung"], SystemEvent::DescriptionChanged),
    (&["descripción del grupo"], SystemEvent::DescriptionChanged),
    (&["description du groupe"], SystemEvent::DescriptionChanged),
    (&["descrição do grupo"], SystemEvent::DescriptionChanged),
    (&["created group"], SystemEvent::GroupCreated),
    (&["created this group"], SystemEvent::GroupCreated),
    (&["die Gruppe", "erstellt"], SystemEvent::GroupCreated),
    (&["creó el grupo"], SystemEvent::GroupCreated),
    (&["Creaste el grupo"], SystemEvent::GroupCreated),
    (&["créé le groupe"], SystemEvent::GroupCreated),
    (&["criou o grupo"], SystemEvent::GroupCreated),
    (&["joined using"], SystemEvent::MemberJoined),
    (&["beigetreten"], SystemEvent::MemberJoined),
    (&["se unió"], SystemEvent::MemberJoined),
    (&["a rejoint"], SystemEvent::MemberJoined),
    (&["entrou usando"], SystemEvent::MemberJoined),
    (&[" added "], SystemEvent::MemberAdded),
    (&["You added"], SystemEvent::MemberAdded),
    (&["hinzugefügt"], SystemEvent::MemberAdded),
    (&["añadió a"], SystemEvent::MemberAdded),
    (&["Añadiste a"], SystemEvent::MemberAdded),
    (&["a ajouté"], SystemEvent::MemberAdded),
    (&["avez ajouté"], SystemEvent::MemberAdded),
    (&["adicionou"], SystemEvent::MemberAdded),
    (&[" removed "], SystemEvent::MemberRemoved),
    (&["You removed"], SystemEvent::MemberRemoved),
    (&[" entfernt"], SystemEvent::MemberRemoved),
    (&["eliminó a"], SystemEvent::MemberRemoved),
    (&["Eliminaste a"], SystemEvent::MemberRemoved),
    (&["a retiré"], SystemEvent::MemberRemoved),
    (&["avez retiré"], SystemEvent::MemberRemoved),
    (&["removeu"], SystemEvent::MemberRemoved),
    (&[" left"], SystemEvent::MemberLeft),
    (&["die Gruppe verlassen"], SystemEvent::MemberLeft),
    (&[" verlassen"], SystemEvent::MemberLeft),
    (&[" salió"], SystemEvent::MemberLeft),
    (&["Saliste"], SystemEvent::MemberLeft),
    (&["est parti"], SystemEvent::MemberLeft),
    (&["a quitté"], SystemEvent::MemberLeft),
    (&["avez quitté"], SystemEvent::MemberLeft),
    (&[" saiu"], SystemEvent::MemberLeft),
    (&["Você saiu"], SystemEvent::MemberLeft),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_kinds_follow_prefix_then_extension() {
        let cases = [
            ("IMG-20231231-WA0001.jpg", MediaKind::Image),
            ("VID-20231231-WA0002.mp4", MediaKind::Video),
            ("PTT-20231231-WA0003.opus", MediaKind::Audio),
            ("AUD-20231231-WA0004.m4a", MediaKind::Audio),
            ("STK-20231231-WA0005.webp", MediaKind::Sticker),
            ("DOC-20231231-WA0006.pdf", MediaKind::Document),
            ("00000012-PHOTO-2023-12-31-21-41-05.jpg", MediaKind::Image),
            ("00000013-GIF-2023-12-31-21-41-05.mp4", MediaKind::Gif),
            ("00000014-AUDIO-2023-12-31-21-41-05.opus", MediaKind::Audio),
            ("00000015-Quarterly report.pdf", MediaKind::Document),
            ("Anna Schmidt.vcf", MediaKind::Contact),
            ("mystery.bin", MediaKind::Unknown),
            ("no-extension", MediaKind::Unknown),
        ];
        for (name, kind) in cases {
            assert_eq!(media_kind_from_file_name(name), kind, "{name}");
        }
    }

    #[test]
    fn edited_marker_is_stripped() {
        assert_eq!(
            strip_edited_marker("hi <This message was edited>"),
            ("hi", true)
        );
        assert_eq!(
            strip_edited_marker("hi \u{200E}<This message was edited>\u{200E}"),
            ("hi", true)
        );
        assert_eq!(strip_edited_marker("hi"), ("hi", false));
        assert_eq!(
            strip_edited_marker("<This message was edited> hi"),
            ("<This message was edited> hi", false)
        );
    }

    #[test]
    fn media_markers_in_their_variants() {
        let cases = [
            ("<Media omitted>", MediaKind::Unknown, None),
            ("GIF omitted", MediaKind::Gif, None),
            (
                "report.pdf • 3 pages document omitted",
                MediaKind::Document,
                Some("report.pdf"),
            ),
            (
                "<attached: 00000012-PHOTO-2023-12-31-21-41-05.jpg>",
                MediaKind::Image,
                Some("00000012-PHOTO-2023-12-31-21-41-05.jpg"),
            ),
            (
                "<pièce jointe : PTT-1.opus>",
                MediaKind::Audio,
                Some("PTT-1.opus"),
            ),
            (
                "\u{200E}IMG-20231231-WA0001.jpg (file attached)",
                MediaKind::Image,
                Some("IMG-20231231-WA0001.jpg"),
            ),
            (
                "VID-20231231-WA0001.mp4 (arquivo anexado)",
                MediaKind::Video,
                Some("VID-20231231-WA0001.mp4"),
            ),
        ];
        for (line, kind, name) in cases {
            let marker = media_marker(line).unwrap();
            assert_eq!(
                (marker.kind, marker.file_name.as_deref()),
                (kind, name),
                "{line}"
            );
        }
        for line in [
            "I attached it (file attached)",
            "<note: hi>",
            "image omitted please",
            "omitted",
        ] {
            assert_eq!(media_marker(line), None, "{line}");
        }
    }
}
