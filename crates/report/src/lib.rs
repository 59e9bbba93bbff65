//! Reports: HTML, CSV, JSON and XLSX, reproducible from stored history.
