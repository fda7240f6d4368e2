//! The console in a real browser: headless Chromium driven through ChromeDriver (WebDriver,
//! `fantoccini`) against the real server built in this process on port 0, each page checked
//! with axe-core and photographed.
//!
//! The harness, for every browser test (the walk through the pages included):
//!
//! - [`Browser::open`] starts `chromedriver` (its own process, shut down and killed with its
//!   browser when the `Browser` is dropped, a failing test included) and a headless Chromium
//!   session at 1280×900 with a profile of its own, one browser at a time in this binary.
//!   Without `chromedriver` or `chromium` the test fails and names the Debian packages.
//! - Moving as a person does: [`Browser::goto`], [`Browser::sign_in`] (the form, filled and
//!   sent), [`Browser::sign_out`]; in the page ([`Browser::page`]) or in a section found by
//!   its heading ([`Browser::section`], a client's card on a list too), or in one form of it
//!   found by its button's words ([`Within::form`]), a [`Within`]: `fill` a field (`fill_date`
//!   a date, typed as a person types it), `choose` an option, `check` a box — each found by its
//!   label's words —, `press` a button or link by its words and wait for the page it leads to
//!   (`press_confirming` when it asks first). [`Browser::fill`] and [`Browser::press`] are the
//!   whole page's. A second tab: [`Browser::open_tab`], [`Browser::switch_to`],
//!   [`Browser::close_tab`].
//! - Reading the page: [`Browser::path`], [`Browser::status`] (the HTTP status it was answered
//!   with), [`Browser::text`], [`Browser::heading`], [`Browser::alert`], [`Browser::cell`] (a
//!   table cell by its row's and column's headers), [`Within::chosen`] (a list's chosen
//!   option), [`Browser::cookie`], and [`eventually`] for what changes by itself.
//! - Checking it: [`Browser::axe`] fails on any `serious` or `critical` axe-core violation
//!   (rule, help, the offending nodes' selectors); [`Browser::screenshot`] writes the whole
//!   page as a PNG under [`artifacts_dir`]`/screenshots/` and prints where.

use crate::api::Net;
use crate::people::{Person, sign_up};
use crate::support::Backend;
use carepath_engine::domain::Role;
use fantoccini::elements::Element;
use fantoccini::wd::TimeoutConfiguration;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// axe-core, vendored (`tests/fixtures/axe-core/README.md`).
const AXE: &str = include_str!("../fixtures/axe-core/axe.min.js");

/// How long a page, a redraw or a wait may take before the test fails (the whole suite runs
/// beside it on two cores).
const PATIENCE: Duration = Duration::from_secs(30);

/// The window every test sees.
const WIDTH: u32 = 1280;
const HEIGHT: u32 = 900;
/// A phone's width (an iPhone 12 to 15).
const PHONE: u32 = 390;

/// One browser at a time in this test binary: each is a handful of processes and a few hundred
/// megabytes, and the rest of the suite runs beside it.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Where a test run keeps what people look at afterwards: `$CAREPATH_ARTIFACTS` when set
/// (`scripts/test` sets it), else the build directory (`$CARGO_TARGET_DIR`, or `target/` in the
/// workspace).
pub fn artifacts_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"));
    if let Some(dir) = std::env::var_os("CAREPATH_ARTIFACTS").filter(|d| !d.is_empty()) {
        return workspace.join(dir);
    }
    match std::env::var_os("CARGO_TARGET_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => workspace.join(dir),
        None => workspace.join("target"),
    }
}

/// A program the browser tests need: `$<var>` when set, else `name` on the `PATH`.
fn program(var: &str, name: &str) -> PathBuf {
    let missing = |what: String| -> ! {
        panic!(
            "{what}. The browser tests need Chromium and ChromeDriver of the same version: on \
             Debian, `apt-get install chromium chromium-driver` (scripts/test installs both when \
             missing); elsewhere set CAREPATH_CHROMIUM and CAREPATH_CHROMEDRIVER to their paths."
        )
    };
    if let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        if !path.is_file() {
            missing(format!("{var} is {}, which is not a file", path.display()));
        }
        return path;
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| missing(format!("`{name}` is not on the PATH")))
}

/// `chromedriver` as a child process on a port it picked; on drop it is asked to shut down
/// (it closes its browser), and killed with every process under it if it does not.
struct ChromeDriver {
    child: Child,
    port: u16,
}

impl ChromeDriver {
    fn start(path: &Path) -> Self {
        let mut child = Command::new(path)
            .arg("--port=0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {}: {e}", path.display()));
        let stdout = child.stdout.take().expect("chromedriver's stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        // Read until it says its port, then keep draining so it never blocks on the pipe.
        std::thread::spawn(move || {
            let mut said = String::new();
            let mut port = None;
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref() {
                let Ok(line) = line else { break };
                said.push_str(&line);
                said.push('\n');
                // "ChromeDriver was started successfully on port 40123."
                if let Some(rest) = line.split("started successfully on port ").nth(1) {
                    port = rest.trim_end_matches('.').trim().parse::<u16>().ok();
                    break;
                }
            }
            let _ = tx.send(port.ok_or(said));
            for _ in lines {}
        });
        let port = match rx.recv_timeout(PATIENCE) {
            Ok(Ok(port)) => port,
            Ok(Err(said)) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromedriver did not say which port it listens on; it said:\n{said}")
            }
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("chromedriver did not start within {PATIENCE:?}")
            }
        };
        ChromeDriver { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `GET /shutdown`: ChromeDriver closes its sessions' browsers and exits.
    fn ask_to_shut_down(&self) -> std::io::Result<()> {
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        let mut s = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
        s.set_read_timeout(Some(Duration::from_secs(5)))?;
        s.write_all(b"GET /shutdown HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        Ok(())
    }
}

impl Drop for ChromeDriver {
    fn drop(&mut self) {
        if self.ask_to_shut_down().is_ok() {
            let until = Instant::now() + Duration::from_secs(10);
            while Instant::now() < until {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        // Not answering: kill it and everything it started (the browser's processes), by id.
        let pid = self.child.id();
        for p in descendants(pid) {
            // SAFETY: kill(2) with a pid and a signal has no memory effects.
            unsafe {
                libc::kill(p as libc::pid_t, libc::SIGKILL);
            }
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every process below `root`, from `/proc` (Linux).
fn descendants(root: u32) -> Vec<u32> {
    let mut parent_of: Vec<(u32, u32)> = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc") {
        for entry in dir.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // "pid (comm) state ppid …": the name may hold spaces and parentheses.
            let ppid = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    found.remove(0);
    found
}

/// A violation axe-core found.
#[derive(Debug, serde::Deserialize)]
pub struct Violation {
    pub id: String,
    pub impact: Option<String>,
    pub help: String,
    #[serde(rename = "helpUrl")]
    pub help_url: String,
    pub nodes: Vec<ViolationNode>,
}

#[derive(Debug, serde::Deserialize)]
pub struct ViolationNode {
    /// The node's CSS selector (a list: one per frame level).
    pub target: Vec<Value>,
    pub summary: Option<String>,
}

impl Violation {
    fn serious(&self) -> bool {
        matches!(self.impact.as_deref(), Some("serious" | "critical"))
    }

    fn describe(&self) -> String {
        let mut out = format!(
            "- {} ({}): {} <{}>\n",
            self.id,
            self.impact.as_deref().unwrap_or("no impact given"),
            self.help,
            self.help_url
        );
        for n in &self.nodes {
            let target: Vec<String> = n
                .target
                .iter()
                .map(|t| t.as_str().map_or_else(|| t.to_string(), str::to_owned))
                .collect();
            out.push_str(&format!("    at {}\n", target.join(" >>> ")));
            if let Some(s) = &n.summary {
                for line in s.lines() {
                    out.push_str(&format!("       {line}\n"));
                }
            }
        }
        out
    }
}

/// A headless Chromium on the console of the server at `base`.
pub struct Browser {
    client: Client,
    base: String,
    /// The test's name, the first part of its screenshots' names.
    test: String,
    // Dropped in this order: the driver (and its browser) before the profile it used.
    driver: ChromeDriver,
    _profile: tempfile::TempDir,
    _turn: tokio::sync::MutexGuard<'static, ()>,
}

impl Browser {
    /// A browser for the test `test` on the server at `base` (its URL, no trailing slash),
    /// on a blank page.
    pub async fn open(base: &str, test: &str) -> Self {
        let chromedriver = program("CAREPATH_CHROMEDRIVER", "chromedriver");
        let chromium = program("CAREPATH_CHROMIUM", "chromium");
        let turn = ONE_AT_A_TIME.lock().await;
        let profile = tempfile::tempdir().expect("a profile directory");
        let driver = ChromeDriver::start(&chromedriver);
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-gpu",
                    format!("--window-size={WIDTH},{HEIGHT}"),
                    "--disable-dev-shm-usage",
                    "--lang=en-US",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let caps = match caps {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&driver.url())
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "ChromeDriver ({}) could not start Chromium ({}): {e}\nAre both installed \
                     and of the same version (Debian: `apt-get install chromium chromium-driver`)?",
                    chromedriver.display(),
                    chromium.display()
                )
            });
        client
            .update_timeouts(TimeoutConfiguration::new(
                Some(Duration::from_secs(60)),
                Some(Duration::from_secs(60)),
                Some(Duration::ZERO),
            ))
            .await
            .expect("set the browser's timeouts");
        Browser {
            client,
            base: base.trim_end_matches('/').to_owned(),
            test: test.to_owned(),
            driver,
            _profile: profile,
            _turn: turn,
        }
    }

    /// The WebDriver client, for anything the helpers do not do.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Close the browser (the session first, then ChromeDriver).
    pub async fn close(self) {
        let Browser { client, driver, .. } = self;
        let _ = tokio::time::timeout(Duration::from_secs(10), client.close()).await;
        drop(driver);
    }

    /// Open `path` of the server, as typed in the address bar, and wait for it to load.
    pub async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap_or_else(|e| panic!("open {path}: {e}"));
        self.loaded().await;
    }

    /// The path (and query) of the page shown.
    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.expect("current URL");
        match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_owned(),
        }
    }

    /// Run `script` (a function body; `arguments` are `args`) in the page.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    async fn loaded(&self) {
        let what = "the page to load";
        eventually(what, || async move {
            let state = self.client.execute("return document.readyState", vec![]);
            (state.await.ok()? == "complete").then_some(())
        })
        .await
    }

    /// The one element matching `css`.
    pub async fn find(&self, css: &str) -> Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(e) => e,
            Err(e) => panic!("no `{css}` on {}: {e}", self.path().await),
        }
    }

    /// Whether an element matches `css`.
    pub async fn has(&self, css: &str) -> bool {
        !self
            .client
            .find_all(Locator::Css(css))
            .await
            .expect("find elements")
            .is_empty()
    }

    /// The visible text of the element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.expect("text")
    }

    /// The HTTP status the page shown was answered with (the Navigation Timing entry's
    /// `responseStatus`).
    pub async fn status(&self) -> u16 {
        let status = self
            .js(
                "const n = performance.getEntriesByType('navigation')[0]; \
                 return n ? n.responseStatus : null",
                vec![],
            )
            .await;
        match status.as_u64() {
            Some(s) => s as u16,
            None => panic!("no response status for {}: {status}", self.path().await),
        }
    }

    /// Open `path` in a new tab and show it; the tab's handle (go back with
    /// [`Self::switch_to`]).
    pub async fn open_tab(&self, path: &str) -> fantoccini::wd::WindowHandle {
        let tab = self
            .client
            .new_window(true)
            .await
            .expect("open a tab")
            .handle;
        self.switch_to(tab.clone()).await;
        self.goto(path).await;
        tab
    }

    /// The tab shown now.
    pub async fn tab(&self) -> fantoccini::wd::WindowHandle {
        self.client.window().await.expect("the tab shown")
    }

    /// Show the tab `tab`.
    pub async fn switch_to(&self, tab: fantoccini::wd::WindowHandle) {
        self.client
            .switch_to_window(tab)
            .await
            .expect("switch tabs");
    }

    /// Close the tab shown and show `then`.
    pub async fn close_tab(&self, then: fantoccini::wd::WindowHandle) {
        self.client.close_window().await.expect("close the tab");
        self.switch_to(then).await;
    }

    /// The page's `<h1>`.
    pub async fn heading(&self) -> String {
        self.text("h1").await
    }

    /// The text of the page's alert (`role="alert"`: a refusal, a problem), if it shows one.
    pub async fn alert(&self) -> Option<String> {
        match self.client.find(Locator::Css("[role=alert]")).await {
            Ok(e) => Some(e.text().await.expect("text")),
            Err(e) if e.is_no_such_element() => None,
            Err(e) => panic!("look for an alert: {e}"),
        }
    }

    /// The whole page, as a scope to find fields and buttons in.
    pub fn page(&self) -> Within<'_> {
        Within {
            browser: self,
            root: None,
            name: "the page".into(),
        }
    }

    /// The `<section>` (or `<article>`: a client's card on a list) of the page under the
    /// heading `heading` — its words, its own words before a badge, or the words of the link
    /// it is — as a scope: where a page has several forms, a person finds the one they want by
    /// its heading.
    pub async fn section(&self, heading: &str) -> Within<'_> {
        let h = xpath_literal(heading);
        let xpath = format!(
            "//*[self::h1 or self::h2 or self::h3 or self::h4]\
             [normalize-space(.) = {h} or normalize-space(text()) = {h} \
             or normalize-space(a) = {h}]/ancestor::*[self::section or self::article][1]"
        );
        let found = self
            .client
            .find_all(Locator::XPath(&xpath))
            .await
            .expect("find sections");
        let [root] = found.as_slice() else {
            panic!(
                "{} sections are headed {heading:?} on {}",
                found.len(),
                self.path().await
            );
        };
        Within {
            browser: self,
            root: Some(root.clone()),
            name: format!("the section {heading:?}"),
        }
    }

    /// The titles of the next steps a client's page leads with, in order.
    pub async fn next_steps(&self) -> Vec<String> {
        let titles = self
            .js(
                "return [...document.querySelectorAll('ol.steps details.panel > summary \
                 .panel-title')].map((t) => t.textContent.replace(/\\s+/g, ' ').trim())",
                vec![],
            )
            .await;
        serde_json::from_value(titles).expect("the steps' titles")
    }

    /// The panel of a client's page whose title begins with `title` (a next step, or a form
    /// behind "More actions"), opened as a person opens it — "More actions" first when it is
    /// behind it, then its own summary —, as a scope.
    pub async fn panel(&self, title: &str) -> Within<'_> {
        let t = xpath_literal(title);
        let xpath = format!(
            "//details[contains(@class, 'panel')]\
             [summary/span[@class = 'panel-title'][starts-with(normalize-space(.), {t})]]"
        );
        let found = self
            .client
            .find_all(Locator::XPath(&xpath))
            .await
            .expect("find panels");
        let [panel] = found.as_slice() else {
            panic!(
                "{} panels' titles begin {title:?} on {}; the steps: {:?}",
                found.len(),
                self.path().await,
                self.next_steps().await
            );
        };
        let opened = |el: &Element| {
            let el = el.clone();
            async move { el.attr("open").await.expect("attribute").is_some() }
        };
        if let Ok(more) = panel
            .find(Locator::XPath(
                "ancestor::details[contains(@class, 'more')]",
            ))
            .await
            && !opened(&more).await
        {
            more.find(Locator::Css(":scope > summary"))
                .await
                .expect("the summary of More actions")
                .click()
                .await
                .expect("open More actions");
        }
        if !opened(panel).await {
            panel
                .find(Locator::Css(":scope > summary"))
                .await
                .expect("the panel's summary")
                .click()
                .await
                .expect("open the panel");
        }
        Within {
            browser: self,
            root: Some(panel.clone()),
            name: format!("the panel {title:?}"),
        }
    }

    /// Type `value` into the field labelled `label` on the page ([`Within::fill`]).
    pub async fn fill(&self, label: &str, value: &str) {
        self.page().fill(label, value).await
    }

    /// Press the button or link saying `words` on the page ([`Within::press`]).
    pub async fn press(&self, words: &str) {
        self.page().press(words).await
    }

    /// Sign in with an e-mail address and password through the sign-in form, and then the
    /// code `code` gives when one is asked for: the path of the page it led to, or the refusal
    /// shown.
    pub async fn try_sign_in_with(
        &self,
        email: &str,
        password: &str,
        code: impl Future<Output = String>,
    ) -> Result<String, String> {
        self.goto("/sign-in").await;
        self.fill("E-mail address", email).await;
        self.fill("Password", password).await;
        self.press("Sign in").await;
        if self.path().await == "/sign-in/code" {
            self.fill("Code", &code.await).await;
            self.press("Continue").await;
        }
        let path = self.path().await;
        if path.starts_with("/sign-in") {
            Err(self
                .alert()
                .await
                .unwrap_or_else(|| format!("({path} again, with no alert)")))
        } else {
            Ok(path)
        }
    }

    /// Sign `person` in (which must be accepted): the path of the first page.
    pub async fn sign_in(&self, person: &Person) -> String {
        self.try_sign_in_with(&person.email, &person.password, person.next_code())
            .await
            .unwrap_or_else(|refusal| panic!("sign-in refused: {refusal}"))
    }

    /// Sign out with the header's button.
    pub async fn sign_out(&self) {
        self.press("Sign out").await;
    }

    /// The value of the cookie `name`, if the browser holds it.
    pub async fn cookie(&self, name: &str) -> Option<fantoccini::cookies::Cookie<'static>> {
        match self.client.get_named_cookie(name).await {
            Ok(c) => Some(c),
            Err(e) if e.is_no_such_cookie() => None,
            Err(e) => panic!("read cookie {name}: {e}"),
        }
    }

    /// The text of the table cell in the row headed `row` (its first cell) and the column
    /// headed `column`, in the first table of the page that has both; `None` if none has.
    pub async fn cell(&self, row: &str, column: &str) -> Option<String> {
        let script = r#"
            const [row, column] = arguments;
            const words = (el) => el.textContent.replace(/\s+/g, " ").trim();
            for (const table of document.querySelectorAll("table")) {
                const heads = [...table.querySelectorAll("thead th")].map(words);
                const at = heads.indexOf(column);
                if (at < 0) continue;
                for (const tr of table.querySelectorAll("tbody tr")) {
                    if (tr.children[0] && words(tr.children[0]) === row) {
                        return tr.children[at] ? words(tr.children[at]) : null;
                    }
                }
            }
            return null;"#;
        self.js(script, vec![json!(row), json!(column)])
            .await
            .as_str()
            .map(str::to_owned)
    }

    /// Photograph the whole page (the window grown to its height) as
    /// `<artifacts>/screenshots/<test>--<name>.png`; its path, printed.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        self.screenshot_at(name, WIDTH).await
    }

    /// The page at a phone's width (390 px): nothing on it wider than the screen
    /// (`document.documentElement.scrollWidth <= innerWidth`), photographed as `<name>-390`.
    pub async fn on_a_phone(&self, name: &str) {
        self.client
            .set_window_size(PHONE, HEIGHT)
            .await
            .expect("a phone's width");
        let sizes = self
            .js(
                "return [document.documentElement.scrollWidth, window.innerWidth, \
                 [...document.querySelectorAll('body *')].filter((e) => \
                 e.getBoundingClientRect().right > window.innerWidth + 1 && e.checkVisibility()) \
                 .slice(0, 5).map((e) => e.tagName + '.' + e.className).join(', ')]",
                vec![],
            )
            .await;
        self.screenshot_at(&format!("{name}-390"), PHONE).await;
        self.client
            .set_window_size(WIDTH, HEIGHT)
            .await
            .expect("restore the window");
        let (wide, inner) = (
            sizes[0].as_u64().unwrap_or(0),
            sizes[1].as_u64().unwrap_or(0),
        );
        assert!(
            wide <= inner,
            "{name} ({}) is {wide} px wide on a {inner} px screen; wider than it: {}",
            self.path().await,
            sizes[2]
        );
    }

    /// As [`Self::screenshot`], the window `width` wide.
    pub async fn screenshot_at(&self, name: &str, width: u32) -> PathBuf {
        let dir = artifacts_dir().join("screenshots");
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("create {}: {e}", dir.display()));
        // The page's height, and what the window holds beyond its viewport (143 px in
        // headless Chromium).
        let sizes = self
            .js(
                "return [Math.ceil(document.documentElement.scrollHeight), \
                 window.innerHeight, window.outerHeight - window.innerHeight]",
                vec![],
            )
            .await;
        let size = |i: usize| sizes[i].as_u64().unwrap_or(0) as u32;
        let (page, viewport, frame) = (size(0), size(1), size(2));
        let grown = page > viewport;
        if grown {
            self.client
                .set_window_size(width, (page + frame).min(10_000))
                .await
                .expect("grow the window");
        }
        let png = self.client.screenshot().await.expect("screenshot");
        if grown {
            self.client
                .set_window_size(width, HEIGHT)
                .await
                .expect("restore the window");
        }
        let path = dir.join(format!("{}--{name}.png", self.test));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        println!("screenshot: {}", path.display());
        path
    }

    /// Run axe-core in the page shown and fail on any violation of impact `serious` or
    /// `critical` (rule, help, the offending nodes' selectors); lesser ones are printed. `page`
    /// names the page in the messages.
    pub async fn axe(&self, page: &str) {
        let violations = self.axe_violations(page).await;
        let path = self.path().await;
        let (serious, lesser): (Vec<&Violation>, Vec<&Violation>) =
            violations.iter().partition(|v| v.serious());
        if !lesser.is_empty() {
            let list: String = lesser.iter().map(|v| v.describe()).collect();
            println!("axe on {page} ({path}), lesser violations:\n{list}");
        }
        if !serious.is_empty() {
            let list: String = serious.iter().map(|v| v.describe()).collect();
            panic!(
                "axe found {} serious or critical violation(s) on {page} ({path}):\n{list}",
                serious.len()
            );
        }
    }

    /// Every violation axe-core finds in the page shown.
    pub async fn axe_violations(&self, page: &str) -> Vec<Violation> {
        let present = self
            .js("return typeof window.axe === 'object'", vec![])
            .await;
        if present != true {
            // Through WebDriver, which the page's Content-Security-Policy does not govern.
            self.js(AXE, vec![]).await;
        }
        let script = r#"
            const done = arguments[arguments.length - 1];
            axe.run(document, { resultTypes: ["violations"] }).then(
                (r) => done({ violations: r.violations.map((v) => ({
                    id: v.id, impact: v.impact, help: v.help, helpUrl: v.helpUrl,
                    nodes: v.nodes.map((n) => ({ target: n.target, summary: n.failureSummary })),
                })) }),
                (e) => done({ error: String((e && e.stack) || e) }),
            );"#;
        let answer = self
            .client
            .execute_async(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("axe on {page}: {e}"));
        if let Some(e) = answer.get("error") {
            panic!("axe failed on {page}: {e}");
        }
        serde_json::from_value(answer["violations"].clone()).expect("axe's answer")
    }
}

/// A Chrome DevTools command sent through ChromeDriver (`goog/cdp/execute`), for what WebDriver
/// has no command for: showing the page as it prints.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base: &reqwest::Url,
        session: Option<&str>,
    ) -> Result<reqwest::Url, <reqwest::Url as std::str::FromStr>::Err> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &reqwest::Url) -> (axum::http::Method, Option<String>) {
        (
            axum::http::Method::POST,
            Some(json!({ "cmd": self.cmd, "params": self.params }).to_string()),
        )
    }
}

impl Browser {
    /// Show the page as it prints (`print` media), or as on screen again.
    pub async fn as_printed(&self, printed: bool) {
        self.client
            .issue_cmd(Cdp {
                cmd: "Emulation.setEmulatedMedia",
                params: json!({ "media": if printed { "print" } else { "" } }),
            })
            .await
            .expect("emulate print media");
    }

    /// How many of the page's forms a person sees now.
    pub async fn forms_shown(&self) -> u64 {
        self.js(
            "return [...document.querySelectorAll('form')].filter((f) => f.checkVisibility()).length",
            vec![],
        )
        .await
        .as_u64()
        .expect("a count")
    }
}

/// A part of the page — the whole page, or a section found by its heading — in which fields
/// are found by their labels and buttons by their words, as a person finds them.
pub struct Within<'a> {
    browser: &'a Browser,
    /// `None`: the whole document.
    root: Option<Element>,
    /// For messages.
    name: String,
}

impl Within<'_> {
    async fn all(&self, xpath: &str) -> Vec<Element> {
        let found = match &self.root {
            Some(root) => root.find_all(Locator::XPath(xpath)).await,
            None => self.browser.client.find_all(Locator::XPath(xpath)).await,
        };
        found.unwrap_or_else(|e| panic!("find {xpath} in {}: {e}", self.name))
    }

    /// The words of every label here, for a message that says what there was instead.
    async fn labels(&self) -> Vec<String> {
        let mut out = Vec::new();
        for l in self.all(".//label").await {
            let words = l.text().await.unwrap_or_default();
            out.push(words.lines().next().unwrap_or("").trim().to_owned());
        }
        out
    }

    /// The form field labelled `label`: a `<label>` whose own words (the text before or
    /// around its control, spaces collapsed) are exactly `label`, and the control it names
    /// (`for`) or holds.
    pub async fn field(&self, label: &str) -> Element {
        let xpath = format!(
            ".//label[normalize-space(text()) = {}]",
            xpath_literal(label)
        );
        let labels = self.all(&xpath).await;
        let [found] = labels.as_slice() else {
            panic!(
                "{} labels say {label:?} in {} on {}; its labels: {:?}",
                labels.len(),
                self.name,
                self.browser.path().await,
                self.labels().await
            );
        };
        match found.attr("for").await.expect("attribute") {
            Some(id) => {
                self.browser
                    .find(&format!("[id={}]", css_string(&id)))
                    .await
            }
            None => found
                .find(Locator::Css("input, select, textarea"))
                .await
                .unwrap_or_else(|e| panic!("the label {label:?} holds no field: {e}")),
        }
    }

    /// Type `value` into the field labelled `label` (emptied first).
    pub async fn fill(&self, label: &str, value: &str) {
        let field = self.field(label).await;
        field.clear().await.expect("clear the field");
        field.send_keys(value).await.expect("type into the field");
    }

    /// The form here whose button says `words`, as a scope (where one card holds two forms
    /// with fields of the same name: a booking and a refill each with a "Kind").
    pub async fn form(&self, words: &str) -> Within<'_> {
        let w = xpath_literal(words);
        let xpath = format!(
            ".//form[.//button[normalize-space(.) = {w}] \
             or .//input[@type = 'submit' and @value = {w}]]"
        );
        let found = self.all(&xpath).await;
        let [form] = found.as_slice() else {
            panic!(
                "{} forms have a button saying {words:?} in {} on {}",
                found.len(),
                self.name,
                self.browser.path().await
            );
        };
        Within {
            browser: self.browser,
            root: Some(form.clone()),
            name: format!("the form {words:?} of {}", self.name),
        }
    }

    /// Type the day `day` into the date field labelled `label` as a person types it in the
    /// browser's (en-US) date field — month, day, year — and check the field took it.
    pub async fn fill_date(&self, label: &str, day: chrono::NaiveDate) {
        let field = self.field(label).await;
        field.clear().await.expect("clear the field");
        field
            .send_keys(&day.format("%m%d%Y").to_string())
            .await
            .expect("type the date");
        let took = field.prop("value").await.expect("the field's value");
        let want = day.format("%Y-%m-%d").to_string();
        assert_eq!(
            took.as_deref(),
            Some(want.as_str()),
            "the date field {label:?} in {} did not take {want}",
            self.name
        );
    }

    /// Choose the option saying `option` in the list labelled `label`.
    pub async fn choose(&self, label: &str, option: &str) {
        let list = self.field(label).await;
        if let Err(e) = list.select_by_label(option).await {
            let mut options = Vec::new();
            for o in list
                .find_all(Locator::Css("option"))
                .await
                .unwrap_or_default()
            {
                options.push(o.text().await.unwrap_or_default());
            }
            panic!(
                "no option {option:?} for {label:?} in {} ({e}); its options: {options:?}",
                self.name
            );
        }
    }

    /// The words of the option chosen in the list labelled `label`, as the page opened it.
    pub async fn chosen(&self, label: &str) -> String {
        let list = self.field(label).await;
        let chosen = self
            .browser
            .js(
                "const s = arguments[0]; const o = s.options[s.selectedIndex]; \
                 return o ? o.textContent.replace(/\\s+/g, ' ').trim() : null",
                vec![serde_json::to_value(&list).expect("the list as an argument")],
            )
            .await;
        chosen
            .as_str()
            .unwrap_or_else(|| panic!("nothing chosen for {label:?} in {}", self.name))
            .to_owned()
    }

    /// Tick the box whose label begins with `words` (a provider, whose label goes on with the
    /// places it has open), if it is not ticked already.
    pub async fn check_starting(&self, words: &str) {
        let xpath = format!(
            ".//label[starts-with(normalize-space(.), {})]/input[@type = 'checkbox']",
            xpath_literal(words)
        );
        let found = self.all(&xpath).await;
        let [field] = found.as_slice() else {
            panic!(
                "{} boxes' labels begin {words:?} in {}; its labels: {:?}",
                found.len(),
                self.name,
                self.labels().await
            );
        };
        if !field.is_selected().await.expect("is it ticked") {
            field.click().await.expect("tick the box");
        }
    }

    /// The value of the field labelled `label`, as the page shows it now.
    pub async fn value(&self, label: &str) -> String {
        self.field(label)
            .await
            .prop("value")
            .await
            .expect("the field's value")
            .unwrap_or_default()
    }

    /// Tick the box (or radio button) labelled `label`, if it is not ticked already.
    pub async fn check(&self, label: &str) {
        let field = self.field(label).await;
        if !field.is_selected().await.expect("is it ticked") {
            field.click().await.expect("tick the box");
        }
    }

    /// Press the button (or follow the link) whose words are `words`, and wait for the page it
    /// leads to. A button that asks first (`data-confirm`) fails here: use
    /// [`Self::press_confirming`].
    pub async fn press(&self, words: &str) {
        self.press_answering(words, false).await
    }

    /// Follow the link saying `words` to a place on the same page (`#…`): no page is loaded.
    pub async fn follow_in_page(&self, words: &str) {
        let xpath = format!(
            ".//a[normalize-space(.) = {}][starts-with(@href, '#')]",
            xpath_literal(words)
        );
        let found = self.all(&xpath).await;
        let [link] = found.as_slice() else {
            panic!(
                "{} in-page links say {words:?} in {}",
                found.len(),
                self.name
            );
        };
        link.click()
            .await
            .unwrap_or_else(|e| panic!("follow {words:?}: {e}"));
    }

    /// Press the button saying `words`, answer yes to the question it asks, and wait for the
    /// page it leads to.
    pub async fn press_confirming(&self, words: &str) {
        self.press_answering(words, true).await
    }

    async fn press_answering(&self, words: &str, confirm: bool) {
        let b = self.browser;
        let w = xpath_literal(words);
        let xpath = format!(
            ".//button[normalize-space(.) = {w}] | .//input[@type = 'submit' and @value = {w}] \
             | .//a[normalize-space(.) = {w}]"
        );
        let found = self.all(&xpath).await;
        let [target] = found.as_slice() else {
            panic!(
                "{} buttons or links say {words:?} in {} on {}",
                found.len(),
                self.name,
                b.path().await
            );
        };
        // The page before is marked; the press has led somewhere once the mark is gone.
        b.js("window.__carepathBefore = true", vec![]).await;
        target
            .click()
            .await
            .unwrap_or_else(|e| panic!("press {words:?}: {e}"));
        match b.client.get_alert_text().await {
            Ok(question) if confirm => b
                .client
                .accept_alert()
                .await
                .unwrap_or_else(|e| panic!("answer {question:?}: {e}")),
            Ok(question) => {
                let _ = b.client.dismiss_alert().await;
                panic!("pressing {words:?} asked {question:?}: use press_confirming");
            }
            Err(e) if e.is_no_such_alert() => {
                assert!(!confirm, "pressing {words:?} asked nothing");
            }
            Err(e) => panic!("after pressing {words:?}: {e}"),
        }
        eventually(
            &format!("the page after pressing {words:?}"),
            || async move {
                let gone = b
                    .client
                    .execute(
                        "return window.__carepathBefore === undefined && document.readyState",
                        vec![],
                    )
                    .await
                    .ok()?;
                (gone == "complete").then_some(())
            },
        )
        .await
    }
}

/// Wait until `probe` gives something (polled every 100 ms), at most [`PATIENCE`]; fail
/// naming `what` otherwise.
pub async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let until = Instant::now() + PATIENCE;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            Instant::now() < until,
            "waited {PATIENCE:?} for {what} in vain"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `s` as an XPath 1.0 string literal.
fn xpath_literal(s: &str) -> String {
    if !s.contains('\'') {
        format!("'{s}'")
    } else if !s.contains('"') {
        format!("\"{s}\"")
    } else {
        let parts: Vec<String> = s.split('\'').map(|p| format!("'{p}'")).collect();
        format!("concat({})", parts.join(", \"'\", "))
    }
}

/// `s` as a CSS string.
fn css_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

// ---------------------------------------------------------------------------------------------
// The tests.

/// A network (`api::Net`) with a case manager, Dana Reyes, signed up (password and TOTP).
async fn network() -> (Net, Person) {
    let net = Net::new(Backend::Sqlite).await;
    let dana = sign_up(&net.s.engine, net.home, Role::CaseManager, "Dana Reyes").await;
    (net, dana)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_in_page_signs_a_person_in_and_out() {
    let (net, dana) = network().await;
    let b = Browser::open(&net.s.url, "sign-in").await;

    b.goto("/sign-in").await;
    assert_eq!(b.heading().await, "Sign in to Carepath");
    b.screenshot("01-sign-in").await;
    b.axe("the sign-in page").await;

    // The page's Content-Security-Policy holds in the browser: an inline script added to the
    // page does not run (what WebDriver runs, axe included, is outside it).
    let ran = b
        .js(
            "const s = document.createElement('script'); \
             s.textContent = 'window.__inlineRan = true'; document.body.appendChild(s); \
             return window.__inlineRan === true",
            vec![],
        )
        .await;
    assert_eq!(ran, false, "an inline script ran despite script-src 'self'");

    // A wrong password is refused in words that do not say which part was wrong, and
    // nobody is signed in.
    let refusal = b
        .try_sign_in_with(&dana.email, "not the password at all", async {
            String::from("000000")
        })
        .await
        .expect_err("a wrong password is refused");
    assert!(
        refusal.contains("That did not sign you in"),
        "the refusal: {refusal}"
    );
    assert!(b.cookie("carepath_session").await.is_none());
    b.screenshot("02-refused").await;
    b.axe("the sign-in page with its refusal").await;

    // The right one, and a code, land on the census board, signed in as the person.
    assert_eq!(b.sign_in(&dana).await, "/census");
    assert_eq!(b.heading().await, "Census");
    let who = b.text("header .who").await;
    assert!(
        who.contains("Dana Reyes") && who.contains("Harbor Case Management"),
        "the header says: {who}"
    );
    let session = b
        .cookie("carepath_session")
        .await
        .expect("a session cookie");
    assert_eq!(session.http_only(), Some(true), "{session:?}");
    let readable = b.js("return document.cookie", vec![]).await;
    assert!(
        !readable.as_str().unwrap_or("").contains("carepath_session"),
        "the page's script can read the session: {readable}"
    );
    b.screenshot("03-census").await;
    b.axe("the census board").await;

    // Signing out returns to sign-in, and the old session opens nothing.
    b.sign_out().await;
    assert_eq!(b.path().await, "/sign-in");
    assert!(b.cookie("carepath_session").await.is_none());
    b.screenshot("04-signed-out").await;
    b.client()
        .add_cookie(session.clone())
        .await
        .expect("put the old cookie back");
    b.goto("/census").await;
    assert_eq!(
        b.path().await,
        "/sign-in",
        "the old session still opens the census"
    );

    // The check itself sees what it should: a button with no name, added here, is critical.
    b.js(
        "document.querySelector('main').appendChild(document.createElement('button'))",
        vec![],
    )
    .await;
    let found = b
        .axe_violations("the sign-in page with a nameless button")
        .await;
    assert!(
        found.iter().any(|v| v.id == "button-name" && v.serious()),
        "axe missed a nameless button: {found:?}"
    );
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_census_board_updates_live() {
    let (net, dana) = network().await;
    let b = Browser::open(&net.s.url, "census-live").await;
    assert_eq!(b.sign_in(&dana).await, "/census");
    assert!(b.has("#board[data-live]").await, "the board is not live");
    let provider = "detox provider";
    assert_eq!(b.cell(provider, "In care").await.as_deref(), Some("0"));
    assert_eq!(b.cell(provider, "Open").await.as_deref(), Some("50"));

    // This document, marked: a reload would lose the mark.
    b.js("window.__sameDocument = 'census'", vec![]).await;

    // The board listens on /live once its script has connected: until a commit has redrawn
    // it once (a client registered, no figure changed), the admission below could come first.
    let mut tries = 0;
    eventually("the board's first redraw (does /live send events?)", || {
        tries += 1;
        let b = &b;
        let net = &net;
        async move {
            if tries % 20 == 1 {
                net.register().await;
            }
            let refreshed = b.find("#board").await.attr("data-refreshed").await.ok()?;
            refreshed.map(|_| ())
        }
    })
    .await;

    // A client admitted over GraphQL: the board's cell changes without a reload.
    net.admitted("detox", 40.0).await;
    eventually("the detox provider's clients in care to read 1", || async {
        (b.cell(provider, "In care").await.as_deref() == Some("1")).then_some(())
    })
    .await;
    assert_eq!(b.cell(provider, "Open").await.as_deref(), Some("49"));
    assert_eq!(
        b.js("return window.__sameDocument", vec![]).await,
        "census",
        "the page was reloaded, not redrawn"
    );
    assert_eq!(b.path().await, "/census");
    b.screenshot("01-after-an-admission").await;
    b.axe("the census board, redrawn").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_manager_registers_consents_admits_and_discharges_a_client_through_the_pages() {
    let (net, dana) = network().await;
    let b = Browser::open(&net.s.url, "client").await;
    b.sign_in(&dana).await;

    b.press("Clients").await;
    assert_eq!(b.path().await, "/clients");
    b.screenshot("01-clients").await;
    b.axe("the clients page").await;
    let register = b.section("Register a client").await;
    register.fill("Name", "Marisol Quintero").await;
    register.fill("Record number", "MRN-004217").await;
    register.fill("Year of birth", "1987").await;
    register.press("Register").await;
    assert!(
        b.path().await.starts_with("/clients/"),
        "{}",
        b.path().await
    );
    assert_eq!(b.text("[role=status]").await, "The client was registered.");
    assert!(b.heading().await.contains("Marisol Quintero"));
    b.screenshot("02-registered").await;
    b.axe("a client's page, just registered").await;
    b.on_a_phone("02-registered").await;

    // A client just registered: the page leads with the three steps to admission, the first
    // open, and the case manager follows them, typing no address and scrolling to no form.
    assert_eq!(
        b.next_steps().await,
        ["Record a Part 2 consent", "Record an assessment", "Admit"]
    );
    let consent = b.panel("Record a Part 2 consent").await;
    consent.check("detox provider").await;
    consent.press("Record consent").await;
    assert_eq!(b.text("[role=status]").await, "The consent was recorded.");
    assert_eq!(b.next_steps().await, ["Record an assessment", "Admit"]);
    let assess = b.panel("Record an assessment").await;
    assess
        .choose("Recommended level", "Withdrawal management")
        .await;
    assess.press("Record").await;
    assert_eq!(
        b.text("[role=status]").await,
        "The assessment was recorded."
    );
    // The admission opens on the level the assessment recommends, at a provider of it.
    assert_eq!(b.next_steps().await, ["Admit to Withdrawal management"]);
    let admit = b.panel("Admit to Withdrawal management").await;
    assert_eq!(admit.chosen("Level").await, "Withdrawal management");
    assert!(
        admit
            .chosen("Provider")
            .await
            .starts_with("detox provider — Withdrawal management, "),
        "{}",
        admit.chosen("Provider").await
    );
    b.screenshot("03-admit-as-the-step-says").await;
    admit.press("Admit").await;
    assert_eq!(b.text("[role=status]").await, "The client was admitted.");
    b.screenshot("03-admitted").await;
    b.axe("a client's page, admitted").await;
    // Printed, the page is the client's summary: no form.
    assert!(b.forms_shown().await > 0);
    b.as_printed(true).await;
    assert_eq!(b.forms_shown().await, 0, "a form on the printed page");
    let printed = b.text("main").await;
    assert!(
        printed.contains("Where things stand") && printed.contains("Consents"),
        "{printed}"
    );
    b.screenshot("03-printed").await;
    b.as_printed(false).await;

    // A move before its gates are met comes back in place: the move's form open, what was
    // typed kept, each unmet gate in the checklist's words beside the move with the form
    // that meets it.
    let client_page = b.path().await;
    let client_page = client_page.split('?').next().unwrap().to_owned();
    let mv = b.panel("Move to another level now").await;
    mv.choose("Move", "Step down to Residential treatment")
        .await;
    mv.fill("Planned hours a week", "31").await;
    mv.press("Move").await;
    assert_eq!(b.status().await, 422);
    assert_eq!(b.path().await, format!("{client_page}/move"));
    let said = b.alert().await.expect("the refusal, as an alert");
    assert!(
        said.contains("Not every gate of this move is met yet")
            && said.contains("Accepted referral: no referral to Residential treatment accepted"),
        "{said}"
    );
    let mv = b.panel("Move to another level now").await;
    assert_eq!(
        mv.chosen("Move").await,
        "Step down to Residential treatment"
    );
    assert_eq!(mv.value("Planned hours a week").await, "31");
    b.screenshot("04-a-refused-move-in-place").await;
    b.axe("a client's page, a move refused in place").await;
    // Its fix is one click away: the referral form, opened where it is.
    mv.follow_in_page("Send a referral").await;
    let open = b
        .js(
            "return document.getElementById('send-referral').checkVisibility()",
            vec![],
        )
        .await;
    assert_eq!(open, true, "the referral form is shown");
    b.goto(&client_page).await;

    b.press("Census").await;
    assert_eq!(
        b.cell("detox provider", "In care").await.as_deref(),
        Some("1")
    );

    b.press("Clients").await;
    b.fill("Name or record number", "quintero").await;
    b.press("Find").await;
    let status = b.cell("Marisol Quintero", "Status").await;
    assert!(status.is_some(), "the search found nobody");
    b.screenshot("04-found").await;
    b.axe("the clients page, searched").await;
    b.on_a_phone("04-found").await;

    // The same name registered again is held back, the one already registered shown with its
    // record number, what was typed kept; registered only when asked again.
    let register = b.section("Register a client").await;
    register.fill("Name", "marisol  quintero").await;
    register.fill("Record number", "MRN-009999").await;
    register.press("Register").await;
    assert_eq!(b.status().await, 409);
    let said = b.alert().await.expect("the same name, said");
    assert!(
        said.contains("Already registered under this name")
            && said.contains("Marisol Quintero, record number MRN-004217"),
        "{said}"
    );
    let register = b.section("Register a client").await;
    assert_eq!(register.value("Record number").await, "MRN-009999");
    b.screenshot("04-same-name").await;
    b.axe("the clients page, a name already registered").await;
    b.press("Clients").await;

    // Discharge asks first.
    b.press("Marisol Quintero").await;
    let discharge = b.panel("Discharge").await;
    discharge
        .choose("Kind", "Left against medical advice")
        .await;
    discharge.press_confirming("Discharge").await;
    assert_eq!(b.text("[role=status]").await, "The client was discharged.");
    b.screenshot("05-discharged").await;
    b.axe("a client's page, discharged").await;
    b.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_no_show_the_client_page_says_so_once_and_offers_three_ways_on() {
    let (net, dana) = network().await;
    let c = net.admitted("detox", 40.0).await;
    let referral = net.refer(&c, "residential").await;
    net.accept("residential", &referral).await;
    net.cm(
        &Net::transition_query(),
        json!({ "c": c, "k": "STEP_DOWN", "l": "residential", "h": 30.0 }),
    )
    .await;
    net.s
        .ok(
            net.partner("residential"),
            &format!(
                "mutation($c: UUID!) {{ reportNoShow(clientId: $c) {} }}",
                crate::api::RESULT
            ),
            json!({ "c": c }),
        )
        .await;

    let b = Browser::open(&net.s.url, "no-show").await;
    b.sign_in(&dana).await;
    b.goto(&format!("/clients/{c}")).await;
    let said = b.text(".situation").await;
    assert!(
        said.starts_with("Did not arrive at residential provider for Residential treatment"),
        "{said}"
    );
    let main = main_text(&b).await;
    assert!(
        !main.contains("On the way to"),
        "the page still says the client is on the way: {main}"
    );
    assert_eq!(
        b.next_steps().await,
        [
            "Send a referral elsewhere",
            "Record a late arrival",
            "Discharge"
        ]
    );
    assert!(
        !main.contains("Report a no-show"),
        "a second no-show offered: {main}"
    );
    // Elsewhere: the provider the client did not reach is not offered again.
    let elsewhere = b.panel("Send a referral elsewhere").await;
    assert_eq!(
        elsewhere.chosen("To the level").await,
        "Residential treatment"
    );
    let offered = b.text("#send-referral fieldset").await;
    assert!(!offered.contains("residential provider"), "{offered}");
    look(&b, "01-after-a-no-show").await;
    b.close().await;
}

// ---------------------------------------------------------------------------------------------
// The walk: detox, residential, discharge, through the pages, as the people do it.

/// A readiness checklist of a client's page as drawn: its title, its badge, each gate's mark,
/// words and the button offered for it.
#[derive(Debug, serde::Deserialize)]
struct DrawnChecklist {
    title: String,
    badge: String,
    gates: Vec<DrawnGate>,
}

#[derive(Debug, serde::Deserialize)]
struct DrawnGate {
    mark: String,
    what: String,
    words: String,
    button: Option<String>,
}

impl DrawnChecklist {
    /// Every gate ✓ and the badge says "ready".
    fn green(&self) -> bool {
        !self.gates.is_empty() && self.gates.iter().all(|g| g.mark == "✓") && self.badge == "ready"
    }

    fn gate(&self, what: &str) -> &DrawnGate {
        self.gates
            .iter()
            .find(|g| g.what == what)
            .unwrap_or_else(|| panic!("no gate {what:?} in {self:#?}"))
    }
}

/// The checklist whose title begins with `title` ("Ready for the planned discharge") on the
/// client page shown (the title names the receiving provider once one has accepted).
async fn checklist(b: &Browser, title: &str) -> Option<DrawnChecklist> {
    let script = r#"
        const [title] = arguments;
        const words = (el) => el ? el.textContent.replace(/\s+/g, " ").trim() : null;
        for (const ul of document.querySelectorAll("ul.gates")) {
            const h = ul.previousElementSibling;
            if (!h) continue;
            const own = [...h.childNodes].filter((n) => n.nodeType === Node.TEXT_NODE)
                .map((n) => n.textContent).join(" ").replace(/\s+/g, " ").trim();
            if (!own.startsWith(title)) continue;
            return {
                title: own,
                badge: words(h.querySelector(".pill")) || "",
                gates: [...ul.querySelectorAll(":scope > li")].map((li) => ({
                    mark: words(li.querySelector(".mark")),
                    what: words(li.querySelector("strong")),
                    words: words(li),
                    button: words(li.querySelector(".act a")),
                })),
            };
        }
        return null;"#;
    let drawn = b.js(script, vec![json!(title)]).await;
    serde_json::from_value(drawn).expect("a checklist as drawn")
}

/// The page shown, reloaded until `probe` finds what it waits for.
async fn reloaded_until<T, F, Fut>(b: &Browser, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let path = b.path().await;
    let mut first = true;
    eventually(what, || {
        let again = !first;
        first = false;
        let found = probe();
        let path = &path;
        async move {
            if again {
                b.goto(path).await;
            }
            found.await
        }
    })
    .await
}

/// Sign out whoever is signed in, and sign `person` in: the first page.
async fn now_signed_in_as(b: &Browser, person: &Person) -> String {
    b.goto("/").await;
    if b.path().await != "/sign-in" {
        b.sign_out().await;
    }
    b.sign_in(person).await
}

/// Photograph the page shown as `name`, check it with axe, and on a phone's width.
async fn look(b: &Browser, name: &str) {
    b.screenshot(name).await;
    b.axe(&format!("{name} ({})", b.path().await)).await;
    b.on_a_phone(name).await;
}

/// The text of the page's main part.
async fn main_text(b: &Browser) -> String {
    b.text("main").await
}

/// The `done` notice of the page shown.
async fn notice(b: &Browser) -> String {
    b.text("[role=status]").await
}

/// How long each part of a walk took.
struct Laps {
    start: Instant,
    lap: Instant,
}

impl Laps {
    fn new() -> Self {
        let now = Instant::now();
        Laps {
            start: now,
            lap: now,
        }
    }

    fn done(&mut self, what: &str) {
        let now = Instant::now();
        println!(
            "walk: {what}: {:.1} s (at {:.1} s)",
            (now - self.lap).as_secs_f64(),
            (now - self.start).as_secs_f64()
        );
        self.lap = now;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_walks_detox_residential_discharge_through_the_console() {
    let (net, dana) = network().await;
    let engine = &net.s.engine;
    let residential = sign_up(
        engine,
        net.provider("residential"),
        Role::Partner,
        "Ruth Alvarez",
    )
    .await;
    let iop = sign_up(engine, net.provider("iop"), Role::Partner, "Ian Park").await;
    let coordinator = sign_up(engine, net.hub, Role::AftercareCoordinator, "Cora Lin").await;
    let b = Browser::open(&net.s.url, "walk").await;
    let mut laps = Laps::new();
    let (name, mrn) = ("Renata Okafor", "MRN-118204");
    let label = format!("{name} ({mrn})");
    let today = chrono::Utc::now().date_naive();

    // 1. The case manager registers the client, records a Part 2 consent naming everyone the
    // walk discloses to, admits to withdrawal management and refers on to residential.
    b.goto("/sign-in").await;
    look(&b, "01-sign-in").await;
    assert_eq!(b.sign_in(&dana).await, "/census");
    look(&b, "02-census").await;
    b.press("Clients").await;
    look(&b, "03-clients").await;
    let register = b.section("Register a client").await;
    register.fill("Name", name).await;
    register.fill("Record number", mrn).await;
    register.fill("Year of birth", "1979").await;
    register.press("Register").await;
    assert_eq!(notice(&b).await, "The client was registered.");
    let page = b.path().await.split('?').next().unwrap().to_owned();
    let id = page
        .strip_prefix("/clients/")
        .unwrap_or_else(|| panic!("registered, and shown {page}"))
        .to_owned();
    assert_eq!(b.heading().await, name);
    look(&b, "04-client-registered").await;

    let consent = b.panel("Record a Part 2 consent").await;
    // Detox and residential for the stay, the coordinator's hub for the bookings, and the
    // outpatient provider and the pharmacy the bookings go to.
    for org in [
        "detox provider",
        "residential provider",
        "outpatient provider",
        "Pharmacy",
        "Aftercare hub",
    ] {
        consent.check(org).await;
    }
    consent.press("Record consent").await;
    assert_eq!(notice(&b).await, "The consent was recorded.");

    let admit = b.panel("Admit").await;
    admit.choose("Level", "Withdrawal management").await;
    admit.fill("Planned hours a week", "40").await;
    admit.press("Admit").await;
    assert_eq!(notice(&b).await, "The client was admitted.");

    let refer = b.panel("Send a referral").await;
    refer.choose("To the level", "Residential treatment").await;
    refer
        .check_starting("residential provider — Residential treatment")
        .await;
    refer.press("Send").await;
    assert_eq!(notice(&b).await, "The referral was sent.");
    let step_down = "Ready for the step down to Residential treatment";
    let drawn = checklist(&b, step_down).await;
    let Some(drawn) = drawn else {
        panic!("no step-down checklist: {}", main_text(&b).await)
    };
    assert_eq!(drawn.badge, "not yet", "{drawn:#?}");
    assert_eq!(drawn.gate("A provider accepted a referral").mark, "✗");
    assert_eq!(
        drawn
            .gate("A Part 2 consent names the receiving organization")
            .mark,
        "✓"
    );
    look(&b, "05-client-referred").await;
    laps.done("1. registered, consented, admitted to detox, referred to residential");

    // 2. The residential provider finds the referral in its inbox, the client named (the
    // consent names it), and accepts it.
    assert_eq!(now_signed_in_as(&b, &residential).await, "/inbox");
    reloaded_until(
        &b,
        "the referral in the residential provider's inbox",
        || async {
            let text = main_text(&b).await;
            text.contains(&label).then_some(())
        },
    )
    .await;
    let card = b.section(&label).await;
    look(&b, "06-inbox-new-referral").await;
    card.press_confirming("Accept and hold a slot").await;
    assert_eq!(
        notice(&b).await,
        "The referral was accepted; a slot is held for the client."
    );
    look(&b, "07-inbox-accepted").await;
    // The client's page as the partner may see it: no case-management forms, no timeline.
    b.press(&label).await;
    assert_eq!(b.path().await, page);
    assert_eq!(b.heading().await, name);
    let seen = main_text(&b).await;
    assert!(
        !seen.contains("Timeline") && !seen.contains("Send a referral"),
        "{seen}"
    );
    look(&b, "08-client-as-the-receiving-partner").await;

    // A partner no consent names: nothing of the client in its inbox, and the client's page
    // answers as the API does — not found, nothing of the client shown.
    assert_eq!(now_signed_in_as(&b, &iop).await, "/inbox");
    let theirs = main_text(&b).await;
    assert!(!theirs.contains(name) && !theirs.contains(mrn), "{theirs}");
    look(&b, "09-inbox-of-a-partner-not-named").await;
    b.goto(&page).await;
    let status = b.status().await;
    assert!(matches!(status, 403 | 404), "{status}");
    assert_eq!(b.heading().await, "Not found");
    let shown = b.text("body").await;
    for secret in [name, mrn, id.as_str(), "Withdrawal", "Residential", "detox"] {
        assert!(!shown.contains(secret), "{secret:?} shown: {shown}");
    }
    look(&b, "10-client-refused-to-a-partner-not-named").await;
    laps.done("2. accepted from the inbox; a partner not named refused");

    // 3. The case manager finds the client, sees the step down ready, and moves them; the
    // residential provider confirms the arrival from its inbox.
    assert_eq!(now_signed_in_as(&b, &dana).await, "/census");
    b.press("Clients").await;
    b.fill("Name or record number", mrn).await;
    b.press("Find").await;
    assert_eq!(b.cell(name, "Record number").await.as_deref(), Some(mrn));
    b.press(name).await;
    assert_eq!(b.path().await, page);
    let drawn = reloaded_until(&b, "the step-down checklist all ✓", || async {
        checklist(&b, step_down).await.filter(|c| c.green())
    })
    .await;
    assert_eq!(
        drawn.title,
        "Ready for the step down to Residential treatment at residential provider?"
    );
    assert!(drawn.gates.iter().all(|g| g.button.is_none()), "{drawn:#?}");
    look(&b, "11-client-ready-to-step-down").await;
    // Accepted, the handoff planned: the move is the one step left, its form open on it.
    assert_eq!(
        b.next_steps().await,
        ["Step down to Residential treatment now"]
    );
    let step = b.panel("Step down to Residential treatment now").await;
    assert_eq!(
        step.chosen("Move").await,
        "Step down to Residential treatment"
    );
    step.fill("Planned hours a week", "30").await;
    step.press("Move").await;
    assert_eq!(notice(&b).await, "The client was moved.");
    let facts = b.text(".facts").await;
    assert!(
        facts.contains("On the way to")
            && facts.contains("Residential treatment at residential provider"),
        "{facts}"
    );
    look(&b, "12-client-on-the-way").await;

    assert_eq!(now_signed_in_as(&b, &residential).await, "/inbox");
    reloaded_until(&b, "the client on the way in the inbox", || async {
        b.cell(&label, "Coming for").await
    })
    .await;
    look(&b, "13-inbox-arriving").await;
    b.press("Confirm arrival").await;
    assert_eq!(notice(&b).await, "The client's arrival was confirmed.");
    assert!(b.cell(&label, "Coming for").await.is_none());
    look(&b, "14-inbox-arrived").await;
    laps.done("3. stepped down; the arrival confirmed from the inbox");

    // 4. The case manager records the MAT plan in a second tab while the first still shows
    // the page as it was: the first tab's form is refused, and changes nothing. Then the
    // discharge is planned, and the coordinator books what it needs from the worklist.
    assert_eq!(now_signed_in_as(&b, &dana).await, "/census");
    b.goto(&page).await;
    reloaded_until(&b, "the client in residential care", || async {
        let facts = b.text(".facts").await;
        facts
            .contains("Residential treatment at residential provider")
            .then_some(())
    })
    .await;
    look(&b, "15-client-in-residential").await;
    let first = b.tab().await;
    let drawn_at = net.version(&id).await;
    b.open_tab(&page).await;
    let mat = b.panel("Record the MAT plan").await;
    mat.choose("Medication", "buprenorphine").await;
    mat.fill_date("Supply covers through", today + chrono::Duration::days(4))
        .await;
    mat.press("Record").await;
    assert_eq!(notice(&b).await, "The MAT plan was recorded.");
    look(&b, "16-client-mat-plan-in-another-tab").await;
    b.close_tab(first).await;
    let changed_at = net.version(&id).await;
    assert!(changed_at > drawn_at, "the MAT plan changed the record");
    assert_eq!(b.path().await, page, "the first tab");
    let plan = b.panel("Plan ").await;
    plan.choose("Move", "Planned discharge").await;
    plan.fill_date("On", today).await;
    plan.press("Plan").await;
    // Refused in place: the client's page as the record is now, the plan's form open with
    // what was chosen kept, and why.
    assert_eq!(b.status().await, 409);
    assert_eq!(b.path().await, format!("{page}/handoff"));
    assert_eq!(b.heading().await, name);
    let said = b.alert().await.expect("the refusal, as an alert");
    assert!(
        said.contains("changed this client's record after you opened the page")
            && said.contains("nothing was changed")
            && said.contains("with what you typed kept"),
        "{said}"
    );
    look(&b, "17-stale-form-refused").await;
    assert_eq!(net.version(&id).await, changed_at, "nothing changed");
    let handoff = net
        .cm(
            "query($c: UUID!) { client(id: $c) { handoff { on } } }",
            json!({ "c": id }),
        )
        .await;
    assert_eq!(
        handoff["client"]["handoff"],
        Value::Null,
        "no handoff planned"
    );
    assert!(b.text(".facts").await.contains("Residential treatment"));
    assert!(
        main_text(&b).await.contains("buprenorphine"),
        "the page drawn again shows the MAT plan the other tab recorded"
    );
    let plan = b.panel("Plan ").await;
    assert_eq!(plan.chosen("Move").await, "Planned discharge");
    plan.press("Plan").await;
    assert_eq!(
        notice(&b).await,
        "The handoff was planned; coordinators were told."
    );
    let discharge_ready = "Ready for the planned discharge?";
    let drawn = checklist(&b, discharge_ready).await;
    let Some(drawn) = drawn else {
        panic!("no discharge checklist: {}", main_text(&b).await)
    };
    assert_eq!(drawn.badge, "not yet", "{drawn:#?}");
    let aftercare = drawn.gate("An aftercare appointment is booked");
    assert_eq!(
        (aftercare.mark.as_str(), aftercare.button.as_deref()),
        ("✗", Some("Book aftercare")),
        "{aftercare:#?}"
    );
    let refill = drawn.gate("The next MAT dose or refill is booked before the supply runs out");
    assert_eq!(
        (refill.mark.as_str(), refill.button.as_deref()),
        ("✗", Some("Book the refill")),
        "{refill:#?}"
    );
    look(&b, "18-client-discharge-planned").await;

    assert_eq!(now_signed_in_as(&b, &coordinator).await, "/worklist");
    let needs = format!("[data-section=needs-booking][data-client=\"{id}\"]");
    reloaded_until(
        &b,
        "the client on the worklist, needing a booking",
        || async { b.has(&needs).await.then_some(()) },
    )
    .await;
    let waits = b.text(&needs).await;
    assert!(
        waits.contains(&label)
            && waits.contains("Aftercare appointment: no aftercare appointment booked")
            && waits.contains("MAT continuity: buprenorphine covered through"),
        "{waits}"
    );
    look(&b, "19-worklist-needs-booking").await;
    let card = b.section(&label).await;
    let book = card.form("Book the appointment").await;
    book.choose("Aftercare with", "outpatient provider").await;
    book.choose("Kind", "Outpatient visit").await;
    book.press("Book the appointment").await;
    assert_eq!(notice(&b).await, "The aftercare appointment was booked.");
    let card = b.section(&label).await;
    let book = card.form("Book the MAT refill").await;
    book.choose("Next dose or refill with", "Pharmacy (pharmacy)")
        .await;
    book.choose("Kind", "Refill").await;
    book.press("Book the MAT refill").await;
    assert_eq!(notice(&b).await, "The MAT refill or dose was booked.");
    reloaded_until(&b, "the client off the needs-a-booking list", || async {
        (!b.has(&needs).await).then_some(())
    })
    .await;
    look(&b, "20-worklist-booked").await;
    laps.done("4. stale form refused; discharge planned; aftercare and refill booked");

    // 5. The case manager sees the discharge checklist green and discharges.
    assert_eq!(now_signed_in_as(&b, &dana).await, "/census");
    b.goto(&page).await;
    let drawn = reloaded_until(&b, "the discharge checklist all ✓", || async {
        checklist(&b, discharge_ready).await.filter(|c| c.green())
    })
    .await;
    assert!(
        drawn.gates.iter().all(|g| g.words.contains("met")),
        "{drawn:#?}"
    );
    look(&b, "21-client-ready-for-discharge").await;
    // Every gate met: the discharge is the step, its kind chosen.
    assert_eq!(b.next_steps().await, ["Planned discharge"]);
    let discharge = b.panel("Planned discharge").await;
    assert_eq!(discharge.chosen("Kind").await, "Planned discharge");
    discharge.press_confirming("Discharge").await;
    assert_eq!(notice(&b).await, "The client was discharged.");
    let said = b.text(".situation").await;
    assert!(
        said.starts_with("Discharged from Residential treatment"),
        "{said}"
    );
    assert!(
        !b.has("#plan").await,
        "a handoff offered to plan for a discharged client"
    );
    look(&b, "22-client-discharged").await;
    let now = net
        .cm(
            "query($c: UUID!) { client(id: $c) { status level aftercare { id } matBookings { id } } }",
            json!({ "c": id }),
        )
        .await;
    assert_eq!(now["client"]["status"], "DISCHARGED", "{now}");

    // The case manager's other pages, after the walk.
    b.press("Worklist").await;
    look(&b, "23-worklist-of-the-case-manager").await;
    b.press("Measures").await;
    look(&b, "24-measures").await;
    b.press("Census").await;
    assert_eq!(
        b.cell("residential provider", "In care").await.as_deref(),
        Some("0")
    );
    look(&b, "25-census-after").await;
    laps.done("5. discharged; worklist, measures, census");
    b.close().await;
}

/// Accept an invitation at `link` (a path) as a new person would: choose a password, scan the
/// authenticator's key (read off the page, as a phone reads the QR code), enter its code, keep
/// the recovery codes, continue: the first page.
async fn accept_invitation(b: &Browser, link: &str, who: &str, shots: &str) -> String {
    b.goto(link).await;
    assert_eq!(b.heading().await, format!("Welcome to Carepath, {who}"));
    look(b, &format!("{shots}-1-welcome")).await;
    b.fill("Password", "harbor lights at dusk").await;
    b.fill("The same password again", "harbor lights at dusk")
        .await;
    b.press("Choose this password").await;
    assert_eq!(b.path().await, "/sign-in/enrol");
    assert!(b.has(".qr svg").await, "no QR code to scan");
    look(b, &format!("{shots}-2-authenticator")).await;
    let key: String = b
        .text("code.secret")
        .await
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    let step = chrono::Utc::now().timestamp() as u64 / 30;
    b.fill("Code from the app", &crate::people::totp_code(&key, step))
        .await;
    b.press("Turn on and continue").await;
    assert_eq!(b.heading().await, "Keep your recovery codes");
    let codes = b.text("ul.codes").await;
    assert_eq!(
        codes.lines().filter(|l| !l.trim().is_empty()).count(),
        10,
        "{codes}"
    );
    look(b, &format!("{shots}-3-recovery-codes")).await;
    b.press("I have kept them: continue").await;
    b.path().await
}

/// Done when: a new organization goes from `carepath staff create-admin` to a case manager
/// working in the console, no token pasted anywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_organization_goes_from_its_first_admin_to_a_case_manager_at_work() {
    let s = crate::server::TestServer::start_with(Backend::Sqlite, &[]).await;
    let org = s.org("Harbor Case Management", &[]).await;

    // The operator makes the first admin; the command prints the invitation once.
    let out = Command::new(env!("CARGO_BIN_EXE_carepath"))
        .args(["staff", "create-admin", "--org", &org.to_string()])
        .args(["--email", "alex@harbor.example", "--name", "Alex Admin"])
        .env("CAREPATH_DATABASE_URL", &s.db_url)
        .env("CAREPATH_PUBLIC_URL", &s.url)
        .env("CAREPATH_LOG", "warn")
        .output()
        .expect("carepath staff create-admin");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed = String::from_utf8(out.stdout).unwrap();
    let link = printed
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&s.url))
        .unwrap_or_else(|| panic!("no link on this server in {printed}"))
        .to_owned();

    let b = Browser::open(&s.url, "first-admin").await;
    assert_eq!(
        accept_invitation(&b, &link, "Alex Admin", "01-admin").await,
        "/census"
    );
    let who = b.text("header .who").await;
    assert!(
        who.contains("Alex Admin") && who.contains("Administrator"),
        "{who}"
    );

    // The admin invites a case manager on the Staff page, and sends the link it shows.
    b.press("Staff").await;
    assert_eq!(b.path().await, "/staff");
    let invite = b.section("Invite a person").await;
    invite.fill("Name", "Dana Reyes").await;
    invite.fill("E-mail address", "dana@harbor.example").await;
    invite.choose("Role", "Case manager").await;
    invite.press("Invite").await;
    let url = b
        .js("return document.getElementById('once-link').value", vec![])
        .await;
    let dana_link = url
        .as_str()
        .and_then(|u| u.strip_prefix(&s.url))
        .unwrap_or_else(|| panic!("the link shown: {url}"))
        .to_owned();
    look(&b, "02-invited").await;
    b.sign_out().await;

    // Dana accepts, and is at work: she registers a client.
    assert_eq!(
        accept_invitation(&b, &dana_link, "Dana Reyes", "03-dana").await,
        "/census"
    );
    b.press("Clients").await;
    let register = b.section("Register a client").await;
    register.fill("Name", "Marisol Quintero").await;
    register.fill("Record number", "MRN-004217").await;
    register.fill("Year of birth", "1987").await;
    register.press("Register").await;
    assert!(
        b.path().await.starts_with("/clients/"),
        "{}",
        b.path().await
    );
    assert!(main_text(&b).await.contains("Marisol Quintero"));
    let who = b.text("header .who").await;
    assert!(
        who.contains("Dana Reyes") && who.contains("Case manager"),
        "{who}"
    );
    look(&b, "04-dana-at-work").await;

    // The admin's audit saw it all, each line naming the person.
    let audit = s
        .engine
        .sign_in_audit(
            &carepath_engine::domain::Actor::new(org, Role::System),
            Some(org),
            None,
            100,
        )
        .await
        .unwrap();
    for kind in [
        "invited",
        "password_set",
        "totp_enrolled",
        "signed_in",
        "signed_out",
    ] {
        assert!(
            audit.iter().any(|a| a.kind == kind),
            "no {kind} in {audit:?}"
        );
    }
    b.close().await;
}
