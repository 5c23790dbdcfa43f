//! Reading on a thread of its own, a bounded number of items ahead of the work that
//! takes them, so that decoding overlaps encoding (a budgeted run's split of the
//! months, the merge's ledger from the shards' files).
use anyhow::Result;

/// `produce` runs on a thread of its own and hands its items to `send`; `take` gets
/// them in order here, while at most `ahead` more wait between the two (0: the
/// producer works on the next item only), and says whether to go on. When `take`
/// stops, or fails, the producer's next `send` fails and it stops too; `take`'s error
/// is the one returned, then the producer's.
pub fn read_ahead<T: Send>(
    ahead: usize,
    produce: impl FnOnce(&mut dyn FnMut(T) -> Result<()>) -> Result<()> + Send,
    mut take: impl FnMut(T) -> Result<bool>,
) -> Result<()> {
    let (tx, items) = std::sync::mpsc::sync_channel::<T>(ahead);
    std::thread::scope(|scope| {
        let producer = scope.spawn(move || produce(&mut |item| tx.send(item).map_err(|_| anyhow::Error::new(Stopped))));
        let taken = (|| -> Result<()> {
            for item in items.iter() {
                if !take(item)? {
                    break;
                }
            }
            Ok(())
        })();
        // a stop here drops the receiver, which stops the producer
        drop(items);
        let produced = match producer.join() {
            Ok(Err(e)) if e.is::<Stopped>() => Ok(()),
            Ok(produced) => produced,
            Err(_) => Err(anyhow::anyhow!("a reading thread panicked")),
        };
        taken.and(produced)
    })
}

/// What `send` fails with once the taker has stopped: not an error of the producer's.
#[derive(Debug)]
struct Stopped;

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the reading was stopped")
    }
}

impl std::error::Error for Stopped {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Items come in order; a taker that stops or fails stops the producer, and
    /// whichever failed says so.
    #[test]
    fn items_come_in_order_and_a_stop_stops_the_producer() {
        for ahead in [0, 1, 4] {
            let mut got = Vec::new();
            read_ahead(
                ahead,
                |send| (0..100).try_for_each(send),
                |i| {
                    got.push(i);
                    Ok(true)
                },
            )
            .unwrap();
            assert_eq!(got, (0..100).collect::<Vec<_>>());
        }
        // a stop is not an error, and the producer goes no further than it may
        let produced = std::sync::atomic::AtomicUsize::new(0);
        read_ahead(
            1,
            |send| {
                (0..1000).try_for_each(|i| {
                    produced.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    send(i)
                })
            },
            |i| Ok(i < 3),
        )
        .unwrap();
        assert!(produced.load(std::sync::atomic::Ordering::Relaxed) < 10);
        // the taker's error first; the producer's when the taker had none
        let err = read_ahead(
            0,
            |send| (0..10).try_for_each(send),
            |i| {
                anyhow::ensure!(i < 2, "taker failed at {i}");
                Ok(true)
            },
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "taker failed at 2");
        let err = read_ahead(
            0,
            |send| {
                send(1)?;
                anyhow::bail!("producer failed")
            },
            |_| Ok(true),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "producer failed");
    }
}
