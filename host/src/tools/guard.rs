//! Tools die with their server (Linux).
//!
//! A command tool runs in a process group of its own, so that a cancel reaches everything it
//! started; but then nothing ends it when the server itself is killed (SIGKILL, a crash, the OOM
//! killer): its work would go on while another server fails its task for a lapsed lease. So each
//! tool starts under a guard: the process `spawn` creates forks once more before `exec`; the
//! copy that execs is the program, and the first one, the group's leader, stays behind and
//! watches. When the program exits, the guard exits the same way (the server sees the program's
//! own status). When the server is gone (the guard's parent changes), the guard kills the whole
//! group with SIGKILL. The program gets SIGKILL if the guard itself dies.
//!
//! The guard is a forked copy of a multi-threaded process that never execs, so it runs only
//! async-signal-safe calls (`waitpid`, `getppid`, `kill`, `nanosleep`, `signal`, `close`,
//! `_exit`) and allocates nothing. It polls rather than waiting on a signal: `PR_SET_PDEATHSIG`
//! follows the thread that forked, and a server's threads come and go.

use std::io;

/// How often the guard looks whether its program ended or its server is gone.
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
        // The server's own SIGCHLD handler came with the fork; the guard reaps by polling.
        libc::signal(libc::SIGCHLD, libc::SIG_DFL);
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
                // The server is gone: so is everything it started. This kills the guard too.
                libc::kill(0, libc::SIGKILL);
                libc::_exit(137);
            }
            libc::nanosleep(&pause, std::ptr::null_mut());
        }
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
