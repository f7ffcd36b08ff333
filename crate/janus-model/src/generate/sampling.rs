//! Next-token choice on the host, in f32/f64: greedy, or temperature + top-k + top-p sampling from
//! a seeded ChaCha stream (identical on every platform for the same seed).

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};

use crate::error::PromptError;

/// How the next token is chosen.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplingParams {
    /// 0 means greedy (argmax).
    pub temperature: f32,
    /// Keep only the k most likely tokens (None or 0: all).
    pub top_k: Option<usize>,
    /// Keep the smallest set whose probability reaches p (None or 1: all).
    pub top_p: Option<f32>,
    pub seed: u64,
}

impl SamplingParams {
    pub fn greedy() -> Self {
        Self {
            temperature: 0.0,
            top_k: None,
            top_p: None,
            seed: 0,
        }
    }

    pub fn validate(&self) -> Result<(), PromptError> {
        if !self.temperature.is_finite() || self.temperature < 0.0 {
            return Err(PromptError::Setting(format!(
                "temperature must be >= 0, got {}",
                self.temperature
            )));
        }
        if let Some(p) = self.top_p
            && !(p > 0.0 && p <= 1.0)
        {
            return Err(PromptError::Setting(format!(
                "top-p must be in (0, 1], got {p}"
            )));
        }
        Ok(())
    }
}

pub struct Sampler {
    params: SamplingParams,
    rng: ChaCha8Rng,
}

impl Sampler {
    pub fn new(params: SamplingParams) -> Self {
        let rng = ChaCha8Rng::seed_from_u64(params.seed);
        Self { params, rng }
    }

    pub fn is_greedy(&self) -> bool {
        self.params.temperature == 0.0
    }

    /// Choose an index of `logits`.
    pub fn sample(&mut self, logits: &[f32]) -> usize {
        if self.is_greedy() {
            return argmax(logits);
        }
        let t = self.params.temperature as f64;
        let mut cand: Vec<(usize, f64)> = logits
            .iter()
            .enumerate()
            .filter(|(_, v)| !v.is_nan())
            .map(|(i, &v)| (i, v as f64 / t))
            .collect();
        if cand.is_empty() {
            return 0;
        }
        cand.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        if let Some(k) = self.params.top_k.filter(|&k| k > 0) {
            cand.truncate(k);
        }
        let max = cand[0].1;
        let mut probs: Vec<f64> = cand.iter().map(|(_, v)| (v - max).exp()).collect();
        let total: f64 = probs.iter().sum();
        probs.iter_mut().for_each(|p| *p /= total);
        if let Some(p) = self.params.top_p.filter(|&p| p < 1.0) {
            // Keep tokens until the cumulative probability reaches p (at least one).
            let mut cum = 0.0;
            let mut keep = probs.len();
            for (i, q) in probs.iter().enumerate() {
                cum += q;
                if cum >= p as f64 {
                    keep = i + 1;
                    break;
                }
            }
            probs.truncate(keep);
            let total: f64 = probs.iter().sum();
            probs.iter_mut().for_each(|q| *q /= total);
        }
        // u in [0, 1) with 53 random bits
        let u = (self.rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        let mut cum = 0.0;
        for (i, q) in probs.iter().enumerate() {
            cum += q;
            if u < cum {
                return cand[i].0;
            }
        }
        cand[probs.len() - 1].0
    }
}

/// Index of the largest value; the first one on ties (as `torch.argmax`), NaN never wins.
pub fn argmax(values: &[f32]) -> usize {
    let mut best = 0;
    let mut best_v = f32::NEG_INFINITY;
    for (i, &v) in values.iter().enumerate() {
        if v > best_v {
            best = i;
            best_v = v;
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_is_argmax_first_on_ties() {
        let mut s = Sampler::new(SamplingParams::greedy());
        assert_eq!(s.sample(&[0.1, 3.0, 3.0, -1.0]), 1);
        assert_eq!(argmax(&[f32::NAN, 1.0]), 1);
    }

    #[test]
    fn same_seed_same_choices() {
        let p = SamplingParams {
            temperature: 1.0,
            top_k: None,
            top_p: None,
            seed: 7,
        };
        let logits: Vec<f32> = (0..50).map(|i| (i as f32 * 0.37).sin()).collect();
        let a: Vec<usize> = {
            let mut s = Sampler::new(p.clone());
            (0..20).map(|_| s.sample(&logits)).collect()
        };
        let b: Vec<usize> = {
            let mut s = Sampler::new(p.clone());
            (0..20).map(|_| s.sample(&logits)).collect()
        };
        assert_eq!(a, b);
        let c: Vec<usize> = {
            let mut s = Sampler::new(SamplingParams { seed: 8, ..p });
            (0..20).map(|_| s.sample(&logits)).collect()
        };
        assert_ne!(a, c);
    }

    #[test]
    fn top_k_and_top_p_restrict_the_support() {
        let logits = [5.0, 4.9, 0.0, -1.0, -2.0];
        let mut s = Sampler::new(SamplingParams {
            temperature: 1.0,
            top_k: Some(2),
            top_p: None,
            seed: 1,
        });
        assert!((0..200).all(|_| s.sample(&logits) < 2));
        let mut s = Sampler::new(SamplingParams {
            temperature: 1.0,
            top_k: None,
            top_p: Some(0.3),
            seed: 1,
        });
        assert!((0..200).all(|_| s.sample(&logits) == 0));
    }

    #[test]
    fn sampling_follows_the_distribution() {
        // p = softmax([ln 3, 0]) = [0.75, 0.25]
        let logits = [3f32.ln(), 0.0];
        let mut s = Sampler::new(SamplingParams {
            temperature: 1.0,
            top_k: None,
            top_p: None,
            seed: 3,
        });
        let n = 20_000;
        let zeros = (0..n).filter(|_| s.sample(&logits) == 0).count();
        let frac = zeros as f64 / n as f64;
        assert!((frac - 0.75).abs() < 0.02, "{frac}");
    }

    #[test]
    fn rejects_bad_settings() {
        let mut p = SamplingParams::greedy();
        p.temperature = -1.0;
        assert!(p.validate().is_err());
        p.temperature = 1.0;
        p.top_p = Some(0.0);
        assert!(p.validate().is_err());
        p.top_p = Some(f32::NAN);
        assert!(p.validate().is_err());
    }
}
