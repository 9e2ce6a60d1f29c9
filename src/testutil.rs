//! Helpers shared by the unit tests.

/// A seeded xorshift generator (shifts 13, 7, 17): cheap, reproducible
/// test data. A seed of 0 yields only zeros.
pub(crate) struct XorShift(u64);

impl XorShift {
    /// A generator starting from `seed`.
    pub(crate) fn new(seed: u64) -> XorShift {
        XorShift(seed)
    }

    /// The next value.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sequence the unit tests' data is built from: a change here
    /// changes every test input drawn from it.
    #[test]
    fn xorshift_gives_its_recorded_sequence() {
        let mut x = XorShift::new(0x5EED);
        let first: Vec<u64> = (0..3).map(|_| x.next_u64()).collect();
        assert_eq!(first, RECORDED);
    }

    const RECORDED: [u64; 3] = [
        0x0000_1794_81EA_4510,
        0xC7BA_5713_31EE_D59A,
        0x8EDB_EC5A_EBE9_2EB1,
    ];
}
