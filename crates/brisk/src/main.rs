//! The `brisk` command: `brisk demo` runs the talk's examples.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "brisk",
    version,
    about = "Parallel computing through task scheduling, native to Rust"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the talk's examples on the default scheduler, printing each result and its time.
    Demo {
        /// Where to write pictures of the graphs.
        #[arg(long, default_value = "target/brisk-demo")]
        out: PathBuf,
    },
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BRISK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        Command::Demo { out } => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            brisk::demo::run(&mut lock, &out)?;
        }
    }
    Ok(())
}
