//! Tools die with their server (Linux).
//!
//! A command tool runs in a process group of its own, so that a cancel reaches everything it
//! started; but then nothing ends it when the server itself is killed (SIGKILL, a crash, the OOM
//! killer): its work would go on while another server fails its task for a lapsed lease. So each
//! tool starts under a guard: the process `spawn` creates forks once more before `exec`; the
//! copy that execs is the program, and the first one, the group's leader, stays behind and
//! watches. When the program exits, the guard exits the same way (the server sees the program's
//! own status). When the server is gone, the guard kills the whole group with SIGKILL. The
//! program gets SIGKILL if the guard itself dies.
//!
//! The guard sleeps in `poll` on a pidfd of the program and one of the server, so it wakes the
//! moment either ends: a tool that answers in a millisecond is not held to the next look of a
//! timer. Kernels before 5.3 have no pidfds; there the guard looks every 50 ms instead (a quick
//! tool's answer then waits up to that long).
//!
//! The guard is a forked copy of a multi-threaded process that never execs, so it runs only
//! async-signal-safe calls and plain system calls (`waitpid`, `getppid`, `kill`, `poll`,
//! `pidfd_open`, `nanosleep`, `signal`, `close`, `_exit`) and allocates nothing. It does not wait
//! on a signal for the server's end: `PR_SET_PDEATHSIG` follows the thread that forked, and a
//! server's threads come and go.

use std::io;

/// Without pidfds: how often the guard looks whether its program ended or its server is gone.
const LOOK_EVERY_NS: libc::c_long = 50_000_000;

/// Make `command`'s program start under a guard. Register it after every other `pre_exec`
/// step, so that the program gets what they set up.
pub(super) fn guard(command: &mut tokio::process::Command) {
    // The server, as the guard will see it: its parent until the server is gone.
    let server = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the child between fork and exec and calls only
    // async-signal-safe functions (see the module docs); it allocates nothing.
    unsafe {
        command.pre_exec(move || split(server));
    }
}

/// In the child `spawn` forked: fork again. The new process returns to `exec` the program; this
/// one becomes the guard and never returns.
fn split(server: libc::pid_t) -> io::Result<()> {
    // SAFETY: getpid(2) and fork(2) are async-signal-safe; nothing here allocates.
    let guard = unsafe { libc::getpid() };
    let program = unsafe { libc::fork() };
    if program < 0 {
        return Err(io::Error::last_os_error());
    }
    if program == 0 {
        // SAFETY: prctl(2) and getppid(2) are plain system calls. The check after prctl covers
        // a guard that died before the signal was armed.
        unsafe {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 || libc::getppid() != guard {
                libc::_exit(127);
            }
        }
        return Ok(());
    }
    // SAFETY: see `watch`.
    unsafe { watch(program, server) }
}

/// The guard's life: wait for the program, kill the group if the server goes first.
///
/// # Safety
///
/// Only in a forked child that will not return to the caller: it closes every descriptor and
/// ends the process.
unsafe fn watch(program: libc::pid_t, server: libc::pid_t) -> ! {
    unsafe {
        // The guard holds nothing open: the server's readers see the end of the program's output
        // when the program closes it, and std's exec-error pipe is not held past the exec.
        close_all();
        // A cancel signals the whole group: the program answers it, the guard waits for it.
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
        // The server's own SIGCHLD handler came with the fork; the guard reaps by itself.
        libc::signal(libc::SIGCHLD, libc::SIG_DFL);
        if let (Some(program_fd), Some(server_fd)) = (pidfd_open(program), pidfd_open(server)) {
            // The server could have ended before its pidfd was opened (and its number gone to
            // another process); while it is still the parent, the pidfd is the server's.
            if libc::getppid() != server {
                server_gone();
            }
            wait_on_pidfds(program, program_fd, server_fd);
        }
        look_every_while(program, server)
    }
}

/// A pidfd of `pid`, or `None` where the kernel has none (before 5.3) or `pid` is gone.
fn pidfd_open(pid: libc::pid_t) -> Option<libc::c_int> {
    // SAFETY: pidfd_open(2) is a plain system call; it takes no pointers.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0u32) };
    libc::c_int::try_from(fd).ok().filter(|fd| *fd >= 0)
}

/// Sleep until the program or the server ends, and end the same way. Returns only if `poll`
/// fails, for the caller to go on by looking every while.
///
/// # Safety
///
/// As [`watch`].
unsafe fn wait_on_pidfds(program: libc::pid_t, program_fd: libc::c_int, server_fd: libc::c_int) {
    unsafe {
        let mut fds = [
            libc::pollfd {
                fd: program_fd,
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                fd: server_fd,
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        loop {
            if libc::poll(fds.as_mut_ptr(), 2, -1) < 0 {
                // Reading errno this way allocates nothing.
                if io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                    continue;
                }
                return;
            }
            // The program first: if both ended, the program's own status is the answer.
            if fds[0].revents != 0 {
                let mut status = 0;
                if libc::waitpid(program, &mut status, 0) == program {
                    exit_like(status);
                }
                libc::_exit(127); // No such child: nothing left to guard.
            }
            if fds[1].revents != 0 {
                server_gone();
            }
        }
    }
}

/// Without pidfds: look every [`LOOK_EVERY_NS`] whether the program ended or the server is gone.
///
/// # Safety
///
/// As [`watch`].
unsafe fn look_every_while(program: libc::pid_t, server: libc::pid_t) -> ! {
    unsafe {
        let pause = libc::timespec {
            tv_sec: 0,
            tv_nsec: LOOK_EVERY_NS,
        };
        loop {
            let mut status = 0;
            let reaped = libc::waitpid(program, &mut status, libc::WNOHANG);
            if reaped == program {
                exit_like(status);
            }
            if reaped < 0 {
                libc::_exit(127); // No such child: nothing left to guard.
            }
            if libc::getppid() != server {
                server_gone();
            }
            libc::nanosleep(&pause, std::ptr::null_mut());
        }
    }
}

/// The server is gone: so is everything it started. This kills the guard too.
unsafe fn server_gone() -> ! {
    unsafe {
        libc::kill(0, libc::SIGKILL);
        libc::_exit(137);
    }
}

/// Close every descriptor of this process.
unsafe fn close_all() {
    unsafe {
        if libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32) != 0 {
            // Kernels before 5.9: one at a time, as far as the limit goes.
            let mut limit: libc::rlimit = std::mem::zeroed();
            let most = if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
                limit.rlim_cur.min(1 << 16) as libc::c_int
            } else {
                1024
            };
            for fd in 0..most {
                libc::close(fd);
            }
        }
    }
}

/// End this process as the program ended: with its exit code, or by its signal.
unsafe fn exit_like(status: libc::c_int) -> ! {
    unsafe {
        if libc::WIFSIGNALED(status) {
            let signal = libc::WTERMSIG(status);
            libc::signal(signal, libc::SIG_DFL);
            libc::kill(libc::getpid(), signal);
            libc::_exit(128 + signal);
        }
        libc::_exit(libc::WEXITSTATUS(status));
    }
}
