//! Server tests for the scim feature; the harness (start, person, call, socket) is in main.rs.
