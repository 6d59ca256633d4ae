//! The seed's random numbers: a small deterministic generator, so two runs of
//! `seed --demo` make the same leads.

/// A linear congruential generator (Knuth's MMIX constants): deterministic,
/// tiny, and plenty for demo data. Not for anything secret.
#[derive(Clone, Debug)]
pub(super) struct Lcg(u64);

impl Lcg {
    pub(super) fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next_u32(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        // The high bits of an LCG are the random ones.
        (self.0 >> 33) as u32
    }

    /// A number in `0..n` (`n` > 0).
    pub(super) fn below(&mut self, n: u32) -> u32 {
        self.next_u32() % n.max(1)
    }

    pub(super) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u32) as usize]
    }

    /// An item with probability proportional to its weight.
    pub(super) fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u32 = items.iter().map(|(_, w)| w).sum();
        let mut roll = self.below(total);
        for (item, w) in items {
            if roll < *w {
                return item;
            }
            roll -= w;
        }
        &items[items.len() - 1].0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_deterministic_and_spreads() {
        let mut a = Lcg::new(7);
        let mut b = Lcg::new(7);
        let xs: Vec<u32> = (0..100).map(|_| a.below(10)).collect();
        let ys: Vec<u32> = (0..100).map(|_| b.below(10)).collect();
        assert_eq!(xs, ys);
        for digit in 0..10 {
            assert!(xs.contains(&digit), "{digit} never drawn");
        }
    }
}
