"""The inventory's schema as a list of migrations: entry N takes a file from
version N to N+1 (PRAGMA user_version). Never edit a released entry; append."""

MIGRATIONS = [
    # 0 -> 1: the first schema.
    """
    CREATE TABLE sites (
        id TEXT PRIMARY KEY,                 -- slug, part of MQTT topics
        name TEXT NOT NULL,
        tz TEXT,                             -- POSIX TZ string for the boards
        created_at TEXT NOT NULL
    );
    CREATE TABLE districts (
        id INTEGER PRIMARY KEY,
        site_id TEXT NOT NULL REFERENCES sites(id),
        name TEXT NOT NULL,
        slug TEXT NOT NULL,                  -- its group name
        UNIQUE (site_id, name), UNIQUE (site_id, slug)
    );
    CREATE TABLE streets (
        id INTEGER PRIMARY KEY,
        district_id INTEGER NOT NULL REFERENCES districts(id),
        name TEXT NOT NULL,
        slug TEXT NOT NULL,                  -- its group name is <district slug>.<slug>
        UNIQUE (district_id, name), UNIQUE (district_id, slug)
    );
    CREATE TABLE poles (
        seq INTEGER PRIMARY KEY,             -- import order, kept so an export matches its import
        id TEXT NOT NULL UNIQUE,
        street_id INTEGER NOT NULL REFERENCES streets(id),
        position INTEGER NOT NULL CHECK (position >= 1),   -- order along the street
        lat REAL NOT NULL CHECK (lat BETWEEN -90 AND 90),
        lon REAL NOT NULL CHECK (lon BETWEEN -180 AND 180),
        attrs TEXT NOT NULL DEFAULT '{}'     -- the GIS's other columns, as given
    );
    CREATE INDEX poles_by_street ON poles (street_id, position);
    CREATE TABLE boards (
        chip_id TEXT PRIMARY KEY,            -- the chip's unique id, never the serial port
        device_id TEXT NOT NULL UNIQUE,      -- MQTT username and topic segment
        board_type TEXT NOT NULL,
        firmware_version TEXT,
        state TEXT NOT NULL CHECK (state IN ('new', 'provisioned', 'commissioned', 'retired')),
        pole_id TEXT UNIQUE REFERENCES poles(id),
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        state_at TEXT NOT NULL,
        state_by TEXT NOT NULL
    );
    CREATE TABLE board_events (
        id INTEGER PRIMARY KEY,
        chip_id TEXT NOT NULL REFERENCES boards(chip_id),
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        kind TEXT NOT NULL,                  -- registered, state, bind, unbind, board_type, firmware
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX board_events_by_chip ON board_events (chip_id, id);
    CREATE TABLE provision_attempts (
        id INTEGER PRIMARY KEY,
        chip_id TEXT NOT NULL REFERENCES boards(chip_id),
        started_at TEXT NOT NULL,
        actor TEXT NOT NULL,
        port TEXT,
        finished_at TEXT,
        ok INTEGER,                          -- NULL while running or when it never finished
        step TEXT,                           -- the last step reached
        detail TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX attempts_by_chip ON provision_attempts (chip_id, id);
    CREATE TABLE groups (
        id INTEGER PRIMARY KEY,
        site_id TEXT NOT NULL REFERENCES sites(id),
        name TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        UNIQUE (site_id, name)
    );
    CREATE TABLE group_members (
        group_id INTEGER NOT NULL REFERENCES groups(id) ON DELETE CASCADE,
        chip_id TEXT NOT NULL REFERENCES boards(chip_id),
        PRIMARY KEY (group_id, chip_id)
    );
    CREATE TABLE mqtt_accounts (
        username TEXT PRIMARY KEY,
        kind TEXT NOT NULL CHECK (kind IN ('board', 'fleet')),
        chip_id TEXT UNIQUE REFERENCES boards(chip_id),
        role TEXT CHECK (role IS NULL OR role IN ('operator', 'monitor')),
        password TEXT NOT NULL,              -- needed again to render a board's config
        pw_hash TEXT NOT NULL,               -- Mosquitto $7$ hash, kept so the passwd file is stable
        created_at TEXT NOT NULL
    );
    CREATE TABLE imports (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        source TEXT NOT NULL,
        added INTEGER NOT NULL,
        updated INTEGER NOT NULL,
        skipped INTEGER NOT NULL
    );
    """,
]
