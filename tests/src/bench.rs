//! What the benchmark tests share: how many rounds an environment variable asks for, and the
//! median of what they measured.

/// The positive whole number in the environment variable `var`: how many rounds a full run
/// measures. `None` (unset, not a number, zero): the benchmark's smoke run.
pub fn rounds(var: &str) -> Option<usize> {
    std::env::var(var)
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|n| *n > 0)
}

/// The median of `values` (sorted in place; the mean of the middle two for an even count).
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
    }
}
