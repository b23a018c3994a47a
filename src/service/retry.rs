//! Guarded writes (`… WHERE version = $n`) that lose a race to a concurrent change re-read and
//! try again, a bounded number of times.

use std::future::Future;

use super::{Error, Result};

/// After this many lost races in a row a use case gives up with 409 `concurrent_update`
/// rather than spin.
pub const MAX_ATTEMPTS: usize = 5;

/// Runs `attempt` until it returns `Some` (done) or an error, at most [`MAX_ATTEMPTS`] times;
/// `None` means a concurrent change got in between and the attempt should start over from a
/// fresh read. `while_doing` completes "the lead kept changing while …" in the 409.
pub async fn retry_on_race<T, F, Fut>(while_doing: &str, mut attempt: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>>>,
{
    for _ in 0..MAX_ATTEMPTS {
        if let Some(done) = attempt().await? {
            return Ok(done);
        }
    }
    Err(Error::Conflict {
        code: "concurrent_update",
        detail: format!("the lead kept changing while {while_doing}; retry"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a current-thread runtime")
            .block_on(f)
    }

    #[test]
    fn an_attempt_that_wins_on_the_last_try_is_returned() {
        let mut calls = 0;
        let out = block_on(retry_on_race("testing", || {
            calls += 1;
            let n = calls;
            async move { Ok((n == MAX_ATTEMPTS).then_some(n)) }
        }));
        assert_eq!(out.ok(), Some(MAX_ATTEMPTS));
    }

    #[test]
    fn losing_every_race_gives_a_concurrent_update_conflict_after_max_attempts() {
        let mut calls = 0;
        let out: Result<()> = block_on(retry_on_race("testing", || {
            calls += 1;
            async { Ok(None) }
        }));
        assert_eq!(calls, MAX_ATTEMPTS);
        match out {
            Err(Error::Conflict { code, detail }) => {
                assert_eq!(code, "concurrent_update");
                assert_eq!(detail, "the lead kept changing while testing; retry");
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
    }

    #[test]
    fn an_error_stops_the_retries_at_once() {
        let mut calls = 0;
        let out: Result<()> = block_on(retry_on_race("testing", || {
            calls += 1;
            async { Err(Error::NotFound("gone")) }
        }));
        assert_eq!(calls, 1);
        assert!(matches!(out, Err(Error::NotFound("gone"))));
    }
}
