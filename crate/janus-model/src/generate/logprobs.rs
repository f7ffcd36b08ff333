//! Log-probabilities of the tokens a reply chose (OpenAI's `logprobs` / `top_logprobs`), from
//! the logits of the step that chose each: the model's own next-token distribution,
//! `log_softmax(logits)` at temperature 1, before temperature, top-k or top-p shape the draw
//! (as vLLM reports them). The chosen token's entry is exact whatever the sampler did; the
//! alternatives are the `top` most likely tokens of that distribution.

/// The most alternatives a token may list (OpenAI's bound on `top_logprobs`).
pub const MAX_TOP_LOGPROBS: usize = 20;

/// One chosen token's log-probability and the most likely tokens at its step.
#[derive(Clone, Debug, PartialEq)]
pub struct TokenLogprob {
    pub id: u32,
    /// `ln p(id)`, at most 0.
    pub logprob: f32,
    /// `(id, ln p)` of the most likely tokens, most likely first (lower id first on ties).
    pub top: Vec<(u32, f32)>,
}

/// The entry of `id` chosen from `logits` (`[K]`, one row), with `top` alternatives (at most
/// [`MAX_TOP_LOGPROBS`], fewer where the vocabulary is smaller). The sum runs in f64 so a
/// 102,400-token vocabulary loses nothing to rounding.
pub fn token_logprob(logits: &[f32], id: u32, top: usize) -> TokenLogprob {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    // A NaN logit (a broken step) counts as impossible rather than spoiling every entry.
    let sum: f64 = logits
        .iter()
        .filter(|x| !x.is_nan())
        .map(|&x| f64::from(x - max).exp())
        .sum();
    // log_softmax(x) = x - (max + ln sum exp(x - max)).
    let norm = f64::from(max) + sum.ln();
    let log_p = |x: f32| (f64::from(x) - norm) as f32;
    let chosen = logits
        .get(id as usize)
        .map_or(f32::NEG_INFINITY, |&x| log_p(x));
    TokenLogprob {
        id,
        logprob: chosen,
        top: most_likely(logits, top.min(MAX_TOP_LOGPROBS))
            .into_iter()
            .map(|(i, x)| (i, log_p(x)))
            .collect(),
    }
}

/// The `k` largest logits `(index, value)`, largest first, lower index first on ties: one pass
/// keeping a sorted list of `k` (k is at most 20, against a vocabulary of 102,400).
fn most_likely(logits: &[f32], k: usize) -> Vec<(u32, f32)> {
    let mut best: Vec<(u32, f32)> = Vec::with_capacity(k + 1);
    if k == 0 {
        return best;
    }
    for (i, &x) in logits.iter().enumerate() {
        // NaN never enters: it is no more likely than anything.
        if x.is_nan() || (best.len() == k && x <= best[k - 1].1) {
            continue;
        }
        // After every kept value at least as large (the earlier index wins a tie).
        let at = best.partition_point(|&(_, y)| y >= x);
        best.insert(at, (i as u32, x));
        best.truncate(k);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_softmax(logits: &[f32]) -> Vec<f64> {
        let z: f64 = logits.iter().map(|&x| f64::from(x).exp()).sum();
        logits.iter().map(|&x| f64::from(x) - z.ln()).collect()
    }

    #[test]
    fn the_chosen_token_and_the_alternatives_are_the_distribution_s() {
        let logits = [0.5, -1.0, 3.0, 3.0, 2.0, -7.5, 0.0];
        let reference = log_softmax(&logits);
        let entry = token_logprob(&logits, 4, 3);
        assert_eq!(entry.id, 4);
        assert!((f64::from(entry.logprob) - reference[4]).abs() < 1e-6);
        // Ties keep the lower id first.
        let ids: Vec<u32> = entry.top.iter().map(|t| t.0).collect();
        assert_eq!(ids, [2, 3, 4]);
        for (id, lp) in &entry.top {
            assert!((f64::from(*lp) - reference[*id as usize]).abs() < 1e-6);
        }
        // Every probability sums to one.
        let all = token_logprob(&logits, 0, 20);
        assert_eq!(all.top.len(), logits.len());
        let total: f64 = all.top.iter().map(|t| f64::from(t.1).exp()).sum();
        assert!((total - 1.0).abs() < 1e-6);
    }

    #[test]
    fn a_large_vocabulary_keeps_its_precision_and_its_order() {
        // 102,400 logits: one far ahead, the rest spread; f32 sums would drift.
        let logits: Vec<f32> = (0..102_400)
            .map(|i| {
                if i == 77_777 {
                    30.0
                } else {
                    ((i * 7919) % 1000) as f32 / 100.0
                }
            })
            .collect();
        let entry = token_logprob(&logits, 77_777, 5);
        let reference = log_softmax(&logits);
        assert!((f64::from(entry.logprob) - reference[77_777]).abs() < 1e-5);
        assert_eq!(entry.top[0].0, 77_777);
        assert!(entry.top.windows(2).all(|w| w[0].1 >= w[1].1));
        let mut sorted: Vec<usize> = (0..logits.len()).collect();
        sorted.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]).then(a.cmp(&b)));
        let ids: Vec<u32> = entry.top.iter().map(|t| t.0).collect();
        let expected: Vec<u32> = sorted[..5].iter().map(|&i| i as u32).collect();
        assert_eq!(ids, expected);
    }

    #[test]
    fn no_alternatives_and_the_bound_of_twenty() {
        let logits: Vec<f32> = (0..50).map(|i| i as f32).collect();
        assert!(token_logprob(&logits, 3, 0).top.is_empty());
        assert_eq!(token_logprob(&logits, 3, 500).top.len(), MAX_TOP_LOGPROBS);
        // NaN and an id past the logits are never a number that lies.
        let odd = [1.0, f32::NAN, 2.0];
        let entry = token_logprob(&odd, 9, 3);
        assert_eq!(entry.logprob, f32::NEG_INFINITY);
        assert!(entry.top.iter().all(|t| t.0 != 1));
    }
}
