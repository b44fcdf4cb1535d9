//! Time and memory budgets for one script evaluation, on top of Rhai's own limits. Rhai counts
//! operations and the sizes of strings, arrays and map values, but not map keys (300 keys of
//! 1 MiB each took 536 MB within the limits) nor the time spent inside one built-in call
//! (`index_of` on a 1 MiB string, 30,000 times, held a worker thread 17 s). The budgets are
//! checked from Rhai's progress callback: the clock every few operations, and the bytes this
//! thread holds, counted by the binary's allocator (`CountingAlloc`).

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::time::Instant;

/// Longest one evaluation may run: far above any real mapping or script (the operation limit
/// alone ends those within milliseconds), short enough that a runaway one frees its worker
/// thread, and the webhooks and health checks that share it, quickly.
pub const MAX_TIME: std::time::Duration = std::time::Duration::from_secs(2);
/// Most memory one evaluation may take beyond what it started with (its event and earlier
/// steps' outputs are already held then).
pub const MAX_MEMORY: isize = 64 * 1024 * 1024;

/// Why an evaluation was stopped: the token Rhai hands back in `ErrorTerminated`.
pub const OUT_OF_TIME: &str = "time";
pub const OUT_OF_MEMORY: &str = "memory";

thread_local! {
    /// Bytes allocated minus bytes freed by this thread, when the binary counts them.
    static HELD: Cell<isize> = const { Cell::new(0) };
    /// When the current evaluation on this thread started, and what the thread held then.
    static STARTED: Cell<Option<(Instant, isize)>> = const { Cell::new(None) };
}

fn held() -> isize {
    HELD.try_with(Cell::get).unwrap_or(0)
}

fn add_held(bytes: isize) {
    let _ = HELD.try_with(|h| h.set(h.get().wrapping_add(bytes)));
}

/// The global allocator wrapper that counts what each thread holds. Only the `ledgerlink`
/// binary installs it; without it (library tests) the memory budget is not enforced.
pub struct CountingAlloc<A>(pub A);

// The crate's only unsafe code: `GlobalAlloc` is an unsafe trait. Every method adds to a
// counter and forwards its arguments unchanged to the wrapped allocator, so the wrapped
// allocator's contract is the caller's, as it would be without the wrapper.
#[allow(unsafe_code)]
unsafe impl<A: GlobalAlloc> GlobalAlloc for CountingAlloc<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add_held(layout.size() as isize);
        unsafe { self.0.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        add_held(layout.size() as isize);
        unsafe { self.0.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add_held(-(layout.size() as isize));
        unsafe { self.0.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add_held(new_size as isize - layout.size() as isize);
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }
}

/// Rhai's progress callback: `Some(token)` stops the evaluation. Operation counts restart at
/// 1 with every evaluation, which is how its start is known.
pub fn on_progress(operations: u64) -> Option<rhai::Dynamic> {
    if operations == 1 {
        let _ = STARTED.try_with(|s| s.set(Some((Instant::now(), held()))));
        return None;
    }
    if !operations.is_multiple_of(16) {
        return None;
    }
    let (start, held_at_start) = STARTED.try_with(Cell::get).ok().flatten()?;
    if held() - held_at_start > MAX_MEMORY {
        return Some(OUT_OF_MEMORY.into());
    }
    if operations.is_multiple_of(64) && start.elapsed() > MAX_TIME {
        return Some(OUT_OF_TIME.into());
    }
    None
}

/// What a stopped evaluation's token means, for the step's error.
pub fn explain(token: &rhai::Dynamic) -> Option<String> {
    let token = token.clone().into_string().ok()?;
    match token.as_str() {
        OUT_OF_TIME => Some(format!(
            "script stopped after running {} s (the limit for one evaluation)",
            MAX_TIME.as_secs()
        )),
        OUT_OF_MEMORY => Some(format!(
            "script stopped after taking more than {} MiB of memory",
            MAX_MEMORY / (1024 * 1024)
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slow_script_is_stopped_by_the_clock() {
        let engine = crate::script::engine();
        // Each `to_upper` converts 400,000 non-ASCII characters (no ASCII fast path): few
        // operations (15,000 turns, well under the operation limit), much time (tens of
        // seconds on a fast machine), so the clock stops it however fast the machine is.
        let started = Instant::now();
        let err = engine
            .eval::<i64>(
                r#"let s = "é"; s.pad(400000, "é"); let n = 0;
                   for i in 0..15000 { n += s.to_upper().len(); } n"#,
            )
            .unwrap_err();
        match *err {
            rhai::EvalAltResult::ErrorTerminated(token, _) => {
                assert_eq!(
                    explain(&token).unwrap(),
                    "script stopped after running 2 s (the limit for one evaluation)"
                );
            }
            other => panic!("{other}"),
        }
        assert!(started.elapsed() < MAX_TIME * 3, "{:?}", started.elapsed());
    }
}
