//! Server tests for the connectors feature; the harness (start, person, call, socket) is in main.rs.
