//! Panics inside a library that koc turns into errors naming what happened
//! (rust_xlsxwriter when a sheet's temporary file cannot be written, polars on Parquet
//! it cannot decode). The default hook would print the library's panic message above
//! koc's own error; while `caught` runs, this thread's panics are left to the error.
use std::cell::Cell;

thread_local! {
    static CAUGHT_HERE: Cell<bool> = const { Cell::new(false) };
}

/// Print a panic's message as the default hook does, except for a panic `caught`
/// turns into an error on the same thread. Set once, at the start of the program.
pub fn install_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !CAUGHT_HERE.with(Cell::get) {
            default(info);
        }
    }));
}

/// Run `work`, a panic in it (on this thread) caught as `Err` with its payload.
pub fn caught<T>(work: impl FnOnce() -> T) -> std::thread::Result<T> {
    let outer = CAUGHT_HERE.with(|c| c.replace(true));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
    CAUGHT_HERE.with(|c| c.set(outer));
    result
}

/// A caught panic's message (its payload when it is text).
pub fn message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| payload.downcast_ref::<&str>().copied())
        .unwrap_or("a panic")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_with_its_message_and_the_flag_is_restored() {
        let err = caught(|| -> u32 { panic!("disk full") }).unwrap_err();
        assert_eq!(message(err.as_ref()), "disk full");
        assert!(!CAUGHT_HERE.with(Cell::get));
        // nested: the outer one still catches after the inner one returned
        let outer = caught(|| {
            assert_eq!(caught(|| 7).unwrap(), 7);
            assert!(CAUGHT_HERE.with(Cell::get));
            panic!("{}", String::from("later"))
        })
        .unwrap_err();
        assert_eq!(message(outer.as_ref()), "later");
        assert_eq!(caught(|| 3).unwrap(), 3);
    }
}
