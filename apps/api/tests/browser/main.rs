//! End-to-end tests of the admin console in Debian's headless Chromium,
//! driven over WebDriver (chromedriver) against the real server.
//!
//! They need `chromium` and `chromedriver` (Debian packages `chromium` and
//! `chromium-driver`; `.ci/run` installs them). Without them the tests say so
//! and pass, unless `REQUIRE_BROWSER` is set, as in CI, where a missing
//! browser fails them. With `SCREENSHOTS_DIR` set, each main screen is saved
//! there as a PNG (`just screenshots` refreshes `docs/screenshots/`).

#![cfg(unix)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;

use std::{
    net::TcpListener,
    os::unix::process::CommandExt,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder, Locator, elements::Element};
use helpers::{PASSWORD, TestApp, expect_status, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// How long a screen may take to show what we wait for.
const PATIENCE: Duration = Duration::from_secs(15);

fn find_program(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// The browser and its driver, or `None` (test skipped) when not installed.
fn tools() -> Option<(PathBuf, PathBuf)> {
    let chromium = find_program("CHROMIUM", &["chromium", "chromium-browser"]);
    let driver = find_program("CHROMEDRIVER", &["chromedriver"]);
    match (chromium, driver) {
        (Some(c), Some(d)) => Some((c, d)),
        _ if std::env::var_os("REQUIRE_BROWSER").is_some() => {
            panic!("REQUIRE_BROWSER is set but chromium or chromedriver is not installed")
        }
        _ => {
            eprintln!(
                "browser tests skipped: install Debian's chromium and chromium-driver to run them"
            );
            None
        }
    }
}

/// A chromedriver process, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_driver(path: &Path) -> Driver {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Its own process group, so that dropping the driver also ends the
    // browsers it started, even when a test panics mid-session.
    let child = Command::new(path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(res) = reqwest::get(format!("{}/status", driver.url)).await
            && res.status().is_success()
        {
            return driver;
        }
        assert!(Instant::now() < deadline, "chromedriver did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One browser window on the console.
struct Browser {
    client: Client,
    base: String,
    shots: Option<PathBuf>,
}

impl Browser {
    async fn open(driver: &Driver, chromium: &Path, app: &TestApp) -> Self {
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", "--window-size=1280,800", "--lang=en-US"]
            }
        });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&driver.url)
            .await
            .expect("a browser session");
        let shots = std::env::var_os("SCREENSHOTS_DIR").map(PathBuf::from);
        Self {
            client,
            base: app.address.clone(),
            shots,
        }
    }

    async fn goto(&self, hash: &str) {
        self.client
            .goto(&format!("{}/admin/{hash}", self.base))
            .await
            .unwrap();
    }

    async fn wait(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(e) => panic!(
                "no {css} on the page ({e}); it says:\n{}",
                self.page_text().await
            ),
        }
    }

    async fn page_text(&self) -> String {
        match self.client.find(Locator::Css("body")).await {
            Ok(body) => body.text().await.unwrap_or_default(),
            Err(e) => format!("(no body: {e})"),
        }
    }

    /// Waits until some element matching `css` shows text containing `needle`
    /// (any text at all for an empty `needle`).
    async fn wait_text(&self, css: &str, needle: &str) -> Element {
        let deadline = Instant::now() + PATIENCE;
        loop {
            for element in self.client.find_all(Locator::Css(css)).await.unwrap() {
                if let Ok(text) = element.text().await
                    && !text.is_empty()
                    && text.contains(needle)
                {
                    return element;
                }
            }
            if Instant::now() > deadline {
                let page = self.page_text().await;
                panic!("{needle:?} never appeared in {css}; the page says:\n{page}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn absent(&self, css: &str) -> bool {
        self.client
            .find_all(Locator::Css(css))
            .await
            .unwrap()
            .is_empty()
    }

    async fn fill(&self, css: &str, text: &str) {
        let input = self.wait(css).await;
        input.clear().await.unwrap();
        input.send_keys(text).await.unwrap();
    }

    async fn click(&self, css: &str) {
        self.wait(css).await.click().await.unwrap();
    }

    async fn select(&self, css: &str, value: &str) {
        self.wait(css)
            .await
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("cannot choose {value} in {css}: {e}"));
    }

    async fn select_label(&self, css: &str, label: &str) {
        self.wait(css)
            .await
            .select_by_label(label)
            .await
            .unwrap_or_else(|e| panic!("cannot choose {label} in {css}: {e}"));
    }

    async fn shot(&self, name: &str) {
        let Some(dir) = &self.shots else { return };
        std::fs::create_dir_all(dir).unwrap();
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
    }

    async fn sign_in(&self, email: &str, org_id: Option<&str>) {
        self.goto("").await;
        self.fill("#login-form [name=email]", email).await;
        self.fill("#login-form [name=password]", PASSWORD).await;
        if let Some(org_id) = org_id {
            self.fill("#login-form [name=orgId]", org_id).await;
        }
        self.click("#login-form button[type=submit]").await;
        self.wait("[data-testid=whoami]").await;
    }

    /// No Content-Security-Policy violation was reported on this page.
    async fn assert_no_csp_violation(&self) {
        let seen = self
            .client
            .execute(
                "return document.documentElement.dataset.cspViolations || '';",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(seen, json!(""), "CSP violations");
    }

    async fn sign_out(&self) {
        self.assert_no_csp_violation().await;
        self.click("#sign-out").await;
        self.wait_text(".login-card", "signed out").await;
    }
}

/// A super admin of the platform (the default organization).
async fn platform_admin(app: &TestApp) -> String {
    let email = "root@platform.test";
    let res = app
        .post(
            "/users",
            &json!({"username": "root", "email": email, "password": PASSWORD, "role": "super_admin"}),
        )
        .await;
    expect_status(res, StatusCode::CREATED).await;
    email.to_owned()
}

/// The walk of the issue: a super admin creates an organization through the
/// form (one field rejected first), switches into it, creates an admin and
/// an agent, posts a lead, approves its proposal in the queue; the agent sees
/// it; a manager of another organization cannot.
#[tokio::test]
async fn a_super_admin_runs_an_organization_from_the_console() {
    let Some((chromium, chromedriver)) = tools() else {
        return;
    };
    let app = spawn_app().await;
    let root = platform_admin(&app).await;
    let (globex, globex_admin) = app.org_with_admin("globex").await;
    app.add_user(&globex_admin, "gmanager", "manager").await;
    let globex_id = globex["id"].as_str().unwrap().to_owned();

    let driver = start_driver(&chromedriver).await;
    let browser = Browser::open(&driver, &chromium, &app).await;

    // Sign in.
    browser.goto("").await;
    browser.wait("#login-form").await;
    browser.shot("login").await;
    browser.sign_in(&root, None).await;
    browser
        .wait_text("[data-testid=whoami]", "Super admin")
        .await;

    // Create an organization; the bad name is refused beside its field.
    browser.goto("#/organizations/new").await;
    browser.fill("#org-form [name=name]", "Acme Sales!").await;
    browser
        .fill("#org-form [name=displayName]", "Acme Sales")
        .await;
    browser.select("#org-form [name=tier]", "standard").await;
    browser.click("#org-form button[type=submit]").await;
    let error = browser
        .wait_text("#org-form [data-error-for=name]", "")
        .await;
    let message = error.text().await.unwrap();
    assert!(!message.is_empty(), "the name error is shown beside it");
    browser.shot("organization-form-error").await;
    browser.fill("#org-form [name=name]", "acme-sales").await;
    browser.click("#org-form button[type=submit]").await;
    browser.wait("tr[data-org=acme-sales]").await;
    browser.wait_text("#flash", "acme-sales is created").await;
    browser.shot("organizations").await;

    // Deleting for good asks for the organization's name first.
    app.create_org("scratch-co").await;
    browser.goto("#/dashboard").await;
    browser.goto("#/organizations").await;
    browser.click("tr[data-org=scratch-co] button.danger").await;
    let confirm = browser.wait("dialog.confirm button.danger").await;
    assert!(
        !confirm.is_enabled().await.unwrap(),
        "disabled until the name is typed"
    );
    browser.fill("dialog.confirm input", "scratch").await;
    assert!(!confirm.is_enabled().await.unwrap());
    browser.fill("dialog.confirm input", "scratch-co").await;
    confirm.click().await.unwrap();
    browser.wait_text("#flash", "scratch-co is deleted").await;
    assert!(browser.absent("tr[data-org=scratch-co]").await);
    assert!(
        !app.all_orgs()
            .await
            .iter()
            .any(|o| o["name"] == "scratch-co"),
        "deleted for good"
    );

    // Switch into it: every screen now acts there.
    browser
        .click("tr[data-org=acme-sales] .row-actions button")
        .await;
    browser
        .wait_text("#flash", "Now working in Acme Sales")
        .await;

    // An admin and an agent user.
    browser.goto("#/users").await;
    browser.fill("#user-form [name=username]", "alice").await;
    browser
        .fill("#user-form [name=email]", "alice@acme.test")
        .await;
    browser.fill("#user-form [name=password]", PASSWORD).await;
    browser.select("#user-form [name=role]", "admin").await;
    browser.click("#user-form button[type=submit]").await;
    browser.wait("tr[data-user=alice]").await;
    browser.fill("#user-form [name=username]", "bob").await;
    browser
        .fill("#user-form [name=email]", "bob@acme.test")
        .await;
    browser.fill("#user-form [name=password]", PASSWORD).await;
    browser.select("#user-form [name=role]", "agent").await;
    browser.click("#user-form button[type=submit]").await;
    browser.wait("tr[data-user=bob]").await;
    browser.shot("users").await;

    // Bob's agent record, a pool with him, the pool as default.
    browser.goto("#/agents").await;
    browser.fill("#agent-form [name=name]", "Bob Stone").await;
    browser
        .fill("#agent-form [name=email]", "bob@acme.test")
        .await;
    browser
        .fill("#agent-form [name=skills]", "enterprise")
        .await;
    browser.fill("#agent-form [name=capacity]", "10").await;
    browser
        .select_label("#agent-form [name=userId]", "bob (Agent)")
        .await;
    browser.click("#agent-form button[type=submit]").await;
    browser.wait("tr[data-agent='Bob Stone']").await;
    browser.shot("agents").await;

    browser.goto("#/routing").await;
    browser.fill("#pool-form [name=name]", "Inbound").await;
    browser.click("#pool-form input[name=memberIds]").await;
    browser.click("#pool-form button[type=submit]").await;
    browser
        .wait_text("tr[data-pool=Inbound]", "Bob Stone")
        .await;
    browser
        .fill("#rule-form [name=name]", "Enterprise DACH")
        .await;
    browser
        .select_label("#rule-form [name=poolId]", "Inbound")
        .await;
    browser.click("#rule-form .condition-block button").await;
    browser.fill("#rule-form [name=cField]", "country").await;
    browser.fill("#rule-form [name=cValue]", "DE").await;
    browser.click("#rule-form button[type=submit]").await;
    browser
        .wait_text("tr[data-rule='Enterprise DACH']", "country eq \"DE\"")
        .await;
    browser.shot("routing").await;

    browser.goto("#/settings").await;
    browser
        .select_label("#settings-form [name=defaultPoolId]", "Inbound")
        .await;
    browser.click("#settings-form button[type=submit]").await;
    browser.wait_text("#flash", "Settings saved").await;
    browser.shot("settings").await;

    // A lead, proposed to Bob, approved in the queue.
    browser.goto("#/leads").await;
    browser
        .fill("#lead-form [name=name]", "Jane Prospect")
        .await;
    browser
        .fill("#lead-form [name=email]", "jane@initech.test")
        .await;
    browser.fill("#lead-form [name=company]", "Initech").await;
    browser.click("#lead-form button[type=submit]").await;
    browser
        .wait_text("#flash", "Jane Prospect is proposed to Bob Stone")
        .await;

    browser.goto("#/proposals").await;
    let card = "article[data-lead-name='Jane Prospect']";
    browser.wait_text(card, "pending").await;
    browser
        .wait_text(&format!("{card} tr.winner"), "Bob Stone")
        .await;
    browser.shot("proposals").await;
    let proposal_id = browser
        .wait(card)
        .await
        .attr("data-proposal")
        .await
        .unwrap()
        .unwrap();
    browser
        .click(&format!("{card} button[data-action=approve]"))
        .await;
    browser.wait_text("#flash", "goes to Bob Stone").await;
    browser.wait_text(card, "approved").await;
    assert!(
        browser
            .absent(&format!("{card} button[data-action=approve]"))
            .await
    );

    // The API agrees: the lead is Bob's.
    let acme = app
        .all_orgs()
        .await
        .into_iter()
        .find(|o| o["name"] == "acme-sales")
        .unwrap();
    let acme_id = acme["id"].as_str().unwrap().to_owned();
    let proposal = expect_status(
        app.dev(Method::GET, &format!("/manager/proposals/{proposal_id}"))
            .header("x-org-id", &acme_id)
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(proposal["data"]["status"], "approved");

    // A second agent joins the pool (the pool's edit form); one lead is
    // reassigned to the agent not proposed, another rejected and re-routed.
    browser.goto("#/agents").await;
    browser.fill("#agent-form [name=name]", "Cara Diaz").await;
    browser
        .fill("#agent-form [name=email]", "cara@acme.test")
        .await;
    browser.click("#agent-form button[type=submit]").await;
    browser.wait("tr[data-agent='Cara Diaz']").await;
    browser.goto("#/routing").await;
    browser.click("tr[data-pool=Inbound] a.button").await;
    browser
        .wait_text("#pool-form h3", "Edit pool Inbound")
        .await;
    browser
        .client
        .find(Locator::XPath(
            "//form[@id='pool-form']//label[contains(., 'Cara Diaz')]/input",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    browser.click("#pool-form button[type=submit]").await;
    browser
        .wait_text("tr[data-pool=Inbound]", "Cara Diaz")
        .await;

    for name in ["Kim Buyer", "Lee Reject"] {
        browser.goto("#/leads").await;
        browser.fill("#lead-form [name=name]", name).await;
        browser.click("#lead-form button[type=submit]").await;
        browser
            .wait_text("#flash", &format!("{name} is proposed to"))
            .await;
    }
    browser.goto("#/proposals").await;
    let kim = "article[data-lead-name='Kim Buyer']";
    let first_choice = browser
        .wait_text(&format!("{kim} tr.winner th"), "proposed")
        .await
        .text()
        .await
        .unwrap();
    let other = if first_choice.contains("Bob Stone") {
        "Cara Diaz"
    } else {
        "Bob Stone"
    };
    browser
        .click(&format!("{kim} form.inline-form button[type=submit]"))
        .await;
    browser
        .wait_text("#flash", &format!("Kim Buyer goes to {other}"))
        .await;
    browser.wait_text(kim, "approved").await;

    let lee = "article[data-lead-name='Lee Reject']";
    browser
        .click(&format!("{lee} button[data-action=reject]"))
        .await;
    browser
        .wait_text("#flash", "Rejected; Lee Reject is routed again")
        .await;
    browser.wait_text(lee, "rejected").await;
    browser.wait_text(lee, "pending").await;

    browser.goto("#/dashboard").await;
    browser.wait("svg.chart rect").await;
    browser.wait_text(".stats", "Leads").await;
    browser.shot("dashboard").await;

    browser.goto("#/api-keys").await;
    browser.fill("#key-form [name=name]", "web form").await;
    browser.click("#key-form button[type=submit]").await;
    let key = browser
        .wait("[data-testid=new-key]")
        .await
        .text()
        .await
        .unwrap();
    assert!(key.starts_with("lr_"), "the secret is shown once: {key}");
    browser.shot("api-keys").await;

    // The phone width still reads.
    browser.client.set_window_size(390, 844).await.unwrap();
    browser.goto("#/proposals").await;
    browser.wait(card).await;
    browser.shot("proposals-phone").await;
    browser.client.set_window_size(1280, 800).await.unwrap();
    browser.sign_out().await;

    // Bob, an agent, sees his lead and no manager screens.
    browser.sign_in("bob@acme.test", Some(&acme_id)).await;
    browser.goto("#/leads").await;
    browser
        .wait_text("tr[data-lead='Jane Prospect']", "assigned")
        .await;
    for screen in ["proposals", "agents", "users", "api-keys", "organizations"] {
        assert!(
            browser
                .absent(&format!("nav.side a[data-screen={screen}]"))
                .await,
            "an agent has no {screen} screen"
        );
    }
    browser.shot("agent-leads").await;
    browser.sign_out().await;

    // A manager of another organization sees none of it.
    browser
        .sign_in(&format!("gmanager@{globex_id}.test"), Some(&globex_id))
        .await;
    browser.wait_text("[data-testid=whoami]", "Manager").await;
    assert!(browser.absent("nav.side a[data-screen=users]").await);
    assert!(browser.absent("#org-switcher").await);
    browser.goto("#/proposals").await;
    browser.wait_text("#screen", "No proposals").await;
    browser.goto("#/leads").await;
    browser.wait_text("#screen", "No leads").await;
    browser.goto(&format!("#/proposals/{proposal_id}")).await;
    browser.wait_text("#screen [role=alert]", "not found").await;

    browser.client.close().await.unwrap();
}
