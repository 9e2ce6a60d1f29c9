//! OpenCV's thread pool, fixed at one thread for the life of the process.
//!
//! OpenCV's thread count is process-global, and changing it is not safe while
//! another thread is inside OpenCV: with the TBB backend `setNumThreads`
//! tears down the task arena that a running `parallel_for_` is using, which
//! can hang or crash a query running beside an ingest. So the count is set
//! once, before mmindex's first OpenCV call, and never touched again.
//!
//! One thread is the right fixed value: bulk extraction runs one image per
//! rayon worker and would only oversubscribe the cores with OpenCV's own
//! pool, and concurrent queries in a long-lived process parallelise across
//! requests. The cost is a single query's extraction on an idle machine,
//! which does not spread over the cores (see docs/FEATURES.md).

use std::sync::Once;

static SINGLE: Once = Once::new();

/// Fixes OpenCV at one thread; every path into OpenCV calls this first.
///
/// `Once` also orders the change before any of mmindex's OpenCV calls on any
/// thread: a caller racing the first call blocks until it is done.
pub(crate) fn single_threaded() {
    SINGLE.call_once(|| {
        // A failure leaves OpenCV's default, which is slower but still
        // correct; there is nothing better to do with the error.
        let _ = opencv::core::set_num_threads(1);
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_count_is_one_after_first_use() {
        super::single_threaded();
        super::single_threaded();
        assert_eq!(opencv::core::get_num_threads().ok(), Some(1));
    }
}
