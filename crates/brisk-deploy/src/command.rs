//! How deployers write the command that starts a worker on another host or in a batch job:
//! the stock `brisk worker`, or a program of the user's own run with the worker environment
//! (`env BRISK_WORKER_OF=... program args...`), quoted for a POSIX shell.

use crate::env::WorkerEnv;

/// Quote `s` for a POSIX shell.
pub(crate) fn sh_quote(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=@%+,".contains(c))
    {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// How a worker is started on a host.
pub(crate) enum WorkerCommand {
    /// `brisk worker ADDRESS ...` (the name is appended).
    Stock(Vec<String>),
    /// `env BRISK_WORKER_OF=... program args...`: a program of your own.
    Program {
        program: String,
        args: Vec<String>,
        env: Box<WorkerEnv>,
        /// Leave the thread count to the program (its host's cores).
        default_threads: bool,
    },
}

impl WorkerCommand {
    pub(crate) fn argv(&self, name: &str) -> Vec<String> {
        match self {
            WorkerCommand::Stock(base) => {
                let mut argv = base.clone();
                argv.extend(["--name".to_string(), name.to_string()]);
                argv
            }
            WorkerCommand::Program {
                program,
                args,
                env,
                default_threads,
            } => {
                let env = WorkerEnv {
                    name: name.to_string(),
                    ..(**env).clone()
                };
                let mut argv = vec!["env".to_string()];
                for (k, v) in env.public_vars() {
                    if *default_threads && k == crate::env::WORKER_NTHREADS {
                        continue;
                    }
                    argv.push(format!("{k}={v}"));
                }
                argv.push(program.clone());
                argv.extend(args.iter().cloned());
                argv
            }
        }
    }
}
