//! Harness that runs the real `ringmq` binary (`ringmq serve`) for black-box
//! tests: fresh data directory, free ports, bounded waits everywhere.
//!
//! ```text
//! <target>/<profile>/ringmq serve --data DIR --namesrv-port P --broker-port Q
//!     --shards N [--sync-flush] [--set key=value]...
//! ```
//!
//! The process is ready when it prints a line starting with `ringmq ready`
//! on stdout (it does so once both ports accept connections). Everything the
//! child prints on stdout and stderr is drained by two threads into a shared
//! buffer, so a failing test can show it ([`Ringmq::stdout_lines`]; the tail
//! is also printed when a [`Ringmq`] is dropped during a panic).
//!
//! The binary is `ringmq` next to the test executable's profile directory
//! (`.../target/debug/deps/x` → `.../target/debug/ringmq`). Because a test
//! package cannot depend on another package's binary, the harness runs
//! `cargo build -p ringmq` once per test process (a no-op when it is up to
//! date), so a test never runs a stale broker. Set `RINGMQ_BIN` to use a
//! given binary instead and skip the build.

use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long `ringmq serve` may take to print its ready line.
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a SIGTERM'd process may take to exit.
pub const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a restart retries while its ports are still taken: enough for
/// the previous process' sockets to go, not for TIME_WAIT (60 s) to expire,
/// so a server that cannot rebind over TIME_WAIT fails deterministically.
pub const REBIND_TIMEOUT: Duration = Duration::from_secs(10);
/// Prefix of the line `ringmq serve` prints once both ports accept.
pub const READY_PREFIX: &str = "ringmq ready";
/// Lines of output shown when a test panics with a broker running.
const TAIL_LINES_ON_PANIC: usize = 200;

/// How to run `ringmq serve`.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    /// `--shards` (default 2).
    pub shards: u16,
    /// `--sync-flush` (default off: ASYNC_FLUSH).
    pub sync_flush: bool,
    /// Extra `--set key=value` broker settings, in order.
    pub sets: Vec<(String, String)>,
    /// Data directory; `None` = a fresh temporary directory removed on drop.
    pub data: Option<PathBuf>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            shards: 2,
            sync_flush: false,
            sets: Vec::new(),
            data: None,
        }
    }
}

impl ServeOptions {
    /// Adds one `--set key=value`.
    pub fn set(mut self, key: &str, value: &str) -> Self {
        self.sets.push((key.to_owned(), value.to_owned()));
        self
    }
}

/// A running `ringmq serve` process. Dropping it kills it (SIGKILL) and
/// removes its temporary data directory.
pub struct Ringmq {
    /// Name server address (`127.0.0.1:P`).
    pub namesrv: SocketAddr,
    /// Broker address (`127.0.0.1:Q`).
    pub broker: SocketAddr,
    /// The store root passed as `--data`.
    pub data_dir: PathBuf,
    opts: ServeOptions,
    child: Option<Child>,
    output: Arc<Output>,
    /// Holds the temporary data directory (removed on drop).
    _tempdir: Option<tempfile::TempDir>,
}

/// Lines printed by the child(ren), shared with the reader threads.
#[derive(Default)]
struct Output {
    lines: Mutex<Vec<String>>,
    changed: Condvar,
}

impl Output {
    fn push(&self, line: String) {
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        lines.push(line);
        self.changed.notify_all();
    }

    fn snapshot(&self) -> Vec<String> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn len(&self) -> usize {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Waits until a line at index `>= from` satisfies `pred`, at most until
    /// `deadline`. Returns the index of that line.
    fn wait_for(
        &self,
        from: usize,
        deadline: Instant,
        pred: impl Fn(&str) -> bool,
    ) -> Option<usize> {
        let mut lines = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        let mut checked = from;
        loop {
            if let Some(i) = lines.iter().skip(checked).position(|l| pred(l)) {
                return Some(checked + i);
            }
            checked = lines.len().max(from);
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            lines = self
                .changed
                .wait_timeout(lines, deadline - now)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

impl Ringmq {
    /// Starts `ringmq serve` with [`ServeOptions::default`] on a fresh
    /// temporary data directory and free ports; returns once it is ready.
    pub fn start() -> Ringmq {
        Self::start_with(ServeOptions::default())
    }

    /// Starts `ringmq serve` with `opts`; returns once it is ready (panics
    /// with the captured output if it is not ready within [`READY_TIMEOUT`]).
    /// Retries once on fresh ports if the ports were taken meanwhile.
    pub fn start_with(opts: ServeOptions) -> Ringmq {
        let (tempdir, data_dir) = match &opts.data {
            Some(dir) => (None, dir.clone()),
            None => {
                let t = tempfile::Builder::new()
                    .prefix("ringmq-test-")
                    .tempdir()
                    .expect("create a temporary data directory");
                let p = t.path().join("store");
                (Some(t), p)
            }
        };
        let mut attempt = 0;
        loop {
            attempt += 1;
            let (namesrv, broker) = free_port_pair();
            let mut r = Ringmq {
                namesrv,
                broker,
                data_dir: data_dir.clone(),
                opts: opts.clone(),
                child: None,
                output: Arc::new(Output::default()),
                _tempdir: None,
            };
            match r.spawn_and_wait_ready() {
                Ok(()) => {
                    r._tempdir = tempdir;
                    return r;
                }
                Err(StartFailure::AddressInUse) if attempt < 2 => {
                    r.kill9();
                    continue;
                }
                Err(f) => {
                    r.kill9();
                    // Dropping `r` while panicking prints its output.
                    panic!("ringmq serve did not become ready: {f} (its output follows)");
                }
            }
        }
    }

    /// `"127.0.0.1:P"`, the name server address as clients configure it.
    pub fn namesrv_addr(&self) -> String {
        self.namesrv.to_string()
    }

    /// `"127.0.0.1:Q"`, the broker listen address.
    pub fn broker_addr(&self) -> String {
        self.broker.to_string()
    }

    /// The options this process was started with.
    pub fn options(&self) -> &ServeOptions {
        &self.opts
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// SIGTERM, then waits (at most [`STOP_TIMEOUT`]) for the process to
    /// exit. Panics (after SIGKILL) if it does not exit in time. Returns the
    /// exit status (`None` if it was not running).
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        // SAFETY: plain kill(2) on our own child's pid, which has not been
        // reaped yet (so the pid cannot have been reused).
        unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => return Some(status),
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("ringmq did not exit within {STOP_TIMEOUT:?} of SIGTERM (its output follows)");
                }
            }
        }
    }

    /// SIGKILL and reap (no clean shutdown).
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// [`stop`](Self::stop), then starts again on the same data directory
    /// and ports. Waits for the ready line like [`start`](Self::start); a
    /// port still held by the old process' sockets is retried for
    /// [`REBIND_TIMEOUT`].
    pub fn restart(&mut self) {
        self.stop();
        self.start_again();
    }

    /// [`kill9`](Self::kill9), then starts again on the same data directory
    /// and ports (crash recovery).
    pub fn restart_after_kill9(&mut self) {
        self.kill9();
        self.start_again();
    }

    fn start_again(&mut self) {
        let deadline = Instant::now() + REBIND_TIMEOUT;
        loop {
            match self.spawn_and_wait_ready() {
                Ok(()) => return,
                Err(StartFailure::AddressInUse) if Instant::now() < deadline => {
                    self.kill9();
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(StartFailure::AddressInUse) => {
                    self.kill9();
                    panic!(
                        "ringmq could not bind its ports again {REBIND_TIMEOUT:?} after the previous \
                         process exited: connections it closed first sit in TIME_WAIT for 60 s, \
                         which blocks a new bind unless the listeners set SO_REUSEADDR (as \
                         Java's Netty server does) (its output follows)"
                    );
                }
                Err(f) => {
                    self.kill9();
                    panic!("ringmq serve did not become ready again: {f} (its output follows)");
                }
            }
        }
    }

    /// Everything the process (all its incarnations) printed so far, stdout
    /// and stderr interleaved by arrival.
    pub fn stdout_lines(&self) -> Vec<String> {
        self.output.snapshot()
    }

    /// Waits until the process prints a line containing `needle` (searching
    /// everything printed so far). Returns the line, or `None` on timeout.
    pub fn wait_for_output(&self, needle: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        let i = self.output.wait_for(0, deadline, |l| l.contains(needle))?;
        self.output.snapshot().get(i).cloned()
    }

    /// The command line used to run the server (for diagnostics).
    pub fn command_line(&self) -> Vec<String> {
        let mut args = vec![
            "serve".to_owned(),
            "--data".to_owned(),
            self.data_dir.display().to_string(),
            "--namesrv-port".to_owned(),
            self.namesrv.port().to_string(),
            "--broker-port".to_owned(),
            self.broker.port().to_string(),
            "--shards".to_owned(),
            self.opts.shards.to_string(),
        ];
        if self.opts.sync_flush {
            args.push("--sync-flush".to_owned());
        }
        for (k, v) in &self.opts.sets {
            args.push("--set".to_owned());
            args.push(format!("{k}={v}"));
        }
        args
    }

    fn spawn_and_wait_ready(&mut self) -> Result<(), StartFailure> {
        assert!(self.child.is_none(), "a ringmq child is still running");
        let bin = ringmq_binary();
        let args = self.command_line();
        self.output
            .push(format!("--- harness: {} {}", bin.display(), args.join(" ")));
        let from = self.output.len();
        let mut child = Command::new(bin)
            .args(&args)
            .env("RUST_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        drain(child.stdout.take(), self.output.clone());
        drain(child.stderr.take(), self.output.clone());
        self.child = Some(child);

        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if self
                .output
                .wait_for(from, Instant::now() + Duration::from_millis(100), |l| {
                    l.trim_start().starts_with(READY_PREFIX)
                })
                .is_some()
            {
                break;
            }
            let exited = match self.child.as_mut().map(|c| c.try_wait()) {
                Some(Ok(Some(status))) => Some(status),
                _ => None,
            };
            if let Some(status) = exited {
                // Let the reader threads pick up the last lines.
                std::thread::sleep(Duration::from_millis(200));
                let lines = self.output.snapshot();
                let in_use = lines[from..].iter().any(|l| {
                    l.contains("Address already in use")
                        || l.contains("AddrInUse")
                        || l.contains("is not free")
                });
                self.child = None;
                return Err(if in_use {
                    StartFailure::AddressInUse
                } else {
                    StartFailure::Exited(status)
                });
            }
            if Instant::now() >= deadline {
                return Err(StartFailure::Timeout);
            }
        }
        // The ready line promises both ports accept connections.
        for addr in [self.namesrv, self.broker] {
            if let Err(e) = TcpStream::connect_timeout(&addr, Duration::from_secs(10)) {
                return Err(StartFailure::NotAccepting(addr, e.kind()));
            }
        }
        Ok(())
    }
}

impl Drop for Ringmq {
    fn drop(&mut self) {
        self.kill9();
        if std::thread::panicking() {
            let lines = self.stdout_lines();
            let skip = lines.len().saturating_sub(TAIL_LINES_ON_PANIC);
            eprintln!(
                "---- ringmq output (last {} of {} lines; data dir {}) ----",
                lines.len() - skip,
                lines.len(),
                self.data_dir.display()
            );
            for l in &lines[skip..] {
                eprintln!("{l}");
            }
            eprintln!("---- end of ringmq output ----");
        }
    }
}

/// Why a start attempt failed.
enum StartFailure {
    AddressInUse,
    Exited(std::process::ExitStatus),
    Timeout,
    NotAccepting(SocketAddr, std::io::ErrorKind),
}

impl std::fmt::Display for StartFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartFailure::AddressInUse => write!(f, "a port is already in use"),
            StartFailure::Exited(status) => write!(f, "exited before ready ({status})"),
            StartFailure::Timeout => write!(f, "no `{READY_PREFIX}` line within {READY_TIMEOUT:?}"),
            StartFailure::NotAccepting(addr, kind) => {
                write!(f, "ready, but {addr} refuses connections ({kind:?})")
            }
        }
    }
}

/// Copies the lines of `pipe` into `out` until EOF (on a detached thread).
fn drain(pipe: Option<impl Read + Send + 'static>, out: Arc<Output>) {
    let Some(pipe) = pipe else { return };
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf);
                    out.push(line.trim_end_matches(['\n', '\r']).to_owned());
                }
            }
        }
    });
}

/// Two distinct free ports on 127.0.0.1 (bound, then released: another
/// process could take them before `ringmq` binds, which `start_with`
/// retries once).
fn free_port_pair() -> (SocketAddr, SocketAddr) {
    let a = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind an ephemeral port");
    let b = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind an ephemeral port");
    let pair = (
        a.local_addr().expect("local addr"),
        b.local_addr().expect("local addr"),
    );
    drop((a, b));
    pair
}

/// Path of the `ringmq` binary, built once per process.
pub fn ringmq_binary() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("RINGMQ_BIN") {
            return PathBuf::from(bin);
        }
        let exe = std::env::current_exe().expect("current_exe");
        // .../target/<profile>/deps/<test exe> or .../target/<profile>/<bin>
        let mut dir = exe.parent().expect("exe dir").to_path_buf();
        if dir.file_name().is_some_and(|n| n == "deps") {
            dir.pop();
        }
        let profile_dir = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "debug".to_owned());
        let target_dir = dir.parent().expect("target dir").to_path_buf();
        let bin = dir.join("ringmq");
        build_ringmq(&profile_dir, &target_dir);
        assert!(
            bin.exists(),
            "`cargo build -p ringmq` succeeded but {} does not exist",
            bin.display()
        );
        bin
    })
}

/// `cargo build -p ringmq` for the profile the tests were built with.
fn build_ringmq(profile_dir: &str, target_dir: &Path) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root");
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace)
        .args(["build", "-p", "ringmq", "--bin", "ringmq"])
        .arg("--target-dir")
        .arg(target_dir);
    match profile_dir {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("run cargo build -p ringmq: {e}"));
    assert!(
        out.status.success(),
        "cargo build -p ringmq failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
}
