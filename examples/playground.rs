//! The playground in the browser: a local web server where a small network is built, trained
//! live on ferrograd, and watched layer by layer (see docs/playground.md).
//!
//! ```text
//! cargo run --release --example playground [-- --port 8321]
//! cargo run --release --example playground -- --bench 3000   # steps/s with no page open
//! ```

use ferrograd_playground::{bench, Config, Server, ServerOptions};

// Memory from mimalloc's per-thread free lists: "Memory" in ferrograd's crate page.
#[global_allocator]
static ALLOCATOR: ferrograd::Allocator = ferrograd::Allocator;

const USAGE: &str = "\
Serves the ferrograd playground on 127.0.0.1 (loopback only).

Usage: cargo run --release --example playground -- [OPTIONS]

Options:
  --port N        the port to listen on (0: any free one) [default: 8321]
  --bench STEPS   train the page's default model (the spiral, two tanh layers of 16, Adam)
                  STEPS steps with no page and no snapshots, print the steps per second, exit
  -h, --help      print this help";

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}\n\n{USAGE}");
        std::process::exit(2);
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    use lexopt::prelude::*;
    let mut port: u16 = 8321;
    let mut bench_steps: Option<usize> = None;
    let mut parser = lexopt::Parser::from_env();
    while let Some(arg) = parser.next()? {
        match arg {
            Long("port") => port = parser.value()?.parse()?,
            Long("bench") => bench_steps = Some(parser.value()?.parse()?),
            Short('h') | Long("help") => {
                println!("{USAGE}");
                return Ok(());
            }
            _ => return Err(arg.unexpected().into()),
        }
    }
    if let Some(steps) = bench_steps {
        let config = Config::default();
        let rate = bench(&config, steps)?;
        println!(
            "{steps} steps of {:?} {:?} on {} (batch {}): {rate:.0} steps/s with no page",
            config.hidden, config.activation, config.dataset, config.batch_size
        );
        return Ok(());
    }
    let server = Server::start(([127, 0, 0, 1], port).into(), ServerOptions::default())?;
    println!("ferrograd playground: open {} (Ctrl-C stops it)", server.url());
    server.wait();
    Ok(())
}
