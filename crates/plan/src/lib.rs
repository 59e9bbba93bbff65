//! Remediation plans under a budget, approved alternatives catalogue, procurement gate. No I/O.
