-- camtrace register, version 1 (PostgreSQL). Text compares bytewise (COLLATE "C"), as in SQLite. Booleans are 0/1 integers, dates and times ISO-8601 text,
-- lists and objects JSON text, so that the PostgreSQL schema can hold the very same values.
CREATE TABLE organisations (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    name TEXT COLLATE "C" NOT NULL,
    parent TEXT COLLATE "C" REFERENCES organisations(id),
    kind TEXT COLLATE "C",
    country TEXT COLLATE "C"
);

CREATE TABLE sites (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    organisation TEXT COLLATE "C" NOT NULL REFERENCES organisations(id),
    name TEXT COLLATE "C" NOT NULL,
    address TEXT COLLATE "C",
    secret_or_above BIGINT NOT NULL DEFAULT 0,
    dv_significant BIGINT NOT NULL DEFAULT 0,
    ministerial_use BIGINT NOT NULL DEFAULT 0,
    socpa_2005 BIGINT NOT NULL DEFAULT 0,
    classification TEXT COLLATE "C",
    government_building BIGINT NOT NULL DEFAULT 0,
    tags TEXT COLLATE "C" NOT NULL DEFAULT '[]'
);
CREATE INDEX sites_organisation ON sites(organisation);

CREATE TABLE zones (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    site TEXT COLLATE "C" NOT NULL REFERENCES sites(id),
    name TEXT COLLATE "C" NOT NULL
);
CREATE INDEX zones_site ON zones(site);

CREATE TABLE networks (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    site TEXT COLLATE "C" NOT NULL REFERENCES sites(id),
    name TEXT COLLATE "C" NOT NULL,
    cidrs TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    core BIGINT NOT NULL DEFAULT 0,
    internet_exposed BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX networks_site ON networks(site);

CREATE TABLE devices (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    site TEXT COLLATE "C" NOT NULL REFERENCES sites(id),
    zone TEXT COLLATE "C",
    network TEXT COLLATE "C",
    brand TEXT COLLATE "C",
    maker TEXT COLLATE "C",
    model TEXT COLLATE "C",
    firmware TEXT COLLATE "C",
    class TEXT COLLATE "C" NOT NULL DEFAULT 'unknown',
    mac TEXT COLLATE "C",
    addresses TEXT COLLATE "C" NOT NULL DEFAULT '[]',
    status TEXT COLLATE "C" NOT NULL DEFAULT 'installed',
    install_date TEXT COLLATE "C",
    scheduled_upgrade TEXT COLLATE "C",
    cost_device DOUBLE PRECISION,
    cost_labour DOUBLE PRECISION,
    confidence DOUBLE PRECISION,
    notes TEXT COLLATE "C",
    created_at TEXT COLLATE "C" NOT NULL,
    updated_at TEXT COLLATE "C" NOT NULL
);
CREATE INDEX devices_site ON devices(site);
CREATE INDEX devices_mac ON devices(mac);
CREATE INDEX devices_maker ON devices(maker);
CREATE INDEX devices_status ON devices(status);

CREATE TABLE scans (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    started TEXT COLLATE "C" NOT NULL,
    finished TEXT COLLATE "C",
    source TEXT COLLATE "C" NOT NULL,
    site TEXT COLLATE "C" REFERENCES sites(id),
    kind TEXT COLLATE "C" NOT NULL,
    observation_count BIGINT NOT NULL DEFAULT 0,
    identification_count BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX scans_site ON scans(site);

CREATE TABLE observations (
    scan_id TEXT COLLATE "C" NOT NULL REFERENCES scans(id),
    seq BIGINT NOT NULL,
    target TEXT COLLATE "C" NOT NULL,
    kind TEXT COLLATE "C" NOT NULL,
    time TEXT COLLATE "C",
    data TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (scan_id, seq)
);
CREATE INDEX observations_target ON observations(target);

CREATE TABLE identifications (
    scan_id TEXT COLLATE "C" NOT NULL REFERENCES scans(id),
    target TEXT COLLATE "C" NOT NULL,
    device_id TEXT COLLATE "C",
    seen_at TEXT COLLATE "C" NOT NULL,
    brand TEXT COLLATE "C",
    maker TEXT COLLATE "C",
    model TEXT COLLATE "C",
    firmware TEXT COLLATE "C",
    class TEXT COLLATE "C" NOT NULL,
    mac TEXT COLLATE "C",
    confidence DOUBLE PRECISION NOT NULL,
    data TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (scan_id, target)
);
CREATE INDEX identifications_target ON identifications(target);
CREATE INDEX identifications_device ON identifications(device_id);
CREATE INDEX identifications_mac ON identifications(mac);

CREATE TABLE history (
    seq BIGINT PRIMARY KEY NOT NULL,
    time TEXT COLLATE "C" NOT NULL,
    actor TEXT COLLATE "C" NOT NULL,
    action TEXT COLLATE "C" NOT NULL,
    entity_kind TEXT COLLATE "C" NOT NULL,
    entity_id TEXT COLLATE "C" NOT NULL,
    before TEXT COLLATE "C",
    after TEXT COLLATE "C",
    prev_hash TEXT COLLATE "C" NOT NULL,
    hash TEXT COLLATE "C" NOT NULL
);
CREATE INDEX history_entity ON history(entity_kind, entity_id);
CREATE INDEX history_time ON history(time);

CREATE TABLE waivers (
    id TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    device_id TEXT COLLATE "C" NOT NULL,
    rule_id TEXT COLLATE "C" NOT NULL,
    reason TEXT COLLATE "C" NOT NULL,
    approver TEXT COLLATE "C" NOT NULL,
    created_at TEXT COLLATE "C" NOT NULL,
    expires_on TEXT COLLATE "C" NOT NULL,
    revoked_at TEXT COLLATE "C",
    revoked_by TEXT COLLATE "C",
    revoke_reason TEXT COLLATE "C"
);
CREATE INDEX waivers_device ON waivers(device_id);

CREATE TABLE findings_snapshots (
    date TEXT COLLATE "C" NOT NULL,
    regime TEXT COLLATE "C" NOT NULL,
    organisation TEXT COLLATE "C" NOT NULL DEFAULT '',
    site TEXT COLLATE "C" NOT NULL DEFAULT '',
    counts TEXT COLLATE "C" NOT NULL,
    recorded_at TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (date, regime, organisation, site)
);
