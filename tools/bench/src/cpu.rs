//! Where the machine's CPU went during a run, from /proc: the server, PostgreSQL's processes,
//! RabbitMQ, the load tool itself, and the rest (kernel threads, anything else).

use std::collections::HashMap;

/// (command name, CPU seconds) from the text of /proc/PID/stat.
fn stat_seconds(stat: &str) -> (&str, f64) {
    let comm = stat
        .split_once('(')
        .and_then(|(_, r)| r.rsplit_once(')'))
        .map_or("", |(c, _)| c);
    // utime + stime
    (comm, ticks_after_comm(stat, 11, 12))
}

/// CPU seconds used by this process's children that have ended and been waited for.
pub fn children_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        // cutime + cstime
        .map_or(0.0, |s| ticks_after_comm(&s, 13, 14))
}

/// Seconds in the two tick fields `a` and `b` of a /proc/PID/stat text, counted from the
/// field after the command name (which may hold spaces and parentheses).
fn ticks_after_comm(stat: &str, a: usize, b: usize) -> f64 {
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    let field = |i: usize| f.get(i).and_then(|x| x.parse::<u64>().ok()).unwrap_or(0);
    (field(a) + field(b)) as f64 / 100.0
}

/// The whole machine's CPU seconds so far, from /proc/stat's first line.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Machine {
    /// Running anything: user, nice, system, irq, softirq (guest time is already in user).
    pub busy: f64,
    /// Wanted to run but the virtual machine's host ran something else: not this machine's
    /// work, so not in `busy`; it is why the machine's speed drifts.
    pub steal: f64,
    /// Everything, idle and iowait included.
    pub all: f64,
}

impl Machine {
    pub fn read() -> Self {
        std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|s| s.lines().next().map(Self::parse))
            .unwrap_or_default()
    }

    fn parse(line: &str) -> Self {
        let v: Vec<f64> = line
            .split_whitespace()
            .skip(1)
            .map(|x| x.parse::<f64>().unwrap_or(0.0) / 100.0)
            .collect();
        let at = |i: usize| v.get(i).copied().unwrap_or(0.0);
        // user nice system idle iowait irq softirq steal guest guest_nice
        Self {
            busy: at(0) + at(1) + at(2) + at(5) + at(6),
            steal: at(7),
            all: (0..8).map(at).sum(),
        }
    }

    pub fn since(self, before: Machine) -> Machine {
        Machine {
            busy: self.busy - before.busy,
            steal: self.steal - before.steal,
            all: self.all - before.all,
        }
    }

    /// The share of the cores' time the host took.
    pub fn steal_share(&self) -> f64 {
        if self.all > 0.0 {
            self.steal / self.all
        } else {
            0.0
        }
    }
}

/// A snapshot of CPU used so far: the machine, and per process.
pub struct Snapshot {
    machine: Machine,
    processes: HashMap<u32, (String, f64)>,
}

impl Snapshot {
    pub fn take() -> Self {
        let mut processes = HashMap::new();
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for entry in dir.flatten() {
                let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse().ok()) else {
                    continue;
                };
                if let Ok(s) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
                    let (comm, secs) = stat_seconds(&s);
                    processes.insert(pid, (comm.to_owned(), secs));
                }
            }
        }
        Self {
            machine: Machine::read(),
            processes,
        }
    }

    /// CPU seconds since `before` of the machine, and of the processes whose command name
    /// `group` puts in a group (processes that ended meanwhile are not counted).
    pub fn since(
        &self,
        before: &Snapshot,
        group: impl Fn(u32, &str) -> Option<&'static str>,
    ) -> Split {
        let mut groups: Vec<(&'static str, f64)> = Vec::new();
        for (pid, (comm, secs)) in &self.processes {
            let Some(g) = group(*pid, comm) else { continue };
            let used = secs - before.processes.get(pid).map_or(0.0, |(_, s)| *s);
            match groups.iter_mut().find(|(name, _)| *name == g) {
                Some((_, total)) => *total += used,
                None => groups.push((g, used)),
            }
        }
        Split {
            machine: self.machine.since(before.machine),
            groups,
        }
    }
}

/// CPU seconds of the machine and of each group.
pub struct Split {
    pub machine: Machine,
    pub groups: Vec<(&'static str, f64)>,
}

impl Split {
    pub fn of(&self, group: &str) -> f64 {
        self.groups
            .iter()
            .find(|(g, _)| *g == group)
            .map_or(0.0, |(_, s)| *s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_name_and_ticks_even_with_spaces_and_parens_in_the_name() {
        let stat = "42 (tokio (rt) w) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0";
        assert_eq!(stat_seconds(stat), ("tokio (rt) w", 3.0));
    }

    #[test]
    fn steal_and_guest_are_not_the_machines_work() {
        let m = Machine::parse("cpu  1000 100 300 5000 50 10 40 200 70 0");
        assert_eq!(m.busy, 14.5);
        assert_eq!(m.steal, 2.0);
        assert_eq!(m.all, 67.0);
        assert!((m.steal_share() - 2.0 / 67.0).abs() < 1e-12);
    }

    #[test]
    fn this_process_has_used_some_cpu() {
        let x: u64 = (0..2_000_000u64).map(|i| i % 7).sum();
        assert!(x > 0);
        let now = Snapshot::take();
        assert!(now.machine.busy > 0.0);
        assert!(now.processes.contains_key(&std::process::id()));
    }
}
