//! The `lead-routing` binary as an operator runs it.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

const BIN: &str = env!("CARGO_BIN_EXE_lead-routing");

#[test]
fn a_bad_setting_is_a_one_line_error_naming_the_variable() {
    for (var, value) in [
        ("PORT", "http"),
        ("APP_ENV", "staging"),
        ("DATABASE_URL", "mysql://x"),
        ("RUST_LOG", "[[["),
    ] {
        let out = Command::new(BIN)
            .env(var, value)
            .output()
            .expect("the binary runs");
        assert_eq!(out.status.code(), Some(2), "{var}={value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert!(stderr.starts_with(&format!("error: {var}: ")), "{stderr}");
    }
}

#[test]
fn help_lists_the_commands() {
    let out = Command::new(BIN)
        .arg("--help")
        .output()
        .expect("the binary runs");
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for word in ["serve", "migrate"] {
        assert!(help.contains(word), "{help}");
    }
}

/// From an empty folder with no configuration, the server creates
/// `./data/lead-routing.db`, serves, and stops cleanly on SIGTERM.
#[test]
fn the_server_starts_on_the_sqlite_default_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .current_dir(dir.path())
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
        })
        .expect("the server logs its address");
    let health = reqwest::blocking_get(&format!("http://127.0.0.1:{port}/health"));
    assert!(health.contains("\"ok\":true"), "{health}");
    assert!(dir.path().join("data/lead-routing.db").exists());

    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = wait_with_timeout(&mut child, Duration::from_secs(20));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "graceful exit");
}

fn wait_with_timeout(
    child: &mut std::process::Child,
    timeout: Duration,
) -> Option<std::process::ExitStatus> {
    let deadline = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    None
}

mod reqwest {
    /// A plain GET on a fresh runtime (this test is synchronous).
    pub fn blocking_get(url: &str) -> String {
        tokio::runtime::Runtime::new()
            .unwrap()
            .block_on(async { ::reqwest::get(url).await.unwrap().text().await.unwrap() })
    }
}

#[test]
fn admin_create_reads_the_password_from_stdin_and_refuses_duplicates() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let run = |password: &str| {
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
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    let short = run("short");
    assert!(!short.status.success());
    assert!(String::from_utf8_lossy(&short.stderr).contains("password"));
    let ok = run("a-very-long-password");
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("super admin"));
    let again = run("a-very-long-password");
    assert!(!again.status.success(), "a duplicate e-mail is refused");
}
