//! Statistics shared by both benchmark harnesses (`benches/compare` and
//! `benches/net`): the median they report for every figure, and a
//! distribution-free confidence interval for a median.

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

/// A 95% confidence interval for the median of the population `values`
/// were drawn from, without assuming a distribution: the `k`-th smallest
/// and `k`-th largest of the `n` finite values, with `k` the largest such
/// that `P(Binomial(n, 1/2) < k) <= 2.5%` (each value falls below the true
/// median with probability 1/2, independently of the others). `None` for
/// fewer than 6 values, where even the whole range covers the median with
/// less than 95% probability.
///
/// The network benchmark uses it on the per-round goro/tokio ratios: if
/// the interval lies below 1, goro was cheaper (or faster) in a way the
/// machine's round-to-round noise does not explain.
pub fn median_ci95(values: impl IntoIterator<Item = f64>) -> Option<(f64, f64)> {
    let mut v: Vec<f64> = values.into_iter().filter(|x| x.is_finite()).collect();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    // P(Binomial(n, 1/2) <= j), summed term by term in floating point
    // (n is a number of benchmark rounds: small).
    let mut below = 0.0;
    let mut term = 0.5f64.powi(n as i32); // C(n, 0) / 2^n
    let mut k = 0;
    for j in 0..n {
        below += term;
        if below > 0.025 {
            break;
        }
        // j + 1 values below the median is still unlikely enough: the
        // (j + 1)-th smallest is a lower bound.
        k = j + 1;
        term *= (n - j) as f64 / (j + 1) as f64;
    }
    (k >= 1).then(|| (v[k - 1], v[n - k]))
}

#[cfg(test)]
mod tests {
    use super::{median, median_ci95};

    #[test]
    fn median_ci95_uses_the_binomial_order_statistics() {
        // n = 5: even min..max covers the median with 1 - 2/32 = 93.75%.
        assert_eq!(median_ci95([1.0, 2.0, 3.0, 4.0, 5.0]), None);
        // n = 6: P(B <= 0) = 1/64 <= 2.5%, P(B <= 1) = 7/64 > 2.5%: k = 1.
        assert_eq!(
            median_ci95([6.0, 1.0, 5.0, 2.0, 4.0, 3.0]),
            Some((1.0, 6.0))
        );
        // n = 9: P(B <= 1) = 10/512 <= 2.5%, P(B <= 2) = 46/512 > 2.5%: k = 2.
        let nine: Vec<f64> = (1..=9).map(f64::from).collect();
        assert_eq!(median_ci95(nine), Some((2.0, 8.0)));
        // n = 21: the tables give k = 6.
        let many: Vec<f64> = (1..=21).map(f64::from).collect();
        assert_eq!(median_ci95(many), Some((6.0, 16.0)));
        // Non-finite values are left out before counting.
        let with_nan = [f64::NAN, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        assert_eq!(median_ci95(with_nan), Some((1.0, 6.0)));
    }

    #[test]
    fn median_skips_non_finite_values() {
        assert_eq!(median([3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median([4.0, 1.0, f64::NAN, 2.0, 3.0]), Some(2.5));
        assert_eq!(median([f64::INFINITY]), None);
        assert_eq!(median([]), None);
    }
}
