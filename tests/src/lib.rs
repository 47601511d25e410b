//! Shared helpers for whole-flow tests.
