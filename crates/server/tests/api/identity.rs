//! Server tests for the identity feature; the harness (start, person, call, socket) is in main.rs.
