//! A session: one model training on its own thread, driven by [`Command`]s, publishing a
//! snapshot of itself at a steady rate while it plays.

use std::sync::atomic::{AtomicBool, AtomicUsize};
use std::sync::mpsc::{self, RecvTimeoutError, TryRecvError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, watch};

use crate::api::{ApiError, Config, UnitRequest};
use crate::data::Dataset;
use crate::trainer::Trainer;

/// How often a playing session publishes a snapshot (15 per second).
pub const UPDATE_INTERVAL: Duration = Duration::from_millis(66);

/// What the page asks a session to do.
#[derive(Debug)]
pub enum Command {
    /// Train continuously.
    Play,
    /// Stop training.
    Pause,
    /// Train this many steps, then answer.
    Step(usize),
    /// Rebuild the model from its configuration (the same, or a new one with its data).
    Reset(Option<Box<(Config, Dataset)>>),
    /// Change the learning rate and go on.
    SetLr(f64),
    /// Train at most this many steps per second while playing (`None`: as fast as it goes).
    Speed(Option<f64>),
    /// Follow the gradient reaching this hidden unit.
    Unit(UnitRequest),
}

type Reply = oneshot::Sender<Result<Arc<String>, ApiError>>;

/// Checks a configuration and makes its data.
pub fn prepare(config: &Config) -> Result<Dataset, ApiError> {
    config.validate()?;
    let data = Dataset::generate(
        &config.dataset,
        config.points,
        config.noise,
        config.train_ratio,
        config.seed,
    )?;
    if config.batch_size > data.train_x.len() {
        return Err(ApiError::bad(format!(
            "batch_size: {} is more than the {} training points",
            config.batch_size,
            data.train_x.len()
        )));
    }
    if config.batch_norm && config.batch_size < 2 {
        return Err(ApiError::bad(
            "batch_size: Expected more than 1 value per channel when training with BatchNorm, got batch_size = 1",
        ));
    }
    Ok(data)
}

/// The server's side of a session: how to reach its thread, and whether a page watches it.
pub struct SessionHandle {
    commands: mpsc::Sender<(Command, Reply)>,
    snapshots: watch::Receiver<Arc<String>>,
    /// When a request or a stream last touched the session.
    pub(crate) last_seen: Mutex<Instant>,
    /// Open event streams.
    pub(crate) streams: AtomicUsize,
    /// Whether a stream was ever opened (a page watched it).
    pub(crate) watched: AtomicBool,
}

impl SessionHandle {
    /// Starts the thread of a session training `config` on `data`; answers with its handle and
    /// first snapshot once the model is built.
    pub async fn spawn(config: Config, data: Dataset) -> Result<(Arc<SessionHandle>, Arc<String>), ApiError> {
        let (commands, rx) = mpsc::channel();
        let (publish, snapshots) = watch::channel(Arc::new(String::from("{}")));
        let (ready, first) = oneshot::channel();
        std::thread::Builder::new()
            .name("playground-session".into())
            .spawn(move || run(config, data, rx, publish, Some(ready)))
            .map_err(|e| ApiError {
                status: 503,
                message: format!("session: could not start its thread: {e}"),
            })?;
        let first = first.await.map_err(|_| stopped())??;
        let handle = SessionHandle {
            commands,
            snapshots,
            last_seen: Mutex::new(Instant::now()),
            streams: AtomicUsize::new(0),
            watched: AtomicBool::new(false),
        };
        Ok((Arc::new(handle), first))
    }

    /// Sends `command` and waits for the snapshot after it.
    pub async fn send(&self, command: Command) -> Result<Arc<String>, ApiError> {
        self.touch();
        let (reply, answer) = oneshot::channel();
        self.commands.send((command, reply)).map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }

    /// The latest snapshot.
    pub fn latest(&self) -> Arc<String> {
        self.touch();
        self.snapshots.borrow().clone()
    }

    /// A receiver of every later snapshot.
    pub fn subscribe(&self) -> watch::Receiver<Arc<String>> {
        self.snapshots.clone()
    }

    /// Marks the session as in use now.
    pub fn touch(&self) {
        if let Ok(mut t) = self.last_seen.lock() {
            *t = Instant::now();
        }
    }
}

fn stopped() -> ApiError {
    ApiError {
        status: 500,
        message: "session: its training thread stopped".into(),
    }
}

/// The session's thread: builds the model, runs it until a reset (then builds again) or until
/// the handle is dropped (then frees everything).
fn run(
    mut config: Config,
    mut data: Dataset,
    commands: mpsc::Receiver<(Command, Reply)>,
    publish: watch::Sender<Arc<String>>,
    mut reply: Option<Reply>,
) {
    let mut speed = None;
    loop {
        let built = match config.model_spec().build(2, data.classes, config.seed) {
            Ok(b) => b,
            Err(e) => {
                if let Some(r) = reply.take() {
                    let _ = r.send(Err(ApiError::bad(e.to_string())));
                }
                return;
            }
        };
        let mut trainer = Trainer::new(&config, &data, &built);
        trainer.max_steps_per_sec = speed;
        let first = publish_now(&mut trainer, &publish);
        if let Some(r) = reply.take() {
            let _ = r.send(first);
        }
        match serve(&mut trainer, &commands, &publish) {
            None => return,
            Some((next, r)) => {
                speed = trainer.max_steps_per_sec;
                drop(trainer);
                if let Some(next) = next {
                    (config, data) = *next;
                }
                reply = Some(r);
            }
        }
    }
}

fn publish_now(trainer: &mut Trainer<'_>, publish: &watch::Sender<Arc<String>>) -> Result<Arc<String>, ApiError> {
    let snapshot = Arc::new(trainer.snapshot().map_err(|e| ApiError::bad(e.to_string()))?);
    publish.send_replace(snapshot.clone());
    Ok(snapshot)
}

/// Runs the commands and, while playing, the training; returns on a reset (with its new
/// configuration and reply) or `None` when the session is closed.
#[allow(clippy::type_complexity)]
fn serve(
    trainer: &mut Trainer<'_>,
    commands: &mpsc::Receiver<(Command, Reply)>,
    publish: &watch::Sender<Arc<String>>,
) -> Option<(Option<Box<(Config, Dataset)>>, Reply)> {
    let mut last_publish = Instant::now();
    // Pacing: steps taken since `paced_from`, held to `trainer.max_steps_per_sec`.
    let (mut paced_from, mut paced) = (Instant::now(), 0usize);
    loop {
        let ahead = match trainer.max_steps_per_sec {
            Some(rate) if trainer.playing => paced as f64 / rate - paced_from.elapsed().as_secs_f64(),
            _ => 0.0,
        };
        let next = if trainer.playing && ahead <= 0.0 {
            match commands.try_recv() {
                Ok(c) => Some(c),
                Err(TryRecvError::Empty) => None,
                Err(TryRecvError::Disconnected) => return None,
            }
        } else {
            let wait = if trainer.playing {
                Duration::from_secs_f64(ahead.min(0.01))
            } else {
                Duration::from_secs(1)
            };
            match commands.recv_timeout(wait) {
                Ok(c) => Some(c),
                Err(RecvTimeoutError::Timeout) if trainer.playing && ahead > 0.01 => continue,
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => return None,
            }
        };
        if let Some((command, reply)) = next {
            let outcome = match command {
                Command::Reset(next) => return Some((next, reply)),
                Command::Play => {
                    trainer.playing = true;
                    trainer.error = None;
                    (paced_from, paced) = (Instant::now(), 0);
                    Ok(())
                }
                Command::Speed(rate) => {
                    trainer.max_steps_per_sec = rate;
                    (paced_from, paced) = (Instant::now(), 0);
                    Ok(())
                }
                Command::Pause => {
                    trainer.playing = false;
                    Ok(())
                }
                Command::Step(n) => {
                    trainer.error = None;
                    let mut outcome = Ok(());
                    for i in 0..n {
                        // Stops at the first step whose loss is not finite (its error says so).
                        if let Err(e) = trainer.train_step(i + 1 == n) {
                            trainer.playing = false;
                            outcome = Err(ApiError::bad(e.to_string()));
                        }
                        if outcome.is_err() || trainer.error.is_some() {
                            break;
                        }
                    }
                    outcome
                }
                Command::SetLr(lr) => {
                    trainer.set_lr(lr);
                    Ok(())
                }
                Command::Unit(u) => match trainer.width(u.layer) {
                    None => Err(ApiError::bad(format!(
                        "layer: no hidden layer {} (the model has {})",
                        u.layer,
                        trainer.config.hidden.len()
                    ))),
                    Some(w) if u.unit >= w => Err(ApiError::bad(format!(
                        "unit: hidden layer {} has {w} units, so unit {} is out of range",
                        u.layer, u.unit
                    ))),
                    Some(_) => {
                        trainer.unit = Some(u);
                        Ok(())
                    }
                },
            };
            let answer = outcome.and_then(|()| publish_now(trainer, publish));
            last_publish = Instant::now();
            let _ = reply.send(answer);
            continue;
        }
        if trainer.playing {
            let due = last_publish.elapsed() >= UPDATE_INTERVAL;
            paced += 1;
            if let Err(e) = trainer.train_step(due) {
                trainer.playing = false;
                trainer.error = Some(format!("training stopped at step {}: {e}", trainer.step));
            }
            if due || !trainer.playing {
                last_publish = Instant::now();
                let _ = publish_now(trainer, publish);
            }
        }
    }
}
