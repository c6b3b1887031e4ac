//! Conclave's domain: the types every other crate speaks, and the rules that
//! decide who may do what.
//!
//! Architecture invariant: this crate performs no I/O. It has no async
//! runtime, no SQL and no HTTP; everything here is a plain value or a pure
//! function, so the rules can be tested exhaustively and reused by every
//! backend and transport.

pub mod account;
pub mod auth;
pub mod command;
pub mod compliance;
pub mod directory;
pub mod event;
pub mod external;
pub mod model;
pub mod permissions;
pub mod text;
pub mod validate;
pub mod webhook;

pub use command::{Command, Outcome};
pub use event::{Event, EventPayload};
pub use model::*;
pub use validate::ValidationError;
