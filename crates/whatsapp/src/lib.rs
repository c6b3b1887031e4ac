//! Reads WhatsApp "Export chat" files into messages.
//!
//! The input is what a phone produces: a `.txt` file, or a `.zip` holding the
//! text and the media it mentions. [`parse_chat`] handles the Android form
//! (`12/31/23, 9:41 PM - Name: text`) and the iOS form
//! (`[31/12/2023, 21:41:05] Name: text`) in the locales' date, clock and marker
//! variants; [`read_export_zip`] unpacks a zip safely.
//!
//! This crate is pure: it takes bytes or text and returns values. It must not
//! touch a database, the network or the file system; the importer that stores
//! messages in Conclave's archive lives elsewhere. Times are local wall-clock
//! readings without zone, because that is all an export contains (see
//! [`LocalTimestamp`]).
//!
//! Nothing is dropped silently: a line that is neither a message header nor a
//! continuation of a message is reported in [`ParsedChat::problems`].

mod archive;
mod content;
mod header;
mod parser;
mod participant;
mod timestamp;

pub use archive::{
    ArchiveError, ArchiveLimits, ExportArchive, ExportZip, MediaFile, MediaReader, read_export_zip,
    read_lines,
};
pub use content::{MediaKind, SystemEvent, media_kind_from_file_name};
pub use header::Platform;
pub use parser::{
    ChatCounts, ChatParser, DateOrder, DateOrderConfidence, DateOrderDecision, DateOrderReason,
    Message, MessageKind, ParseOptions, ParsedChat, Problem, ProblemKind, parse_chat,
    parse_chat_with,
};
pub use participant::{Participant, phone_digits};
pub use timestamp::LocalTimestamp;
