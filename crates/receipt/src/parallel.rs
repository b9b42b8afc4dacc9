//! An order-keeping map over a slice on the machine's cores (scoped threads, no pool): signing
//! and verifying receipts are independent and CPU-bound, and where they run (the collector's
//! writer, `audit`) they are most of the work.

/// `f` of each item, in order. With at least `min_items` items and more than one core, the
/// slice is split into one share per core (at most `max_threads`), the calling thread taking
/// the first; otherwise everything runs on the calling thread. A panic in `f` is re-raised.
pub fn map_in_order<T, R, F>(items: &[T], min_items: usize, max_threads: usize, f: F) -> Vec<R>
where
    T: Sync,
    R: Send,
    F: Fn(&T) -> R + Sync,
{
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(max_threads));
    if threads < 2 || items.len() < min_items.max(2) {
        return items.iter().map(&f).collect();
    }
    let share = items.len().div_ceil(threads);
    let f = &f;
    std::thread::scope(|scope| {
        let mut parts = items.chunks(share);
        let first = parts.next().unwrap_or_default();
        let helpers: Vec<_> = parts
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<_>>()))
            .collect();
        let mut out: Vec<R> = first.iter().map(f).collect();
        for helper in helpers {
            out.extend(
                helper
                    .join()
                    .unwrap_or_else(|e| std::panic::resume_unwind(e)),
            );
        }
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_items_order_whatever_the_split() {
        let items: Vec<u32> = (0..1000).collect();
        for (min, threads) in [(1, 4), (8, 2), (2000, 4), (1, 1)] {
            let out = map_in_order(&items, min, threads, |n| n * 2);
            assert_eq!(out, items.iter().map(|n| n * 2).collect::<Vec<_>>());
        }
        assert_eq!(map_in_order(&[] as &[u32], 1, 4, |n| *n), Vec::<u32>::new());
    }
}
