//! The playground's HTTP API driven over real sockets: sessions, steps, statistics, the event
//! stream, every refused request, and a session that learns the spiral.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ferrograd_playground::{Server, ServerOptions};
use serde_json::Value;
use support::{ok, refused, request, Events};

fn server() -> Server {
    let options = ServerOptions {
        grace: Duration::from_millis(300),
        ..ServerOptions::default()
    };
    Server::start("127.0.0.1:0".parse().unwrap(), options).expect("the server starts")
}

fn create(addr: SocketAddr, config: &str) -> (String, Value) {
    let v = ok(addr, "POST", "/api/sessions", Some(config));
    (v["id"].as_str().expect("an id").to_string(), v["snapshot"].clone())
}

#[test]
fn serves_the_page_and_its_assets() {
    let s = server();
    let (status, html) = request(s.addr(), "GET", "/", None);
    assert_eq!(status, 200);
    for id in ["play", "pause", "step", "reset", "lr", "dataset", "test-acc", "error"] {
        assert!(html.contains(&format!("id=\"{id}\"")), "#{id} on the page");
    }
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing from elsewhere"
    );
    assert_eq!(request(s.addr(), "GET", "/app.js", None).0, 200);
    assert_eq!(request(s.addr(), "GET", "/style.css", None).0, 200);
}

#[test]
fn a_session_steps_and_reports_every_layer() {
    let s = server();
    let (id, first) = create(s.addr(), r#"{"hidden": [6, 5], "activation": "relu", "batch_size": 8}"#);
    assert_eq!(first["step"], 0);
    assert_eq!(first["boundary"]["class"].as_array().unwrap().len(), 50 * 50);
    assert_eq!(first["units"].as_array().unwrap().len(), 2, "two hidden layers");
    assert_eq!(
        first["units"][1]["maps"].as_array().unwrap().len(),
        5,
        "five units in the second"
    );
    assert_eq!(first["units"][0]["maps"][0].as_array().unwrap().len(), 20 * 20);
    assert_eq!(
        first["train"].as_array().unwrap().len() + first["test"].as_array().unwrap().len(),
        400
    );

    let after = ok(
        s.addr(),
        "POST",
        &format!("/api/sessions/{id}/step"),
        Some(r#"{"steps": 3}"#),
    );
    assert_eq!(after["step"], 3);
    let monitor = &after["monitor"];
    assert_eq!(
        monitor["step"], 2,
        "the monitor's record of the last step (counted from 0)"
    );
    let layers = monitor["layers"].as_array().unwrap();
    let names: Vec<&str> = layers.iter().map(|l| l["layer"].as_str().unwrap()).collect();
    assert_eq!(names, ["0", "1", "2", "3", "4"], "Linear, ReLU, Linear, ReLU, Linear");
    assert_eq!(layers[1]["module_type"], "ReLU");
    assert!(layers[1]["dead"].as_f64().is_some(), "a ReLU's dead fraction");
    assert!(layers[1]["hist"]["counts"].as_array().is_some(), "activation histogram");
    assert!(
        layers[1]["grad_hist"]["counts"].as_array().is_some(),
        "gradient histogram"
    );
    let params = monitor["params"].as_array().unwrap();
    assert_eq!(params[0]["name"], "0.weight");
    assert!(params[0]["update_ratio_log10"].as_f64().unwrap() < 0.0);

    // The statistics again, read without stepping.
    let again = ok(s.addr(), "GET", &format!("/api/sessions/{id}"), None);
    assert_eq!(again["step"], 3);

    // The gradient reaching unit 2 of hidden layer 1, over the last batch.
    let unit = ok(
        s.addr(),
        "POST",
        &format!("/api/sessions/{id}/unit"),
        Some(r#"{"layer": 1, "unit": 2}"#),
    );
    let g = &unit["unit_grad"];
    assert_eq!((g["layer"].as_u64(), g["unit"].as_u64()), (Some(1), Some(2)));
    assert_eq!(g["points"].as_array().unwrap().len(), 8, "one value per batch point");
    let total: u64 = g["hist"]["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .sum();
    assert_eq!(total, 8);
    assert!(g["std"].as_f64().unwrap() >= 0.0);

    // A new learning rate takes effect, the step count goes on.
    let lr = ok(
        s.addr(),
        "POST",
        &format!("/api/sessions/{id}/lr"),
        Some(r#"{"lr": 0.005}"#),
    );
    assert_eq!(lr["config"]["lr"], 0.005);
    let after = ok(s.addr(), "POST", &format!("/api/sessions/{id}/step"), None);
    assert_eq!(after["step"], 4);

    // Reset with a new initialisation: step 0 again, the same data.
    let reset = ok(
        s.addr(),
        "POST",
        &format!("/api/sessions/{id}/reset"),
        Some(r#"{"hidden": [6, 5], "activation": "relu", "batch_size": 8, "init": "xavier"}"#),
    );
    assert_eq!(reset["step"], 0);
    assert_eq!(reset["config"]["init"], "xavier");
    assert_eq!(reset["train"], first["train"]);

    let (status, _) = request(s.addr(), "DELETE", &format!("/api/sessions/{id}"), None);
    assert_eq!(status, 200);
    assert_eq!(refused(s.addr(), "GET", &format!("/api/sessions/{id}"), None).0, 404);
}

#[test]
fn every_bad_request_is_refused_by_name_and_the_server_goes_on() {
    let s = server();
    let a = s.addr();
    let cases: [(&str, &[&str]); 15] = [
        (r#"{"dataset": "moons"}"#, &["dataset", "\"moons\"", "spiral"]),
        (r#"{"hidden": []}"#, &["hidden", "at least 1"]),
        (r#"{"hidden": [8, 0]}"#, &["hidden[1]", "got 0"]),
        (r#"{"hidden": [8, 65]}"#, &["hidden[1]", "got 65"]),
        (r#"{"hidden": [1, 1, 1, 1, 1, 1, 1]}"#, &["hidden", "got 7"]),
        (r#"{"batch_size": 0}"#, &["batch_size", "got 0"]),
        (r#"{"batch_size": 300}"#, &["batch_size", "300", "200 training points"]),
        (r#"{"lr": "NaN"}"#, &["lr", "Invalid learning rate: NaN"]),
        (r#"{"lr": -0.1}"#, &["lr", "-0.1"]),
        (r#"{"lr": "inf"}"#, &["lr", "inf"]),
        (r#"{"lr": 0.1, "hidden": [4"#, &["malformed JSON"]),
        (r#"{"layers": [4]}"#, &["unknown field `layers`"]),
        (r#"{"optimizer": "rmsprop"}"#, &["optimizer", "\"rmsprop\""]),
        (r#"{"batch_size": -1}"#, &["batch_size:", "-1"]),
        (r#"{"hidden": [8, "wide"]}"#, &["hidden[1]:", "wide"]),
    ];
    for (body, words) in cases {
        let (status, message) = refused(a, "POST", "/api/sessions", Some(body));
        assert_eq!(status, 400, "{body}");
        for w in words {
            assert!(message.contains(w), "{body}: {message:?} should name {w:?}");
        }
    }
    let (status, message) = refused(a, "POST", "/api/sessions/nope/play", None);
    assert_eq!(status, 404);
    assert!(message.contains("\"nope\""), "{message}");
    assert_eq!(refused(a, "GET", "/api/sessions/nope/events", None).0, 404);

    let (id, _) = create(a, "{}");
    let path = |action: &str| format!("/api/sessions/{id}/{action}");
    let (_, m) = refused(a, "POST", &path("lr"), Some(r#"{"lr": "NaN"}"#));
    assert!(m.contains("Invalid learning rate: NaN"), "{m}");
    let (_, m) = refused(a, "POST", &path("lr"), Some("{lr: 1}"));
    assert!(m.starts_with("malformed JSON"), "{m}");
    let (_, m) = refused(a, "POST", &path("step"), Some(r#"{"steps": 0}"#));
    assert!(m.contains("steps") && m.contains("got 0"), "{m}");
    let (_, m) = refused(a, "POST", &path("unit"), Some(r#"{"layer": 5, "unit": 0}"#));
    assert!(m.contains("no hidden layer 5"), "{m}");
    let (_, m) = refused(a, "POST", &path("unit"), Some(r#"{"layer": 0, "unit": 16}"#));
    assert!(
        m.contains("has 16 units") && m.contains("unit 16 is out of range"),
        "{m}"
    );
    let (_, m) = refused(a, "POST", &path("reset"), Some(r#"{"hidden": []}"#));
    assert!(m.starts_with("hidden"), "{m}");
    assert_eq!(refused(a, "PUT", &path("play"), None).0, 405);
    let (status, m) = refused(a, "POST", &path("fly"), None);
    assert_eq!(status, 404);
    assert!(m.contains("\"fly\""), "{m}");

    // Still serving, the session unharmed by the refused requests.
    assert_eq!(ok(a, "POST", &path("step"), None)["step"], 1);
}

#[test]
fn the_event_stream_updates_while_playing_and_a_closed_page_frees_its_session() {
    let s = server();
    let (id, _) = create(s.addr(), r#"{"hidden": [8]}"#);
    let mut events = Events::open(s.addr(), &format!("/api/sessions/{id}/events"));
    let (_, first) = events.next_snapshot();
    assert_eq!(first["step"], 0);
    ok(s.addr(), "POST", &format!("/api/sessions/{id}/play"), None);
    let mut steps = Vec::new();
    let mut times = Vec::new();
    while steps.len() < 8 {
        let (t, v) = events.next_snapshot();
        if v["playing"] == true {
            steps.push(v["step"].as_u64().unwrap());
            times.push(t);
        }
    }
    assert!(
        steps.windows(2).all(|w| w[1] > w[0]),
        "training goes on between updates: {steps:?}"
    );
    let rate = (times.len() - 1) as f64 / times[times.len() - 1].duration_since(times[0]).as_secs_f64();
    assert!(rate > 3.0 && rate < 30.0, "{rate:.1} updates/s");
    ok(s.addr(), "POST", &format!("/api/sessions/{id}/pause"), None);

    // A second page gets a session of its own.
    let (other, _) = create(s.addr(), "{}");
    assert_ne!(other, id);
    assert_eq!(s.sessions(), 2);

    drop(events); // the tab closes
    let start = Instant::now();
    while s.sessions() == 2 {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the closed page's session is freed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(refused(s.addr(), "GET", &format!("/api/sessions/{id}"), None).0, 404);
    assert_eq!(ok(s.addr(), "GET", &format!("/api/sessions/{other}"), None)["step"], 0);
}

#[test]
fn a_session_learns_the_spiral() {
    let s = server();
    let (id, _) = create(
        s.addr(),
        r#"{"dataset": "spiral", "hidden": [16, 16], "activation": "tanh", "optimizer": "adam", "lr": 0.03, "batch_size": 32}"#,
    );
    let mut best = 0.0;
    for _ in 0..30 {
        let v = ok(
            s.addr(),
            "POST",
            &format!("/api/sessions/{id}/step"),
            Some(r#"{"steps": 100}"#),
        );
        best = v["test_acc"].as_f64().unwrap();
        if best > 0.9 {
            break;
        }
    }
    assert!(best > 0.9, "test accuracy {best}");
}

#[test]
fn the_speed_limit_holds_training_to_its_steps_per_second() {
    let s = server();
    let (id, _) = create(s.addr(), r#"{"hidden": [4]}"#);
    let path = |action: &str| format!("/api/sessions/{id}/{action}");
    let (_, m) = refused(s.addr(), "POST", &path("speed"), Some(r#"{"max_steps_per_sec": 0}"#));
    assert!(m.contains("max_steps_per_sec") && m.contains("got 0"), "{m}");
    let v = ok(s.addr(), "POST", &path("speed"), Some(r#"{"max_steps_per_sec": 100}"#));
    assert_eq!(v["max_steps_per_sec"], 100.0);
    ok(s.addr(), "POST", &path("play"), None);
    std::thread::sleep(Duration::from_millis(1000));
    let steps = ok(s.addr(), "POST", &path("pause"), None)["step"].as_u64().unwrap();
    assert!(
        (60..=140).contains(&steps),
        "{steps} steps in about a second at 100 steps/s"
    );
    // The limit outlives a reset; null lifts it.
    assert_eq!(ok(s.addr(), "POST", &path("reset"), None)["max_steps_per_sec"], 100.0);
    let v = ok(s.addr(), "POST", &path("speed"), Some(r#"{"max_steps_per_sec": null}"#));
    assert!(v["max_steps_per_sec"].is_null());
}

#[test]
fn a_diverging_session_stops_and_says_why() {
    let s = server();
    let (id, _) = create(
        s.addr(),
        r#"{"lr": 10, "optimizer": "sgd", "init": "normal", "activation": "linear", "hidden": [64, 64, 64, 64, 64, 64]}"#,
    );
    let v = ok(
        s.addr(),
        "POST",
        &format!("/api/sessions/{id}/step"),
        Some(r#"{"steps": 200}"#),
    );
    let step = v["step"].as_u64().unwrap();
    assert!(
        step < 200,
        "stopped at the first step whose loss is not finite, not at {step}"
    );
    let error = v["error"].as_str().expect("an error in the snapshot");
    assert!(
        error.contains(&format!("step {step}")) && error.contains("lr = 10"),
        "{error}"
    );
    assert_eq!(v["playing"], false);
    // The server goes on.
    assert_eq!(ok(s.addr(), "GET", &format!("/api/sessions/{id}"), None)["step"], step);
}
