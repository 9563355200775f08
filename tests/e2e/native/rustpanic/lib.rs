//! pyelf's test of a Rust extension built from source: a panic becomes Python's PanicException
//! (it unwinds through the extension's code to PyO3's catch_unwind), a panic caught inside
//! Rust, an error returned as an exception, and thread-local state per Python thread.
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use std::cell::Cell;

thread_local! {
    static CALLS: Cell<u64> = const { Cell::new(0) };
}

/// Panics for a negative number.
#[pyfunction]
fn boom(n: i64) -> i64 {
    if n < 0 {
        panic!("boom {n}");
    }
    n * 2
}

/// A panic caught in Rust, and the message it carried.
#[pyfunction]
fn caught() -> String {
    let result = std::panic::catch_unwind(|| {
        let v: Vec<u8> = Vec::new();
        v[3]
    });
    match result {
        Ok(_) => "not caught".into(),
        Err(e) => match e.downcast_ref::<String>() {
            Some(s) => format!("caught: {s}"),
            None => "caught something".into(),
        },
    }
}

/// An error as a ValueError.
#[pyfunction]
fn check(n: i64) -> PyResult<i64> {
    if n % 2 == 1 {
        return Err(PyValueError::new_err(format!("{n} is odd")));
    }
    Ok(n / 2)
}

/// How many times this thread called it.
#[pyfunction]
fn calls() -> u64 {
    CALLS.with(|c| {
        c.set(c.get() + 1);
        c.get()
    })
}

#[pymodule]
fn rustpanic(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(boom, m)?)?;
    m.add_function(wrap_pyfunction!(caught, m)?)?;
    m.add_function(wrap_pyfunction!(check, m)?)?;
    m.add_function(wrap_pyfunction!(calls, m)?)?;
    Ok(())
}
