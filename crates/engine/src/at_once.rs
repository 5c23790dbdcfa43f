//! Jobs a few at a time, each on a thread of its own: a budgeted run's shards and the
//! months of its split, whose work is mostly one core's (a shard's stages, a month's
//! decoding), so that every core is kept busy.
use anyhow::Result;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// `work` on every job, `at_once` of them at a time (each thread takes the next job
/// when it is done with one); the results in the jobs' order. Once a job has failed
/// (or panicked) no new job starts; the error returned is the failed job's that comes
/// first in `jobs`, whichever thread failed first (a panic is raised again once the
/// running jobs are done).
pub fn map_at_once<J: Send, R: Send>(
    at_once: usize,
    jobs: Vec<J>,
    work: impl Fn(J) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let count = jobs.len();
    let queue = Mutex::new(jobs.into_iter().enumerate());
    let failed = AtomicBool::new(false);
    let done: Mutex<Vec<(usize, Result<R>)>> = Mutex::new(Vec::with_capacity(count));
    std::thread::scope(|scope| {
        for _ in 0..at_once.clamp(1, count.max(1)) {
            scope.spawn(|| loop {
                // the lock is held only to take a job, and a failure is seen under it
                let next = {
                    let mut queue = queue.lock().unwrap_or_else(|p| p.into_inner());
                    if failed.load(Ordering::Acquire) {
                        return;
                    }
                    queue.next()
                };
                let Some((k, job)) = next else { return };
                let stop_on_panic = StopOnPanic(&failed);
                let result = work(job);
                std::mem::forget(stop_on_panic);
                if result.is_err() {
                    failed.store(true, Ordering::Release);
                }
                done.lock().unwrap_or_else(|p| p.into_inner()).push((k, result));
            });
        }
    });
    let mut done = done.into_inner().unwrap_or_else(|p| p.into_inner());
    done.sort_by_key(|(k, _)| *k);
    // the first failure in order; without one, every job is done
    done.into_iter().map(|(_, r)| r).collect()
}

/// Dropped only while a job unwinds (it is forgotten when the job returns): no other
/// job starts after a panic.
struct StopOnPanic<'a>(&'a AtomicBool);

impl Drop for StopOnPanic<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_job_runs_and_the_results_come_in_order() {
        let got = map_at_once(3, (0..10u64).collect(), |k| {
            // the later jobs finish first
            std::thread::sleep(std::time::Duration::from_millis(10 - k));
            Ok(k * k)
        })
        .unwrap();
        assert_eq!(got, (0..10u64).map(|k| k * k).collect::<Vec<_>>());
        assert!(map_at_once(2, Vec::<u64>::new(), Ok).unwrap().is_empty());
    }

    #[test]
    fn the_first_failure_in_order_is_the_error() {
        // two jobs fail; whichever thread fails first, the error is job 3's
        for _ in 0..20 {
            let err = map_at_once(2, (0..8u64).collect(), |k| {
                if k == 5 {
                    anyhow::bail!("job 5");
                }
                if k == 3 {
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    anyhow::bail!("job 3");
                }
                Ok(())
            })
            .unwrap_err();
            assert_eq!(err.to_string(), "job 3");
        }
    }

    #[test]
    fn after_a_panic_no_new_job_starts() {
        let started = std::sync::atomic::AtomicUsize::new(0);
        let outcome = std::panic::catch_unwind(|| {
            map_at_once(1, (0..8u64).collect(), |k| {
                started.fetch_add(1, Ordering::Relaxed);
                assert_ne!(k, 2, "job 2 panics");
                Ok(())
            })
        });
        assert!(outcome.is_err());
        assert_eq!(started.load(Ordering::Relaxed), 3);
    }

    #[test]
    fn after_a_failure_no_new_job_starts() {
        let started = std::sync::atomic::AtomicUsize::new(0);
        let result = map_at_once(1, (0..8u64).collect(), |k| {
            started.fetch_add(1, Ordering::Relaxed);
            if k == 2 {
                anyhow::bail!("job 2");
            }
            Ok(())
        });
        assert!(result.is_err());
        assert_eq!(started.load(Ordering::Relaxed), 3);
    }
}
