"""The inventory's schema as a list of migrations: entry N takes a file from
version N to N+1 (PRAGMA user_version). Never edit a released entry; append.
An entry is SQL, or a function of the connection where SQL cannot say it."""
import uuid


def _password_hashes_only(conn) -> None:
    """2 -> 3: the inventory keeps password hashes only. It gets an id of its own
    (the key of its fleet accounts in a user's secrets file); the fleet accounts'
    clear passwords move into the secrets file of whoever migrates it (written
    before the column goes, so nothing is lost); boards' clear passwords are
    dropped (their hashes stay, so the boards stay online; re-provisioning gives
    each a new one). Probe accounts (for `broker check`) become possible."""
    from ..broker import secret_store
    inventory_id = uuid.uuid4().hex
    conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    conn.execute("INSERT INTO meta (key, value) VALUES ('inventory_id', ?)", (inventory_id,))
    for username, password in conn.execute("SELECT username, password FROM mqtt_accounts WHERE kind = 'fleet'"
                                            ).fetchall():
        secret_store.save(inventory_id, username, password)
    conn.execute("""
        CREATE TABLE mqtt_accounts_v2 (
            username TEXT PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('board', 'fleet', 'probe')),
            chip_id TEXT UNIQUE REFERENCES boards(chip_id),
            role TEXT CHECK (role IS NULL OR role IN ('operator', 'monitor')),
            pw_hash TEXT NOT NULL,           -- Mosquitto $7$ hash; the clear password is never stored here
            created_at TEXT NOT NULL
        )""")
    conn.execute("INSERT INTO mqtt_accounts_v2 SELECT username, kind, chip_id, role, pw_hash, created_at "
                 "FROM mqtt_accounts")
    conn.execute("DROP TABLE mqtt_accounts")
    conn.execute("ALTER TABLE mqtt_accounts_v2 RENAME TO mqtt_accounts")


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
    # 1 -> 2: fleet operations (docs/fleet.md): what the collector last heard from
    # each board, what each board should run, commands and their answers, staged
    # roll-outs, and the append-only audit log.
    """
    CREATE TABLE fleet_boards (
        device_id TEXT PRIMARY KEY,          -- the topic segment; boards unknown to the inventory too
        site_id TEXT NOT NULL,
        online INTEGER,                      -- 1 / 0 from status and the Will; NULL never heard
        status_at REAL,                      -- host time (s) of the last status change
        last_seen REAL,                      -- host time of the last message of any kind
        level REAL, mode TEXT, program TEXT, program_hash TEXT, config_hash TEXT, fw TEXT, clock TEXT,
        faults TEXT NOT NULL DEFAULT '[]',
        state_at REAL, state_seq INTEGER,
        power_w REAL, energy_wh REAL, burn_h REAL, cycles INTEGER, rssi INTEGER,
        heap_free INTEGER, heap_low INTEGER, uptime_s INTEGER, dropped INTEGER, tele_at REAL,
        boots INTEGER NOT NULL DEFAULT 0,    -- boot events seen
        reset_causes TEXT NOT NULL DEFAULT '{}',   -- reset cause -> count
        last_boot_at REAL,
        seq_high INTEGER,                    -- highest seq of the current boot
        seq_missing TEXT NOT NULL DEFAULT '[]',    -- seqs of the current boot not seen (yet)
        seq_gaps INTEGER NOT NULL DEFAULT 0,       -- messages lost, all boots
        duplicates INTEGER NOT NULL DEFAULT 0,
        messages INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE fleet_meta (                -- the collector's own memory, e.g. when the broker last started
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE fleet_programs (            -- every program document the fleet tools sent or desire
        hash TEXT PRIMARY KEY,               -- firmware/lampctl/digest.py, as the board reports it
        program_id TEXT NOT NULL,
        doc TEXT NOT NULL,
        added_at TEXT NOT NULL
    );
    CREATE TABLE fleet_desired (             -- what boards should run, inherited site > district > street > board
        site_id TEXT NOT NULL REFERENCES sites(id),
        scope TEXT NOT NULL CHECK (scope IN ('site', 'district', 'street', 'board')),
        name TEXT NOT NULL,                  -- '' for the site, a district slug, a street group, a device id
        key TEXT NOT NULL,                   -- 'program' (a fleet_programs hash), 'firmware', or a config key
        value TEXT NOT NULL,                 -- JSON
        set_at TEXT NOT NULL,
        set_by TEXT NOT NULL,
        PRIMARY KEY (site_id, scope, name, key)
    );
    CREATE TABLE fleet_commands (
        id TEXT PRIMARY KEY,                 -- the command's `id`, answered in every ack
        site_id TEXT NOT NULL,
        name TEXT NOT NULL,
        payload TEXT NOT NULL,
        target TEXT NOT NULL,                -- what the operator asked for, e.g. 'district:centre'
        topics TEXT NOT NULL,                -- JSON list of the topics it went out on
        sent_at TEXT NOT NULL,
        actor TEXT NOT NULL
    );
    CREATE TABLE fleet_command_results (
        command_id TEXT NOT NULL REFERENCES fleet_commands(id),
        device_id TEXT NOT NULL,
        outcome TEXT NOT NULL CHECK (outcome IN ('pending', 'ok', 'refused', 'silent')),
        error TEXT,
        at TEXT NOT NULL,
        PRIMARY KEY (command_id, device_id)
    );
    CREATE TABLE rollouts (
        id INTEGER PRIMARY KEY,
        site_id TEXT NOT NULL,
        change TEXT NOT NULL,                -- JSON: {"kind": ..., ...} (host_tools/fleet/changes.py)
        target TEXT NOT NULL,
        plan TEXT NOT NULL,                  -- JSON: waves, soak, threshold
        status TEXT NOT NULL,                -- running, halted, done, rolling_back, rolled_back
        reason TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE rollout_boards (
        rollout_id INTEGER NOT NULL REFERENCES rollouts(id),
        device_id TEXT NOT NULL,
        wave INTEGER NOT NULL,
        step TEXT NOT NULL,                  -- pending, sending, sent, acked, healthy, failed, reverting, reverted
        command_id TEXT,
        error TEXT,
        previous TEXT,                       -- JSON: what the board had, for a roll-back
        baseline TEXT,                       -- JSON: health when the change was sent (boots, faults)
        attempts INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (rollout_id, device_id)
    );
    CREATE INDEX rollout_boards_by_wave ON rollout_boards (rollout_id, wave);
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL,
        detail TEXT NOT NULL,
        outcome TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
    );
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    """,
    _password_hashes_only,
]
MIGRATIONS.append(
    # history: the time series the reports read (host_tools/fleet/history.py).
    # Compact on purpose (10,000 lamps for a year on a laptop): integer keys,
    # WITHOUT ROWID tables clustered by (source, time), and only changes kept.
    """
    CREATE TABLE hist_sources (
        id INTEGER PRIMARY KEY,
        device_id TEXT NOT NULL,             -- the board that measured
        pole_id TEXT,                        -- the pole it was on then (a replaced board is a new source)
        estimated INTEGER NOT NULL DEFAULT 0, -- energy from the rating, not a power monitor
        fw TEXT,                             -- last firmware version reported
        UNIQUE (device_id, pole_id)
    );
    CREATE TABLE hist_energy (               -- the board's energy counter (mWh), where its rate changes
        src INTEGER NOT NULL, t INTEGER NOT NULL, mwh INTEGER NOT NULL,
        PRIMARY KEY (src, t)
    ) WITHOUT ROWID;
    CREATE TABLE hist_level (                -- level (tenths of %) and mode, on change
        src INTEGER NOT NULL, t INTEGER NOT NULL, level INTEGER NOT NULL, mode INTEGER NOT NULL,
        PRIMARY KEY (src, t)
    ) WITHOUT ROWID;
    CREATE TABLE hist_fault (                -- fault raised (1) / cleared (0); seen = when the fleet heard of it
        src INTEGER NOT NULL, t INTEGER NOT NULL, fault TEXT NOT NULL, raised INTEGER NOT NULL, seen INTEGER NOT NULL,
        PRIMARY KEY (src, t, fault)
    ) WITHOUT ROWID;
    CREATE TABLE hist_link (                 -- online (1) / offline (0), on change
        src INTEGER NOT NULL, t INTEGER NOT NULL, online INTEGER NOT NULL,
        PRIMARY KEY (src, t)
    ) WITHOUT ROWID;
    CREATE TABLE site_settings (             -- report inputs a site keeps: tariff, currency, grid factor
        site_id TEXT NOT NULL REFERENCES sites(id), key TEXT NOT NULL, value TEXT NOT NULL,
        PRIMARY KEY (site_id, key)
    );
    """)
MIGRATIONS.append(
    # OTA (docs/ota.md): each board's running release and the update pending on it, as its state reports them.
    """
    ALTER TABLE fleet_boards ADD COLUMN release INTEGER;
    ALTER TABLE fleet_boards ADD COLUMN release_pending TEXT;
    """)
MIGRATIONS.append(
    # Liveness from silence (docs/fleet.md): each board's telemetry interval, from the ts of its last two teles.
    """
    ALTER TABLE fleet_boards ADD COLUMN tele_ts INTEGER;
    ALTER TABLE fleet_boards ADD COLUMN tele_every REAL;
    """)
