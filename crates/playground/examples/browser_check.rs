//! The playground in a real browser: starts the server, drives headless Chromium over the
//! DevTools protocol, presses play, waits until the page shows test accuracy above 0.9 on the
//! spiral, changes the learning rate and checks the server took it, shows an error for a bad
//! model, saves a screenshot, and measures the updates per second the page receives and the
//! training speed with the page open against the same model trained with no page.
//!
//! ```text
//! scripts/browser-test.sh          # installs Chromium if missing, then runs this
//! cargo run --release -p ferrograd-playground --example browser_check -- [--chromium PATH] [--out PNG]
//! ```

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferrograd_playground::{bench, Config, Server, ServerOptions};
use serde_json::{json, Value};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

#[path = "../tests/support/mod.rs"]
mod support;

type Fallible<T> = Result<T, Box<dyn std::error::Error>>;

/// A DevTools connection to one page.
struct Cdp {
    socket: WebSocket<MaybeTlsStream<TcpStream>>,
    session: Option<String>,
    next: u64,
}

impl Cdp {
    /// Sends `method` and waits for its answer (events in between are skipped).
    fn call(&mut self, method: &str, params: Value) -> Fallible<Value> {
        self.next += 1;
        let mut message = json!({ "id": self.next, "method": method, "params": params });
        if let Some(s) = &self.session {
            message["sessionId"] = json!(s);
        }
        self.socket.send(Message::text(message.to_string()))?;
        loop {
            let Message::Text(text) = self.socket.read()? else {
                continue;
            };
            let v: Value = serde_json::from_str(text.as_str())?;
            if v["id"] == json!(self.next) {
                if let Some(e) = v.get("error") {
                    return Err(format!("{method}: {e}").into());
                }
                return Ok(v["result"].clone());
            }
        }
    }

    /// The value of a JavaScript expression in the page.
    fn eval(&mut self, expression: &str) -> Fallible<Value> {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": expression, "returnByValue": true, "awaitPromise": true }),
        )?;
        if let Some(e) = r.get("exceptionDetails") {
            return Err(format!("{expression}: {e}").into());
        }
        Ok(r["result"]["value"].clone())
    }

    /// Waits until `expression` is true, or fails after `limit`.
    fn wait_for(&mut self, expression: &str, limit: Duration) -> Fallible<Duration> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.eval(expression)? == json!(true) {
                return Ok(start.elapsed());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Err(format!("timed out after {limit:?} waiting for {expression}").into())
    }
}

/// Kills the browser and removes its profile when the check ends, however it ends.
struct Browser(Child, std::path::PathBuf);

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("browser check FAILED: {e}");
        std::process::exit(1);
    }
}

fn run() -> Fallible<()> {
    let mut chromium = String::from("/usr/bin/chromium");
    let mut out = String::from("docs/images/playground.png");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--chromium" => chromium = args.next().ok_or("--chromium needs a path")?,
            "--out" => out = args.next().ok_or("--out needs a path")?,
            other => return Err(format!("unexpected argument {other:?}").into()),
        }
    }
    let total = Instant::now();
    let server = Server::start("127.0.0.1:0".parse()?, ServerOptions::default())?;

    // The default session played as fast as it goes for 5 s through the API, with no page:
    // its snapshots are made and published, nobody reads them.
    let created = support::ok(server.addr(), "POST", "/api/sessions", Some("{}"));
    let id = created["id"].as_str().ok_or("no session id")?.to_string();
    let path = |action: &str| format!("/api/sessions/{id}/{action}");
    support::ok(
        server.addr(),
        "POST",
        &path("speed"),
        Some(r#"{"max_steps_per_sec": null}"#),
    );
    let s0 = num(&support::ok(server.addr(), "POST", &path("play"), None)["step"])?;
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(5));
    let s1 = num(&support::ok(server.addr(), "POST", &path("pause"), None)["step"])?;
    let unwatched = (s1 - s0) / t0.elapsed().as_secs_f64();
    support::request(server.addr(), "DELETE", &format!("/api/sessions/{id}"), None);
    println!("server session, no page: {unwatched:.0} steps/s");
    let profile = std::env::temp_dir().join(format!("playground-chromium-{}", std::process::id()));
    let mut child = Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-port=0",
            "--window-size=1500,1500",
            "about:blank",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting {chromium}: {e}"))?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let _browser = Browser(child, profile.clone());
    let mut ws_url = None;
    for line in BufReader::new(stderr).lines() {
        let line = line?;
        if let Some(url) = line.strip_prefix("DevTools listening on ") {
            ws_url = Some(url.trim().to_string());
            break;
        }
    }
    let ws_url = ws_url.ok_or("Chromium did not print its DevTools address")?;
    let (socket, _) = tungstenite::connect(ws_url.as_str())?;
    let mut cdp = Cdp {
        socket,
        session: None,
        next: 0,
    };
    let target = cdp.call("Target.createTarget", json!({ "url": server.url() }))?;
    let attached = cdp.call(
        "Target.attachToTarget",
        json!({ "targetId": target["targetId"], "flatten": true }),
    )?;
    cdp.session = attached["sessionId"].as_str().map(String::from);
    cdp.call("Runtime.enable", json!({}))?;

    let loaded = cdp.wait_for(
        "document.readyState === 'complete' && !!window.playground && window.playground.id !== null && !!window.playground.last",
        Duration::from_secs(30),
    )?;
    println!(
        "page loaded, session {} ({loaded:.1?})",
        cdp.eval("window.playground.id")?
    );
    assert_eq(&cdp.eval("document.getElementById('dataset').value")?, "spiral")?;

    cdp.eval("document.getElementById('play').click(), true")?;
    let trained = cdp.wait_for(
        "parseFloat(document.getElementById('test-acc').textContent) > 0.9",
        Duration::from_secs(120),
    )?;
    let acc = cdp.eval("document.getElementById('test-acc').textContent")?;
    let step = cdp.eval("window.playground.last.step")?;
    println!("test accuracy {acc} shown after {trained:.1?} (step {step})");

    // A new learning rate, typed into the page, reaches the server and training goes on.
    cdp.eval(
        "(() => { const lr = document.getElementById('lr'); lr.value = '0.005'; lr.dispatchEvent(new Event('change')); return true; })()",
    )?;
    cdp.wait_for("window.playground.last.config.lr === 0.005", Duration::from_secs(10))?;
    let before = num(&cdp.eval("window.playground.last.step")?)?;
    cdp.wait_for(
        &format!("window.playground.last.step > {before} && window.playground.last.config.lr === 0.005"),
        Duration::from_secs(10),
    )?;
    println!("learning rate changed to 0.005: the server's snapshots carry it, training went on");

    cdp.eval("document.getElementById('unit-0-3').click(), true")?;
    cdp.wait_for("!!window.playground.last.unit_grad", Duration::from_secs(10))?;
    std::thread::sleep(Duration::from_millis(500));
    let shot = cdp.call("Page.captureScreenshot", json!({ "format": "png" }))?;
    let png = base64_decode(shot["data"].as_str().ok_or("no screenshot data")?)?;
    if let Some(dir) = std::path::Path::new(&out).parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, &png)?;
    println!("screenshot: {out} ({} bytes)", png.len());

    // The updates the page receives while training as fast as it goes, over 5 s.
    cdp.eval(
        "(() => { const s = document.getElementById('speed-limit'); s.value = 'max'; s.dispatchEvent(new Event('change')); return true; })()",
    )?;
    cdp.wait_for(
        "window.playground.last.max_steps_per_sec === null",
        Duration::from_secs(10),
    )?;
    let (u0, s0) = (
        cdp.eval("window.playground.updates")?,
        cdp.eval("window.playground.last.step")?,
    );
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(5));
    let (u1, s1) = (
        cdp.eval("window.playground.updates")?,
        cdp.eval("window.playground.last.step")?,
    );
    let seconds = t0.elapsed().as_secs_f64();
    let updates = (num(&u1)? - num(&u0)?) / seconds;
    let page_steps = (num(&s1)? - num(&s0)?) / seconds;
    println!("page open: {updates:.1} updates/s received, {page_steps:.0} steps/s");

    // A bad model: the page shows the server's error, and the server goes on.
    cdp.eval("document.getElementById('pause').click(), true")?;
    cdp.wait_for("window.playground.last.playing === false", Duration::from_secs(10))?;
    cdp.eval(
        "(() => { const h = document.getElementById('hidden'); h.value = ''; h.dispatchEvent(new Event('change')); return true; })()",
    )?;
    cdp.wait_for(
        "!document.getElementById('error').hidden && document.getElementById('error').textContent.includes('hidden')",
        Duration::from_secs(10),
    )?;
    println!(
        "error banner: {}",
        cdp.eval("document.getElementById('error').textContent")?
    );
    cdp.eval(
        "(() => { const h = document.getElementById('hidden'); h.value = '16,16'; h.dispatchEvent(new Event('change')); return true; })()",
    )?;
    cdp.wait_for(
        "document.getElementById('error').hidden && window.playground.last.step === 0",
        Duration::from_secs(10),
    )?;
    println!("a good model afterwards: banner gone, session reset");
    drop(_browser);

    // The same model trained with no page: as many steps as the page ran in 5 s.
    let steps = (page_steps * 3.0).max(200.0) as usize;
    let headless = bench(&Config::default(), steps)?;
    println!("no page: {headless:.0} steps/s ({steps} steps)");
    println!(
        "browser check passed in {:.1?}: spiral past 0.9 test accuracy, {updates:.1} updates/s; steps/s: {page_steps:.0} with the page, {unwatched:.0} in a session with no page, {headless:.0} trained with no snapshots",
        total.elapsed()
    );
    Ok(())
}

fn num(v: &Value) -> Fallible<f64> {
    v.as_f64().ok_or_else(|| format!("expected a number, got {v}").into())
}

fn assert_eq(v: &Value, expected: &str) -> Fallible<()> {
    if v.as_str() == Some(expected) {
        Ok(())
    } else {
        Err(format!("expected {expected:?}, got {v}").into())
    }
}

/// Standard base64, as DevTools sends screenshots.
fn base64_decode(text: &str) -> Fallible<Vec<u8>> {
    let value = |c: u8| -> Fallible<u32> {
        Ok(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(format!("not base64: {:?}", c as char).into()),
        } as u32)
    };
    let bytes: Vec<u8> = text
        .bytes()
        .filter(|&c| c != b'=' && !c.is_ascii_whitespace())
        .collect();
    let mut out = Vec::with_capacity(bytes.len() * 3 / 4);
    for chunk in bytes.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c)? << (18 - 6 * i);
        }
        out.extend(&n.to_be_bytes()[1..chunk.len()]);
    }
    Ok(out)
}
