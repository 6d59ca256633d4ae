//! The operator commands beyond `serve` (`org create`, `api-key create`,
//! `seed --demo`), run as the real binary in a temporary folder on the
//! default SQLite database, as an operator would.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Child, Command, Output, Stdio},
};

const BIN: &str = env!("CARGO_BIN_EXE_lead-routing");

/// Runs `lead-routing ARGS` in `dir` with no configuration but the defaults.
fn lead_routing(dir: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env_remove("APP_ENV")
        .env_remove("RUST_LOG")
        .env_remove("LEAD_ROUTING_DEMO_PASSWORD")
        .args(args)
        .output()
        .expect("the binary runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The last line of standard output: what scripts capture.
fn last_line(out: &Output) -> String {
    stdout(out).lines().last().unwrap_or_default().to_owned()
}

/// Asserts the command failed with `code` and one `error: ` line.
fn assert_fails(out: &Output, code: i32) -> String {
    let err = stderr(out);
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout: {}\nstderr: {err}",
        stdout(out)
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("error: "), "{err}");
    err
}

fn create_org(dir: &Path, name: &str) -> String {
    let out = lead_routing(dir, &["org", "create", "--name", name]);
    assert!(out.status.success(), "{}", stderr(&out));
    let id = last_line(&out);
    assert!(id.starts_with("org_"), "{}", stdout(&out));
    id
}

#[test]
fn org_create_prints_the_id_and_refuses_a_taken_name() {
    let dir = tempfile::tempdir().unwrap();
    let out = lead_routing(
        dir.path(),
        &[
            "org",
            "create",
            "--name",
            "acme-corp",
            "--display-name",
            "Acme Corporation",
            "--email",
            "ops@acme.example",
            "--tier",
            "enterprise",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let id = last_line(&out);
    assert!(id.starts_with("org_"), "{}", stdout(&out));
    assert!(stdout(&out).contains("acme-corp"));

    let again = lead_routing(dir.path(), &["org", "create", "--name", "acme-corp"]);
    let err = assert_fails(&again, 1);
    assert!(
        err.contains("acme-corp") && err.contains("already exists"),
        "{err}"
    );
}

#[test]
fn org_create_names_every_invalid_argument_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = lead_routing(
        dir.path(),
        &["org", "create", "--name", "Bad Name", "--email", "nope"],
    );
    let err = assert_fails(&out, 2);
    assert!(err.contains("--name"), "{err}");
    assert!(err.contains("--email"), "{err}");
    assert!(
        !dir.path().join("data").exists(),
        "nothing is opened before the arguments are valid"
    );

    let bad_tier = lead_routing(
        dir.path(),
        &["org", "create", "--name", "ok-name", "--tier", "gold"],
    );
    assert_eq!(bad_tier.status.code(), Some(2), "{}", stderr(&bad_tier));
}

#[test]
fn api_key_create_prints_a_key_once_and_the_key_authenticates() {
    let dir = tempfile::tempdir().unwrap();
    let org = create_org(dir.path(), "keyed-org");
    let out = lead_routing(
        dir.path(),
        &[
            "api-key", "create", "--org", &org, "--role", "admin", "--name", "ci",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let key = last_line(&out);
    assert!(key.starts_with("lr_"), "{}", stdout(&out));
    assert_eq!(
        stdout(&out).matches(&key).count(),
        1,
        "the key is printed exactly once"
    );
    assert!(stdout(&out).contains("cannot be shown again"));

    let server = Server::start(dir.path());
    let (status, body) = http_get(&format!("{}/users", server.url), &key);
    assert_eq!(status, 200, "{body}");
    let (status, _) = http_get(&format!("{}/users", server.url), "lr_wrong_key");
    assert_eq!(status, 401);
}

#[test]
fn api_key_create_for_an_unknown_org_exits_1_and_a_malformed_one_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let unknown = lead_routing(
        dir.path(),
        &["api-key", "create", "--org", "org_nope", "--role", "agent"],
    );
    let err = assert_fails(&unknown, 1);
    assert!(err.contains("org_nope"), "{err}");
    assert!(stdout(&unknown).is_empty(), "no key is printed");

    let malformed = lead_routing(
        dir.path(),
        &[
            "api-key",
            "create",
            "--org",
            "not an id!",
            "--role",
            "agent",
        ],
    );
    let err = assert_fails(&malformed, 2);
    assert!(err.contains("--org"), "{err}");

    let bad_role = lead_routing(
        dir.path(),
        &[
            "api-key",
            "create",
            "--org",
            "org_x",
            "--role",
            "super_admin",
        ],
    );
    assert_eq!(bad_role.status.code(), Some(2));
}

#[test]
fn seed_demo_creates_three_organizations_once_and_its_login_works() {
    let dir = tempfile::tempdir().unwrap();
    let out = lead_routing(dir.path(), &["seed", "--demo", "--leads", "30"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for name in ["acme-demo", "globex-demo", "initech-demo"] {
        assert!(text.contains(name), "{text}");
    }
    for needle in [
        "POST /auth/login",
        "admin@acme-demo.example",
        "manager@globex-demo.example",
        "agent@initech-demo.example",
        "demo-password-123",
    ] {
        assert!(text.contains(needle), "{needle}: {text}");
    }

    let again = lead_routing(dir.path(), &["seed", "--demo", "--leads", "30"]);
    let err = assert_fails(&again, 1);
    assert!(err.contains("already exists"), "{err}");

    // The printed credentials sign in, and the manager sees 30 routed leads.
    let server = Server::start(dir.path());
    let (status, body) = http_post_json(
        &format!("{}/auth/login", server.url),
        &serde_json::json!({"email": "manager@acme-demo.example", "password": "demo-password-123"}),
    );
    assert_eq!(status, 200, "{body}");
    let login: serde_json::Value = serde_json::from_str(&body).unwrap();
    let token = login["data"]["tokens"]["accessToken"]
        .as_str()
        .or_else(|| login["tokens"]["accessToken"].as_str())
        .unwrap_or_else(|| panic!("no access token in {body}"))
        .to_owned();
    let (status, body) = http_get_bearer(&format!("{}/leads?limit=1", server.url), &token);
    assert_eq!(status, 200, "{body}");
    let leads: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(leads["pagination"]["total"], 30, "{body}");
}

#[test]
fn seed_requires_demo_and_a_long_enough_password() {
    let dir = tempfile::tempdir().unwrap();
    let no_flag = lead_routing(dir.path(), &["seed"]);
    assert_eq!(no_flag.status.code(), Some(2));
    assert!(stderr(&no_flag).contains("--demo"));

    let short = lead_routing(dir.path(), &["seed", "--demo", "--password", "short"]);
    let err = assert_fails(&short, 2);
    assert!(err.contains("--password"), "{err}");
}

#[test]
fn each_command_teaches_with_an_example() {
    for args in [
        &["org", "create", "--help"][..],
        &["api-key", "create", "--help"],
        &["seed", "--help"],
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let help = stdout(&out);
        assert!(help.contains("Example"), "{args:?}: {help}");
        assert!(help.contains("Exit status"), "{args:?}: {help}");
    }
}

/// The server binary in `dir` on a free port, killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(dir: &Path) -> Self {
        let mut child = Command::new(BIN)
            .current_dir(dir)
            .env_remove("DATABASE_URL")
            .env_remove("APP_ENV")
            .env("PORT", "0")
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the server starts");
        let stdout = child.stdout.take().unwrap();
        let port = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .find_map(|line| {
                line.split("listening on http://127.0.0.1:")
                    .nth(1)
                    .and_then(|rest| {
                        rest.split(|c: char| !c.is_ascii_digit())
                            .next()
                            .map(str::to_owned)
                    })
            });
        let Some(port) = port else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server never logged its address");
        };
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs one request on a fresh runtime (these tests are synchronous).
fn send(request: impl FnOnce(&reqwest::Client) -> reqwest::RequestBuilder) -> (u16, String) {
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let client = reqwest::Client::new();
        let response = request(&client).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.text().await.unwrap())
    })
}

fn http_get(url: &str, api_key: &str) -> (u16, String) {
    send(|c| c.get(url).header("x-api-key", api_key))
}

fn http_get_bearer(url: &str, token: &str) -> (u16, String) {
    send(|c| c.get(url).bearer_auth(token))
}

fn http_post_json(url: &str, body: &serde_json::Value) -> (u16, String) {
    send(|c| c.post(url).json(body))
}

#[test]
fn admin_create_reports_every_invalid_argument_with_status_2_before_opening_anything() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .env_remove("LEAD_ROUTING_ADMIN_PASSWORD")
        .args(["admin", "create", "--email", "nope", "--username", "x"])
        .output()
        .expect("the binary runs");
    let err = assert_fails(&out, 2);
    for field in ["--email", "--username", "password"] {
        assert!(err.contains(field), "{field}: {err}");
    }
    assert!(
        !dir.path().join("data").exists(),
        "nothing is opened before the arguments are valid"
    );

    let mut child = Command::new(BIN)
        .current_dir(dir.path())
        .env_remove("DATABASE_URL")
        .args([
            "admin",
            "create",
            "--email",
            "ops@example.com",
            "--username",
            "ops",
            "--password-stdin",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    use std::io::Write;
    child.stdin.take().unwrap().write_all(b"short\n").unwrap();
    let short = child.wait_with_output().unwrap();
    let err = assert_fails(&short, 2);
    assert!(err.contains("password"), "{err}");

    // Valid: created through the same use case as `POST /users`; a second
    // one with the same address is a conflict (status 1).
    let create = || {
        Command::new(BIN)
            .current_dir(dir.path())
            .env_remove("DATABASE_URL")
            .env("LEAD_ROUTING_ADMIN_PASSWORD", "a-long-password")
            .args([
                "admin",
                "create",
                "--email",
                "ops@example.com",
                "--username",
                "ops",
            ])
            .output()
            .expect("the binary runs")
    };
    let created = create();
    assert!(created.status.success(), "{}", stderr(&created));
    assert!(
        stdout(&created).contains("Created super admin ops"),
        "{}",
        stdout(&created)
    );
    let again = create();
    let err = assert_fails(&again, 1);
    assert!(err.contains("cannot create the admin"), "{err}");
}
