//! The console as a shell's job: its process group and session, and whether a stop
//! (Ctrl-Z) would hand the terminal to a shell that can resume it.
//!
//! Ids are read from `/proc` rather than asked of the kernel one call at a time: inside a
//! PID namespace (a container) a group or session begun outside it is numbered 0, which the
//! process id type of the system-call wrappers cannot hold.

/// A process's own, parent, group and session ids, as the PID namespace of the `/proc`
/// read numbers them (0 for one begun outside it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Ids {
    pid: i64,
    parent: i64,
    group: i64,
    session: i64,
}

impl Ids {
    /// Reads them from `stat`, the text of `/proc/PID/stat`: the id, then the command name
    /// in parentheses (which may itself hold spaces and parentheses), then the state, the
    /// parent's id, the group and the session.
    fn parse(stat: &str) -> Option<Ids> {
        let (head, tail) = stat.rsplit_once(')')?;
        let mut fields = tail.split_whitespace().skip(1);
        Some(Ids {
            pid: head.split_once('(')?.0.trim().parse().ok()?,
            parent: fields.next()?.parse().ok()?,
            group: fields.next()?.parse().ok()?,
            session: fields.next()?.parse().ok()?,
        })
    }

    /// The ids of process `pid` (`"self"` or a number); `None` where they cannot be read.
    fn of(pid: &str) -> Option<Ids> {
        #[cfg(target_os = "linux")]
        {
            Ids::parse(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = pid;
            None
        }
    }
}

/// This process's group id, as the terminal's foreground group is told (0: not known).
pub fn own_group() -> i64 {
    #[cfg(target_os = "linux")]
    {
        Ids::of("self").map_or(0, |ids| ids.group)
    }
    // No PID namespaces elsewhere: the group is never numbered 0.
    #[cfg(all(unix, not(target_os = "linux")))]
    {
        i64::from(rustix::process::getpgrp().as_raw_nonzero().get())
    }
    #[cfg(not(unix))]
    {
        0
    }
}

/// Whether stopping this process hands the terminal to a shell that can resume it: its
/// process group is not orphaned (the nearest ancestor outside the group, as a job-control
/// shell is for its jobs, is in the same session). The kernel discards a stop signal to an
/// orphaned group, so the console would only blink. A console leading its own session
/// (started by tmux or on a pseudo-terminal of its own) is never a shell's job, nor is the
/// first process of a PID namespace (a container's), which its own stop signal does not
/// stop; where it cannot be told, it is tried.
pub fn stops_on_suspend() -> bool {
    #[cfg(unix)]
    {
        if std::process::id() == 1 {
            return false;
        }
        let Some(own) = Ids::of("self") else {
            return true;
        };
        stops(own, |pid| Ids::of(&pid.to_string()))
    }
    #[cfg(not(unix))]
    {
        false
    }
}

/// The rule of `stops_on_suspend` for a process with ids `own`, where `ids` reads another
/// process's: up from the parent through the processes of its own group (a script that
/// started it, say) to the first outside it.
fn stops(own: Ids, ids: impl Fn(i64) -> Option<Ids>) -> bool {
    if own.session == own.pid {
        return false;
    }
    if own.session == 0 {
        return true;
    }
    let mut next = own.parent;
    // A bound, should the ids change under the walk.
    for _ in 0..64 {
        let Some(p) = (next > 0).then(|| ids(next)).flatten() else {
            return true;
        };
        if p.group != own.group {
            return p.session == own.session;
        }
        next = p.parent;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(pid: i64, parent: i64, group: i64, session: i64) -> Ids {
        Ids {
            pid,
            parent,
            group,
            session,
        }
    }

    #[test]
    fn ids_are_read_around_the_command_name_whatever_it_holds() {
        let stat = "4242 (a (b) c) S 4000 4242 3900 34816 4242 4194560 ...";
        assert_eq!(Ids::parse(stat), Some(ids(4242, 4000, 4242, 3900)));
        assert_eq!(Ids::parse("4242 (cut"), None);
        assert_eq!(Ids::parse("4242 (x) S 1 2"), None);
        // Ids begun outside this PID namespace are 0, not an error.
        assert_eq!(
            Ids::parse("7 (arbdesk) S 0 0 0 0 -1"),
            Some(ids(7, 0, 0, 0))
        );
    }

    #[test]
    fn only_a_job_of_a_shell_in_its_own_session_is_stopped() {
        // 100: a job-control shell leading session 100; 150: a process of session 50;
        // 300: a script the shell started as a job, which started the console.
        let others = |pid| match pid {
            100 => Some(ids(100, 90, 100, 100)),
            150 => Some(ids(150, 1, 150, 50)),
            300 => Some(ids(300, 100, 300, 100)),
            _ => None,
        };
        // The shell's job, started by it or by a script it started.
        assert!(stops(ids(200, 100, 200, 100), others));
        assert!(stops(ids(310, 300, 300, 100), others));
        // Leading its own session (tmux, a pseudo-terminal of its own): nothing resumes it.
        assert!(!stops(ids(200, 100, 200, 200), others));
        // Started by a process of another session: orphaned.
        assert!(!stops(ids(200, 150, 200, 100), others));
        // Ids begun outside the namespace, or a parent that cannot be read: tried.
        assert!(stops(ids(200, 0, 0, 0), others));
        assert!(stops(ids(200, 400, 200, 100), others));
    }
}
