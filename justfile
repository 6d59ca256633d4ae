# Lead Routing recipes. Install just with `cargo install just`.

# PostgreSQL admin URL the PostgreSQL recipes use (each test creates its own database).
pg_url := env_var_or_default("TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")

# List the recipes.
default:
    @just --list

# Run the server (SQLite at ./data/lead-routing.db unless DATABASE_URL is set).
run:
    cargo run --release

# Run every test on SQLite.
test:
    cargo test --workspace

# Run every test on PostgreSQL (a database per test, dropped afterwards).
test-pg:
    TEST_DATABASE_URL={{pg_url}} cargo test --workspace

# Drive the admin console in headless Chromium (needs Debian's chromium and chromium-driver).
test-browser:
    REQUIRE_BROWSER=1 cargo test -p lead-routing-api --test browser

# Refresh docs/screenshots/ from the browser test's walk through the console.
screenshots:
    SCREENSHOTS_DIR={{justfile_directory()}}/docs/screenshots REQUIRE_BROWSER=1 cargo test -p lead-routing-api --test browser

# Formatting, lints and docs, as CI checks them.
lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings
    RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

# Apply (up), revert (down) or list (status) migrations on DATABASE_URL.
migrate action="up":
    cargo run --release -- migrate {{action}}

# Everything CI runs.
ci:
    bash .ci/run

# Performance (docs/performance.md; release builds, tools/loadgen). Databases are
# SQLite files in a temporary folder, or, when DATABASE_URL is a postgres:// URL,
# fresh databases created on that server and dropped afterwards.

# Server + `loadgen http` vs `loadgen raw`; prints API/raw (auth: api-key or jwt).
load concurrency="16" duration="15s" auth="api-key":
    bash tools/loadgen/run.sh load {{concurrency}} {{duration}} {{auth}}

# The per-lead database work without HTTP, JSON or auth: the storage's limit.
bench-db concurrency="16" duration="15s":
    bash tools/loadgen/run.sh bench-db {{concurrency}} {{duration}}

# Limit (minimal routing step on our schema) vs raw vs API, SQLite and PostgreSQL: one table.
bench-limit duration="5s" runs="3":
    bash tools/loadgen/bench-limit.sh {{duration}} {{runs}}

# One organization's proposal listing with 10 vs 1,000 organizations stored.
tenant-scale orgs="10,1000" per_org="20":
    bash tools/loadgen/run.sh tenant-scale {{orgs}} {{per_org}}

# Three demo organizations with users, agents, pools, rules and routed leads.
seed leads="300":
    cargo run --release -- seed --demo --leads {{leads}}

# Criterion benchmarks of the routing decision (docs/performance.md).
bench:
    cargo bench -p routing --bench decide

# Fuzz a live server against its OpenAPI document with schemathesis (needs python3).
fuzz seconds="90":
    cargo build -p lead-routing-api
    bash .ci/schemathesis.sh {{seconds}}

# The README walkthrough against a fresh server; `just walkthrough --update`
# rewrites the README's script and output blocks after an intended change.
walkthrough *args:
    cargo build -p lead-routing-api
    bash .ci/walkthrough.sh {{args}}
