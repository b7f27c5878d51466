//! Statistics shared by both benchmark harnesses (`benches/compare` and
//! `benches/net`): the median they report for every figure.

/// The median of the finite values of `values` (the mean of the middle two
/// when their number is even), or `None` if there are none: a failed run
/// reports NaN or nothing and is left out.
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn median_skips_non_finite_values() {
        assert_eq!(median([3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median([4.0, 1.0, f64::NAN, 2.0, 3.0]), Some(2.5));
        assert_eq!(median([f64::INFINITY]), None);
        assert_eq!(median([]), None);
    }
}
