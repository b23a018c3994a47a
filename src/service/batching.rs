//! Requests that share a statement (docs/architecture.md, "Group commit"): a request arriving
//! while [`MAX_IN_FLIGHT`] groups are in flight waits and goes with the next group, at most
//! [`MAX_GROUP`] at a time; one arriving when fewer are in flight goes at once, alone. No timer,
//! so no added latency when idle. The group commit of new leads and the grouped judgement of
//! one-lead ingests both queue their requests here; each decides what one group's statement is.

use std::sync::Mutex;

/// At most this many requests per statement; more waiting make the next group.
pub const MAX_GROUP: usize = 64;
/// At most this many groups in flight at once, each on its own connection. Two keep a group
/// filling while the other runs; more make smaller groups (bench/README.md: 8 in flight gave
/// 0.63 commits per lead and 3,663 req/s where 2 gave 0.20 and 6,783 in the same hour). A group
/// whose statement waits on a lock holds up only the requests that arrive while every one of
/// them is in flight.
pub const MAX_IN_FLIGHT: usize = 2;

/// The requests waiting for a group, and how many tasks take groups off them.
pub struct Batches<P> {
    queue: Mutex<Queue<P>>,
}

struct Queue<P> {
    waiting: Vec<P>,
    /// Tasks taking groups off `waiting`, one statement in flight each (at most
    /// [`MAX_IN_FLIGHT`]).
    running: usize,
}

impl<P> Default for Batches<P> {
    fn default() -> Self {
        Batches {
            queue: Mutex::new(Queue {
                waiting: Vec::new(),
                running: 0,
            }),
        }
    }
}

impl<P> Batches<P> {
    /// Queues `p`; `true` when the caller must start a task that takes groups ([`Runner`]).
    pub fn push(&self, p: P) -> bool {
        let mut queue = self.lock();
        queue.waiting.push(p);
        let start = queue.running < MAX_IN_FLIGHT;
        queue.running += usize::from(start);
        start
    }

    /// Requests waiting for a group now (tests watch it to know a group has formed).
    pub fn waiting(&self) -> usize {
        self.lock().waiting.len()
    }

    /// What a task started after [`Batches::push`] said so takes groups with.
    pub fn runner(&self) -> Runner<'_, P> {
        Runner {
            batches: self,
            finished: false,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue<P>> {
        // Nothing in the critical sections can panic half-way; a poisoned lock is still sound.
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One task's turn at the queue. Counts the task out should it stop other than by finding the
/// queue empty (a panic, the runtime shutting down); when it was the last one, the waiting
/// requests are dropped, so that they fail instead of waiting for good. The next request
/// starts a new task.
pub struct Runner<'a, P> {
    batches: &'a Batches<P>,
    finished: bool,
}

impl<P> Runner<'_, P> {
    /// The next group (up to [`MAX_GROUP`], in arrival order); `None` when none is waiting,
    /// and then this task is counted out.
    pub fn next_group(&mut self) -> Option<Vec<P>> {
        let mut queue = self.batches.lock();
        if queue.waiting.is_empty() {
            queue.running -= 1;
            self.finished = true;
            return None;
        }
        let n = queue.waiting.len().min(MAX_GROUP);
        Some(queue.waiting.drain(..n).collect())
    }
}

impl<P> Drop for Runner<'_, P> {
    fn drop(&mut self) {
        if !self.finished {
            let waiting = {
                let mut queue = self.batches.lock();
                queue.running -= 1;
                if queue.running == 0 {
                    std::mem::take(&mut queue.waiting)
                } else {
                    Vec::new()
                }
            };
            drop(waiting);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_two_tasks_run_and_the_rest_wait_for_them() {
        let b = Batches::default();
        assert!(b.push(1));
        assert!(b.push(2));
        assert!(!b.push(3), "a third request waits for a running task");
        let mut r = b.runner();
        assert_eq!(r.next_group(), Some(vec![1, 2, 3]));
        assert_eq!(r.next_group(), None);
        drop(r);
        // One task still counted as running (the second push started one): one more may start.
        assert!(b.push(4));
        assert!(!b.push(5));
    }

    #[test]
    fn a_group_holds_at_most_max_group_requests_in_arrival_order() {
        let b = Batches::default();
        for i in 0..MAX_GROUP + 3 {
            b.push(i);
        }
        let mut r = b.runner();
        assert_eq!(r.next_group(), Some((0..MAX_GROUP).collect()));
        assert_eq!(r.next_group(), Some((MAX_GROUP..MAX_GROUP + 3).collect()));
    }

    #[test]
    fn the_last_task_ending_early_drops_the_waiting_requests() {
        let b = Batches::default();
        assert!(b.push("a"));
        assert!(b.push("b"));
        drop(b.runner()); // one of the two tasks ends early: the other will take them
        assert_eq!(b.waiting(), 2);
        drop(b.runner()); // both gone: nobody would take the waiting requests
        assert_eq!(b.waiting(), 0);
        assert!(b.push("c"), "the next request starts a task again");
    }
}
