//! A full consistency check of the state machine's invariants (see the design note), for
//! tests and debugging. Linear in the size of the state.

use crate::state::{SchedulerState, TaskState};

impl SchedulerState {
    /// Check every invariant; the first broken one is described in the error.
    pub fn validate(&self) -> Result<(), String> {
        let mut live = 0;
        for (id, t) in self.tasks.iter() {
            live += 1;
            let key = self.names.key(&t.key);
            if self.lookup(&key) != Some(id) {
                return Err(format!("{}: index does not point at it", key));
            }
            match t.state {
                TaskState::Processing(w) => {
                    if !self
                        .workers
                        .get(&w)
                        .is_some_and(|x| x.processing.contains(&id))
                    {
                        return Err(format!("{}: processing on {w} but not in its set", key));
                    }
                }
                TaskState::Memory => {
                    if t.who_has.is_empty() {
                        return Err(format!("{}: in memory nowhere", key));
                    }
                }
                TaskState::Waiting => {
                    let n = t
                        .deps
                        .iter()
                        .filter(|&&d| self.t(d).state != TaskState::Memory)
                        .count() as u32;
                    if n != t.waiting_on {
                        return Err(format!(
                            "{}: waiting_on {} but {n} deps are not in memory",
                            key, t.waiting_on
                        ));
                    }
                    if n == 0 {
                        return Err(format!("{}: waiting with every input in memory", key));
                    }
                }
                TaskState::Queued => {
                    if !self.queued.contains(&(t.priority, id)) {
                        return Err(format!("{}: queued but not in the queue", key));
                    }
                }
                TaskState::NoWorker => {
                    if !self.no_worker.contains(&(t.priority, id)) {
                        return Err(format!("{}: no-worker but not in that set", key));
                    }
                }
                TaskState::Released | TaskState::Erred => {}
            }
            if t.state != TaskState::Memory && !t.who_has.is_empty() {
                return Err(format!(
                    "{}: {:?} but held by {:?}",
                    key, t.state, t.who_has
                ));
            }
            for w in &t.who_has {
                if !self
                    .workers
                    .get(w)
                    .is_some_and(|x| x.has_what.contains(&id))
                {
                    return Err(format!("{}: held by {w} but not in its has_what", key));
                }
            }
            let needing = t
                .dependents
                .iter()
                .filter(|&&d| self.t(d).state.needs_deps())
                .count() as u32;
            if needing != t.waiters {
                return Err(format!(
                    "{}: waiters {} but {needing} dependents need it",
                    key, t.waiters
                ));
            }
            for &d in &t.deps {
                if !self.t(d).dependents.contains(&id) {
                    return Err(format!(
                        "{}: not among the dependents of {}",
                        key,
                        self.key(d)
                    ));
                }
            }
            if t.state.needs_deps() || t.state == TaskState::Memory {
                for &d in &t.deps {
                    if t.state.needs_deps()
                        && !matches!(t.state, TaskState::Waiting)
                        && self.t(d).state != TaskState::Memory
                    {
                        return Err(format!(
                            "{}: {:?} but input {} is not in memory",
                            key,
                            t.state,
                            self.key(d)
                        ));
                    }
                }
            }
        }
        let mut counts = vec![[0u64; 7]; self.prefixes.len()];
        for (_, t) in self.tasks.iter() {
            counts[t.prefix as usize][t.state.index()] += 1;
        }
        for (p, c) in self.prefixes.iter().zip(&counts) {
            if p.counts != *c {
                return Err(format!(
                    "prefix {}: counts {:?} but the tasks are {c:?}",
                    p.name, p.counts
                ));
            }
        }
        if live != self.index.len() {
            return Err(format!(
                "{live} live tasks but {} indexed",
                self.index.len()
            ));
        }
        for (w, wk) in &self.workers {
            for &id in &wk.processing {
                if self.tasks.get(id).map(|t| t.state) != Some(TaskState::Processing(*w)) {
                    return Err(format!("worker {w} processes a task in another state"));
                }
            }
            for &id in &wk.has_what {
                if !self.tasks.get(id).is_some_and(|t| t.who_has.contains(w)) {
                    return Err(format!("worker {w} has a task that does not list it"));
                }
            }
        }
        for &(_, id) in self.queued.iter().chain(self.no_worker.iter()) {
            if self.tasks.get(id).is_none() {
                return Err(format!("a queued id {id} is not live"));
            }
        }
        Ok(())
    }
}
