//! Server tests for the compliance feature; the harness (start, person, call, socket) is in main.rs.
