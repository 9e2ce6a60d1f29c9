//! OpenCV's thread pool during bulk extraction.
//!
//! OpenCV's thread count is process-global. Bulk extraction runs one image
//! per rayon worker, so OpenCV's own parallelism would only oversubscribe the
//! cores: while any bulk section is alive the count is 1, and the previous
//! count comes back when the last one ends. Query extraction outside a bulk
//! section uses OpenCV's threads (it is latency-bound).

use std::sync::Mutex;

static STATE: Mutex<(usize, i32)> = Mutex::new((0, -1));

/// Holds OpenCV at one thread while alive.
pub(crate) struct BulkThreads(());

impl BulkThreads {
    pub(crate) fn enter() -> BulkThreads {
        let mut s = STATE.lock().unwrap_or_else(|p| p.into_inner());
        if s.0 == 0 {
            s.1 = opencv::core::get_num_threads().unwrap_or(-1);
            let _ = opencv::core::set_num_threads(1);
        }
        s.0 += 1;
        BulkThreads(())
    }
}

impl Drop for BulkThreads {
    fn drop(&mut self) {
        let mut s = STATE.lock().unwrap_or_else(|p| p.into_inner());
        s.0 = s.0.saturating_sub(1);
        if s.0 == 0 {
            let _ = opencv::core::set_num_threads(s.1);
        }
    }
}
