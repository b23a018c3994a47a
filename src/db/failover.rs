//! Several hosts in `DATABASE_URL` (`postgres://u:p@h1:5432,h2:5433/db`), with libpq's
//! `target_session_attrs=read-write` semantics: the service talks to whichever of them is the
//! primary, and follows a promotion by itself.
//!
//! sqlx 0.8's `PgConnectOptions` holds one host, so the pool connects to one host at a time:
//! the last one found read-write. Each new connection is checked (`pg_is_in_recovery()`) in
//! the pool's connect step and refused if the server is a standby, so the pool never hands out
//! a connection that cannot write; the pool retries its connect step until its acquire
//! timeout, re-reading the options each time. [`Failover::watch`] keeps one connection of its
//! own to the current host and, when that one fails or finds a standby, tries the hosts in the
//! order listed and points the pool at the first read-write one. Connections opened before
//! the switch are dropped when next handed out. Until a primary is found, requests get 503
//! `unavailable` (`db::is_unavailable`).

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc, Mutex,
    },
    time::{Duration, Instant},
};

use sqlx::{postgres::PgConnectOptions, ConnectOptions, Connection, PgConnection, PgPool};
use tokio_util::sync::CancellationToken;

pub const IS_IN_RECOVERY: &str = "SELECT pg_is_in_recovery()";

statements!(IS_IN_RECOVERY);

/// How long one host may take to accept a connection and answer before the next is tried.
const HOST_TIMEOUT: Duration = Duration::from_secs(2);

/// A `DATABASE_URL` split into its hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL with only the first host and without `target_session_attrs` (what sqlx parses).
    pub first_url: String,
    /// Every host with its port, in the order listed; empty when there is only one.
    pub hosts: Vec<(String, u16)>,
    /// Only read-write servers will do: several hosts, or `target_session_attrs` asked.
    pub read_write: bool,
}

impl Target {
    /// Splits `url`; the error says what is wrong with it.
    pub fn parse(url: &str) -> Result<Target, String> {
        let (scheme, rest) = url
            .split_once("://")
            .ok_or("must start with postgres:// or postgresql://")?;
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (userinfo, hostlist) = match authority.rfind('@') {
            Some(at) => (&authority[..=at], &authority[at + 1..]),
            None => ("", authority),
        };
        // One host (or none: a socket in the query) is sqlx's to read, as before.
        let hosts = match hostlist.contains(',') {
            true => hostlist
                .split(',')
                .map(host_port)
                .collect::<Result<Vec<_>, _>>()?,
            false => Vec::new(),
        };
        let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
        let mut attrs = None;
        let kept: Vec<&str> = query
            .split('&')
            .filter(|p| !p.is_empty())
            .filter(|p| match p.strip_prefix("target_session_attrs=") {
                Some(v) => {
                    attrs = Some(v);
                    false
                }
                None => true,
            })
            .collect();
        let read_write = match attrs {
            None | Some("any") => hosts.len() > 1,
            Some("read-write" | "primary") => true,
            Some(other) => {
                return Err(format!(
                    "target_session_attrs={other}: salgate writes, so only read-write \
                     (or primary, or any) will do"
                ))
            }
        };
        let query = if kept.is_empty() {
            String::new()
        } else {
            format!("?{}", kept.join("&"))
        };
        let first = match hosts.first() {
            Some((host, port)) => format!("{host}:{port}"),
            None => hostlist.to_string(),
        };
        Ok(Target {
            first_url: format!("{scheme}://{userinfo}{first}{path}{query}"),
            hosts,
            read_write,
        })
    }
}

/// `host`, `host:port` or `[v6]:port`; the port defaults to 5432 as in libpq.
fn host_port(s: &str) -> Result<(String, u16), String> {
    let (host, port) = match s.strip_prefix('[') {
        Some(v6) => {
            let (addr, after) = v6.split_once(']').ok_or("an IPv6 host lacks its `]`")?;
            (format!("[{addr}]"), after.strip_prefix(':'))
        }
        None => match s.rsplit_once(':') {
            Some((h, p)) => (h.to_string(), Some(p)),
            None => (s.to_string(), None),
        },
    };
    if host.is_empty() || host == "[]" {
        return Err("a host in the list is empty".into());
    }
    let port = match port {
        Some(p) => p
            .parse()
            .map_err(|_| format!("`{p}` is not a port (host {host})"))?,
        None => 5432,
    };
    Ok((host, port))
}

/// The hosts of one pool and which of them it connects to now.
pub struct Failover {
    /// One full set of options per host, in the order listed.
    hosts: Vec<PgConnectOptions>,
    current: AtomicUsize,
    /// When the pool was last pointed at another host: connections older than that are
    /// dropped when next handed out (they may be to a server that is now a standby).
    switched: Mutex<Option<Instant>>,
}

impl Failover {
    /// The options for each host of `target`, from `base` (the first host's options).
    pub fn new(target: &Target, base: &PgConnectOptions) -> Failover {
        let mut hosts: Vec<PgConnectOptions> = target
            .hosts
            .iter()
            .map(|(h, p)| base.clone().host(h.trim_matches(['[', ']'])).port(*p))
            .collect();
        if hosts.is_empty() {
            hosts.push(base.clone());
        }
        Failover {
            hosts,
            current: AtomicUsize::new(0),
            switched: Mutex::new(None),
        }
    }

    /// The options of the host the pool connects to now.
    pub fn current_options(&self) -> PgConnectOptions {
        self.hosts[self.current.load(Ordering::SeqCst)].clone()
    }

    /// Whether a connection `age` old predates the last switch (so it may be to a standby).
    pub fn predates_switch(&self, age: Duration) -> bool {
        let switched = self.switched.lock().unwrap_or_else(|e| e.into_inner());
        switched.is_some_and(|at| age > at.elapsed())
    }

    /// Tries the hosts in order; the first read-write one becomes the current one (also in
    /// `pool`, if given). Returns its connection, or the last error.
    pub async fn find_primary(&self, pool: Option<&PgPool>) -> Result<PgConnection, sqlx::Error> {
        let mut last = sqlx::Error::PoolTimedOut;
        for (i, options) in self.hosts.iter().enumerate() {
            match probe(options).await {
                Ok((conn, false)) => {
                    if self.current.swap(i, Ordering::SeqCst) != i {
                        tracing::warn!(
                            host = options.get_host(),
                            port = options.get_port(),
                            "the database primary is now this host"
                        );
                        *self.switched.lock().unwrap_or_else(|e| e.into_inner()) =
                            Some(Instant::now());
                        if let Some(pool) = pool {
                            pool.set_connect_options(options.clone());
                        }
                    }
                    return Ok(conn);
                }
                Ok((conn, true)) => {
                    let _ = conn.close().await;
                    last = read_only();
                }
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// Checks the current host every `every` over a connection of its own; when that fails or
    /// finds a standby, looks for the primary again ([`Failover::find_primary`]).
    pub async fn watch(self: Arc<Self>, pool: PgPool, every: Duration, cancel: CancellationToken) {
        let mut conn: Option<PgConnection> = None;
        loop {
            tokio::select! {
                _ = cancel.cancelled() => break,
                _ = tokio::time::sleep(every) => {}
            }
            let healthy = match conn.as_mut() {
                Some(c) => matches!(is_standby(c).await, Ok(false)),
                None => false,
            };
            if !healthy {
                conn = self.find_primary(Some(&pool)).await.ok();
            }
        }
        if let Some(c) = conn {
            let _ = c.close().await;
        }
    }
}

/// The error of a connection to a standby where a primary is needed: as a refused connection
/// (the host is not one to use now), so it is retried and maps to 503 like one.
fn read_only() -> sqlx::Error {
    sqlx::Error::Io(std::io::Error::new(
        std::io::ErrorKind::ConnectionRefused,
        "the server is a standby (read-only), not the primary",
    ))
}

/// The pool's connect step: refuses a connection to a standby.
pub async fn require_primary(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    match is_standby(conn).await? {
        false => Ok(()),
        true => Err(read_only()),
    }
}

async fn is_standby(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar::<_, bool>(IS_IN_RECOVERY)
        .fetch_one(conn)
        .await
}

/// One connection to one host and whether it is a standby, within [`HOST_TIMEOUT`].
async fn probe(options: &PgConnectOptions) -> Result<(PgConnection, bool), sqlx::Error> {
    let attempt = async {
        let mut conn = options.connect().await?;
        let standby = is_standby(&mut conn).await?;
        Ok::<_, sqlx::Error>((conn, standby))
    };
    tokio::time::timeout(HOST_TIMEOUT, attempt)
        .await
        .map_err(|_| sqlx::Error::PoolTimedOut)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_host_list_is_split_and_the_first_host_kept_for_sqlx() {
        let t = Target::parse(
            "postgres://u:p@h1:5432,h2:5433,[::1]/db?sslmode=disable&target_session_attrs=read-write",
        )
        .unwrap();
        assert_eq!(
            t.hosts,
            vec![
                ("h1".to_string(), 5432),
                ("h2".to_string(), 5433),
                ("[::1]".to_string(), 5432)
            ]
        );
        assert!(t.read_write);
        assert_eq!(t.first_url, "postgres://u:p@h1:5432/db?sslmode=disable");
    }

    #[test]
    fn one_host_without_attributes_is_not_checked_for_read_write() {
        let url = "postgres://u@localhost/db?sslmode=disable";
        let t = Target::parse(url).unwrap();
        assert_eq!((t.hosts.len(), t.read_write), (0, false));
        assert_eq!(t.first_url, url);
        let socket = "postgres:///db?host=/run/postgresql";
        assert_eq!(Target::parse(socket).unwrap().first_url, socket);
        let t = Target::parse("postgres://u@h:1/db?target_session_attrs=primary").unwrap();
        assert!(t.read_write);
    }

    #[test]
    fn malformed_lists_are_refused_naming_the_part() {
        for (url, says) in [
            ("postgres://u@h1,,h2/db", "empty"),
            ("postgres://u@h1:x,h2/db", "not a port"),
            (
                "postgres://u@h1/db?target_session_attrs=standby",
                "read-write",
            ),
            ("postgres://u@[::1,h2/db", "IPv6"),
        ] {
            let err = Target::parse(url).unwrap_err();
            assert!(err.contains(says), "{url}: {err}");
        }
    }
}
