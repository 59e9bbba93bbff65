//! HTTP API, web dashboard, access control, audit log, alerts.
