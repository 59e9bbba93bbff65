//! The register store: SQLite and PostgreSQL behind one trait, migrations, history.
