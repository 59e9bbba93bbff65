//! Reconciliation of discovery against the register.
