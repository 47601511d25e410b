//! The few statistics the judge needs, written out rather than pulled from a crate (each is a
//! dozen lines and fully tested here): the normal distribution, Wilson's score interval for a
//! ratio, the one-sided two-proportion z-test, and the Mann-Whitney U test (exact for small
//! samples, normal approximation with tie correction beyond).

/// P(Z > x) for a standard normal Z, accurate in the far tail where the gate's levels are
/// (through `erfc` as Numerical Recipes' `erfcc` computes it: relative error below 1.2e-7
/// everywhere, so a p-value of 1e-6 is right to its second digit and beyond).
pub fn normal_upper(x: f64) -> f64 {
    0.5 * erfc(x / std::f64::consts::SQRT_2)
}

/// P(Z ≤ x) for a standard normal Z.
pub fn normal_cdf(x: f64) -> f64 {
    1.0 - normal_upper(x)
}

fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let tail = t * poly.exp();
    if x >= 0.0 { tail } else { 2.0 - tail }
}

/// The `z` with P(Z > z) = `alpha`: the one-sided critical value (Acklam's rational
/// approximation, relative error below 1.2e-9). `alpha` outside (0, 1) is clamped.
pub fn critical_z(alpha: f64) -> f64 {
    let p = 1.0 - alpha.clamp(1e-300, 1.0 - 1e-16);
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.024_25 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.024_25 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// Wilson's score interval for `hits` out of `n` at `z`: `(lower, upper)`. Unlike the plain
/// `hits / n ± z·se` it stays inside [0, 1] and is honest for small `n` and ratios near 0:
/// 3 errors in 3 requests has a lower bound well above 5%, 0 in 10 an upper bound near 50%.
/// Without requests it knows nothing: `(0, 1)`.
pub fn wilson(hits: f64, n: f64, z: f64) -> (f64, f64) {
    if n <= 0.0 {
        return (0.0, 1.0);
    }
    let p = (hits / n).clamp(0.0, 1.0);
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// One-sided p-value that the first ratio (`k1` of `n1`) is higher than the second (`k0` of
/// `n0`): the pooled two-proportion z-test. 1 when either side has no requests or nothing
/// failed on either side (no evidence of a difference).
pub fn proportion_higher(k1: f64, n1: f64, k0: f64, n0: f64) -> f64 {
    if n1 <= 0.0 || n0 <= 0.0 {
        return 1.0;
    }
    let pooled = (k1 + k0) / (n1 + n0);
    let variance = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n0);
    if variance <= 0.0 {
        return 1.0;
    }
    normal_upper((k1 / n1 - k0 / n0) / variance.sqrt())
}

/// Samples up to this size on both sides get the exact U distribution.
const EXACT_UP_TO: usize = 12;

/// One-sided p-value of the Mann-Whitney U test that `x` tends to be larger than `y` (as
/// Kayenta's `MannWhitney` classifier asks of a canary's metric against its baseline). Ties
/// count one half. Exact for small samples (no-tie distribution, read at the lower whole U,
/// so ties make it conservative), else the normal approximation with tie and continuity
/// corrections. 1 when either side is empty.
pub fn mann_whitney_greater(x: &[f64], y: &[f64]) -> f64 {
    let (m, n) = (x.len(), y.len());
    if m == 0 || n == 0 {
        return 1.0;
    }
    let u: f64 = x
        .iter()
        .map(|a| {
            y.iter()
                .map(|b| match a.total_cmp(b) {
                    std::cmp::Ordering::Greater => 1.0,
                    std::cmp::Ordering::Equal => 0.5,
                    std::cmp::Ordering::Less => 0.0,
                })
                .sum::<f64>()
        })
        .sum();
    if m <= EXACT_UP_TO && n <= EXACT_UP_TO {
        exact_upper_tail(m, n, u.floor() as usize)
    } else {
        normal_upper_tail(x, y, u)
    }
}

/// P(U ≥ u) by the normal approximation, with the tie and continuity corrections.
fn normal_upper_tail(x: &[f64], y: &[f64], u: f64) -> f64 {
    let (mf, nf) = (x.len() as f64, y.len() as f64);
    let mut all: Vec<f64> = x.iter().chain(y).copied().collect();
    all.sort_by(f64::total_cmp);
    let ties: f64 = all
        .chunk_by(|a, b| a == b)
        .map(|run| {
            let t = run.len() as f64;
            t * t * t - t
        })
        .sum();
    let total = mf + nf;
    let variance = mf * nf / 12.0 * ((total + 1.0) - ties / (total * (total - 1.0)));
    if variance <= 0.0 {
        return 1.0;
    }
    normal_upper((u - mf * nf / 2.0 - 0.5) / variance.sqrt())
}

/// P(U ≥ u) for samples of `m` and `n` without ties: the number of orderings with each U
/// (`count[m][n][u] = count[m-1][n][u-n] + count[m][n-1][u]`) over all of them.
fn exact_upper_tail(m: usize, n: usize, u: usize) -> f64 {
    let most = m * n;
    // counts[i][j] is the distribution of U for samples of i and j.
    let mut counts = vec![vec![Vec::<f64>::new(); n + 1]; m + 1];
    for i in 0..=m {
        for j in 0..=n {
            counts[i][j] = if i == 0 || j == 0 {
                vec![1.0]
            } else {
                (0..=i * j)
                    .map(|v| {
                        let with_x_last = v
                            .checked_sub(j)
                            .and_then(|w| counts[i - 1][j].get(w))
                            .copied()
                            .unwrap_or(0.0);
                        let with_y_last = counts[i][j - 1].get(v).copied().unwrap_or(0.0);
                        with_x_last + with_y_last
                    })
                    .collect()
            };
        }
    }
    let all = &counts[m][n];
    let total: f64 = all.iter().sum();
    all[u.min(most)..].iter().sum::<f64>() / total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, tolerance: f64) {
        assert!((a - b).abs() <= tolerance, "{a} is not {b} ± {tolerance}");
    }

    #[test]
    fn the_normal_distribution() {
        close(normal_cdf(0.0), 0.5, 1e-7);
        close(normal_cdf(1.959_964), 0.975, 1e-6);
        close(normal_cdf(-2.326_348), 0.01, 1e-6);
        close(critical_z(0.05), 1.644_854, 1e-5);
        close(critical_z(0.01), 2.326_348, 1e-5);
        close(critical_z(0.001), 3.090_232, 1e-5);
        close(critical_z(0.5), 0.0, 1e-9);
        for alpha in [0.2, 0.01, 1e-4, 1e-6, 1e-9] {
            close(normal_upper(critical_z(alpha)), alpha, alpha * 1e-5);
        }
    }

    #[test]
    fn wilson_bounds() {
        // Published values (Newcombe 1998, table I): 81 of 263 at 95%: 0.2553 – 0.3662.
        let (low, high) = wilson(81.0, 263.0, 1.959_964);
        close(low, 0.2553, 1e-4);
        close(high, 0.3662, 1e-4);
        // 0 of 10 at 95%: 0 – 0.2775; 10 of 10 mirrors it.
        let (low, high) = wilson(0.0, 10.0, 1.959_964);
        close(low, 0.0, 1e-12);
        close(high, 0.2775, 1e-4);
        close(wilson(10.0, 10.0, 1.959_964).0, 1.0 - 0.2775, 1e-4);
        assert_eq!(wilson(0.0, 0.0, 3.0), (0.0, 1.0));
    }

    #[test]
    fn two_proportions() {
        // 30 of 1000 against 10 of 1000: z = 3.19, p = 0.0007.
        close(
            proportion_higher(30.0, 1000.0, 10.0, 1000.0),
            0.000_71,
            2e-5,
        );
        assert!(proportion_higher(10.0, 1000.0, 30.0, 1000.0) > 0.99);
        assert_eq!(proportion_higher(0.0, 1000.0, 0.0, 1000.0), 1.0);
        assert_eq!(proportion_higher(5.0, 0.0, 0.0, 1000.0), 1.0);
    }

    #[test]
    fn mann_whitney() {
        // Every x above every y, 4 against 4: 1 ordering of 70.
        let p = mann_whitney_greater(&[5.0, 6.0, 7.0, 8.0], &[1.0, 2.0, 3.0, 4.0]);
        close(p, 1.0 / 70.0, 1e-12);
        // The other way round: every ordering has U ≥ 0.
        close(
            mann_whitney_greater(&[1.0, 2.0, 3.0, 4.0], &[5.0, 6.0, 7.0, 8.0]),
            1.0,
            1e-12,
        );
        // 3 against 3 with U = 8 of 9: P(U ≥ 8) = 2/20.
        close(
            mann_whitney_greater(&[3.0, 5.0, 6.0], &[1.0, 2.0, 4.0]),
            0.1,
            1e-12,
        );
        // All tied: no evidence.
        assert!(mann_whitney_greater(&[1.0; 5], &[1.0; 5]) >= 0.5);
        assert!(mann_whitney_greater(&[1.0; 30], &[1.0; 30]) >= 0.5);
        // Large samples: clearly shifted is tiny, identical is about a half.
        let low: Vec<f64> = (0..40).map(f64::from).collect();
        let high: Vec<f64> = (0..40).map(|v| f64::from(v) + 30.0).collect();
        assert!(mann_whitney_greater(&high, &low) < 1e-6);
        close(mann_whitney_greater(&low, &low), 0.5, 0.05);
        assert_eq!(mann_whitney_greater(&[], &low), 1.0);
    }

    #[test]
    fn the_exact_and_approximate_tails_agree_where_they_meet() {
        // 12 against 12, interleaved with a shift: U from 144 pairs.
        let x: Vec<f64> = (0..12).map(|v| f64::from(v) * 1.3 + 4.0).collect();
        let y: Vec<f64> = (0..12).map(f64::from).collect();
        let u: f64 = x
            .iter()
            .map(|a| y.iter().filter(|b| a > b).count() as f64)
            .sum();
        let exact = exact_upper_tail(12, 12, u as usize);
        let approximate = normal_upper_tail(&x, &y, u);
        assert!(exact > 0.0 && exact < 0.05, "{exact}");
        // In the tail the approximation errs on the safe side (a larger p), by a little.
        assert!(
            approximate >= exact && approximate <= exact * 1.5,
            "{approximate} against {exact}"
        );
    }
}
