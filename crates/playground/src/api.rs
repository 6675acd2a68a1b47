//! The HTTP API: its routes, the JSON it takes and gives, and its errors.
//!
//! Every error is a 4xx status with the body `{"error": "..."}`, naming the field at fault and
//! its value.

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::Stream;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use crate::model::ModelSpec;
use crate::server::{AppState, StreamGuard};
use crate::session::Command;

/// A request the server refuses: the HTTP status and what is wrong, in words that name the
/// field and the value.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status (400, 404, 413...).
    pub status: u16,
    /// What is wrong.
    pub message: String,
}

impl ApiError {
    /// A 400 Bad Request.
    pub fn bad(message: impl Into<String>) -> Self {
        ApiError {
            status: 400,
            message: message.into(),
        }
    }

    /// A 400 for a name not in `allowed`: "`field`: unknown `what` "x"; expected one of a, b".
    pub(crate) fn unknown(field: &str, what: &str, value: &str, allowed: &[&str]) -> Self {
        ApiError::bad(format!(
            "{field}: unknown {what} {value:?}; expected one of {}",
            allowed.join(", ")
        ))
    }

    /// [`unknown`](ApiError::unknown) unless `value` is one of `allowed`.
    pub(crate) fn one_of(field: &str, what: &str, value: &str, allowed: &[&str]) -> Result<(), Self> {
        match allowed.contains(&value) {
            true => Ok(()),
            false => Err(ApiError::unknown(field, what, value, allowed)),
        }
    }

    /// A 404 for a session id that is not (or no longer) there.
    pub fn unknown_session(id: &str) -> Self {
        ApiError {
            status: 404,
            message: format!("session: no session {id:?} (it was closed, timed out, or never created)"),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.message)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        let body = serde_json::json!({ "error": self.message }).to_string();
        (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
    }
}

/// Everything that makes a session: the data, the model, the optimizer. Every field has a
/// default, so `{}` is a valid configuration (the spiral, two tanh layers of 16, Adam at 0.03,
/// batches of 32).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// One of [`DATASETS`](crate::data::DATASETS).
    pub dataset: String,
    /// How many points (20 to 5000; Iris always has 150).
    pub points: usize,
    /// Std of the Gaussian noise added to each point, in `[0, 1]`.
    pub noise: f64,
    /// The share of points used for training, in `[0.1, 0.9]`; the rest are test points.
    pub train_ratio: f64,
    /// Seeds the data, the weights, dropout and the batches.
    pub seed: u64,
    /// Hidden layer widths (see [`ModelSpec`]).
    pub hidden: Vec<usize>,
    /// One of [`ACTIVATIONS`](crate::model::ACTIVATIONS).
    pub activation: String,
    /// One of [`INITS`](crate::model::INITS).
    pub init: String,
    /// BatchNorm1d before each activation.
    pub batch_norm: bool,
    /// Dropout probability after each activation.
    pub dropout: f64,
    /// `sgd`, `adam` or `adamw`.
    pub optimizer: String,
    /// The learning rate: a finite number above 0 (a number, or a string such as `"0.01"`).
    #[serde(deserialize_with = "number_or_string")]
    pub lr: f64,
    /// SGD's momentum in `[0, 1)` (0: plain SGD).
    pub momentum: f64,
    /// L2 weight decay, `>= 0`: added to the gradient for SGD and Adam, decoupled for AdamW.
    #[serde(deserialize_with = "number_or_string")]
    pub l2: f64,
    /// Points per mini-batch, 1 to the number of training points (at most 1024).
    pub batch_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            dataset: "spiral".into(),
            points: 400,
            noise: 0.02,
            train_ratio: 0.5,
            seed: 0,
            hidden: vec![16, 16],
            activation: "tanh".into(),
            init: "kaiming".into(),
            batch_norm: false,
            dropout: 0.0,
            optimizer: "adam".into(),
            lr: 0.03,
            momentum: 0.9,
            l2: 0.0,
            batch_size: 32,
        }
    }
}

/// The optimizers the page offers.
pub const OPTIMIZERS: [&str; 3] = ["sgd", "adam", "adamw"];

impl Config {
    /// The model part of the configuration.
    pub fn model_spec(&self) -> ModelSpec {
        ModelSpec {
            hidden: self.hidden.clone(),
            activation: self.activation.clone(),
            init: self.init.clone(),
            batch_norm: self.batch_norm,
            dropout: self.dropout,
        }
    }

    /// Checks the fields that do not need the data (the data set's are checked when it is made).
    pub fn validate(&self) -> Result<(), ApiError> {
        self.model_spec().validate()?;
        check_lr(self.lr)?;
        ApiError::one_of("optimizer", "optimizer", &self.optimizer, &OPTIMIZERS)?;
        if !(self.momentum.is_finite() && (0.0..1.0).contains(&self.momentum)) {
            return Err(ApiError::bad(format!(
                "momentum: Invalid momentum value: {} (expected a number in [0, 1))",
                self.momentum
            )));
        }
        if !(self.l2.is_finite() && self.l2 >= 0.0) {
            return Err(ApiError::bad(format!("l2: Invalid weight_decay value: {}", self.l2)));
        }
        if !(1..=1024).contains(&self.batch_size) {
            return Err(ApiError::bad(format!(
                "batch_size: expected a batch size in [1, 1024], got {}",
                self.batch_size
            )));
        }
        Ok(())
    }
}

/// PyTorch's words for a learning rate it refuses, with the field's name.
pub fn check_lr(lr: f64) -> Result<(), ApiError> {
    if lr.is_finite() && lr > 0.0 && lr <= 10.0 {
        Ok(())
    } else {
        Err(ApiError::bad(format!(
            "lr: Invalid learning rate: {lr} (expected a finite number in (0, 10])"
        )))
    }
}

/// A number, or a string holding one (`"NaN"` and `"inf"` included, so that they are refused
/// by name rather than as malformed JSON).
fn number_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Num {
        N(f64),
        S(String),
    }
    match Num::deserialize(d)? {
        Num::N(v) => Ok(v),
        Num::S(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| serde::de::Error::custom(format!("expected a number, got {s:?}"))),
    }
}

/// The body of `POST .../lr`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LrRequest {
    /// The new learning rate.
    #[serde(deserialize_with = "number_or_string")]
    pub lr: f64,
}

/// The body of `POST .../speed`: the most steps per second while playing.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpeedRequest {
    /// 1 to 1000000 steps per second, or `null` for as fast as it goes.
    pub max_steps_per_sec: Option<f64>,
}

/// The body of `POST .../step` (optional).
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StepRequest {
    /// How many steps (1 to 10000).
    pub steps: usize,
}

impl Default for StepRequest {
    fn default() -> Self {
        StepRequest { steps: 1 }
    }
}

/// The body of `POST .../unit`: which hidden unit's gradient to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitRequest {
    /// The hidden layer, counted from 0.
    pub layer: usize,
    /// The unit in that layer, counted from 0.
    pub unit: usize,
}

/// Parses a JSON body, or says where it is malformed; an empty body is `{}`.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        body
    };
    let mut de = serde_json::Deserializer::from_slice(body);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    let (path, error) = match parsed {
        Ok(v) => match de.end() {
            Ok(()) => return Ok(v),
            Err(e) => (String::from("."), e),
        },
        Err(e) => (e.path().to_string(), e.into_inner()),
    };
    Err(if !error.is_data() {
        ApiError::bad(format!("malformed JSON: {error}"))
    } else if path == "." {
        ApiError::bad(format!("invalid request: {error}"))
    } else {
        ApiError::bad(format!("{path}: {error}"))
    })
}

/// The routes: the page and its assets, and the session API under `/api`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", crate::assets::INDEX_HTML) }),
        )
        .route(
            "/app.js",
            get(|| async { asset("text/javascript", crate::assets::APP_JS) }),
        )
        .route(
            "/style.css",
            get(|| async { asset("text/css", crate::assets::STYLE_CSS) }),
        )
        .route("/api/sessions", post(create))
        .route("/api/sessions/{id}", get(snapshot).delete(close))
        .route("/api/sessions/{id}/events", get(events))
        .route("/api/sessions/{id}/{action}", post(action))
        .method_not_allowed_fallback(|| async {
            ApiError {
                status: 405,
                message: "method not allowed on this route".into(),
            }
        })
        .fallback(|| async {
            ApiError {
                status: 404,
                message: "no such route".into(),
            }
        })
        .with_state(state)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn json(body: Arc<String>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body.as_str().to_owned()).into_response()
}

/// `POST /api/sessions` with a [`Config`]: a new paused session; answers `{"id", "snapshot"}`.
async fn create(State(state): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let config: Config = parse_json(&body)?;
    let (id, snapshot) = state.create(config).await?;
    let body = format!("{{\"id\":{},\"snapshot\":{}}}", serde_json::json!(id), snapshot);
    Ok(json(Arc::new(body)))
}

/// `GET /api/sessions/{id}`: the latest snapshot (statistics, boundary, maps).
async fn snapshot(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let session = state.get(&id)?;
    let latest = session.latest();
    Ok(json(latest))
}

/// `DELETE /api/sessions/{id}`: frees the session now.
async fn close(State(state): State<AppState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    state.remove(&id)?;
    Ok(json(Arc::new("{\"closed\":true}".into())))
}

/// `POST /api/sessions/{id}/{play|pause|step|reset|lr|speed|unit}`: answers with the snapshot after it.
async fn action(
    State(state): State<AppState>,
    Path((id, action)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let session = state.get(&id)?;
    let command = match action.as_str() {
        "play" => Command::Play,
        "pause" => Command::Pause,
        "step" => {
            let r: StepRequest = parse_json(&body)?;
            if !(1..=10_000).contains(&r.steps) {
                return Err(ApiError::bad(format!(
                    "steps: expected 1 to 10000 steps, got {}",
                    r.steps
                )));
            }
            Command::Step(r.steps)
        }
        "reset" => {
            if body.iter().all(u8::is_ascii_whitespace) {
                Command::Reset(None)
            } else {
                let config: Config = parse_json(&body)?;
                let data = crate::session::prepare(&config)?;
                Command::Reset(Some(Box::new((config, data))))
            }
        }
        "lr" => {
            let r: LrRequest = parse_json(&body)?;
            check_lr(r.lr)?;
            Command::SetLr(r.lr)
        }
        "unit" => Command::Unit(parse_json(&body)?),
        "speed" => {
            let r: SpeedRequest = parse_json(&body)?;
            if let Some(rate) = r
                .max_steps_per_sec
                .filter(|r| !(r.is_finite() && (1.0..=1e6).contains(r)))
            {
                return Err(ApiError::bad(format!(
                    "max_steps_per_sec: expected 1 to 1000000 steps per second or null, got {rate}"
                )));
            }
            Command::Speed(r.max_steps_per_sec)
        }
        other => {
            return Err(ApiError {
                status: 404,
                message: format!(
                    "action: unknown action {other:?}; expected play, pause, step, reset, lr, speed or unit"
                ),
            })
        }
    };
    Ok(json(session.send(command).await?))
}

/// `GET /api/sessions/{id}/events`: server-sent events, one `snapshot` event per update.
async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let session = state.get(&id)?;
    let mut rx = session.subscribe();
    let guard = StreamGuard::new(session);
    let first = rx.borrow_and_update().clone();
    let stream = futures_util::stream::unfold((rx, guard, Some(first)), |(mut rx, guard, first)| async move {
        if let Some(first) = first {
            let event = Event::default().event("snapshot").data(first.as_str());
            return Some((Ok(event), (rx, guard, None)));
        }
        rx.changed().await.ok()?;
        let latest = rx.borrow_and_update().clone();
        let event = Event::default().event("snapshot").data(latest.as_str());
        Some((Ok(event), (rx, guard, None)))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
