-- camtrace register, version 1 (SQLite). Booleans are 0/1 integers, dates and times ISO-8601 text,
-- lists and objects JSON text, so that the PostgreSQL schema can hold the very same values.
CREATE TABLE organisations (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    parent TEXT REFERENCES organisations(id),
    kind TEXT,
    country TEXT
);

CREATE TABLE sites (
    id TEXT PRIMARY KEY NOT NULL,
    organisation TEXT NOT NULL REFERENCES organisations(id),
    name TEXT NOT NULL,
    address TEXT,
    secret_or_above INTEGER NOT NULL DEFAULT 0,
    dv_significant INTEGER NOT NULL DEFAULT 0,
    ministerial_use INTEGER NOT NULL DEFAULT 0,
    socpa_2005 INTEGER NOT NULL DEFAULT 0,
    classification TEXT,
    government_building INTEGER NOT NULL DEFAULT 0,
    tags TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX sites_organisation ON sites(organisation);

CREATE TABLE zones (
    id TEXT PRIMARY KEY NOT NULL,
    site TEXT NOT NULL REFERENCES sites(id),
    name TEXT NOT NULL
);
CREATE INDEX zones_site ON zones(site);

CREATE TABLE networks (
    id TEXT PRIMARY KEY NOT NULL,
    site TEXT NOT NULL REFERENCES sites(id),
    name TEXT NOT NULL,
    cidrs TEXT NOT NULL DEFAULT '[]',
    core INTEGER NOT NULL DEFAULT 0,
    internet_exposed INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX networks_site ON networks(site);

CREATE TABLE devices (
    id TEXT PRIMARY KEY NOT NULL,
    site TEXT NOT NULL REFERENCES sites(id),
    zone TEXT,
    network TEXT,
    brand TEXT,
    maker TEXT,
    model TEXT,
    firmware TEXT,
    class TEXT NOT NULL DEFAULT 'unknown',
    mac TEXT,
    addresses TEXT NOT NULL DEFAULT '[]',
    status TEXT NOT NULL DEFAULT 'installed',
    install_date TEXT,
    scheduled_upgrade TEXT,
    cost_device REAL,
    cost_labour REAL,
    confidence REAL,
    notes TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX devices_site ON devices(site);
CREATE INDEX devices_mac ON devices(mac);
CREATE INDEX devices_maker ON devices(maker);
CREATE INDEX devices_status ON devices(status);

CREATE TABLE scans (
    id TEXT PRIMARY KEY NOT NULL,
    started TEXT NOT NULL,
    finished TEXT,
    source TEXT NOT NULL,
    site TEXT REFERENCES sites(id),
    kind TEXT NOT NULL,
    observation_count INTEGER NOT NULL DEFAULT 0,
    identification_count INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX scans_site ON scans(site);

CREATE TABLE observations (
    scan_id TEXT NOT NULL REFERENCES scans(id),
    seq INTEGER NOT NULL,
    target TEXT NOT NULL,
    kind TEXT NOT NULL,
    time TEXT,
    data TEXT NOT NULL,
    PRIMARY KEY (scan_id, seq)
);
CREATE INDEX observations_target ON observations(target);

CREATE TABLE identifications (
    scan_id TEXT NOT NULL REFERENCES scans(id),
    target TEXT NOT NULL,
    device_id TEXT,
    seen_at TEXT NOT NULL,
    brand TEXT,
    maker TEXT,
    model TEXT,
    firmware TEXT,
    class TEXT NOT NULL,
    mac TEXT,
    confidence REAL NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (scan_id, target)
);
CREATE INDEX identifications_target ON identifications(target);
CREATE INDEX identifications_device ON identifications(device_id);
CREATE INDEX identifications_mac ON identifications(mac);

CREATE TABLE history (
    seq INTEGER PRIMARY KEY NOT NULL,
    time TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    entity_kind TEXT NOT NULL,
    entity_id TEXT NOT NULL,
    before TEXT,
    after TEXT,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
CREATE INDEX history_entity ON history(entity_kind, entity_id);
CREATE INDEX history_time ON history(time);

CREATE TABLE waivers (
    id TEXT PRIMARY KEY NOT NULL,
    device_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    reason TEXT NOT NULL,
    approver TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_on TEXT NOT NULL,
    revoked_at TEXT,
    revoked_by TEXT,
    revoke_reason TEXT
);
CREATE INDEX waivers_device ON waivers(device_id);

CREATE TABLE findings_snapshots (
    date TEXT NOT NULL,
    regime TEXT NOT NULL,
    organisation TEXT NOT NULL DEFAULT '',
    site TEXT NOT NULL DEFAULT '',
    counts TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    PRIMARY KEY (date, regime, organisation, site)
);
